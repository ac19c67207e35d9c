package csapi_test

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/casebridge/casebridge/shared/casesync"
)

// recorded is one request as the server saw it.
type recorded struct {
	Method, Path string
	Query        map[string]string
	Body         string
	ContentType  string
}

type recordingServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

// newRecordingServer serves handle and records every request, for checks on
// what the adapter sends on the wire.
func newRecordingServer(t *testing.T, handle http.HandlerFunc) *recordingServer {
	t.Helper()
	rs := &recordingServer{}
	rs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		q := map[string]string{}
		for k, v := range r.URL.Query() {
			q[k] = v[0]
		}
		rs.mu.Lock()
		rs.reqs = append(rs.reqs, recorded{r.Method, r.URL.Path, q, string(body), r.Header.Get("Content-Type")})
		rs.mu.Unlock()
		handle(w, r)
	}))
	t.Cleanup(rs.Close)
	return rs
}

func (rs *recordingServer) requests() []recorded {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]recorded(nil), rs.reqs...)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func TestRequestsOnTheWire(t *testing.T) {
	const caseName = "projects/sandbox-project/cases/43595344"
	srv := newRecordingServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, ":download"):
			_, _ = w.Write([]byte{0, 1, 2})
		case strings.HasSuffix(r.URL.Path, "/attachments"):
			writeJSON(w, map[string]any{"name": caseName + "/attachments/0684M00000P3h1fQAB", "filename": "f.bin", "sizeBytes": "3"})
		case strings.HasSuffix(r.URL.Path, ":search"):
			writeJSON(w, map[string]any{})
		default:
			writeJSON(w, map[string]any{"name": caseName, "state": "NEW", "priority": "P1"})
		}
	})
	c := newClient(t, srv.URL, testConfig())
	ctx := context.Background()
	est := time.FixedZone("EST", -5*3600)

	steps := []struct {
		name string
		do   func() error
		want recorded
	}{
		{
			name: "an update-time search sends whole seconds with an explicit offset",
			do: func() error {
				_, err := c.SearchUpdated(ctx, time.Date(2026, 3, 2, 9, 0, 30, 750_000_000, est))
				return err
			},
			want: recorded{Method: "GET", Path: "/v2/organizations/100/cases:search",
				Query: map[string]string{"alt": "json", "prettyPrint": "false", "pageSize": "2", "query": `update_time>"2026-03-02T14:00:30+00:00"`}},
		},
		{
			name: "a text search quotes the phrase and escapes its quotes",
			do: func() error {
				_, err := c.SearchText(ctx, `say "hi" \ bye`)
				return err
			},
			want: recorded{Method: "GET", Path: "/v2/organizations/100/cases:search",
				Query: map[string]string{"alt": "json", "prettyPrint": "false", "pageSize": "2", "query": `"say \"hi\" \\ bye"`}},
		},
		{
			name: "a new case carries classification, test flag and time zone",
			do: func() error {
				_, err := c.CreateCase(ctx, casesync.NewGoogleCase{DisplayName: "t", Description: "d", Priority: casesync.P2})
				return err
			},
			want: recorded{Method: "POST", Path: "/v2/projects/sandbox-project/cases", ContentType: "application/json",
				Query: map[string]string{"alt": "json", "prettyPrint": "false"},
				Body:  `{"classification":{"id":"` + testConfig().ClassificationID + `"},"description":"d","displayName":"t","priority":"P2","testCase":true,"timeZone":"Europe/Paris"}` + "\n"},
		},
		{
			name: "a priority change patches the priority alone",
			do:   func() error { return c.SetPriority(ctx, caseName, casesync.P1) },
			want: recorded{Method: "PATCH", Path: "/v2/" + caseName, ContentType: "application/json",
				Query: map[string]string{"alt": "json", "prettyPrint": "false", "updateMask": "priority"},
				Body:  `{"priority":"P1"}` + "\n"},
		},
		{
			name: "a close posts an empty request",
			do:   func() error { return c.CloseCase(ctx, caseName) },
			want: recorded{Method: "POST", Path: "/v2/" + caseName + ":close", ContentType: "application/json",
				Query: map[string]string{"alt": "json", "prettyPrint": "false"}, Body: "{}\n"},
		},
		{
			name: "a download asks for the media itself",
			do: func() error {
				rc, err := c.DownloadAttachment(ctx, caseName, "0684M00000P3h1fQAB")
				if err != nil {
					return err
				}
				defer rc.Close()
				_, err = io.ReadAll(rc)
				return err
			},
			want: recorded{Method: "GET", Path: "/v2/" + caseName + "/attachments/0684M00000P3h1fQAB:download",
				Query: map[string]string{"alt": "media", "prettyPrint": "false"}},
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			before := len(srv.requests())
			if err := st.do(); err != nil {
				t.Fatalf("call: %v", err)
			}
			reqs := srv.requests()[before:]
			if len(reqs) != 1 {
				t.Fatalf("sent %d requests, want 1", len(reqs))
			}
			got := reqs[0]
			if st.want.ContentType == "" {
				got.ContentType = ""
			}
			if diff := cmp.Diff(st.want, got); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("an upload is one multipart request holding the metadata and the bytes", func(t *testing.T) {
		before := len(srv.requests())
		if _, err := c.UploadAttachment(ctx, caseName, "f.bin", "application/x-thing", strings.NewReader("\x00ab\x00")); err != nil {
			t.Fatalf("UploadAttachment: %v", err)
		}
		reqs := srv.requests()[before:]
		if len(reqs) != 1 {
			t.Fatalf("sent %d requests, want 1", len(reqs))
		}
		got := reqs[0]
		mediaType, _, err := mime.ParseMediaType(got.ContentType)
		if err != nil {
			t.Fatalf("content type %q: %v", got.ContentType, err)
		}
		type view struct {
			Method, Path, UploadType, MediaType string
			HasMetadata, HasBytes, HasPartType  bool
		}
		want := view{"POST", "/upload/v2/" + caseName + "/attachments", "multipart", "multipart/related", true, true, true}
		gotView := view{got.Method, got.Path, got.Query["uploadType"], mediaType,
			strings.Contains(got.Body, `{"attachment":{"filename":"f.bin"}}`),
			strings.Contains(got.Body, "\r\n\r\n\x00ab\x00\r\n"),
			strings.Contains(got.Body, "Content-Type: application/x-thing")}
		if diff := cmp.Diff(want, gotView); diff != "" {
			t.Errorf("upload request (-want +got):\n%s", diff)
		}
	})
}

func TestEveryPageIsFollowedEvenEmptyOnes(t *testing.T) {
	const caseName = "projects/200/cases/43595344"
	comment := func(id, at string) map[string]any {
		return map[string]any{"name": caseName + "/comments/" + id, "body": "c" + id, "createTime": at,
			"creator": map[string]any{"displayName": "Ann"}}
	}
	pages := map[string]map[string]any{
		"":   {"nextPageToken": "p2"},
		"p2": {"comments": []any{comment("3", "2026-03-02T09:02:00Z"), comment("2", "2026-03-02T09:01:00.5Z")}, "nextPageToken": "p3"},
		"p3": {"comments": []any{}, "nextPageToken": "p4"},
		"p4": {"comments": []any{comment("2", "2026-03-02T09:01:00.5Z"), comment("1", "2026-03-02T09:01:00.5Z")}},
	}
	srv := newRecordingServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, pages[r.URL.Query().Get("pageToken")])
	})
	c := newClient(t, srv.URL, testConfig())

	got, err := c.ListComments(context.Background(), caseName)
	if err != nil {
		t.Fatalf("ListComments: %v", err)
	}
	at := func(s string) time.Time { return mustTime(t, s) }
	want := []casesync.Comment{
		{ID: "1", Body: "c1", AuthorName: "Ann", Public: true, CreateTime: at("2026-03-02T09:01:00.5Z")},
		{ID: "2", Body: "c2", AuthorName: "Ann", Public: true, CreateTime: at("2026-03-02T09:01:00.5Z")},
		{ID: "3", Body: "c3", AuthorName: "Ann", Public: true, CreateTime: at("2026-03-02T09:02:00Z")},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("comments (-want +got):\n%s", diff)
	}
	var tokens []string
	for _, r := range srv.requests() {
		tokens = append(tokens, r.Query["pageToken"])
	}
	if diff := cmp.Diff([]string{"", "p2", "p3", "p4"}, tokens); diff != "" {
		t.Errorf("page tokens sent (-want +got):\n%s", diff)
	}
}

func TestAPageTokenThatRepeatsIsAPermanentError(t *testing.T) {
	srv := newRecordingServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"attachments": []any{}, "nextPageToken": "again"})
	})
	c := newClient(t, srv.URL, testConfig())
	_, err := c.ListAttachments(context.Background(), "projects/p/cases/1")
	ae := apiError(t, err)
	if diff := cmp.Diff([]any{"attachments.list", false}, []any{ae.Op, ae.Transient}); diff != "" {
		t.Errorf("error %v (-want +got):\n%s", err, diff)
	}
	if n := len(srv.requests()); n != 2 {
		t.Errorf("sent %d requests, want 2", n)
	}
}
