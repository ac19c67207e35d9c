package csapitest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	cloudsupport "google.golang.org/api/cloudsupport/v2"
)

const (
	topicA = "projects/events-project/topics/support-a"
	topicB = "projects/events-project/topics/support-b"
)

// publishedEvent is one message an EventPublisher was given.
type publishedEvent struct {
	Topic      string
	Attributes map[string]string
	Data       map[string]string
}

// recordingPublisher records what it is given and fails publishes to the
// topics in fail with the error there.
type recordingPublisher struct {
	mu     sync.Mutex
	events []publishedEvent
	fail   map[string]error
}

func (p *recordingPublisher) PublishEvent(_ context.Context, topic string, msg EventMessage) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.fail[topic]; err != nil {
		return err
	}
	var data map[string]string
	if err := json.Unmarshal(msg.Data, &data); err != nil {
		data = map[string]string{"undecodable": string(msg.Data)}
	}
	p.events = append(p.events, publishedEvent{Topic: topic, Attributes: msg.Attributes, Data: data})
	return nil
}

func (p *recordingPublisher) setFailure(topic string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail == nil {
		p.fail = map[string]error{}
	}
	p.fail[topic] = err
}

// take returns the events recorded since the last take.
func (p *recordingPublisher) take() []publishedEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.events
	p.events = nil
	return out
}

func startEventSim(t *testing.T, pub EventPublisher) (*Server, *cloudsupport.Service, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	s := NewServer(t, Options{
		Organization: testOrg,
		Projects:     map[string]string{"sandbox-project": "200", "other-project": "300"},
		Clock:        clk.Now,
		Events:       pub,
	})
	return s, newClient(t, s), clk
}

func subscribe(t *testing.T, svc *cloudsupport.Service, topic string) *cloudsupport.SupportEventSubscription {
	t.Helper()
	sub, err := svc.Organizations.SupportEventSubscriptions.Create(testOrg, &cloudsupport.SupportEventSubscription{PubSubTopic: topic}).Do()
	if err != nil {
		t.Fatalf("creating a subscription to %s: %v", topic, err)
	}
	return sub
}

func flush(t *testing.T, s *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.FlushEvents(ctx); err != nil {
		t.Fatalf("the simulator did not publish its events within 10 s: %v", err)
	}
}

var subscriptionName = regexp.MustCompile(`^organizations/100/supportEventSubscriptions/[0-9a-f]{12}$`)

