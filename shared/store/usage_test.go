package store_test

import (
	"context"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/google/go-cmp/cmp"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/store"
)

// TestTheCRMsAPIUsageIsKeptInThePollState: a CRM poll recorded with its API
// usage writes one document and reads back both, at microsecond precision;
// a plain RecordPoll and a saved poll position leave the usage alone;
// SaveCompanyAPIUsage replaces it alone; a usage that Check refuses is not
// written, and one stored malformed reads back as none.
func TestTheCRMsAPIUsageIsKeptInThePollState(t *testing.T) {
	ctx := context.Background()
	s, project := newStoreIn(t)
	base := time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.UTC)

	st, err := s.GetPollState(ctx)
	if err != nil || !st.CompanyAPIUsage.IsZero() {
		t.Fatalf("before any poll the usage is %+v (%v), want none", st.CompanyAPIUsage, err)
	}

	u := casesync.APIUsage{Used: 12345, Max: 100000, Window: casesync.APIUsageDay, At: base.Add(time.Second)}
	writes, reads := s.Writes(), s.Reads()
	if err := s.RecordCompanyPollWithAPIUsage(ctx, base, base, u); err != nil {
		t.Fatal(err)
	}
	if w, r := s.Writes()-writes, s.Reads()-reads; w != 1 || r != 0 {
		t.Errorf("recording the poll with its usage wrote %d and read %d documents, want 1 and 0", w, r)
	}
	want := u
	want.At = u.At.Truncate(time.Microsecond)
	if st, err = s.GetPollState(ctx); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, st.CompanyAPIUsage); diff != "" {
		t.Errorf("usage read back (-want +got):\n%s", diff)
	}
	if !st.CompanyLastPolledAt.Equal(base.Truncate(time.Microsecond)) || !st.CompanyHeartbeat.Equal(base.Truncate(time.Microsecond)) {
		t.Errorf("watermark %v, heartbeat %v; want both %v", st.CompanyLastPolledAt, st.CompanyHeartbeat, base)
	}

	// A failed poll, then one recorded without a usage: the failure is
	// cleared, the usage kept.
	if err := s.RecordPollFailure(ctx, casesync.SideCompany, base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordCompanyPollWithAPIUsage(ctx, base.Add(2*time.Minute), base.Add(2*time.Minute), u); err != nil {
		t.Fatal(err)
	}
	if st, _ = s.GetPollState(ctx); !st.CompanyFailingSince.IsZero() {
		t.Errorf("a poll recorded with its usage left the CRM's polls failing since %v", st.CompanyFailingSince)
	}
	if err := s.RecordPoll(ctx, casesync.SideCompany, base.Add(3*time.Minute), base.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveCompanyPollResume(ctx, casesync.PollResume{Cursor: "c1", Since: base, StartedAt: base.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if st, _ = s.GetPollState(ctx); st.CompanyAPIUsage != want {
		t.Errorf("after RecordPoll and a saved position the usage is %+v, want %+v kept", st.CompanyAPIUsage, want)
	}

	minute := casesync.APIUsage{Used: 47, Max: 50, Window: casesync.APIUsageMinute, At: base.Add(4 * time.Minute)}
	writes = s.Writes()
	if err := s.SaveCompanyAPIUsage(ctx, minute); err != nil {
		t.Fatal(err)
	}
	minute.At = minute.At.Truncate(time.Microsecond)
	if w := s.Writes() - writes; w != 1 {
		t.Errorf("saving the usage wrote %d documents, want 1", w)
	}
	st, err = s.GetPollState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.CompanyAPIUsage != minute {
		t.Errorf("after SaveCompanyAPIUsage the usage is %+v, want %+v", st.CompanyAPIUsage, minute)
	}
	if !st.CompanyLastPolledAt.Equal(base.Add(3*time.Minute).Truncate(time.Microsecond)) || st.CompanyResume.Cursor != "c1" {
		t.Errorf("saving the usage changed the watermark to %v or the position to %+v", st.CompanyLastPolledAt, st.CompanyResume)
	}

	for _, bad := range []casesync.APIUsage{
		{Used: -1, Max: 10, Window: casesync.APIUsageDay, At: base},
		{Used: 1, Max: 0, Window: casesync.APIUsageDay, At: base},
		{Used: casesync.MaxAPIUsageCount + 1, Max: 10, Window: casesync.APIUsageDay, At: base},
		{Used: 1, Max: 10, Window: "fortnight", At: base},
		{Used: 1, Max: 10, Window: casesync.APIUsageDay},
	} {
		if err := s.SaveCompanyAPIUsage(ctx, bad); err == nil {
			t.Errorf("SaveCompanyAPIUsage(%+v) succeeded, want it refused", bad)
		}
		if err := s.RecordCompanyPollWithAPIUsage(ctx, base.Add(5*time.Minute), base.Add(5*time.Minute), bad); err == nil {
			t.Errorf("RecordCompanyPollWithAPIUsage(%+v) succeeded, want it refused", bad)
		}
	}
	if st, _ = s.GetPollState(ctx); st.CompanyAPIUsage != minute || !st.CompanyLastPolledAt.Equal(base.Add(3*time.Minute).Truncate(time.Microsecond)) {
		t.Errorf("after the refused writes: usage %+v, watermark %v; want both unchanged", st.CompanyAPIUsage, st.CompanyLastPolledAt)
	}

	// What is in the document is checked as it is read.
	client, err := firestore.NewClient(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.Collection(store.StateCollection).Doc(store.GlobalStateDoc).Set(ctx, map[string]any{
		"company_api_usage": map[string]any{"used": int64(5), "max": int64(-3), "window": "day", "at": base},
	}, firestore.MergeAll); err != nil {
		t.Fatal(err)
	}
	st, err = s.GetPollState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.CompanyAPIUsage.IsZero() {
		t.Errorf("a stored usage with a negative limit read back as %+v, want none", st.CompanyAPIUsage)
	}
}
