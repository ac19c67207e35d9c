package csapitest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	cloudsupport "google.golang.org/api/cloudsupport/v2"
)

// Support event subscriptions: organizations/{org}/supportEventSubscriptions.
//
// An organization subscribes a Pub/Sub topic to its support cases; on every
// change of one of its cases the service publishes a message to the topic of
// each subscription that is not deleted. The API follows the reference (the
// v2 proto and REST pages); where they are silent the simulator follows
// AIP-164 (soft delete) and says so below.

// Subscription states and failure reasons, as the API names them.
const (
	SubscriptionWorking = "WORKING"
	SubscriptionFailing = "FAILING"
	SubscriptionDeleted = "DELETED"

	FailurePermissionDenied = "PERMISSION_DENIED"
	FailureTopicNotFound    = "TOPIC_NOT_FOUND"
	FailureOther            = "OTHER"
)

// The notification types the simulator publishes, in the message attribute
// notificationType.
//
// The real message is not documented anywhere Google publishes: the only
// hint is a community demo that reads the attributes notificationType and
// resourceName. The shape below (those two attributes, and a JSON body
// naming the same resource) is an assumption made for the simulator.
// casebridge must not depend on it: it reads an event only as "some case
// named in here changed" and reads the case itself from the API.
const (
	NotificationCaseCreated       = "CASE_CREATED"
	NotificationCaseUpdated       = "CASE_UPDATED"
	NotificationCommentCreated    = "COMMENT_CREATED"
	NotificationAttachmentCreated = "ATTACHMENT_CREATED"
)

// The message attributes the simulator sets (an assumption, see above).
const (
	AttrNotificationType = "notificationType"
	AttrResourceName     = "resourceName"
)

// EventMessage is one support event as published to a topic.
type EventMessage struct {
	Data       []byte
	Attributes map[string]string
}

// EventPublisher delivers support events to Pub/Sub topics. PublishEvent is
// called outside the simulator's lock, one message at a time; it returns
// once the message is accepted, or an error wrapping ErrTopicNotFound or
// ErrPublishDenied when the topic is missing or refuses the service (any
// other error counts as OTHER).
type EventPublisher interface {
	PublishEvent(ctx context.Context, topic string, msg EventMessage) error
}

// Errors an EventPublisher wraps to say why a publish failed.
var (
	ErrTopicNotFound = errors.New("the Pub/Sub topic does not exist")
	ErrPublishDenied = errors.New("the support events agent may not publish to the Pub/Sub topic")
)

const (
	// maxSubscriptions bounds the subscriptions an organization holds
	// (deleted ones included until purged). The real quota is not
	// published; this bound only keeps the simulator's memory small.
	maxSubscriptions = 100
	// purgeAfter is how long a deleted subscription is kept: its purgeTime
	// is deleteTime plus this. The real period is not published.
	purgeAfter = 30 * 24 * time.Hour
	// maxQueuedEvents bounds the events waiting to be published; past it
	// new events are dropped (and counted), as a failing subscription
	// drops them.
	maxQueuedEvents = 10000
	// publishTimeout bounds one publish.
	publishTimeout = 10 * time.Second
)

type subscriptionRecord struct {
	id  string
	seq int64 // creation order
	sub cloudsupport.SupportEventSubscription
}

// topicName is a Pub/Sub topic name: a project id (possibly domain-scoped)
// and a topic id of 3 to 255 characters starting with a letter, not with
// "goog".
var topicName = regexp.MustCompile(`^projects/(?:[a-z0-9][a-z0-9.-]*:)?[a-z][a-z0-9-]{4,28}[a-z0-9]/topics/[A-Za-z][A-Za-z0-9._~%+-]{2,254}$`)

func validTopic(t string) bool {
	return topicName.MatchString(t) && !strings.HasPrefix(t[strings.Index(t, "/topics/")+len("/topics/"):], "goog")
}

