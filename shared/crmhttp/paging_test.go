package crmhttp_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
)

// page is what a listing's caller tells the Pager after one read.
type page struct {
	token string
	items int
	more  bool
}

func TestAPagerStopsListingsThatCannotBeTrusted(t *testing.T) {
	tests := []struct {
		name      string
		max       int
		empty     bool // the pager allows empty pages that claim more
		pages     []page
		wantRead  int    // pages accepted before the stop (all, when no stop)
		wantStop  string // words the stop's reason holds; "" for none
		wantPages int    // Pages() at the end
	}{
		{name: "a listing within the bound is read to its end", max: 3,
			pages: []page{{"", 10, true}, {"c1", 10, true}, {"c2", 4, false}}, wantRead: 3, wantPages: 3},
		{name: "a listing of exactly the bound that ends on its last page is read whole", max: 2,
			pages: []page{{"0", 10, true}, {"10", 10, false}}, wantRead: 2, wantPages: 2},
		{name: "a listing that says more on its last allowed page is stopped", max: 2,
			pages: []page{{"0", 10, true}, {"10", 10, true}, {"20", 10, false}}, wantRead: 1, wantStop: "more than 2 pages", wantPages: 2},
		{name: "a cursor given twice in a row is stopped", max: 10,
			pages: []page{{"", 10, true}, {"c1", 10, true}, {"c1", 10, true}}, wantRead: 2, wantStop: "same page token twice", wantPages: 3},
		{name: "a cycle of cursors is stopped", max: 10,
			pages: []page{{"a", 10, true}, {"b", 10, true}, {"c", 10, true}, {"a", 10, true}}, wantRead: 3, wantStop: "same page token twice", wantPages: 4},
		{name: "an empty page that claims more follow is stopped", max: 10,
			pages: []page{{"", 10, true}, {"c1", 0, true}}, wantRead: 1, wantStop: "empty page", wantPages: 2},
		{name: "an empty last page ends the listing well", max: 10,
			pages: []page{{"", 10, true}, {"c1", 0, false}}, wantRead: 2, wantPages: 2},
		{name: "an empty listing is read", max: 10,
			pages: []page{{"", 0, false}}, wantRead: 1, wantPages: 1},
		{name: "with empty pages allowed, an empty page that claims more is read on past", max: 10, empty: true,
			pages: []page{{"0", 10, true}, {"10", 0, true}, {"20", 0, true}, {"30", 3, false}}, wantRead: 4, wantPages: 4},
		{name: "with empty pages allowed, endless empty pages are stopped at the bound", max: 3, empty: true,
			pages: []page{{"0", 0, true}, {"10", 0, true}, {"20", 0, true}, {"30", 0, true}}, wantRead: 2,
			wantStop: "more than 3 pages", wantPages: 3},
		{name: "with empty pages allowed, an empty page asked for twice is stopped", max: 10, empty: true,
			pages: []page{{"0", 0, true}, {"10", 0, true}, {"10", 0, true}}, wantRead: 2,
			wantStop: "same page token twice", wantPages: 3},
		{name: "no bound given means the default bound", max: 0,
			pages: manyPages(crmhttp.DefaultMaxPages + 1), wantRead: crmhttp.DefaultMaxPages - 1,
			wantStop: "more than 500 pages", wantPages: crmhttp.DefaultMaxPages},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pg := crmhttp.NewPager("TestCRM", "tickets.search", tc.max)
			if tc.empty && pg.AllowEmptyPages() != pg {
				t.Fatal("AllowEmptyPages did not return its pager")
			}
			read := 0
			var err error
			for _, p := range tc.pages {
				if err = pg.Page(p.token, p.items, p.more); err != nil {
					break
				}
				read++
				if !p.more {
					break
				}
			}
			if read != tc.wantRead {
				t.Errorf("pages accepted = %d, want %d", read, tc.wantRead)
			}
			if got := pg.Pages(); got != tc.wantPages {
				t.Errorf("Pages() = %d, want %d", got, tc.wantPages)
			}
			if tc.wantStop == "" {
				if err != nil {
					t.Errorf("Page: %v, want no stop", err)
				}
				return
			}
			checkPagingError(t, err, "tickets.search", tc.wantStop)
		})
	}
}

func manyPages(n int) []page {
	out := make([]page, n)
	for i := range out {
		out[i] = page{token: strings.Repeat("p", i), items: 1, more: true}
	}
	return out
}

func checkPagingError(t *testing.T, err error, op, reason string) {
	t.Helper()
	var ae *casesync.APIError
	var pe *crmhttp.PagingError
	if !errors.Is(err, crmhttp.ErrPaging) || !casesync.IsPermanent(err) || !errors.As(err, &ae) || !errors.As(err, &pe) {
		t.Fatalf("error %v, want a permanent APIError wrapping a PagingError", err)
	}
	if diff := cmp.Diff([]string{string(casesync.SideCompany), op, "TestCRM", op}, []string{string(ae.Side), ae.Op, pe.Vendor, pe.Listing}); diff != "" {
		t.Errorf("side, op, vendor and listing (-want +got):\n%s", diff)
	}
	if !strings.Contains(err.Error(), reason) {
		t.Errorf("error %q does not say %q", err, reason)
	}
}

func TestAPagerNeverQuotesThePageToken(t *testing.T) {
	const token = "https://crm.example/search?query=customer+secret"
	pg := crmhttp.NewPager("TestCRM", "tickets.search", 10)
	if err := pg.Page(token, 1, true); err != nil {
		t.Fatalf("first Page: %v", err)
	}
	err := pg.Page(token, 1, true)
	if err == nil || strings.Contains(err.Error(), "customer") {
		t.Errorf("error %v, want a stop that does not quote the token", err)
	}
}

func TestAClientsPagerUsesItsMaxPages(t *testing.T) {
	c := crmhttp.New(crmhttp.Config{Vendor: "TestCRM", BaseURL: "http://crm.example", MaxPages: 2})
	pg := c.NewPager("ticket 42 comments")
	if err := pg.Page("", 1, true); err != nil {
		t.Fatalf("first Page: %v", err)
	}
	checkPagingError(t, pg.Page("c1", 1, true), "ticket 42 comments", "more than 2 pages")
}
