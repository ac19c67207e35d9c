package csapitest

import (
	"bytes"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	cloudsupport "google.golang.org/api/cloudsupport/v2"
	"google.golang.org/api/googleapi"
)

// binaryData holds NUL bytes, invalid UTF-8 and every byte value.
func binaryData() []byte {
	b := []byte{0, 0, 0xff, 0xfe, 0, '\r', '\n', '-', '-'}
	for i := 0; i < 4096; i++ {
		b = append(b, byte(i))
	}
	return b
}

func download(t *testing.T, svc *cloudsupport.Service, name string) []byte {
	t.Helper()
	resp, err := svc.Media.Download(name).Download()
	if err != nil {
		t.Fatalf("Download(%q): %v", name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading download: %v", err)
	}
	return b
}

func TestMediaUploadMultipartKeepsBinaryBytes(t *testing.T) {
	s, svc, clk := startSim(t)
	name := mustCreate(t, s, testProject, "t", "d", "P3", "alice@example.com")
	clk.Advance(time.Minute)
	data := binaryData()
	got, err := svc.Media.Upload(name, &cloudsupport.CreateAttachmentRequest{Attachment: &cloudsupport.Attachment{Filename: "core.bin"}}).
		Media(bytes.NewReader(data), googleapi.ChunkSize(0), googleapi.ContentType("application/octet-stream")).Do()
	if err != nil {
		t.Fatalf("Upload: %v", err)
	}
	want := &cloudsupport.Attachment{
		Name:       got.Name,
		Filename:   "core.bin",
		MimeType:   "application/octet-stream",
		SizeBytes:  int64(len(data)),
		CreateTime: formatTime(clk.Now()),
		Creator:    &cloudsupport.Actor{DisplayName: callerEmail, Email: callerEmail, Username: callerEmail},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(cloudsupport.Attachment{}, "ServerResponse")); diff != "" {
		t.Errorf("uploaded attachment (-want +got):\n%s", diff)
	}
	if !regexp.MustCompile(`^projects/200/cases/\d{8}/attachments/[0-9A-Za-z]{18}$`).MatchString(got.Name) {
		t.Errorf("attachment name %q does not end in an 18-character ID", got.Name)
	}
	if diff := cmp.Diff(data, download(t, svc, got.Name)); diff != "" {
		t.Errorf("downloaded bytes differ (-want +got):\n%s", diff)
	}
	c, _ := s.Case(name)
	if c.UpdateTime != formatTime(clk.Now()) {
		t.Errorf("case UpdateTime = %q after the upload, want %q", c.UpdateTime, formatTime(clk.Now()))
	}
}

func TestMediaUploadAcceptsARawBodyWithTheFilenameParameter(t *testing.T) {
	s, svc, _ := startSim(t)
	name := mustCreate(t, s, testProject, "t", "d", "P3", "alice@example.com")
	data := binaryData()
	var got cloudsupport.Attachment
	code, _ := rawRequest(t, http.MethodPost, s.URL()+"upload/v2/"+name+"/attachments?attachment.filename=dump.gz", "application/gzip", string(data), &got)
	if code != http.StatusOK {
		t.Fatalf("raw upload answered %d", code)
	}
	if diff := cmp.Diff([]any{"dump.gz", "application/gzip", int64(len(data))}, []any{got.Filename, got.MimeType, got.SizeBytes}); diff != "" {
		t.Errorf("raw-uploaded attachment (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(data, download(t, svc, got.Name)); diff != "" {
		t.Errorf("downloaded bytes differ (-want +got):\n%s", diff)
	}

	t.Run("sizeBytes is sent as a JSON string", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, s.URL()+"v2/"+got.Name, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET attachment: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(b), `"sizeBytes":"4105"`) {
			t.Errorf("attachment JSON %s does not carry sizeBytes as a string", b)
		}
	})
	t.Run("a raw upload without a filename is rejected", func(t *testing.T) {
		var env map[string]any
		code, _ := rawRequest(t, http.MethodPost, s.URL()+"upload/v2/"+name+"/attachments", "text/plain", "x", &env)
		if code != http.StatusBadRequest {
			t.Errorf("upload without filename answered %d, want 400", code)
		}
	})
	t.Run("a resumable upload is rejected", func(t *testing.T) {
		var env map[string]any
		code, _ := rawRequest(t, http.MethodPost, s.URL()+"upload/v2/"+name+"/attachments?uploadType=resumable", "application/json", `{"attachment":{"filename":"x"}}`, &env)
		if code != http.StatusBadRequest {
			t.Errorf("resumable upload answered %d, want 400", code)
		}
	})
}