// parseSubscriptionRoute maps organizations/{org}/supportEventSubscriptions
// paths to their methods.
func parseSubscriptionRoute(httpMethod string, segs []string, verb string) (route, bool) {
	rt := route{kind: "organizations", id: segs[1]}
	switch {
	case len(segs) == 3 && verb == "" && httpMethod == http.MethodGet:
		rt.method = "supportEventSubscriptions.list"
	case len(segs) == 3 && verb == "" && httpMethod == http.MethodPost:
		rt.method = "supportEventSubscriptions.create"
	case len(segs) == 4:
		rt.childID = segs[3]
		switch {
		case verb == "" && httpMethod == http.MethodGet:
			rt.method = "supportEventSubscriptions.get"
		case verb == "" && httpMethod == http.MethodPatch:
			rt.method = "supportEventSubscriptions.patch"
		case verb == "" && httpMethod == http.MethodDelete:
			rt.method = "supportEventSubscriptions.delete"
		case verb == "undelete" && httpMethod == http.MethodPost:
			rt.method = "supportEventSubscriptions.undelete"
		}
	}
	return rt, rt.method != ""
}

// orgParent checks that a subscription path names the simulated
// organization; the caller holds s.mu.
func (s *Server) orgParent(rt route) (string, *APIError) {
	p, ok := s.canonicalParent("organizations", rt.id)
	if !ok {
		return "", errPermissionDenied("The caller does not have permission")
	}
	return p, nil
}

// purgeLocked forgets deleted subscriptions whose purge time has passed;
// the caller holds s.mu.
func (s *Server) purgeLocked() {
	now := s.now()
	for id, r := range s.subs {
		if r.sub.State != SubscriptionDeleted {
			continue
		}
		if t, err := time.Parse(time.RFC3339Nano, r.sub.PurgeTime); err == nil && !now.Before(t) {
			delete(s.subs, id)
		}
	}
}

// lookupSubscription finds a subscription by its path; the caller holds
// s.mu.
func (s *Server) lookupSubscription(rt route) (*subscriptionRecord, *APIError) {
	if _, err := s.orgParent(rt); err != nil {
		return nil, err
	}
	s.purgeLocked()
	r, ok := s.subs[rt.childID]
	if !ok {
		return nil, errNotFound("Requested entity was not found.")
	}
	return r, nil
}

// subscriptionID returns the next server-assigned id: 12 lower-case hex
// digits, like the documented example "abcdef123456"; the caller holds
// s.mu.
func (s *Server) subscriptionIDLocked() string {
	for {
		n := s.nextSub
		s.nextSub++
		// A fixed odd multiplier spreads consecutive numbers over the
		// 48-bit space, so ids do not look sequential; it is a bijection,
		// so ids never repeat.
		id := fmt.Sprintf("%012x", (uint64(n)*0x9E3779B97F4A7C15)&0xFFFFFFFFFFFF)
		if _, taken := s.subs[id]; !taken {
			return id
		}
	}
}

func copySubscription(r *subscriptionRecord) *cloudsupport.SupportEventSubscription {
	out := r.sub
	return &out
}

