package crmhttp_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
)

// jsonServer answers {"result":"xxx…"} whose string holds size bytes
// (size < 0: a string that never ends), declaring Content-Length when
// declare is true, and counts the bytes it managed to write.
type jsonServer struct {
	size    int64
	declare bool
	written atomic.Int64
}

func (j *jsonServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const head, tail = `{"result":"`, `"}`
	w.Header().Set("Content-Type", "application/json")
	if j.declare {
		w.Header().Set("Content-Length", strconv.FormatInt(int64(len(head))+j.size+int64(len(tail)), 10))
	}
	write := func(b []byte) bool {
		n, err := w.Write(b)
		j.written.Add(int64(n))
		return err == nil
	}
	if !write([]byte(head)) {
		return
	}
	for left := j.size; left != 0; {
		n := int64(len(chunk))
		if left > 0 {
			n = min(left, n)
			left -= n
		}
		if !write(chunk[:n]) || r.Context().Err() != nil {
			return
		}
	}
	write([]byte(tail))
}

// answerBytes is the length of jsonServer's answer holding size bytes.
func answerBytes(size int64) int64 { return size + int64(len(`{"result":""}`)) }

func TestAJSONAnswerIsBoundedByTheBytesRead(t *testing.T) {
	const limit = 256 << 10
	tests := []struct {
		name    string
		size    int64
		declare bool
		decode  bool // through DecodeJSON after Do, as an adapter reading headers does
		wantErr bool
	}{
		{name: "an answer of exactly the bound is decoded", size: limit - answerBytes(0)},
		{name: "an answer of exactly the bound with its length declared is decoded", size: limit - answerBytes(0), declare: true},
		{name: "an answer one byte over the bound fails", size: limit - answerBytes(0) + 1, wantErr: true},
		{name: "an answer declaring a length over the bound is refused", size: 10 << 20, declare: true, wantErr: true},
		{name: "an answer that never ends fails once the bound is passed", size: -1, wantErr: true},
		{name: "an answer that never ends fails the same through DecodeJSON", size: -1, decode: true, wantErr: true},
		{name: "an answer of exactly the bound is decoded through DecodeJSON", size: limit - answerBytes(0), decode: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			js := &jsonServer{size: tc.size, declare: tc.declare}
			srv := httptest.NewServer(js)
			t.Cleanup(srv.Close)
			// Without the bound, the endless answer would run into this.
			c := crmhttp.New(crmhttp.Config{Vendor: "TestCRM", BaseURL: srv.URL, HTTP: srv.Client(),
				MaxAnswerBytes: limit, RequestTimeout: 5 * time.Second})
			req := crmhttp.Request{Op: "tickets.export", Path: "/export"}
			var out struct {
				Result string `json:"result"`
			}
			var err error
			if tc.decode {
				resp, derr := c.Do(context.Background(), req)
				if derr != nil {
					t.Fatalf("Do: %v", derr)
				}
				err = c.DecodeJSON(req.Op, resp, &out)
				resp.Body.Close()
			} else {
				err = c.JSON(context.Background(), req, &out)
			}
			if !tc.wantErr {
				if err != nil || int64(len(out.Result)) != tc.size {
					t.Errorf("decoded %d bytes, %v; want %d bytes", len(out.Result), err, tc.size)
				}
				return
			}
			var ae *casesync.APIError
			var te *crmhttp.AnswerTooLargeError
			if !errors.Is(err, crmhttp.ErrAnswerTooLarge) || !casesync.IsPermanent(err) || !errors.As(err, &ae) ||
				ae.Op != "tickets.export" || !errors.As(err, &te) || te.Op != "tickets.export" || te.Limit != limit {
				t.Fatalf("error %v, want the permanent AnswerTooLargeError of tickets.export with its bound", err)
			}
			if !strings.Contains(err.Error(), "tickets.export") {
				t.Errorf("error %q does not name the call", err)
			}
			if len(out.Result) != 0 {
				t.Errorf("the answer over the bound was decoded (%d bytes)", len(out.Result))
			}
		})
	}
}

func TestTheAnswerBoundDefaultsTo128MiB(t *testing.T) {
	if crmhttp.DefaultMaxAnswerBytes != 128<<20 {
		t.Errorf("DefaultMaxAnswerBytes = %d, want 128 MiB", crmhttp.DefaultMaxAnswerBytes)
	}
	// A client given no bound refuses an answer declaring more than the
	// default before reading it.
	js := &jsonServer{size: crmhttp.DefaultMaxAnswerBytes, declare: true}
	srv := httptest.NewServer(js)
	t.Cleanup(srv.Close)
	c := crmhttp.New(crmhttp.Config{Vendor: "TestCRM", BaseURL: srv.URL, HTTP: srv.Client()})
	var out map[string]any
	err := c.JSON(context.Background(), crmhttp.Request{Op: "issues.search", Path: "/search"}, &out)
	if !errors.Is(err, crmhttp.ErrAnswerTooLarge) {
		t.Errorf("error %v, want ErrAnswerTooLarge", err)
	}
	if n := js.written.Load(); n > 8<<20 {
		t.Errorf("the server wrote %d bytes of a refused answer; the client should have hung up", n)
	}
}
