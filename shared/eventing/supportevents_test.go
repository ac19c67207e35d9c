package eventing

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/logging"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestReadSupportEventFindsTheCasesNamedAnywhere(t *testing.T) {
	nested := func(depth int, leaf string) string {
		return strings.Repeat(`{"a":`, depth) + leaf + strings.Repeat(`}`, depth)
	}
	many := func(n int) string {
		var parts []string
		for i := range n {
			parts = append(parts, fmt.Sprintf("projects/p/cases/%d", 100+i))
		}
		return strings.Join(parts, " ")
	}
	manyNames := func(from, to int) []string {
		var out []string
		for i := from; i < to; i++ {
			out = append(out, fmt.Sprintf("projects/p/cases/%d", 100+i))
		}
		return out
	}
	tests := []struct {
		name  string
		attrs map[string]string
		data  string
		want  []string
		more  bool
	}{
		{name: "the demo's resourceName attribute naming a case",
			attrs: map[string]string{"notificationType": "CASE_UPDATED", "resourceName": "projects/my-project/cases/43595344"},
			want:  []string{"projects/my-project/cases/43595344"}},
		{name: "a comment's name yields its case",
			attrs: map[string]string{"resourceName": "projects/200/cases/43595344/comments/234567890"},
			want:  []string{"projects/200/cases/43595344"}},
		{name: "an attachment's name yields its case",
			attrs: map[string]string{"x": "organizations/100/cases/7/attachments/0684M00000P3h1fQAB"},
			want:  []string{"organizations/100/cases/7"}},
		{name: "a full resource name",
			attrs: map[string]string{"name": "//cloudsupport.googleapis.com/projects/p-1/cases/12"},
			want:  []string{"projects/p-1/cases/12"}},
		{name: "a domain-scoped project",
			attrs: map[string]string{"r": "projects/example.com:my-proj/cases/9"},
			want:  []string{"projects/example.com:my-proj/cases/9"}},
		{name: "attributes are read in key order",
			attrs: map[string]string{"b": "projects/p/cases/2", "a": "projects/p/cases/1"},
			want:  []string{"projects/p/cases/1", "projects/p/cases/2"}},
		{name: "any string value of the data read as JSON, at any depth",
			data: `{"event":{"items":[1,true,null,{"ref":"see projects/p/cases/5 now"}]}}`,
			want: []string{"projects/p/cases/5"}},
		{name: "a name JSON escapes is read through JSON",
			data: `{"resource":"projects\/p\/cases\/6"}`,
			want: []string{"projects/p/cases/6"}},
		{name: "data that is not JSON is read as text",
			data: "case projects/p/cases/8 changed; so did organizations/100/cases/9.",
			want: []string{"projects/p/cases/8", "organizations/100/cases/9"}},
		{name: "data that is JSON with more after it is read as text too",
			data: `{"a":"projects/p/cases/1"} projects/p/cases/2`,
			want: []string{"projects/p/cases/1", "projects/p/cases/2"}},
		{name: "a name in both attributes and data is taken once",
			attrs: map[string]string{"resourceName": "projects/p/cases/3/comments/4"},
			data:  `{"resourceName":"projects/p/cases/3/comments/4","case":"projects/p/cases/3"}`,
			want:  []string{"projects/p/cases/3"}},
		{name: "an upper-case project id is not a case name",
			attrs: map[string]string{"r": "projects/My-Project/cases/1"}},
		{name: "a case number that is not digits is not a case name",
			attrs: map[string]string{"r": "projects/p/cases/abc"}},
		{name: "a case number of 21 digits is not cut to a valid one",
			attrs: map[string]string{"r": "projects/p/cases/123456789012345678901"}},
		{name: "a number followed by letters is not a case name",
			attrs: map[string]string{"r": "projects/p/cases/12ab"}},
		{name: "a name inside a longer word is not a case name",
			attrs: map[string]string{"r": "subprojects/p/cases/1 and my-organizations/1/cases/2"}},
		{name: "dot segments are not a project",
			attrs: map[string]string{"r": "projects/../cases/1 projects/a..b/cases/2"}},
		{name: "an organization that is not a number is not a case name",
			attrs: map[string]string{"r": "organizations/acme/cases/1"}},
		{name: "nothing named",
			attrs: map[string]string{"notificationType": "CASE_UPDATED"}, data: `{"kind":"ping"}`},
		{name: "ten distinct cases are taken and the rest flagged",
			data: many(12), want: manyNames(0, 10), more: true},
		{name: "ten are taken without a flag when there are ten",
			data: many(10), want: manyNames(0, 10)},
		{name: "an attribute value over Pub/Sub's limit is not read",
			attrs: map[string]string{"r": "projects/p/cases/1 " + strings.Repeat("x", 1100)}},
		{name: "a JSON name deeper than the bound is not reached",
			data: nested(40, `"projects\/p\/cases\/7"`)},
		{name: "a JSON name within the bound is reached",
			data: nested(20, `"projects\/p\/cases\/7"`), want: []string{"projects/p/cases/7"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := ReadSupportEvent(PubsubMessage{Attributes: tc.attrs, Data: []byte(tc.data)})
			if diff := cmp.Diff(tc.want, ev.Cases); diff != "" {
				t.Errorf("cases (-want +got):\n%s", diff)
			}
			if ev.MoreCases != tc.more {
				t.Errorf("MoreCases = %v, want %v", ev.MoreCases, tc.more)
			}
			if ev.DataBytes != len(tc.data) || ev.DataSkipped {
				t.Errorf("DataBytes %d, DataSkipped %v; want %d, false", ev.DataBytes, ev.DataSkipped, len(tc.data))
			}
		})
	}

	t.Run("data over the limit is not read, attributes still are", func(t *testing.T) {
		data := []byte(`{"resourceName":"projects/p/cases/2","pad":"` + strings.Repeat("x", MaxSupportEventData) + `"}`)
		ev := ReadSupportEvent(PubsubMessage{Attributes: map[string]string{"resourceName": "projects/p/cases/1"}, Data: data})
		want := SupportEvent{Cases: []string{"projects/p/cases/1"}, AttributeKeys: []string{"resourceName"}, DataBytes: len(data), DataSkipped: true}
		if diff := cmp.Diff(want, ev); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if ev.Complete() {
			t.Error("an event whose data was not read is complete")
		}
	})

	t.Run("data at the limit is read", func(t *testing.T) {
		lead := "projects/p/cases/3 "
		data := []byte(lead + strings.Repeat("x", MaxSupportEventData-len(lead)))
		ev := ReadSupportEvent(PubsubMessage{Data: data})
		if diff := cmp.Diff([]string{"projects/p/cases/3"}, ev.Cases); diff != "" || ev.DataSkipped {
			t.Errorf("cases (-want +got):\n%s\nDataSkipped %v", diff, ev.DataSkipped)
		}
	})

	t.Run("only the first 100 attributes by key are read", func(t *testing.T) {
		attrs := map[string]string{}
		for i := range 101 {
			attrs[fmt.Sprintf("k%03d", i)] = "nothing"
		}
		attrs["k100"] = "projects/p/cases/1"
		ev := ReadSupportEvent(PubsubMessage{Attributes: attrs})
		if len(ev.Cases) != 0 || len(ev.AttributeKeys) != 101 {
			t.Errorf("cases %v from the 101st attribute, %d keys listed; want none and 101", ev.Cases, len(ev.AttributeKeys))
		}
	})
}

