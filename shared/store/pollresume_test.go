package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
)

// TestTheCRMPollPositionIsKeptBesideThePollState: the position of an
// unfinished CRM poll reads back as saved, at microsecond precision; saving
// it leaves the watermarks alone and RecordPoll leaves it alone; the zero
// value clears it; one that could not be resumed is refused.
func TestTheCRMPollPositionIsKeptBesideThePollState(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	base := time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.UTC)
	if err := s.RecordPoll(ctx, casesync.SideGoogle, base, base); err != nil {
		t.Fatal(err)
	}
	r := casesync.PollResume{Cursor: "MTU4MDc1Mzc5OC4wfHw0MzJ8", Since: base.Add(-30 * 24 * time.Hour), StartedAt: base.Add(time.Minute)}
	if err := s.SaveCompanyPollResume(ctx, r); err != nil {
		t.Fatal(err)
	}
	st, err := s.GetPollState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := casesync.PollResume{Cursor: r.Cursor, Since: r.Since.Truncate(time.Microsecond), StartedAt: r.StartedAt.Truncate(time.Microsecond)}
	if st.CompanyResume != want {
		t.Errorf("read back %+v, want %+v", st.CompanyResume, want)
	}
	if !st.GoogleLastPolledAt.Equal(base.Truncate(time.Microsecond)) {
		t.Errorf("saving the position changed the Google watermark to %v", st.GoogleLastPolledAt)
	}
	if err := s.RecordPoll(ctx, casesync.SideCompany, base, base); err != nil {
		t.Fatal(err)
	}
	if st, err = s.GetPollState(ctx); err != nil || st.CompanyResume != want {
		t.Errorf("after RecordPoll the position is %+v (%v), want it kept", st.CompanyResume, err)
	}

	for _, bad := range []casesync.PollResume{
		{Cursor: "", Since: r.Since, StartedAt: r.StartedAt},
		{Cursor: strings.Repeat("c", casesync.MaxPollCursor+1), Since: r.Since, StartedAt: r.StartedAt},
		{Cursor: "a\nb", Since: r.Since, StartedAt: r.StartedAt},
		{Cursor: "c", StartedAt: r.StartedAt},
		{Cursor: "c", Since: r.StartedAt, StartedAt: r.Since},
	} {
		if err := s.SaveCompanyPollResume(ctx, bad); err == nil {
			t.Errorf("saved %+v, want it refused", bad)
		}
	}
	if st, _ = s.GetPollState(ctx); st.CompanyResume != want {
		t.Errorf("after the refused saves the position is %+v, want %+v", st.CompanyResume, want)
	}

	if err := s.SaveCompanyPollResume(ctx, casesync.PollResume{}); err != nil {
		t.Fatal(err)
	}
	st, err = s.GetPollState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.CompanyResume.IsZero() || !st.CompanyLastPolledAt.Equal(base.Truncate(time.Microsecond)) {
		t.Errorf("after clearing: position %+v, company watermark %v; want none and %v", st.CompanyResume, st.CompanyLastPolledAt, base)
	}
}
