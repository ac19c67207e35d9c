package crmhttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
)

// TestOnAnswerSeesEveryAnswersHeaders: the hook sees error answers too, so
// a rate-limited or failing call still updates what the adapter knows of
// its API usage.
func TestOnAnswerSeesEveryAnswersHeaders(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Left", "7")
		if r.URL.Path == "/fail" {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		w.Write([]byte("{}"))
	}))
	t.Cleanup(srv.Close)
	var seen []string
	c := crmhttp.New(crmhttp.Config{Vendor: "Test", BaseURL: srv.URL, MaxAttempts: 1, OnAnswer: func(h http.Header) {
		n.Add(1)
		seen = append(seen, h.Get("X-Left"))
	}})
	var out map[string]any
	if err := c.JSON(context.Background(), crmhttp.Request{Op: "ok", Path: "/ok"}, &out); err != nil {
		t.Fatal(err)
	}
	if err := c.JSON(context.Background(), crmhttp.Request{Op: "fail", Path: "/fail"}, &out); err == nil {
		t.Fatal("a 403 answer gave no error")
	}
	if n.Load() != 2 || seen[0] != "7" || seen[1] != "7" {
		t.Errorf("OnAnswer saw %d answers with %q, want 2 with the header", n.Load(), seen)
	}
}

func TestUsageFromHeaders(t *testing.T) {
	h := func(limit, left string) http.Header {
		return http.Header{"X-Limit": {limit}, "X-Left": {left}}
	}
	u, ok := crmhttp.UsageFromHeaders(h("400", "150"), "X-Limit", "X-Left", casesync.APIUsageMinute)
	if !ok || u.Used != 250 || u.Max != 400 || u.Window != casesync.APIUsageMinute || u.At.IsZero() {
		t.Errorf("400 allowed, 150 left: %+v (%v), want 250 of 400", u, ok)
	}
	if u, ok := crmhttp.UsageFromHeaders(h("400", "900"), "X-Limit", "X-Left", casesync.APIUsageMinute); !ok || u.Used != 0 {
		t.Errorf("more left than allowed: %+v (%v), want 0 used", u, ok)
	}
	for _, bad := range [][2]string{{"", "1"}, {"400", ""}, {"0", "0"}, {"-5", "1"}, {"400", "-1"}, {"x", "1"}, {"99999999999999999999", "1"}} {
		if u, ok := crmhttp.UsageFromHeaders(h(bad[0], bad[1]), "X-Limit", "X-Left", casesync.APIUsageMinute); ok {
			t.Errorf("limit %q, left %q gave %+v, want none", bad[0], bad[1], u)
		}
	}
}
