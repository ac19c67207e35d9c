package crmhttp

import (
	"errors"
	"fmt"

	"github.com/casebridge/casebridge/shared/casesync"
)

// DefaultMaxPages is how many pages one listing reads at most when the
// adapter's configuration sets no other bound (CRM_MAX_PAGES).
const DefaultMaxPages = 500

// ErrPaging is the reason inside the APIError of a listing that was stopped
// because the CRM's paging could not be trusted; check it with errors.Is.
var ErrPaging = errors.New("paging stopped")

// PagingError says which listing was stopped and why.
type PagingError struct {
	Vendor string
	// Listing names the listing, e.g. "tickets.search" or "ticket 42 comments".
	Listing string
	// Pages is how many pages had been read.
	Pages  int
	Reason string
}

func (e *PagingError) Error() string {
	return fmt.Sprintf("%s: listing %s stopped after %d pages: %s", e.Vendor, e.Listing, e.Pages, e.Reason)
}

func (e *PagingError) Is(target error) bool { return target == ErrPaging }

// Pager bounds one listing of a CRM that pages its answers: at most MaxPages
// pages, no page token or offset seen twice, and no empty page that claims
// more follow (unless AllowEmptyPages says such pages are legitimate). A
// listing that breaks a bound ends with a permanent
// *casesync.APIError whose Err is a *PagingError: retrying would read the
// same endless or cycling listing again.
//
// The token given to Page is the one that asked for the page just read
// ("" for a first page asked without one):
//
//	pg := client.NewPager("tickets.export")
//	for token := ""; ; {
//		page, err := read(token)
//		...
//		if err := pg.Page(token, len(page.Items), page.Next != ""); err != nil {
//			return nil, err
//		}
//		if page.Next == "" {
//			break
//		}
//		token = page.Next
//	}
type Pager struct {
	vendor, op string
	max        int
	pages      int
	seen       map[string]bool
	allowEmpty bool
}

// NewPager starts a listing named op (the Op its calls carry). maxPages <= 0
// means DefaultMaxPages.
func NewPager(vendor, op string, maxPages int) *Pager {
	if maxPages <= 0 {
		maxPages = DefaultMaxPages
	}
	return &Pager{vendor: vendor, op: op, max: maxPages, seen: map[string]bool{}}
}

// AllowEmptyPages lets the listing go on past an empty page that says more
// follow, and returns p. It is for a vendor whose documentation says a page
// may legitimately come back empty before the end, e.g. one that filters
// rows the caller may not read after picking the page's rows (ServiceNow's
// Table API applies read ACLs after the query's limit and offset). The
// listing is still stopped past MaxPages and on a repeated token, so an
// endless run of empty pages ends at MaxPages.
func (p *Pager) AllowEmptyPages() *Pager {
	p.allowEmpty = true
	return p
}

// Page records one page just read: the token, cursor, offset or URL that
// asked for it, how many items it held, and whether the CRM says another
// page follows. It returns an error when the listing must stop; nil means
// the caller may read the next page if more is true.
func (p *Pager) Page(token string, items int, more bool) error {
	p.pages++
	switch {
	case p.seen[token]:
		return p.fail("the CRM gave the same page token twice")
	case more && items == 0 && !p.allowEmpty:
		return p.fail("the CRM answered an empty page but said more pages follow")
	case more && p.pages >= p.max:
		return p.fail(fmt.Sprintf("it has more than %d pages (CRM_MAX_PAGES)", p.max))
	}
	p.seen[token] = true
	return nil
}

// Pages returns how many pages have been recorded.
func (p *Pager) Pages() int { return p.pages }

func (p *Pager) fail(reason string) error {
	return &casesync.APIError{Side: casesync.SideCompany, Op: p.op,
		Err: &PagingError{Vendor: p.vendor, Listing: p.op, Pages: p.pages, Reason: reason}}
}