func TestSupportEventLogAttrsNameKeysAndSizesOnly(t *testing.T) {
	secret := "a customer wrote: my password is hunter2"
	attrs := map[string]string{"resourceName": "projects/p/cases/1", "note": secret, "bad\nkey": "v"}
	for i := range 30 {
		attrs[fmt.Sprintf("key%02d", i)] = "v"
	}
	ev := ReadSupportEvent(PubsubMessage{Attributes: attrs, Data: []byte(`{"body":"` + secret + `"}`)})
	var buf bytes.Buffer
	log := logging.New(&buf, 0)
	log.Info("support event received", ev.LogAttrs()...)
	line := logLines(t, &buf)[0]
	if strings.Contains(buf.String(), "hunter2") {
		t.Errorf("the log line holds a value or the data: %s", buf.String())
	}
	keys, _ := line["attributeKeys"].([]any)
	if len(keys) != maxLoggedAttributeKeys || line["attributeCount"] != float64(len(attrs)) || line["dataBytes"] != float64(ev.DataBytes) || line["casesNamed"] != float64(1) {
		t.Errorf("log line %v: want 20 attribute keys, the attribute count %d, the data size %d and one case", line, len(attrs), ev.DataBytes)
	}
	if keys[0] != `"bad\nkey"` {
		t.Errorf("first key logged as %v, want it quoted and escaped", keys[0])
	}
}

// fakeCasePublisher records case-updated publishes, failing with err.
type fakeCasePublisher struct {
	refs []casesync.CaseRef
	err  error
}

func (p *fakeCasePublisher) PublishCaseUpdated(_ context.Context, refs []casesync.CaseRef) error {
	if p.err != nil {
		return p.err
	}
	p.refs = append(p.refs, refs...)
	return nil
}