func TestSupportEventSubscriptionsLifecycleThroughTheOfficialClient(t *testing.T) {
	_, svc, clk := startEventSim(t, nil)
	subs := svc.Organizations.SupportEventSubscriptions

	created := subscribe(t, svc, topicA)
	if !subscriptionName.MatchString(created.Name) {
		t.Errorf("created name %q, want organizations/100/supportEventSubscriptions/<server-assigned id>", created.Name)
	}
	want := cloudsupport.SupportEventSubscription{Name: created.Name, PubSubTopic: topicA, State: "WORKING", CreateTime: "2026-01-15T10:00:00Z", UpdateTime: "2026-01-15T10:00:00Z"}
	if diff := cmp.Diff(want, *created, ignoreServerResponse); diff != "" {
		t.Errorf("created subscription (-want +got):\n%s", diff)
	}
	other := subscribe(t, svc, topicB)
	if other.Name == created.Name {
		t.Errorf("two subscriptions got the same name %q", other.Name)
	}

	got, err := subs.Get(created.Name).Do()
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if diff := cmp.Diff(want, *got, ignoreServerResponse); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}

	clk.Advance(time.Minute)
	patched, err := subs.Patch(created.Name, &cloudsupport.SupportEventSubscription{PubSubTopic: topicB}).UpdateMask("pub_sub_topic").Do()
	if err != nil {
		t.Fatalf("Patch: %v", err)
	}
	if patched.PubSubTopic != topicB || patched.UpdateTime != "2026-01-15T10:01:00Z" || patched.CreateTime != want.CreateTime {
		t.Errorf("patched subscription %+v, want topic %s, update time 10:01, create time unchanged", patched, topicB)
	}

	clk.Advance(time.Minute)
	deleted, err := subs.Delete(created.Name).Do()
	if err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantDeleted := cloudsupport.SupportEventSubscription{Name: created.Name, PubSubTopic: topicB, State: "DELETED",
		CreateTime: "2026-01-15T10:00:00Z", UpdateTime: "2026-01-15T10:02:00Z", DeleteTime: "2026-01-15T10:02:00Z", PurgeTime: "2026-02-14T10:02:00Z"}
	if diff := cmp.Diff(wantDeleted, *deleted, ignoreServerResponse); diff != "" {
		t.Errorf("Delete answers the soft-deleted resource (-want +got):\n%s", diff)
	}
	if got, err := subs.Get(created.Name).Do(); err != nil || got.State != "DELETED" {
		t.Errorf("Get of a soft-deleted subscription = %+v, %v; want it, DELETED", got, err)
	}

	listNames := func(showDeleted bool) []string {
		t.Helper()
		resp, err := subs.List(testOrg).ShowDeleted(showDeleted).Do()
		if err != nil {
			t.Fatalf("List(showDeleted=%v): %v", showDeleted, err)
		}
		var out []string
		for _, s := range resp.SupportEventSubscriptions {
			out = append(out, s.Name)
		}
		return out
	}
	if diff := cmp.Diff([]string{other.Name}, listNames(false)); diff != "" {
		t.Errorf("List without showDeleted hides the deleted one (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{created.Name, other.Name}, listNames(true)); diff != "" {
		t.Errorf("List with showDeleted, oldest first (-want +got):\n%s", diff)
	}

	undeleted, err := subs.Undelete(created.Name, &cloudsupport.UndeleteSupportEventSubscriptionRequest{}).Do()
	if err != nil {
		t.Fatalf("Undelete: %v", err)
	}
	if undeleted.State != "WORKING" || undeleted.DeleteTime != "" || undeleted.PurgeTime != "" {
		t.Errorf("undeleted subscription %+v, want WORKING without delete or purge time", undeleted)
	}

	if _, err := subs.Delete(created.Name).Do(); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	clk.Advance(purgeAfter)
	if _, err := subs.Get(created.Name).Do(); statusOf(t, err) != (apiStatus{404, "NOT_FOUND"}) {
		t.Errorf("Get after the purge time: %v, want 404 NOT_FOUND", err)
	}
}

var ignoreServerResponse = cmp.FilterPath(func(p cmp.Path) bool {
	return p.Last().String() == ".ServerResponse" || p.Last().String() == ".ForceSendFields" || p.Last().String() == ".NullFields"
}, cmp.Ignore())