func TestAttachmentsListNewestFirstAndUnknownOnesAreNotFound(t *testing.T) {
	s, svc, clk := startSim(t)
	name := mustCreate(t, s, testProject, "t", "d", "P3", "alice@example.com")
	first, err := s.AddAttachment(name, "a.txt", "text/plain", []byte("a"), Actor{DisplayName: "Alice", Email: "alice@example.com"})
	if err != nil {
		t.Fatalf("AddAttachment: %v", err)
	}
	clk.Advance(time.Minute)
	second, err := s.AddAttachment(name, "b.png", "image/png", []byte("png"), Actor{DisplayName: "Agent", GoogleSupport: true})
	if err != nil {
		t.Fatalf("AddAttachment: %v", err)
	}
	resp, err := svc.Cases.Attachments.List(name).Do()
	if err != nil {
		t.Fatalf("List attachments: %v", err)
	}
	got := []string{}
	for _, a := range resp.Attachments {
		got = append(got, a.Name+" "+a.Filename)
	}
	if diff := cmp.Diff([]string{second + " b.png", first + " a.txt"}, got); diff != "" {
		t.Errorf("attachments (-want +got):\n%s", diff)
	}
	_, err = svc.Media.Download(name + "/attachments/0684M00000ZZZZZAAA").Download()
	if diff := cmp.Diff(apiStatus{404, "NOT_FOUND"}, statusOf(t, err)); diff != "" {
		t.Errorf("download of an unknown attachment (-want +got):\n%s", diff)
	}
	if data, ok := s.AttachmentData(second); !ok || string(data) != "png" {
		t.Errorf("AttachmentData(%q) = %q, %v; want \"png\", true", second, data, ok)
	}
}

func TestSalesforceIDsCarryTheirChecksum(t *testing.T) {
	tests := []struct {
		name string
		id15 string
		want string
	}{
		{"the documented example ID gets its documented suffix", "0684M00000P3h1f", "QAB"},
		{"an ID without upper-case letters gets AAA", "06840000000000a", "AAA"},
		{"an all upper-case chunk maps to the last suffix character", "ABCDE00000abcde", "5AA"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, salesforceChecksum(tc.id15)); diff != "" {
				t.Errorf("salesforceChecksum(%q) (-want +got):\n%s", tc.id15, diff)
			}
		})
	}
	t.Run("generated IDs have 18 characters and end in their checksum", func(t *testing.T) {
		for _, n := range []int64{1, 62, 1234567} {
			id := salesforceID(n)
			if len(id) != 18 || id[15:] != salesforceChecksum(id[:15]) {
				t.Errorf("salesforceID(%d) = %q, want 18 characters ending in the checksum of the first 15", n, id)
			}
		}
	})
}

// TestMediaUploadAcceptsASingleQuotedBoundary sends the multipart upload
// Google's Python API tooling sends: the boundary written in single quotes
// in Content-Type (the tooling formats it with Python's repr), parts laid
// out by Python's email generator with bare LF line ends and no headers on
// the root. The service accepts it; so must the simulator.
func TestMediaUploadAcceptsASingleQuotedBoundary(t *testing.T) {
	s, svc, _ := startSim(t)
	name := mustCreate(t, s, testProject, "t", "d", "P3", "alice@example.com")
	data := "line one\nline two\n"
	pythonBody := func(boundary string) string {
		return "--" + boundary + "\n" +
			"Content-Type: application/json\nMIME-Version: 1.0\n\n" +
			`{"attachment": {"filename": "notes.txt"}}` + "\n" +
			"--" + boundary + "\n" +
			"Content-Type: text/plain\nMIME-Version: 1.0\nContent-Transfer-Encoding: binary\n\n" +
			data + "\n" +
			"--" + boundary + "--"
	}
	tests := []struct {
		name        string
		boundary    string
		contentType string
	}{
		{"a boundary that is not a token, in single quotes", "===============7330845974216740156==",
			"multipart/related; boundary='===============7330845974216740156=='"},
		{"a boundary of token characters, in single quotes", "BOUNDARY42",
			"multipart/related; boundary='BOUNDARY42'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := pythonBody(tc.boundary)
			var got cloudsupport.Attachment
			code, _ := rawRequest(t, http.MethodPost, s.URL()+"upload/v2/"+name+"/attachments?alt=json&uploadType=multipart", tc.contentType, body, &got)
			if code != http.StatusOK {
				t.Fatalf("upload with Content-Type %q answered %d, want 200", tc.contentType, code)
			}
			if diff := cmp.Diff([]any{"notes.txt", "text/plain", int64(len(data))}, []any{got.Filename, got.MimeType, got.SizeBytes}); diff != "" {
				t.Errorf("uploaded attachment (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]byte(data), download(t, svc, got.Name)); diff != "" {
				t.Errorf("downloaded bytes differ (-want +got):\n%s", diff)
			}
		})
	}
}
