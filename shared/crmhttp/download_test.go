package crmhttp_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
)

// fileServer serves size bytes of 'x' from one fixed buffer (so that it
// allocates next to nothing), declaring Content-Length when declare is
// true, and counts the bytes it managed to write.
type fileServer struct {
	size    int64
	declare bool
	written atomic.Int64
}

var chunk = bytes.Repeat([]byte("x"), 32<<10)

func (f *fileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/octet-stream")
	if f.declare {
		w.Header().Set("Content-Length", strconv.FormatInt(f.size, 10))
	}
	for left := f.size; left > 0; {
		n, err := w.Write(chunk[:min(left, int64(len(chunk)))])
		f.written.Add(int64(n))
		if err != nil {
			return
		}
		left -= int64(n)
	}
}

func newFileClient(t testing.TB, f *fileServer, limit int64) *crmhttp.Client {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return crmhttp.New(crmhttp.Config{Vendor: "TestCRM", BaseURL: srv.URL, HTTP: srv.Client(), MaxDownloadBytes: limit})
}

func wantTooLarge(t *testing.T, err error) {
	t.Helper()
	var ae *casesync.APIError
	if !errors.Is(err, crmhttp.ErrTooLarge) || !casesync.IsPermanent(err) || !errors.As(err, &ae) || ae.Op != "attachments.download" {
		t.Errorf("error %v, want the permanent ErrTooLarge of attachments.download", err)
	}
}

func TestADownloadIsBoundedByTheBytesRead(t *testing.T) {
	tests := []struct {
		name    string
		size    int64
		declare bool
		limit   int64
		wantErr bool
	}{
		{name: "a file of exactly the bound with its length declared is read whole", size: 100_000, declare: true, limit: 100_000},
		{name: "a file of exactly the bound with no length declared is read whole", size: 100_000, limit: 100_000},
		{name: "a file with no bound is read whole", size: 100_000},
		{name: "a file over the bound with no length declared fails once the bound is passed", size: 1 << 20, limit: 100_000, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newFileClient(t, &fileServer{size: tc.size, declare: tc.declare}, tc.limit)
			body, err := c.Download(context.Background(), crmhttp.Request{Op: "attachments.download", Path: "/files/1"})
			if err != nil {
				t.Fatalf("Download: %v", err)
			}
			defer body.Close()
			n, err := io.Copy(io.Discard, body)
			if tc.wantErr {
				wantTooLarge(t, err)
				if n > tc.limit {
					t.Errorf("handed on %d bytes, want at most the bound of %d", n, tc.limit)
				}
				return
			}
			if err != nil || n != tc.size {
				t.Errorf("read %d bytes, %v; want %d", n, err, tc.size)
			}
		})
	}
}

func TestADownloadDeclaredOverTheBoundIsRefusedBeforeReading(t *testing.T) {
	f := &fileServer{size: 8 << 20, declare: true}
	c := newFileClient(t, f, 100_000)
	body, err := c.Download(context.Background(), crmhttp.Request{Op: "attachments.download", Path: "/files/1"})
	if body != nil {
		body.Close()
		t.Errorf("Download returned a stream for a file declared over the bound")
	}
	wantTooLarge(t, err)
}

// lyingLength is a transport (standing for a proxy that rewrites headers)
// that declares a short Content-Length on an answer whose body is longer.
type lyingLength struct{}

func (lyingLength) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{}, ContentLength: 10, Request: r,
		Body: io.NopCloser(strings.NewReader(strings.Repeat("x", 5000)))}, nil
}

func TestADownloadWhoseDeclaredLengthLiesIsBoundedByTheBytesRead(t *testing.T) {
	c := crmhttp.New(crmhttp.Config{Vendor: "TestCRM", BaseURL: "http://crm.example", HTTP: &http.Client{Transport: lyingLength{}},
		MaxDownloadBytes: 1000})
	body, err := c.Download(context.Background(), crmhttp.Request{Op: "attachments.download", Path: "/files/1"})
	if err != nil {
		t.Fatalf("Download: %v", err)
	}
	defer body.Close()
	n, err := io.Copy(io.Discard, body)
	wantTooLarge(t, err)
	if n > 1000 {
		t.Errorf("handed on %d bytes, want at most the bound of 1000", n)
	}
}

// The brief for the CRM contract suite: a 25 MiB file downloads with under
// 6 MiB allocated, adapter and in-process server together. The client's
// share must stay well under that.
const downloadAllocBound = 2 << 20

func TestA25MiBDownloadStreamsWithFlatMemory(t *testing.T) {
	const size = 25 << 20
	c := newFileClient(t, &fileServer{size: size, declare: true}, 32<<20)
	// Warm the connection pool and the buffers' pools first.
	warm, err := c.Download(context.Background(), crmhttp.Request{Op: "attachments.download", Path: "/files/1"})
	if err != nil {
		t.Fatalf("Download: %v", err)
	}
	io.Copy(io.Discard, warm)
	warm.Close()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	body, err := c.Download(context.Background(), crmhttp.Request{Op: "attachments.download", Path: "/files/1"})
	if err != nil {
		t.Fatalf("Download: %v", err)
	}
	n, err := io.Copy(io.Discard, body)
	body.Close()
	runtime.ReadMemStats(&after)
	if err != nil || n != size {
		t.Fatalf("read %d bytes, %v; want %d", n, err, size)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("a %d MiB download allocated %d KiB, client and server together", size>>20, alloc>>10)
	if alloc > downloadAllocBound {
		t.Errorf("a %d MiB download allocated %d KiB, want under %d KiB", size>>20, alloc>>10, downloadAllocBound>>10)
	}
}

func BenchmarkDownload25MiB(b *testing.B) {
	const size = 25 << 20
	c := newFileClient(b, &fileServer{size: size, declare: true}, 32<<20)
	b.ReportAllocs()
	b.SetBytes(size)
	for b.Loop() {
		body, err := c.Download(context.Background(), crmhttp.Request{Op: "attachments.download", Path: "/files/1"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, body); err != nil {
			b.Fatal(err)
		}
		body.Close()
	}
}