func TestSupportEventSubscriptionErrorsUseGooglesEnvelope(t *testing.T) {
	s, svc, _ := startEventSim(t, nil)
	subs := svc.Organizations.SupportEventSubscriptions
	live := subscribe(t, svc, topicA)
	gone := subscribe(t, svc, topicB)
	if _, err := subs.Delete(gone.Name).Do(); err != nil {
		t.Fatal(err)
	}
	base := strings.TrimSuffix(s.URL(), "/")
	tests := []struct {
		name   string
		call   func() error
		method string
		path   string
		body   string
		want   apiStatus
	}{
		{name: "a snake_case body is accepted", method: "POST", path: "/v2/organizations/100/supportEventSubscriptions",
			body: `{"pub_sub_topic":"projects/events-project/topics/snake"}`, want: apiStatus{200, ""}},
		{name: "output-only fields in the body are ignored", method: "POST", path: "/v2/organizations/100/supportEventSubscriptions",
			body: `{"pubSubTopic":"projects/events-project/topics/out","state":"DELETED","name":"x"}`, want: apiStatus{200, ""}},
		{name: "a missing topic is refused", method: "POST", path: "/v2/organizations/100/supportEventSubscriptions",
			body: `{}`, want: apiStatus{400, "INVALID_ARGUMENT"}},
		{name: "a topic id without its project is refused", method: "POST", path: "/v2/organizations/100/supportEventSubscriptions",
			body: `{"pubSubTopic":"support-events"}`, want: apiStatus{400, "INVALID_ARGUMENT"}},
		{name: "a topic with extra segments is refused", method: "POST", path: "/v2/organizations/100/supportEventSubscriptions",
			body: `{"pubSubTopic":"projects/events-project/topics/a/b"}`, want: apiStatus{400, "INVALID_ARGUMENT"}},
		{name: "a subscription name in place of a topic is refused", method: "POST", path: "/v2/organizations/100/supportEventSubscriptions",
			body: `{"pubSubTopic":"projects/events-project/subscriptions/support"}`, want: apiStatus{400, "INVALID_ARGUMENT"}},
		{name: "a topic id starting with goog is refused", method: "POST", path: "/v2/organizations/100/supportEventSubscriptions",
			body: `{"pubSubTopic":"projects/events-project/topics/google-events"}`, want: apiStatus{400, "INVALID_ARGUMENT"}},
		{name: "an unknown field is refused", method: "POST", path: "/v2/organizations/100/supportEventSubscriptions",
			body: `{"pubSubTopic":"projects/events-project/topics/xyz","filter":"all"}`, want: apiStatus{400, "INVALID_ARGUMENT"}},
		{name: "another organization is refused", method: "POST", path: "/v2/organizations/999/supportEventSubscriptions",
			body: `{"pubSubTopic":"projects/events-project/topics/xyz"}`, want: apiStatus{403, "PERMISSION_DENIED"}},
		{name: "only organizations own subscriptions", method: "POST", path: "/v2/projects/sandbox-project/supportEventSubscriptions",
			body: `{"pubSubTopic":"projects/events-project/topics/xyz"}`, want: apiStatus{404, "NOT_FOUND"}},
		{name: "an unknown subscription is not found", method: "GET", path: "/v2/organizations/100/supportEventSubscriptions/000000000000", want: apiStatus{404, "NOT_FOUND"}},
		{name: "a subscription of another organization is refused", method: "GET", path: "/v2/organizations/999/supportEventSubscriptions/" + lastSegment(live.Name), want: apiStatus{403, "PERMISSION_DENIED"}},
		{name: "deleting a deleted subscription is not found", method: "DELETE", path: "/v2/" + gone.Name, want: apiStatus{404, "NOT_FOUND"}},
		{name: "undeleting a live subscription already exists", method: "POST", path: "/v2/" + live.Name + ":undelete", body: `{}`, want: apiStatus{409, "ALREADY_EXISTS"}},
		{name: "patching a deleted subscription fails its precondition", method: "PATCH", path: "/v2/" + gone.Name + "?updateMask=pub_sub_topic",
			body: `{"pubSubTopic":"projects/events-project/topics/xyz"}`, want: apiStatus{400, "FAILED_PRECONDITION"}},
		{name: "patching another field is refused", method: "PATCH", path: "/v2/" + live.Name + "?updateMask=state",
			body: `{"pubSubTopic":"projects/events-project/topics/xyz"}`, want: apiStatus{400, "INVALID_ARGUMENT"}},
		{name: "a filter on an unknown field is refused", method: "GET", path: "/v2/organizations/100/supportEventSubscriptions?filter=name%3D%22x%22", want: apiStatus{400, "INVALID_ARGUMENT"}},
		{name: "a filter on an unknown state is refused", method: "GET", path: "/v2/organizations/100/supportEventSubscriptions?filter=state%3DBROKEN", want: apiStatus{400, "INVALID_ARGUMENT"}},
		{name: "showDeleted must be a boolean", method: "GET", path: "/v2/organizations/100/supportEventSubscriptions?showDeleted=maybe", want: apiStatus{400, "INVALID_ARGUMENT"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var env struct {
				Name  string `json:"name"`
				State string `json:"state"`
				Error struct {
					Code   int    `json:"code"`
					Status string `json:"status"`
				} `json:"error"`
			}
			code, _ := rawRequest(t, tc.method, base+tc.path, "application/json", tc.body, &env)
			got := apiStatus{Code: code, Status: env.Error.Status}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s %s (-want +got):\n%s", tc.method, tc.path, diff)
			}
			if code == 200 && (!subscriptionName.MatchString(env.Name) || env.State != "WORKING") {
				t.Errorf("created %q in state %q, want a server-assigned name and WORKING", env.Name, env.State)
			}
			if code != 200 && env.Error.Code != code {
				t.Errorf("envelope code %d differs from HTTP status %d", env.Error.Code, code)
			}
		})
	}
}

func lastSegment(name string) string { return name[strings.LastIndex(name, "/")+1:] }

