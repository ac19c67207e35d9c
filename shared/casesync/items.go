package casesync

import (
	"slices"
	"sort"
	"time"
)

// ItemLogMargin is how far an item log's Through trails the newest done
// item it has seen listed. An item that a listing shows late, created up to
// this long before items already handled, is still handled.
const ItemLogMargin = time.Hour

// MaxDoneItems bounds the ids an item log keeps past its Through. When more
// are done than that (a burst of comments inside the margin), Through moves
// up to the newest ones.
const MaxDoneItems = 200

// itemKind is comments or attachments.
type itemKind int

const (
	kindComment itemKind = iota
	kindAttachment
)

func (k itemKind) String() string {
	if k == kindComment {
		return "comment"
	}
	return "attachment"
}

// log returns the item log of one side and kind.
func (s *SideItems) log(k itemKind) *ItemLog {
	if k == kindComment {
		return &s.Comments
	}
	return &s.Attachments
}

// listedItem is one item of a side's complete listing, as the log sees it.
type listedItem struct {
	ID string
	At time.Time
	// Settled is true when the item needs no more work: done, casebridge's
	// own comment, or one that can never be worked on (a malformed id).
	Settled bool
}

// settle returns the log with the items of add (id -> creation time)
// recorded, then made as small as it can be kept. listed, when not nil, is
// the side's complete listing of this kind as this run saw it: Through then
// moves up to the newest creation time at or before which every listed item
// is settled, less the margin. Entries at or before Through are dropped;
// past MaxDoneItems, when the listing is given, the oldest entries are
// dropped and Through moves up to them. behind names the listed items that were not settled yet end up at
// or before Through (only a capped log leaves any behind).
func (l ItemLog) settle(add map[string]time.Time, listed []listedItem) (out ItemLog, behind []string) {
	at := map[string]time.Time{}
	order := []string{}
	put := func(id string, t time.Time) {
		t = micro(t)
		if old, ok := at[id]; ok {
			if old.IsZero() {
				at[id] = t
			}
			return
		}
		at[id] = t
		order = append(order, id)
	}
	for _, d := range l.Done {
		put(d.ID, d.At)
	}
	for id, t := range add {
		put(id, t)
	}
	// A listing tells the creation time of entries recorded without one.
	listed = slices.Clone(listed)
	for i := range listed {
		listed[i].At = micro(listed[i].At)
		if t, ok := at[listed[i].ID]; ok && t.IsZero() && !listed[i].At.IsZero() {
			at[listed[i].ID] = listed[i].At
		}
	}

	through := l.Through
	if len(listed) > 0 {
		items := slices.Clone(listed)
		items = slices.DeleteFunc(items, func(it listedItem) bool { return it.At.IsZero() })
		sort.SliceStable(items, func(i, j int) bool { return items[i].At.Before(items[j].At) })
		if len(items) > 0 {
			limit := items[len(items)-1].At.Add(-ItemLogMargin)
			for i := 0; i < len(items); {
				j := i
				ok := true
				for ; j < len(items) && items[j].At.Equal(items[i].At); j++ {
					if !items[j].Settled && !l.hasID(items[j].ID, at) {
						ok = false
					}
				}
				if !ok || items[i].At.After(limit) {
					break
				}
				if items[i].At.After(through) {
					through = items[i].At
				}
				i = j
			}
		}
	}

	var done []DoneItem
	for _, id := range order {
		t := at[id]
		if !t.IsZero() && !through.IsZero() && !t.After(through) {
			continue
		}
		done = append(done, DoneItem{ID: id, At: t})
	}
	// The cap needs the side's listing: without it, entries past the cap
	// (casebridge's own uploads, say) could move Through over a person's
	// item this run never saw. The next run that lists the side (its own
	// writes changed it) settles the log.
	if len(done) > MaxDoneItems && listed != nil {
		// Oldest first; an entry whose creation time is unknown counts as
		// oldest. Entries sharing a creation time are kept or dropped
		// together: the newest time is always kept whole, since it may
		// still get items, and Through never lands on it.
		sort.SliceStable(done, func(i, j int) bool { return done[i].At.Before(done[j].At) })
		k := len(done) - MaxDoneItems
		if t := done[k].At; !t.IsZero() && done[k-1].At.Equal(t) {
			end := k
			for end < len(done) && done[end].At.Equal(t) {
				end++
			}
			if end < len(done) {
				k = end
			} else {
				for k > 0 && done[k-1].At.Equal(t) {
					k--
				}
			}
		}
		for _, d := range done[:k] {
			if d.At.After(through) {
				through = d.At
			}
		}
		done = slices.Clone(done[k:])
		for _, it := range listed {
			if !it.Settled && !it.At.IsZero() && !it.At.After(through) && !l.hasID(it.ID, at) {
				behind = append(behind, it.ID)
			}
		}
	}
	return ItemLog{Through: through, Done: done}, behind
}

func (l ItemLog) hasID(id string, at map[string]time.Time) bool {
	_, ok := at[id]
	return ok
}

// micro gives t the microsecond precision stores keep, so that what a log
// covers does not change when it is stored and read back.
func micro(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Truncate(time.Microsecond).UTC()
}
