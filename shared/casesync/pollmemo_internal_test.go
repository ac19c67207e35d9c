package casesync

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// memoSaver records the memos saved; nothing else of Store is used.
type memoSaver struct {
	Store
	saved []PollMemo
}

func (s *memoSaver) SavePollMemo(_ context.Context, _ Side, m PollMemo) error {
	s.saved = append(s.saved, m)
	return nil
}

func TestThePollMemoKeepsOnlyWhatTheNextSearchReturnsAndIsBounded(t *testing.T) {
	s := &memoSaver{}
	e := &Engine{Store: s}
	ctx := context.Background()
	horizon := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)

	next := PollMemo{Cases: map[string]time.Time{"old": horizon, "older": horizon.Add(-time.Hour), "new": horizon.Add(time.Microsecond)}}
	if err := e.savePollMemo(ctx, SideGoogle, PollMemo{}, next, horizon); err != nil {
		t.Fatal(err)
	}
	if len(s.saved) != 1 || len(s.saved[0].Cases) != 1 || s.saved[0].Cases["new"].IsZero() {
		t.Fatalf("saved %v; want only the case updated after the next search's start", s.saved)
	}

	// Unchanged, or only cases dropped: nothing written.
	same := func() PollMemo {
		return PollMemo{Cases: map[string]time.Time{"new": horizon.Add(time.Microsecond)}}
	}
	if err := e.savePollMemo(ctx, SideGoogle, same(), same(), horizon); err != nil {
		t.Fatal(err)
	}
	if err := e.savePollMemo(ctx, SideGoogle, PollMemo{Cases: map[string]time.Time{"new": horizon.Add(time.Microsecond), "gone": horizon.Add(time.Second)}}, same(), horizon); err != nil {
		t.Fatal(err)
	}
	if len(s.saved) != 1 {
		t.Fatalf("a memo that only lost cases was written (%d writes)", len(s.saved))
	}
	// A case whose update time moved is written.
	if err := e.savePollMemo(ctx, SideGoogle, same(), PollMemo{Cases: map[string]time.Time{"new": horizon.Add(time.Second)}}, horizon); err != nil {
		t.Fatal(err)
	}
	if len(s.saved) != 2 {
		t.Fatalf("a memo with a case at a new update time was not written")
	}

	// Over the bound: the newest are kept.
	big := PollMemo{Cases: map[string]time.Time{}}
	for i := range MaxPollMemo + 10 {
		big.Cases[fmt.Sprint("case-", i)] = horizon.Add(time.Duration(i+1) * time.Second)
	}
	if err := e.savePollMemo(ctx, SideCompany, PollMemo{}, big, horizon); err != nil {
		t.Fatal(err)
	}
	got := s.saved[len(s.saved)-1].Cases
	if len(got) != MaxPollMemo {
		t.Fatalf("memo of %d cases kept %d, want %d", MaxPollMemo+10, len(got), MaxPollMemo)
	}
	for i := range 10 {
		if _, ok := got[fmt.Sprint("case-", i)]; ok {
			t.Errorf("case-%d, among the oldest, was kept over newer ones", i)
		}
	}
	if _, ok := got[fmt.Sprint("case-", MaxPollMemo+9)]; !ok {
		t.Errorf("the newest case was dropped")
	}
}
