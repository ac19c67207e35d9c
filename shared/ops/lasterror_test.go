package ops

import (
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/google/go-cmp/cmp"
)

func TestLastErrorsComeFromTheFailureRecordOfTheMessagesOwnAttempts(t *testing.T) {
	st := newFailureStore(t)
	ctx := t.Context()
	first := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	dead := first.Add(10 * time.Minute)
	company := func(id string) *casesync.CaseRef { return &casesync.CaseRef{Side: casesync.SideCompany, ID: id} }
	record := func(function string, ref *casesync.CaseRef, at time.Time) {
		t.Helper()
		if err := st.RecordFailure(ctx, eventing.DeliveryFailure{Key: eventing.FailureKey(function, ref), Function: function,
			Error: "failed at " + at.Format(time.RFC3339), At: at, CaseRef: ref}); err != nil {
			t.Fatal(err)
		}
	}
	record(eventing.FunctionSyncCase, company("during"), dead.Add(-time.Minute))
	record(eventing.FunctionSyncCase, company("at-dead-lettering"), dead)
	record(eventing.FunctionSyncCase, company("after"), dead.Add(time.Minute))
	record(eventing.FunctionSyncCase, company("before"), first.Add(-time.Minute))
	record(eventing.FunctionSyncCase, &casesync.CaseRef{Side: casesync.SideGoogle, ID: "projects/123/cases/77"}, dead.Add(-time.Second))
	record(eventing.FunctionSyncCase, &casesync.CaseRef{MappingID: "m1"}, dead.Add(-time.Second))
	record(eventing.FunctionPollCRM, nil, dead.Add(-2*time.Second))

	caseMsg := func(ref *casesync.CaseRef) DeadLetter {
		return DeadLetter{Function: eventing.FunctionSyncCase, Kind: KindCase, Case: ref, FirstPublishTime: first, DeadLetteredAt: dead}
	}
	tests := []struct {
		name    string
		dl      DeadLetter
		want    string
		wantAt  time.Time
		problem bool
	}{
		{name: "a failure recorded between first publication and dead-lettering is the last error",
			dl: caseMsg(company("during")), want: "failed at 2026-05-01T09:09:00Z", wantAt: dead.Add(-time.Minute)},
		{name: "a failure recorded at the dead-lettering time counts",
			dl: caseMsg(company("at-dead-lettering")), want: "failed at 2026-05-01T09:10:00Z", wantAt: dead},
		{name: "a failure recorded after the dead-lettering belongs to a newer message",
			dl: caseMsg(company("after")), want: UnknownError},
		{name: "a failure recorded before the first publication belongs to an older message",
			dl: caseMsg(company("before")), want: UnknownError},
		{name: "a Google case is found whatever project form its name uses",
			dl: caseMsg(&casesync.CaseRef{Side: casesync.SideGoogle, ID: "projects/my-project/cases/77"}), want: "failed at 2026-05-01T09:09:59Z", wantAt: dead.Add(-time.Second)},
		{name: "a mapping-only sync request is found by its mapping",
			dl: caseMsg(&casesync.CaseRef{MappingID: "m1"}), want: "failed at 2026-05-01T09:09:59Z", wantAt: dead.Add(-time.Second)},
		{name: "a tick is found under its function's tick record",
			dl: DeadLetter{Function: eventing.FunctionPollCRM, Kind: KindTick, FirstPublishTime: first, DeadLetteredAt: dead}, want: "failed at 2026-05-01T09:09:58Z", wantAt: dead.Add(-2 * time.Second)},
		{name: "a message without a record keeps the error unknown",
			dl: caseMsg(company("never-failed-here")), want: UnknownError},
		{name: "a malformed message is not looked up",
			dl: DeadLetter{Function: eventing.FunctionSyncCase, Kind: KindMalformed, FirstPublishTime: first, DeadLetteredAt: dead}, want: UnknownError},
		{name: "a message from a subscription outside the topology is not looked up",
			dl: DeadLetter{Kind: KindCase, Case: company("during"), FirstPublishTime: first, DeadLetteredAt: dead}, want: UnknownError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dls := []DeadLetter{tt.dl}
			dls[0].LastError = UnknownError
			(&DeadLetterQueues{Failures: st}).lastErrors(ctx, dls)
			got := [3]any{dls[0].LastError, dls[0].LastErrorAt, dls[0].LastErrorProblem}
			if diff := cmp.Diff([3]any{tt.want, tt.wantAt, ""}, got); diff != "" {
				t.Errorf("last error, its time and problem (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("an unreadable failure store keeps the errors unknown and says why", func(t *testing.T) {
		closed := newFailureStore(t)
		closed.Close()
		dls := []DeadLetter{caseMsg(company("during")), caseMsg(company("after"))}
		for i := range dls {
			dls[i].LastError = UnknownError
		}
		(&DeadLetterQueues{Failures: closed}).lastErrors(ctx, dls)
		for _, d := range dls {
			if d.LastError != UnknownError || d.LastErrorProblem == "" {
				t.Errorf("case %s: last error %q, problem %q; want %q and the reason the record could not be read", d.Case.ID, d.LastError, d.LastErrorProblem, UnknownError)
			}
		}
	})
}