type fakeTicks struct {
	n   int
	err error
}

func (p *fakeTicks) PublishTick(context.Context) (string, error) {
	if p.err != nil {
		return "", p.err
	}
	p.n++
	return fmt.Sprintf("tick-%d", p.n), nil
}

func TestSupportEventForwarderPublishesCasesOrAsksForAPoll(t *testing.T) {
	inOrg := func(name string) bool { return !strings.HasPrefix(name, "projects/outside/") }
	google := func(ids ...string) []casesync.CaseRef {
		var out []casesync.CaseRef
		for _, id := range ids {
			out = append(out, casesync.CaseRef{Side: casesync.SideGoogle, ID: id})
		}
		return out
	}
	tests := []struct {
		name      string
		ev        SupportEvent
		wantRefs  []casesync.CaseRef
		wantTicks int
	}{
		{"each case named becomes case-updated without an update time", SupportEvent{Cases: []string{"projects/p/cases/1", "organizations/1/cases/2"}},
			google("projects/p/cases/1", "organizations/1/cases/2"), 0},
		{"no case named asks for a Google poll", SupportEvent{AttributeKeys: []string{"notificationType"}}, nil, 1},
		{"cases outside the scope are left alone", SupportEvent{Cases: []string{"projects/outside/cases/1", "projects/p/cases/2"}},
			google("projects/p/cases/2"), 0},
		{"only cases outside the scope: nothing to do", SupportEvent{Cases: []string{"projects/outside/cases/1"}}, nil, 0},
		{"more cases than taken: those taken, and a poll for the rest", SupportEvent{Cases: []string{"projects/p/cases/1"}, MoreCases: true},
			google("projects/p/cases/1"), 1},
		{"data too large to read: the attributes' cases, and a poll", SupportEvent{Cases: []string{"projects/p/cases/1"}, DataSkipped: true},
			google("projects/p/cases/1"), 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cases, ticks := &fakeCasePublisher{}, &fakeTicks{}
			f := SupportEventForwarder{InScope: inOrg, Cases: cases, PollGoogle: ticks}
			var buf bytes.Buffer
			if err := f.Forward(context.Background(), logging.New(&buf, 0), tc.ev); err != nil {
				t.Fatalf("Forward: %v", err)
			}
			if diff := cmp.Diff(tc.wantRefs, cases.refs); diff != "" {
				t.Errorf("case-updated (-want +got):\n%s", diff)
			}
			if ticks.n != tc.wantTicks {
				t.Errorf("published %d poll ticks, want %d", ticks.n, tc.wantTicks)
			}
		})
	}

	t.Run("a failed publish is transient", func(t *testing.T) {
		unavailable := status.Error(codes.Unavailable, "emulator gone")
		for _, f := range []SupportEventForwarder{
			{Cases: &fakeCasePublisher{err: &casesync.TransientError{Err: unavailable}}, PollGoogle: &fakeTicks{}},
			{Cases: &fakeCasePublisher{}, PollGoogle: &fakeTicks{err: unavailable}},
		} {
			err := f.Forward(context.Background(), logging.New(&bytes.Buffer{}, 0), SupportEvent{Cases: []string{"projects/p/cases/1"}, MoreCases: true})
			if err == nil || !casesync.IsTransient(err) {
				t.Errorf("Forward = %v, want a transient error", err)
			}
		}
	})
}