func (s *Server) createSubscription(rt route, body []byte) (any, *APIError) {
	var in cloudsupport.SupportEventSubscription
	if err := decodeMessage(body, &in, "support_event_subscription"); err != nil {
		return nil, err
	}
	if strings.TrimSpace(in.PubSubTopic) == "" {
		return nil, errInvalid("pub_sub_topic is required.")
	}
	if !validTopic(in.PubSubTopic) {
		return nil, errInvalid("Invalid pub_sub_topic %q: want projects/{project}/topics/{topic}.", cutForMessage(in.PubSubTopic))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	parent, err := s.orgParent(rt)
	if err != nil {
		return nil, err
	}
	s.purgeLocked()
	if len(s.subs) >= maxSubscriptions {
		return nil, &APIError{Code: http.StatusTooManyRequests, Status: "RESOURCE_EXHAUSTED", Message: fmt.Sprintf("The organization already has %d support event subscriptions.", len(s.subs))}
	}
	now := formatTime(s.now())
	id := s.subscriptionIDLocked()
	// Output-only fields of the body (name, state, times) are ignored, as
	// the service ignores output-only fields.
	r := &subscriptionRecord{id: id, seq: s.nextSub, sub: cloudsupport.SupportEventSubscription{
		Name:        parent + "/supportEventSubscriptions/" + id,
		PubSubTopic: in.PubSubTopic,
		State:       SubscriptionWorking,
		CreateTime:  now,
		UpdateTime:  now,
	}}
	s.subs[id] = r
	return copySubscription(r), nil
}

func (s *Server) getSubscription(rt route) (any, *APIError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.lookupSubscription(rt)
	if err != nil {
		return nil, err
	}
	return copySubscription(r), nil
}

// subscriptionFilter parses a list filter: terms state=X and
// pub_sub_topic="T" joined by AND (AIP-160, the two fields the API
// documents).
func subscriptionFilter(filter string) (func(*cloudsupport.SupportEventSubscription) bool, *APIError) {
	filter = strings.TrimSpace(filter)
	if filter == "" {
		return func(*cloudsupport.SupportEventSubscription) bool { return true }, nil
	}
	var preds []func(*cloudsupport.SupportEventSubscription) bool
	for _, term := range strings.Split(filter, " AND ") {
		field, val, ok := strings.Cut(term, "=")
		field, val = strings.TrimSpace(field), strings.TrimSpace(val)
		if !ok || val == "" {
			return nil, errInvalid("Invalid filter %q: want state=<state> or pub_sub_topic=\"<topic>\", joined by AND.", cutForMessage(filter))
		}
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = val[1 : len(val)-1]
		}
		switch field {
		case "state":
			switch val {
			case SubscriptionWorking, SubscriptionFailing, SubscriptionDeleted:
			default:
				return nil, errInvalid("Invalid value for state in filter: %q.", cutForMessage(val))
			}
			preds = append(preds, func(sub *cloudsupport.SupportEventSubscription) bool { return sub.State == val })
		case "pub_sub_topic", "pubSubTopic":
			preds = append(preds, func(sub *cloudsupport.SupportEventSubscription) bool { return sub.PubSubTopic == val })
		default:
			return nil, errInvalid("Invalid filter: unknown field %q.", cutForMessage(field))
		}
	}
	return func(sub *cloudsupport.SupportEventSubscription) bool {
		for _, p := range preds {
			if !p(sub) {
				return false
			}
		}
		return true
	}, nil
}

func (s *Server) listSubscriptions(r *http.Request, rt route) (any, *APIError) {
	q := r.URL.Query()
	showDeleted := false
	if v := firstParam(q, "showDeleted", "show_deleted"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, errInvalid("Invalid value at 'show_deleted' (TYPE_BOOL), %q", cutForMessage(v))
		}
		showDeleted = b
	}
	filter := q.Get("filter")
	pred, apiErr := subscriptionFilter(filter)
	if apiErr != nil {
		return nil, apiErr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	parent, apiErr := s.orgParent(rt)
	if apiErr != nil {
		return nil, apiErr
	}
	s.purgeLocked()
	var hits []*cloudsupport.SupportEventSubscription
	for _, rec := range s.subscriptionsInOrder() {
		if rec.sub.State == SubscriptionDeleted && !showDeleted {
			continue
		}
		if pred(&rec.sub) {
			hits = append(hits, copySubscription(rec))
		}
	}
	start, end, next, apiErr := page(q, len(hits), "supportEventSubscriptions.list", parent, filter, strconv.FormatBool(showDeleted))
	if apiErr != nil {
		return nil, apiErr
	}
	return &cloudsupport.ListSupportEventSubscriptionsResponse{SupportEventSubscriptions: hits[start:end], NextPageToken: next}, nil
}

