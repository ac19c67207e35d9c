package crmhttp_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/crmhttp"
	"github.com/google/go-cmp/cmp"
)

func TestAnAnswersDateIsReadStrictly(t *testing.T) {
	at := time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)
	tests := []struct {
		name   string
		values []string // nil: no Date header
		want   time.Time
	}{
		{name: "an IMF-fixdate is read", values: []string{"Sun, 06 Nov 1994 08:49:37 GMT"}, want: at},
		{name: "the obsolete RFC 850 form is read", values: []string{"Sunday, 06-Nov-94 08:49:37 GMT"}, want: at},
		{name: "the obsolete asctime form is read", values: []string{"Sun Nov  6 08:49:37 1994"}, want: at},
		{name: "the same date given twice is read", values: []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMT"}, want: at},
		{name: "a missing header is unknown"},
		{name: "an empty header is unknown", values: []string{""}},
		{name: "garbage is unknown", values: []string{"yesterday, around noon"}},
		{name: "a Unix time is unknown", values: []string{"784111777"}},
		{name: "an RFC 3339 time is unknown", values: []string{"1994-11-06T08:49:37Z"}},
		{name: "a weekday that does not match the date is unknown", values: []string{"Mon, 06 Nov 1994 08:49:37 GMT"}},
		{name: "a zone other than GMT is unknown", values: []string{"Sun, 06 Nov 1994 08:49:37 PST"}},
		{name: "an RFC 850 date in another zone is unknown", values: []string{"Sunday, 06-Nov-94 08:49:37 PST"}},
		{name: "a fraction of a second is unknown", values: []string{"Sun, 06 Nov 1994 08:49:37.5 GMT"}},
		{name: "a day that does not exist is unknown", values: []string{"Thu, 31 Nov 1994 08:49:37 GMT"}},
		{name: "stray text after the date is unknown", values: []string{"Sun, 06 Nov 1994 08:49:37 GMT; x"}},
		{name: "a date without leading zeros is unknown", values: []string{"Sun, 6 Nov 1994 8:49:37 GMT"}},
		{name: "two different dates are unknown", values: []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:38 GMT"}},
		{name: "a very long header is unknown", values: []string{"Sun, 06 Nov 1994 08:49:37 GMT" + strings.Repeat(" ", 1<<16)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.values {
				h.Add("Date", v)
			}
			got := crmhttp.AnswerDate(h)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("AnswerDate (-want +got):\n%s", diff)
			}
		})
	}
}

// datedServer answers {} with the Date header it is given ("-": none at
// all, "": Go's own), after first answering failFirst 503s dated stale.
type datedServer struct {
	date      string
	failFirst int
	stale     string
	calls     atomic.Int64
}

func (d *datedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := d.calls.Add(1)
	if int(n) <= d.failFirst {
		w.Header().Set("Date", d.stale)
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	switch d.date {
	case "":
	case "-":
		w.Header()["Date"] = nil // Go's server then sends none
	default:
		w.Header().Set("Date", d.date)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"ok":true}`))
}

func TestJSONAtGivesTheDateOfTheAnswerItDecoded(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 5, 0, time.UTC)
	tests := []struct {
		name string
		srv  *datedServer
		out  bool
		want time.Time
	}{
		{name: "a dated answer gives its date", srv: &datedServer{date: at.Format(http.TimeFormat)}, out: true, want: at},
		{name: "a dated answer that is not decoded still gives its date", srv: &datedServer{date: at.Format(http.TimeFormat)}, want: at},
		{name: "after a retry the date is the answer's, not the refusal's",
			srv: &datedServer{date: at.Format(http.TimeFormat), failFirst: 1, stale: at.Add(-time.Hour).Format(http.TimeFormat)}, out: true, want: at},
		{name: "an answer without a Date gives zero and no error", srv: &datedServer{date: "-"}, out: true},
		{name: "an answer with a garbage Date gives zero and no error", srv: &datedServer{date: "not a date"}, out: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newClient(t, tc.srv, crmhttp.Config{})
			var out struct{ OK bool }
			var dst any
			if tc.out {
				dst = &out
			}
			got, err := c.JSONAt(context.Background(), crmhttp.Request{Op: "things.get", Path: "/x"}, dst)
			if err != nil {
				t.Fatalf("JSONAt: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("JSONAt date (-want +got):\n%s", diff)
			}
			if tc.out && !out.OK {
				t.Errorf("JSONAt did not decode the answer")
			}
		})
	}
	t.Run("a Go server's own Date is this machine's clock to the second", func(t *testing.T) {
		c, _ := newClient(t, &datedServer{}, crmhttp.Config{})
		before := time.Now().Truncate(time.Second)
		got, err := c.JSONAt(context.Background(), crmhttp.Request{Op: "things.get", Path: "/x"}, nil)
		after := time.Now()
		if err != nil {
			t.Fatalf("JSONAt: %v", err)
		}
		if got.Before(before) || got.After(after) {
			t.Errorf("JSONAt date %v, want within [%v, %v]", got, before, after)
		}
	})
}
