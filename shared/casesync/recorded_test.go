package casesync_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
)

// stillCRM reports each case's update time as it was when first read: a
// CRM whose update time a comment does not move, so that only a listing of
// its comments can show what casebridge wrote there. It counts the
// listings of comments.
type stillCRM struct {
	casesync.CRM
	mu       sync.Mutex
	first    map[string]time.Time
	listings *atomic.Int64
}

func (c *stillCRM) GetCase(ctx context.Context, id string) (casesync.CompanyCase, error) {
	cs, err := c.CRM.GetCase(ctx, id)
	if err != nil {
		return cs, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.first[id]; ok {
		cs.UpdateTime = t
	} else {
		c.first[id] = cs.UpdateTime
	}
	return cs, nil
}

func (c *stillCRM) ListComments(ctx context.Context, id string) ([]casesync.Comment, error) {
	c.listings.Add(1)
	return c.CRM.ListComments(ctx, id)
}

func TestACommentWhoseAnswerWasLostIsNotWrittenTwiceWhereTheUpdateTimeDoesNotShowIt(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run("with the store "+sk.name, func(t *testing.T) {
			w := newWorldOn(t, casesync.Config{}, sk)
			name := w.newGoogleCase("Answer lost", "P3")
			w.settle()
			id := w.mapping(name).CompanyCaseID
			if !w.mapping(name).WritesRecorded {
				t.Fatalf("a completed reconciliation left WritesRecorded unset")
			}

			listings := &atomic.Int64{}
			crash := &crashAfter{op: "AddComment", left: 1}
			w.engine.CRM = &stillCRM{CRM: crashingCRM{CRM: w.engine.CRM, crashAfter: crash}, first: map[string]time.Time{}, listings: listings}
			alice := csapitest.Actor{DisplayName: "Alice", Email: customer}
			if _, err := w.google.AddComment(name, "First detail.", alice); err != nil {
				t.Fatal(err)
			}
			w.settle()
			if crash.left != 0 {
				t.Fatalf("the lost answer was never injected")
			}
			tk, _ := w.crm.Ticket(id)
			if n := countContaining(bodiesOf(tk.Comments), "First detail."); n != 1 {
				t.Errorf("%d copies of the comment whose answer was lost, want 1", n)
			}
			if listings.Load() == 0 {
				t.Errorf("the retry did not list the CRM's comments to find the copy")
			}

			// With every write recorded, the next comment is mirrored
			// without looking for an earlier copy.
			if !w.mapping(name).WritesRecorded {
				t.Fatalf("the completed retry left WritesRecorded unset")
			}
			listings.Store(0)
			if _, err := w.google.AddComment(name, "Second detail.", alice); err != nil {
				t.Fatal(err)
			}
			w.settle()
			tk, _ = w.crm.Ticket(id)
			if n := countContaining(bodiesOf(tk.Comments), "Second detail."); n != 1 {
				t.Errorf("%d copies of the second comment, want 1", n)
			}
			if n := listings.Load(); n != 0 {
				t.Errorf("the CRM's comments were listed %d times for a comment with every earlier write recorded, want 0", n)
			}
		})
	}
}