// subscriptionsInOrder returns the subscriptions oldest first; the caller
// holds s.mu.
func (s *Server) subscriptionsInOrder() []*subscriptionRecord {
	out := make([]*subscriptionRecord, 0, len(s.subs))
	for _, r := range s.subs {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

func (s *Server) patchSubscription(r *http.Request, rt route, body []byte) (any, *APIError) {
	var in cloudsupport.SupportEventSubscription
	if err := decodeMessage(body, &in, "support_event_subscription"); err != nil {
		return nil, err
	}
	for _, p := range strings.Split(firstParam(r.URL.Query(), "updateMask", "update_mask"), ",") {
		switch p = strings.TrimSpace(p); p {
		case "", "pub_sub_topic", "pubSubTopic":
		default:
			return nil, errInvalid("Invalid update_mask path %q: only pub_sub_topic can be updated.", cutForMessage(p))
		}
	}
	if !validTopic(in.PubSubTopic) {
		return nil, errInvalid("Invalid pub_sub_topic %q: want projects/{project}/topics/{topic}.", cutForMessage(in.PubSubTopic))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.lookupSubscription(rt)
	if err != nil {
		return nil, err
	}
	if rec.sub.State == SubscriptionDeleted {
		// AIP-164: a soft-deleted resource is changed only by undelete.
		return nil, errPrecondition("The support event subscription is deleted; undelete it first.")
	}
	rec.sub.PubSubTopic = in.PubSubTopic
	rec.sub.UpdateTime = formatTime(s.now())
	return copySubscription(rec), nil
}

func (s *Server) deleteSubscription(rt route) (any, *APIError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.lookupSubscription(rt)
	if err != nil {
		return nil, err
	}
	if rec.sub.State == SubscriptionDeleted {
		// AIP-164: deleting a soft-deleted resource answers NOT_FOUND.
		return nil, errNotFound("Requested entity was not found.")
	}
	now := s.now()
	rec.sub.State = SubscriptionDeleted
	rec.sub.FailureReason = ""
	rec.sub.DeleteTime = formatTime(now)
	rec.sub.PurgeTime = formatTime(now.Add(purgeAfter))
	rec.sub.UpdateTime = formatTime(now)
	return copySubscription(rec), nil
}

func (s *Server) undeleteSubscription(rt route, body []byte) (any, *APIError) {
	var in cloudsupport.UndeleteSupportEventSubscriptionRequest
	if err := decodeMessage(body, &in, "undelete_support_event_subscription_request"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.lookupSubscription(rt)
	if err != nil {
		return nil, err
	}
	if rec.sub.State != SubscriptionDeleted {
		// AIP-164: undeleting a resource that is not deleted answers
		// ALREADY_EXISTS.
		return nil, &APIError{Code: http.StatusConflict, Status: "ALREADY_EXISTS", Message: "The support event subscription is not deleted."}
	}
	rec.sub.State = SubscriptionWorking
	rec.sub.DeleteTime, rec.sub.PurgeTime = "", ""
	rec.sub.UpdateTime = formatTime(s.now())
	return copySubscription(rec), nil
}

// Subscriptions returns every support event subscription not yet purged,
// deleted ones included, oldest first.
func (s *Server) Subscriptions() []cloudsupport.SupportEventSubscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purgeLocked()
	var out []cloudsupport.SupportEventSubscription
	for _, r := range s.subscriptionsInOrder() {
		out = append(out, r.sub)
	}
	return out
}

// cutForMessage shortens an outside value quoted in an error message.
func cutForMessage(v string) string {
	const n = 80
	if len(v) <= n {
		return v
	}
	return v[:n] + "..."
}

// ---- publishing -------------------------------------------------------

// pendingEvent is one case change waiting to be published to the
// subscriptions that existed when it happened.
type pendingEvent struct {
	msg     EventMessage
	targets []eventTarget
}

type eventTarget struct{ id, topic string }

// eventQueue hands case changes from the simulator's lock to one goroutine
// that publishes them. Delivery is at least once per publish that
// succeeded and in no promised order, as Pub/Sub's.
type eventQueue struct {
	pub    EventPublisher
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	cond    *sync.Cond
	items   []pendingEvent
	busy    bool
	started bool
	closed  bool
	dropped int
	done    chan struct{}
}

func newEventQueue(pub EventPublisher) *eventQueue {
	q := &eventQueue{pub: pub, done: make(chan struct{})}
	q.ctx, q.cancel = context.WithCancel(context.Background())
	q.cond = sync.NewCond(&q.mu)
	return q
}

// emitLocked records that resource changed (a case, or a comment or
// attachment of one) for every subscription not deleted; the caller holds
// s.mu. A FAILING subscription is still tried: the next publish that
// succeeds makes it WORKING again.
func (s *Server) emitLocked(notificationType, resource string) {
	if s.events == nil || len(s.subs) == 0 {
		return
	}
	s.purgeLocked()
	var targets []eventTarget
	for _, r := range s.subscriptionsInOrder() {
		if r.sub.State != SubscriptionDeleted {
			targets = append(targets, eventTarget{id: r.id, topic: r.sub.PubSubTopic})
		}
	}
	if len(targets) == 0 {
		return
	}
	data, _ := json.Marshal(struct {
		NotificationType string `json:"notificationType"`
		ResourceName     string `json:"resourceName"`
		EventTime        string `json:"eventTime"`
	}{notificationType, resource, formatTime(s.now())})
	s.events.push(s, pendingEvent{
		msg:     EventMessage{Data: data, Attributes: map[string]string{AttrNotificationType: notificationType, AttrResourceName: resource}},
		targets: targets,
	})
}

func (q *eventQueue) push(s *Server, ev pendingEvent) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	if len(q.items) >= maxQueuedEvents {
		q.dropped++
		return
	}
	q.items = append(q.items, ev)
	if !q.started {
		q.started = true
		go q.run(s)
	}
	q.cond.Signal()
}

func (q *eventQueue) run(s *Server) {
	defer close(q.done)
	for {
		q.mu.Lock()
		for len(q.items) == 0 && !q.closed {
			q.cond.Wait()
		}
		if q.closed {
			q.mu.Unlock()
			return
		}
		ev := q.items[0]
		q.items[0] = pendingEvent{}
		q.items = q.items[1:]
		q.busy = true
		q.mu.Unlock()

		for _, t := range ev.targets {
			ctx, cancel := context.WithTimeout(q.ctx, publishTimeout)
			err := q.pub.PublishEvent(ctx, t.topic, ev.msg)
			cancel()
			if q.ctx.Err() != nil {
				break
			}
			s.recordPublish(t, err)
		}

		q.mu.Lock()
		q.busy = false
		q.cond.Broadcast()
		q.mu.Unlock()
	}
}

// recordPublish moves a subscription to WORKING after a publish that
// succeeded and to FAILING, with the reason, after one that failed, as the
// service does. A subscription deleted or moved to another topic meanwhile
// is left alone.
func (s *Server) recordPublish(t eventTarget, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.subs[t.id]
	if !ok || r.sub.State == SubscriptionDeleted || r.sub.PubSubTopic != t.topic {
		return
	}
	switch {
	case err == nil:
		r.sub.State, r.sub.FailureReason = SubscriptionWorking, ""
	case errors.Is(err, ErrTopicNotFound):
		r.sub.State, r.sub.FailureReason = SubscriptionFailing, FailureTopicNotFound
	case errors.Is(err, ErrPublishDenied):
		r.sub.State, r.sub.FailureReason = SubscriptionFailing, FailurePermissionDenied
	default:
		r.sub.State, r.sub.FailureReason = SubscriptionFailing, FailureOther
	}
}

func (q *eventQueue) close() {
	q.mu.Lock()
	started := q.started
	q.closed = true
	q.items = nil
	q.cond.Broadcast()
	q.mu.Unlock()
	q.cancel()
	if started {
		<-q.done
	}
}

// FlushEvents waits until every event of a change made so far has been
// published (or has failed). Without an EventPublisher it returns at once.
func (s *Server) FlushEvents(ctx context.Context) error {
	q := s.events
	if q == nil {
		return nil
	}
	for {
		q.mu.Lock()
		idle := (len(q.items) == 0 && !q.busy) || q.closed
		q.mu.Unlock()
		if idle {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// DroppedEvents is how many events were dropped because too many were
// waiting to be published.
func (s *Server) DroppedEvents() int {
	if s.events == nil {
		return 0
	}
	s.events.mu.Lock()
	defer s.events.mu.Unlock()
	return s.events.dropped
}
