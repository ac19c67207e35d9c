package ops

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/google/go-cmp/cmp"
)

func TestSettledSupportEventsAreThoseWhoseCasesWereReadSinceOrPolled(t *testing.T) {
	st := newFailureStore(t)
	ctx := t.Context()
	first := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	dead := first.Add(time.Hour)
	// The Google poller last succeeded in a poll started 30 minutes after
	// the first publication of most events below.
	polled := first.Add(30 * time.Minute)
	if err := st.RecordPoll(ctx, casesync.SideGoogle, polled, polled); err != nil {
		t.Fatal(err)
	}
	// readAt: the Google side of a healthy, linked mapping was read by a
	// completed reconciliation at at.
	readAt := func(at time.Time) func(*casesync.Mapping) {
		return func(m *casesync.Mapping) {
			m.Google.ReadAt = at
			m.Google.UpdatesSyncedAt, m.Company.UpdatesSyncedAt = dead, dead
		}
	}
	readSince := seedMapping(t, st, "projects/p/cases/11", "c11", readAt(first.Add(time.Minute)))
	alsoReadSince := seedMapping(t, st, "projects/p/cases/12", "c12", readAt(first.Add(2*time.Minute)))
	// Reconciled completely after the event, but its Google case was last
	// read before it: the event's change was not seen.
	readBefore := seedMapping(t, st, "projects/p/cases/13", "c13", func(m *casesync.Mapping) {
		readAt(first.Add(-time.Minute))(m)
	})
	readWithinMargin := seedMapping(t, st, "projects/p/cases/14", "c14", readAt(first.Add(time.Second)))
	neverRead := seedMapping(t, st, "projects/p/cases/15", "c15", readAt(time.Time{}))
	failing := seedMapping(t, st, "projects/p/cases/16", "c16", func(m *casesync.Mapping) {
		readAt(first.Add(time.Minute))(m)
		m.Attempts, m.FailingSince = 2, first.Add(5*time.Minute)
	})
	unlinked := seedMapping(t, st, "projects/p/cases/17", "", readAt(first.Add(time.Minute)))
	readLate := seedMapping(t, st, "projects/p/cases/18", "c18", readAt(polled.Add(5*time.Minute)))

	event := func(cases ...string) DeadLetter {
		return DeadLetter{Function: eventing.FunctionGoogleEvents, SourceTopic: "t-" + eventing.TopicSupportEvents, Kind: KindSupportEvent,
			SupportCases: cases, Size: 321, FirstPublishTime: first, DeadLetteredAt: dead}
	}
	publishedAt := func(d DeadLetter, at time.Time) DeadLetter { d.FirstPublishTime = at; return d }
	incomplete := func(d DeadLetter) DeadLetter {
		d.SupportCasesIncomplete = "it names more than the 10 cases taken from one event"
		return d
	}
	tests := []struct {
		name string
		dl   DeadLetter
		want verdict
	}{
		{"an event whose cases were each read by a completed reconciliation since its publication is settled",
			event("projects/p/cases/11", "projects/p/cases/12"),
			verdict{Settled: true, By: "its mapping " + readSince.ID + " read Google case projects/p/cases/11 at 2026-05-01T09:01:00Z; its mapping " + alsoReadSince.ID + " read Google case projects/p/cases/12 at 2026-05-01T09:02:00Z"}},
		{"a case named by its project number is found as well",
			event("projects/123456/cases/11"), verdict{Settled: true, By: readSince.ID}},
		{"an event one of whose cases was last read before its publication is not settled, though its mapping reconciled completely since",
			event("projects/p/cases/11", "projects/p/cases/13"),
			verdict{Not: "Google case projects/p/cases/13: its mapping " + readBefore.ID + " last read it at 2026-05-01T08:59:00Z, not more than 2s after the event was first published at 2026-05-01T09:00:00Z"}},
		{"a read within the clock margin of the publication does not settle it",
			event("projects/p/cases/14"), verdict{Not: "its mapping " + readWithinMargin.ID + " last read it at 2026-05-01T09:00:01Z"}},
		{"a mapping that never read its Google case does not settle it",
			event("projects/p/cases/15"), verdict{Not: "its mapping " + neverRead.ID + " has no completed reconciliation that read it"}},
		{"a case whose mapping still fails keeps it unsettled, however recent the read",
			event("projects/p/cases/16"), verdict{Not: "Google case projects/p/cases/16: its mapping " + failing.ID + " is still failing: 2 failed"}},
		{"a case whose mapping is not linked keeps it unsettled",
			event("projects/p/cases/17"), verdict{Not: "its mapping " + unlinked.ID + " is not linked"}},
		{"a case without a mapping is settled by a Google poll started after the publication",
			event("projects/p/cases/404"),
			verdict{Settled: true, By: "the Google poller succeeded in a poll started at 2026-05-01T09:30:00Z, after the event was first published at 2026-05-01T09:00:00Z (needed as no mapping holds Google case(s) projects/p/cases/404)"}},
		{"a case without a mapping and a case read since need both",
			event("projects/p/cases/11", "projects/p/cases/404"), verdict{Settled: true, By: readSince.ID + " read Google case projects/p/cases/11 at 2026-05-01T09:01:00Z; the Google poller succeeded"}},
		{"a case without a mapping is not settled when the Google poller last started before the publication",
			publishedAt(event("projects/p/cases/404"), polled.Add(time.Minute)),
			verdict{Not: "no mapping holds Google case(s) projects/p/cases/404, and the Google poller last succeeded in a poll started at 2026-05-01T09:30:00Z, not more than 2s after the event was first published at 2026-05-01T09:31:00Z"}},
		{"an event naming no case is settled by a Google poll started after its publication",
			event(), verdict{Settled: true, By: "the Google poller succeeded in a poll started at 2026-05-01T09:30:00Z, after the event was first published at 2026-05-01T09:00:00Z (needed as it names no case)"}},
		{"an event naming no case is not settled by a Google poll started before its publication",
			publishedAt(event(), polled.Add(-time.Second)), verdict{Not: "it names no case, and the Google poller last succeeded in a poll started at 2026-05-01T09:30:00Z"}},
		{"an event read incompletely needs a Google poll after its publication as well as its cases read",
			incomplete(event("projects/p/cases/11")), verdict{Settled: true, By: readSince.ID + " read Google case projects/p/cases/11 at 2026-05-01T09:01:00Z; the Google poller succeeded in a poll started at 2026-05-01T09:30:00Z, after the event was first published at 2026-05-01T09:00:00Z (needed as it may name more cases than were read)"}},
		{"an event read incompletely is not settled without that poll, though its cases were read since",
			incomplete(publishedAt(event("projects/p/cases/18"), polled.Add(time.Second))), verdict{Not: "it may name more cases than were read, and the Google poller last succeeded in a poll started at 2026-05-01T09:30:00Z"}},
		{"(the same event read completely is settled by its case alone)",
			publishedAt(event("projects/p/cases/18"), polled.Add(time.Second)), verdict{Settled: true, By: "its mapping " + readLate.ID + " read Google case projects/p/cases/18 at 2026-05-01T09:35:00Z"}},
		{"without its first publication time an event is judged from its dead-lettering",
			publishedAt(event(), time.Time{}), verdict{Not: "not more than 2s after the event was dead-lettered at 2026-05-01T10:00:00Z"}},
		{"an event whose publication and dead-lettering times are unknown cannot be judged",
			func() DeadLetter {
				d := publishedAt(event("projects/p/cases/11"), time.Time{})
				d.DeadLetteredAt = time.Time{}
				return d
			}(),
			verdict{Problem: "the times the event was published and dead-lettered are unknown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkVerdict(ctx, t, st, tt.dl, tt.want) })
	}

	t.Run("each case and the poll state is read once however many events name them", func(t *testing.T) {
		r := &countingReader{MappingReader: st}
		dls := []DeadLetter{event("projects/p/cases/11", "projects/p/cases/404"), event("projects/p/cases/11"), event(), incomplete(event("projects/p/cases/404"))}
		if err := (&DeadLetterQueues{Mappings: r}).settle(ctx, dls); err != nil {
			t.Fatal(err)
		}
		got := [3]any{r.keys, r.lookups, r.polls}
		want := [3]any{[]string{"google projects/p/cases/11", "google projects/p/cases/404"}, 1, 1}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("case keys, lookups and poll state reads (-want +got):\n%s", diff)
		}
		for i, d := range dls {
			if !d.Settled {
				t.Errorf("event %d not settled: %q %q", i, d.NotSettledBecause, d.SettledProblem)
			}
		}
	})

	t.Run("an unreadable store settles no event and says why", func(t *testing.T) {
		closed := newFailureStore(t)
		closed.Close()
		dls := []DeadLetter{event("projects/p/cases/11"), event()}
		(&DeadLetterQueues{Mappings: closed}).settle(ctx, dls)
		for _, d := range dls {
			if d.Settled || !strings.Contains(d.SettledProblem, "could not be read") {
				t.Errorf("event naming %v: settled %v, problem %q; want not settled, and the reason the store could not be read", d.SupportCases, d.Settled, d.SettledProblem)
			}
		}
	})

	t.Run("when the last errors could not be read, no event is judged", func(t *testing.T) {
		dls := []DeadLetter{event("projects/p/cases/11")}
		dls[0].Settled = true
		cannotJudge(dls, errTest)
		if dls[0].Settled || !strings.Contains(dls[0].SettledProblem, "Firestore could not be read") {
			t.Errorf("settled %v, problem %q; want not settled and why", dls[0].Settled, dls[0].SettledProblem)
		}
	})
}

var errTest = errors.New("Firestore did not answer")
