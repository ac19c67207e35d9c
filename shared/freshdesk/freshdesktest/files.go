package freshdesktest

import (
	"bytes"
	"crypto/hmac"
	"net/http"
	"strconv"
	"strings"
)

// s3Error answers as the storage host does, in XML.
func s3Error(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<Error><Code>" + code + "</Code><Message>" + message + "</Message></Error>"))
}

// download serves a file at its pre-signed URL, /files/{token}/{name}?
// expires=&signature=. The URL is its own authorization: a request that
// also carries an Authorization header is refused (400), one past its
// expiry or with a signature that does not match is refused with 403.
func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(pattern(r.Method, r.URL.Path))
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s3Error(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
		return
	}
	if r.Header.Get("Authorization") != "" {
		s3Error(w, http.StatusBadRequest, "InvalidArgument", "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, "/files/")
	token, _, _ := strings.Cut(rest, "/")
	q := r.URL.Query()
	expires, err := strconv.ParseInt(q.Get("expires"), 10, 64)
	if err != nil || !hmac.Equal([]byte(q.Get("signature")), []byte(s.sign(token, expires))) {
		s3Error(w, http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
		return
	}
	s.mu.Lock()
	expired := s.opts.Clock().Unix() > expires
	if s.expireNext > 0 {
		s.expireNext--
		expired = true
	}
	a := s.files[token]
	s.mu.Unlock()
	if expired {
		s3Error(w, http.StatusForbidden, "AccessDenied", "Request has expired")
		return
	}
	if a == nil {
		s3Error(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	w.Header().Set("Content-Type", a.ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(a.Data)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		// Written from the stored bytes, never copied, so that a test can
		// measure the adapter's memory.
		_, _ = bytes.NewReader(a.Data).WriteTo(w)
	}
}
