package zendesktest

import (
	"io"
	"mime"
	"net/http"
	"path"
	"strconv"
	"time"
)

func (s *Server) upload(w http.ResponseWriter, r *http.Request, base string) {
	q := r.URL.Query()
	name := q.Get("filename")
	if name == "" {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "InvalidValue", Description: "filename is required"})
		return
	}
	limit := s.opts.MaxAttachmentBytes
	data, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "InvalidValue", Description: "the upload could not be read"})
		return
	}
	if int64(len(data)) > limit {
		w.Header().Set("Connection", "close")
		writeJSON(w, http.StatusRequestEntityTooLarge, apiError{Error: "FileTooLarge",
			Description: "The file exceeds the attachment size limit of " + strconv.FormatInt(limit, 10) + " bytes"})
		return
	}
	ctype := r.Header.Get("Content-Type")
	if ctype == "" || ctype == "application/binary" {
		ctype = mime.TypeByExtension(path.Ext(name))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextAttach++
	a := &attachment{ID: s.nextAttach, FileName: name, ContentType: ctype, Data: data, Token: randomToken()}
	tok := q.Get("token")
	if tok == "" {
		tok = randomToken()
	} else if _, ok := s.uploads[tok]; !ok {
		writeJSON(w, http.StatusNotFound, errNotFound)
		return
	}
	s.uploads[tok] = append(s.uploads[tok], a)
	atts := []attachmentJSON{}
	for _, x := range s.uploads[tok] {
		atts = append(atts, s.attachmentJSON(base, x))
	}
	writeJSON(w, http.StatusCreated, map[string]any{"upload": map[string]any{
		"token":       tok,
		"expires_at":  formatTime(s.now().Add(72 * time.Hour)),
		"attachment":  s.attachmentJSON(base, a),
		"attachments": atts,
	}})
}

// findAttachmentLocked finds an attachment by its content token, on a
// ticket or still waiting in an upload.
func (s *Server) findAttachmentLocked(token string) *attachment {
	for _, t := range s.tickets {
		for _, c := range t.Comments {
			for _, a := range c.Attachments {
				if a.Token == token {
					return a
				}
			}
		}
	}
	for _, up := range s.uploads {
		for _, a := range up {
			if a.Token == token {
				return a
			}
		}
	}
	return nil
}

func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	token := path.Base(path.Clean(r.URL.Path))
	s.mu.Lock()
	a := s.findAttachmentLocked(token)
	s.mu.Unlock()
	if a == nil {
		writeJSON(w, http.StatusNotFound, errNotFound)
		return
	}
	w.Header().Set("Content-Type", a.ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(a.Data)))
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.FileName}))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(a.Data)
}