func TestSupportEventSubscriptionListPagesAndFilters(t *testing.T) {
	pub := &recordingPublisher{}
	s, svc, _ := startEventSim(t, pub)
	subs := svc.Organizations.SupportEventSubscriptions
	var all []string
	for i := range 5 {
		all = append(all, subscribe(t, svc, fmt.Sprintf("projects/events-project/topics/t-%d", i)).Name)
	}
	failing := all[3]
	if _, err := subs.Delete(all[4]).Do(); err != nil {
		t.Fatal(err)
	}
	// A publish to t-3 fails, so its subscription goes FAILING.
	pub.setFailure("projects/events-project/topics/t-3", fmt.Errorf("wrapped: %w", ErrTopicNotFound))
	if _, err := s.CreateCase(testProject, "a", "b", "P3", "x@example.com"); err != nil {
		t.Fatal(err)
	}
	flush(t, s)

	t.Run("pages of two follow each other to the end", func(t *testing.T) {
		var got []string
		token := ""
		for range 10 {
			resp, err := subs.List(testOrg).PageSize(2).PageToken(token).Do()
			if err != nil {
				t.Fatal(err)
			}
			for _, sub := range resp.SupportEventSubscriptions {
				got = append(got, sub.Name)
			}
			if token = resp.NextPageToken; token == "" {
				break
			}
		}
		if diff := cmp.Diff(all[:4], got); diff != "" {
			t.Errorf("paged list (-want +got):\n%s", diff)
		}
	})

	t.Run("a page token is bound to its filter", func(t *testing.T) {
		resp, err := subs.List(testOrg).PageSize(1).Do()
		if err != nil {
			t.Fatal(err)
		}
		_, err = subs.List(testOrg).PageSize(1).Filter("state=WORKING").PageToken(resp.NextPageToken).Do()
		if got := statusOf(t, err); got != (apiStatus{400, "INVALID_ARGUMENT"}) {
			t.Errorf("a token used with another filter: %+v, want 400 INVALID_ARGUMENT", got)
		}
	})

	filters := []struct {
		filter      string
		showDeleted bool
		want        []string
	}{
		{"state=WORKING", false, all[:3]},
		{"state=FAILING", false, []string{failing}},
		{"state = FAILING", false, []string{failing}},
		{"state=DELETED", true, []string{all[4]}},
		{"state=DELETED", false, nil},
		{`pub_sub_topic="projects/events-project/topics/t-1"`, false, []string{all[1]}},
		{`pub_sub_topic="projects/events-project/topics/t-1" AND state=FAILING`, false, nil},
	}
	for _, tc := range filters {
		t.Run(fmt.Sprintf("filter %s with showDeleted %v", tc.filter, tc.showDeleted), func(t *testing.T) {
			resp, err := subs.List(testOrg).Filter(tc.filter).ShowDeleted(tc.showDeleted).Do()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, sub := range resp.SupportEventSubscriptions {
				got = append(got, sub.Name)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// eventKey renders a published event for comparison.
func eventKey(e publishedEvent) string {
	return fmt.Sprintf("%s %s %s data=%s/%s", e.Topic, e.Attributes[AttrNotificationType], e.Attributes[AttrResourceName], e.Data["notificationType"], e.Data["resourceName"])
}

func TestEveryCaseChangePublishesOneMessagePerLiveSubscription(t *testing.T) {
	pub := &recordingPublisher{}
	s, svc, _ := startEventSim(t, pub)
	subscribe(t, svc, topicA)
	subscribe(t, svc, topicB)
	gone := subscribe(t, svc, "projects/events-project/topics/deleted")
	if _, err := svc.Organizations.SupportEventSubscriptions.Delete(gone.Name).Do(); err != nil {
		t.Fatal(err)
	}
	customer := Actor{DisplayName: "Alice", Email: "alice@example.com", Username: "alice@example.com"}
	caseName := mustCreate(t, s, testProject, "Disk full", "The boot disk is full", "P2", "alice@example.com")
	flush(t, s)
	pub.take()

	tests := []struct {
		name     string
		change   func() (string, error)
		wantType string
	}{
		{"a case created in the console", func() (string, error) {
			return s.CreateCase(otherProj, "Latency", "between regions", "P3", "bob@example.com")
		}, NotificationCaseCreated},
		{"a case created through the API", func() (string, error) {
			c, err := svc.Cases.Create(testProject, &cloudsupport.Case{DisplayName: "API case", Description: "d", Priority: "P3", Classification: &cloudsupport.CaseClassification{Id: computeID}}).Do()
			if err != nil {
				return "", err
			}
			return c.Name, nil
		}, NotificationCaseCreated},
		{"a priority changed in the console", func() (string, error) { return caseName, s.SetPriority(caseName, "P1") }, NotificationCaseUpdated},
		{"a priority changed through the API", func() (string, error) {
			_, err := svc.Cases.Patch(caseName, &cloudsupport.Case{Priority: "P0"}).UpdateMask("priority").Do()
			return caseName, err
		}, NotificationCaseUpdated},
		{"a state set by Google", func() (string, error) { return caseName, s.SetState(caseName, "IN_PROGRESS_GOOGLE_SUPPORT") }, NotificationCaseUpdated},
		{"an escalation through the API", func() (string, error) {
			_, err := svc.Cases.Escalate(caseName, &cloudsupport.EscalateCaseRequest{Escalation: &cloudsupport.Escalation{Reason: "BUSINESS_IMPACT", Justification: "outage"}}).Do()
			return caseName, err
		}, NotificationCaseUpdated},
		{"a comment by a customer in the console", func() (string, error) { return s.AddComment(caseName, "any news?", customer) }, NotificationCommentCreated},
		{"a comment by a Google Support agent", func() (string, error) { return s.AddAgentComment(caseName, "looking") }, NotificationCommentCreated},
		{"a comment through the API", func() (string, error) {
			c, err := svc.Cases.Comments.Create(caseName, &cloudsupport.Comment{Body: "from casebridge"}).Do()
			if err != nil {
				return "", err
			}
			return c.Name, nil
		}, NotificationCommentCreated},
		{"an attachment in the console", func() (string, error) {
			return s.AddAttachment(caseName, "log.txt", "text/plain", []byte("log"), customer)
		}, NotificationAttachmentCreated},
		{"an attachment through the API", func() (string, error) {
			var a cloudsupport.Attachment
			code, _ := rawRequest(t, "POST", strings.TrimSuffix(s.URL(), "/")+"/upload/v2/"+caseName+"/attachments?attachment.filename=up.txt", "text/plain", "bytes", &a)
			if code != 200 {
				return "", fmt.Errorf("upload answered %d", code)
			}
			return a.Name, nil
		}, NotificationAttachmentCreated},
		{"a close in the console", func() (string, error) { return caseName, s.CloseCase(caseName) }, NotificationCaseUpdated},
		{"a close through the API", func() (string, error) {
			other := mustCreate(t, s, testProject, "t", "d", "P4", "carol@example.com")
			flush(t, s)
			pub.take()
			_, err := svc.Cases.Close(other, &cloudsupport.CloseCaseRequest{}).Do()
			return other, err
		}, NotificationCaseUpdated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resource, err := tc.change()
			if err != nil {
				t.Fatalf("making the change: %v", err)
			}
			flush(t, s)
			var got []string
			for _, e := range pub.take() {
				got = append(got, eventKey(e))
			}
			sort.Strings(got)
			want := []string{
				eventKey(publishedEvent{Topic: topicA, Attributes: map[string]string{AttrNotificationType: tc.wantType, AttrResourceName: resource}, Data: map[string]string{"notificationType": tc.wantType, "resourceName": resource}}),
				eventKey(publishedEvent{Topic: topicB, Attributes: map[string]string{AttrNotificationType: tc.wantType, AttrResourceName: resource}, Data: map[string]string{"notificationType": tc.wantType, "resourceName": resource}}),
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("published (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("a change the API refuses publishes nothing", func(t *testing.T) {
		_, err := svc.Cases.Close(caseName, &cloudsupport.CloseCaseRequest{}).Do()
		if statusOf(t, err).Code != http.StatusBadRequest {
			t.Fatalf("closing a closed case: %v, want 400", err)
		}
		flush(t, s)
		if got := pub.take(); len(got) != 0 {
			t.Errorf("published %v for a refused change", got)
		}
	})

	t.Run("reads publish nothing", func(t *testing.T) {
		if _, err := svc.Cases.Get(caseName).Do(); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Cases.Comments.List(caseName).Do(); err != nil {
			t.Fatal(err)
		}
		flush(t, s)
		if got := pub.take(); len(got) != 0 {
			t.Errorf("published %v for reads", got)
		}
	})
}

func TestWithoutAPublisherOrSubscriptionNothingIsPublished(t *testing.T) {
	t.Run("subscriptions can be managed with events off", func(t *testing.T) {
		s, svc, _ := startEventSim(t, nil)
		sub := subscribe(t, svc, topicA)
		mustCreate(t, s, testProject, "a", "b", "P3", "x@example.com")
		flush(t, s)
		got, err := svc.Organizations.SupportEventSubscriptions.Get(sub.Name).Do()
		if err != nil || got.State != "WORKING" {
			t.Errorf("Get = %+v, %v; want the subscription, WORKING", got, err)
		}
	})
	t.Run("a publisher with no subscription is given nothing", func(t *testing.T) {
		pub := &recordingPublisher{}
		s, _, _ := startEventSim(t, pub)
		mustCreate(t, s, testProject, "a", "b", "P3", "x@example.com")
		flush(t, s)
		if got := pub.take(); len(got) != 0 {
			t.Errorf("published %v without any subscription", got)
		}
	})
}

func TestAFailedPublishMakesTheSubscriptionFailingUntilOneSucceeds(t *testing.T) {
	pub := &recordingPublisher{}
	s, svc, _ := startEventSim(t, pub)
	sub := subscribe(t, svc, topicA)
	healthy := subscribe(t, svc, topicB)
	caseName := mustCreate(t, s, testProject, "a", "b", "P3", "x@example.com")
	state := func(name string) (string, string) {
		t.Helper()
		got, err := svc.Organizations.SupportEventSubscriptions.Get(name).Do()
		if err != nil {
			t.Fatal(err)
		}
		return got.State, got.FailureReason
	}
	steps := []struct {
		name       string
		err        error
		wantState  string
		wantReason string
	}{
		{"a missing topic", fmt.Errorf("publishing: %w", ErrTopicNotFound), "FAILING", "TOPIC_NOT_FOUND"},
		{"a topic that refuses the agent", fmt.Errorf("publishing: %w", ErrPublishDenied), "FAILING", "PERMISSION_DENIED"},
		{"any other failure", errors.New("connection reset"), "FAILING", "OTHER"},
		{"a publish that succeeds again", nil, "WORKING", ""},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			pub.setFailure(topicA, st.err)
			if err := s.SetPriority(caseName, "P2"); err != nil {
				t.Fatal(err)
			}
			flush(t, s)
			gotState, gotReason := state(sub.Name)
			if diff := cmp.Diff([2]string{st.wantState, st.wantReason}, [2]string{gotState, gotReason}); diff != "" {
				t.Errorf("state and failure reason (-want +got):\n%s", diff)
			}
			if s, r := state(healthy.Name); s != "WORKING" || r != "" {
				t.Errorf("the other subscription is %s/%s, want WORKING: its topic works", s, r)
			}
		})
	}
}

// blockingPublisher holds every publish until released, and reads the
// simulator while it holds it.
type blockingPublisher struct {
	s       *Server
	entered chan string
	release chan struct{}
}

func (p *blockingPublisher) PublishEvent(ctx context.Context, topic string, msg EventMessage) error {
	// Reading the simulator needs its lock: this deadlocks if publishing
	// happens under it.
	_ = p.s.Cases()
	p.entered <- msg.Attributes[AttrResourceName]
	select {
	case <-p.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestPublishingHappensOutsideTheSimulatorsLock(t *testing.T) {
	pub := &blockingPublisher{entered: make(chan string, 10), release: make(chan struct{})}
	s, svc, _ := startEventSim(t, pub)
	pub.s = s
	subscribe(t, svc, topicA)
	caseName := mustCreate(t, s, testProject, "a", "b", "P3", "x@example.com")

	select {
	case got := <-pub.entered:
		if got != caseName {
			t.Errorf("first event names %q, want %q", got, caseName)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the publisher was not called within 10 s, or it could not read the simulator while publishing")
	}
	// While that publish hangs, the API answers and changes are queued.
	done := make(chan error, 1)
	go func() {
		_, err := svc.Cases.Comments.Create(caseName, &cloudsupport.Comment{Body: "still answering"}).Do()
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("creating a comment while a publish hangs: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the API did not answer while a publish was in progress")
	}
	close(pub.release)
	flush(t, s)
	select {
	case got := <-pub.entered:
		if !strings.Contains(got, "/comments/") {
			t.Errorf("second event names %q, want the comment", got)
		}
	default:
		t.Error("the comment's event was not published once the first publish returned")
	}
}