// supportEvent builds the CloudEvent functions-framework makes of a raw push
// of a support event.
func supportEvent(t *testing.T, id string, attrs map[string]string, data []byte) event.Event {
	t.Helper()
	e := event.New()
	e.SetID(id)
	e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
	e.SetSource("//pubsub.googleapis.com/projects/p/topics/support-events")
	e.SetTime(published)
	if err := e.SetData(event.ApplicationJSON, map[string]any{"message": map[string]any{
		"data": data, "messageId": id, "publishTime": published, "attributes": attrs,
	}}); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestSupportEventHandlerAppliesTheRetryContract(t *testing.T) {
	newHandler := func(buf *bytes.Buffer, rec FailureRecorder, run func(SupportEvent) error) func(context.Context, event.Event) error {
		h := Handler{Function: FunctionGoogleEvents, Log: logging.New(buf, 0), Failures: rec, Now: func() time.Time { return published }}
		return h.SupportEvent(func(_ context.Context, _ *slog.Logger, ev SupportEvent) error { return run(ev) })
	}

	t.Run("the event is read and handed over", func(t *testing.T) {
		var got SupportEvent
		h := newHandler(&bytes.Buffer{}, nil, func(ev SupportEvent) error { got = ev; return nil })
		err := h(context.Background(), supportEvent(t, "m1", map[string]string{"resourceName": "projects/p/cases/1/comments/2"}, []byte(`{}`)))
		if err != nil {
			t.Fatal(err)
		}
		want := SupportEvent{Cases: []string{"projects/p/cases/1"}, Items: map[string]string{"projects/p/cases/1": "2"}, AttributeKeys: []string{"resourceName"}, DataBytes: 2}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})

	t.Run("a transient failure is returned and recorded under the function's key", func(t *testing.T) {
		rec := &recorder{}
		h := newHandler(&bytes.Buffer{}, rec, func(SupportEvent) error {
			return &casesync.TransientError{Err: errors.New("publish unavailable")}
		})
		if err := h(context.Background(), supportEvent(t, "m2", nil, nil)); err == nil {
			t.Fatal("a transient failure was acknowledged")
		}
		if len(rec.got) != 1 || rec.got[0].Key != FunctionGoogleEvents+"-tick" {
			t.Errorf("recorded %+v, want one failure under %s-tick", rec.got, FunctionGoogleEvents)
		}
	})

	t.Run("a push that is not a Pub/Sub message is acknowledged", func(t *testing.T) {
		e := event.New()
		e.SetID("m3")
		e.DataEncoded = []byte("not json")
		ran := false
		h := newHandler(&bytes.Buffer{}, nil, func(SupportEvent) error { ran = true; return nil })
		if err := h(context.Background(), e); err != nil || ran {
			t.Errorf("handler = %v, ran %v; want nil without running", err, ran)
		}
	})
}

// pubsubName is Pub/Sub's rule for topic and subscription ids: a letter
// first, 3 to 255 characters, never starting with "goog".
var pubsubName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._~%+-]{2,254}$`)

func TestTopologyNamesAreValidPubSubIdsWithoutAPrefix(t *testing.T) {
	subs := Topology("")
	var names []string
	for _, s := range subs {
		names = append(names, s.Name, s.DeadLetterSubscription())
	}
	names = append(names, Topics(subs)...)
	for _, n := range names {
		if !pubsubName.MatchString(n) || strings.HasPrefix(strings.ToLower(n), "goog") {
			t.Errorf("%q is not a valid Pub/Sub id (the local stack uses no prefix)", n)
		}
	}
	found := false
	for _, s := range subs {
		if s.Function == FunctionGoogleEvents {
			found = true
			if s.Topic != TopicSupportEvents || s.MaxDeliveryAttempts != 5 {
				t.Errorf("GoogleEvents is fed by %s with %d attempts, want %s with 5", s.Topic, s.MaxDeliveryAttempts, TopicSupportEvents)
			}
		}
	}
	if !found {
		t.Error("no subscription feeds GoogleEvents")
	}
}

// TestASupportEventNamingOneItemOfACaseNamesThatItem: the comment or file
// an event names through its case is passed on as a hint; a case named
// through two items, or also on its own, gets none.
func TestASupportEventNamingOneItemOfACaseNamesThatItem(t *testing.T) {
	for _, tt := range []struct {
		name  string
		attrs map[string]string
		data  string
		want  map[string]string
	}{
		{"a comment", map[string]string{"resourceName": "projects/p/cases/1/comments/22"}, `{}`, map[string]string{"projects/p/cases/1": "22"}},
		{"an attachment, in the data", nil, `{"name":"organizations/5/cases/7/attachments/0684M00000JvBpnQAF"}`, map[string]string{"organizations/5/cases/7": "0684M00000JvBpnQAF"}},
		{"the same comment twice", map[string]string{"resourceName": "projects/p/cases/1/comments/22"}, `{"name":"projects/p/cases/1/comments/22"}`, map[string]string{"projects/p/cases/1": "22"}},
		{"two comments of one case", map[string]string{"a": "projects/p/cases/1/comments/22", "b": "projects/p/cases/1/comments/23"}, `{}`, nil},
		{"a comment and the case itself", map[string]string{"a": "projects/p/cases/1/comments/22", "b": "projects/p/cases/1"}, `{}`, nil},
		{"the case alone", map[string]string{"resourceName": "projects/p/cases/1"}, `{}`, nil},
		{"a malformed item id", map[string]string{"resourceName": "projects/p/cases/1/comments/2%2F3"}, `{}`, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ev := ReadSupportEvent(PubsubMessage{Attributes: tt.attrs, Data: []byte(tt.data)})
			if diff := cmp.Diff(tt.want, ev.Items, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("items (-want +got):\n%s", diff)
			}
		})
	}
}
