// Package ops is what casebridge's operator tools share: reading,
// replaying and purging the dead-letter subscriptions without losing a
// message, telling which of their messages are settled (made good since by
// other means), counting what they hold, and the status of the deployment
// computed from Firestore the way outage detection sees it.
//
// Pulling never loses a message: every message pulled is held (its lease
// extended) until the command has decided what to do with it, and every
// message that is not acknowledged is handed back with a zero ack deadline
// (a nack), so it is immediately available again. A replayed message is
// acknowledged only after its republication was accepted by Pub/Sub.
package ops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/casebridge/casebridge/shared/logging"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The attributes Pub/Sub adds to a message it dead-letters.
const (
	AttrDeliveryCount      = "CloudPubSubDeadLetterSourceDeliveryCount"
	AttrSourceSubscription = "CloudPubSubDeadLetterSourceSubscription"
	AttrSourceProject      = "CloudPubSubDeadLetterSourceSubscriptionProject"
	AttrSourcePublishTime  = "CloudPubSubDeadLetterSourceTopicPublishTime"
	deadLetterAttrPrefix   = "CloudPubSubDeadLetter"
)

// AttrReplayOf is the attribute a replayed message carries: the id of the
// dead-lettered message it was made from, so its handling can be traced.
const AttrReplayOf = "casebridgeReplayOf"

// Kind says what a dead-lettered message is.
type Kind string

const (
	// KindCase is a case-updated or sync-requested message: a case
	// reference.
	KindCase Kind = "case"
	// KindTick is a scheduler tick; its body means nothing.
	KindTick Kind = "tick"
	// KindMalformed is a message on a case topic whose body is not a case
	// reference.
	KindMalformed Kind = "malformed"
	// KindSupportEvent is a support event of the Cloud Support API, which
	// GoogleEvents reads: the Google cases it names are in SupportCases.
	KindSupportEvent Kind = "support-event"
)

// UnknownError is what LastError says when the error that made a message
// fail is not known: no failure record was read (none kept, expired, or
// unreadable), or the record was written outside the message's life, by
// another message of the same function and case.
const UnknownError = "unknown"

// DeadLetter is one message held by a dead-letter subscription.
type DeadLetter struct {
	// MessageID is the message's id on the dead-letter topic (the id --id
	// takes).
	MessageID string `json:"messageId"`
	// DeadLetterSubscription is the pull subscription it was read from.
	DeadLetterSubscription string `json:"deadLetterSubscription"`
	// SourceSubscription and SourceTopic are where it failed.
	SourceSubscription string `json:"sourceSubscription"`
	SourceTopic        string `json:"sourceTopic,omitempty"`
	// Function is the function the source subscription feeds.
	Function string `json:"function,omitempty"`
	Kind     Kind   `json:"kind"`
	// Case is the case reference the body holds (KindCase).
	Case *casesync.CaseRef `json:"case,omitempty"`
	// Problem says why the body is not a case reference (KindMalformed).
	// It never quotes the body.
	Problem string `json:"problem,omitempty"`
	// SupportCases are the Google case names a support event names
	// (KindSupportEvent), read as GoogleEvents reads them
	// (eventing.ReadSupportEvent): well-formed names only, never any other
	// text of the event, at most eventing.MaxSupportEventCases.
	SupportCases []string `json:"supportCases,omitempty"`
	// SupportCasesIncomplete says why a support event may name cases that
	// are not in SupportCases (its data too large to read, too many cases);
	// empty when the reading was complete. GoogleEvents asks for a Google
	// poll for such an event, as for one naming no case.
	SupportCasesIncomplete string `json:"supportCasesIncomplete,omitempty"`
	// Size is the body's length in bytes.
	Size        int    `json:"size"`
	OrderingKey string `json:"orderingKey,omitempty"`
	// DeliveryCount is how often the source subscription tried it.
	DeliveryCount int `json:"deliveryCount"`
	// FirstPublishTime is when it was first published on its source topic.
	FirstPublishTime time.Time `json:"firstPublishTime,omitzero"`
	// DeadLetteredAt is when it was published on the dead-letter topic.
	DeadLetteredAt time.Time `json:"deadLetteredAt,omitzero"`
	// ReplayOf is set when the message was itself a replay of an earlier
	// dead-lettered message (and failed again).
	ReplayOf string `json:"replayOf,omitempty"`
	// LastError is the error of its last failed attempt when known, else
	// UnknownError. The error does not travel with the message: the
	// function's handler records it (eventing.FailureRecorder) under the
	// function and case, and List reads it back when it was recorded after
	// the message's first publication and no later than its dead-lettering.
	LastError string `json:"lastError"`
	// LastErrorAt is when that attempt failed (zero when unknown).
	LastErrorAt time.Time `json:"lastErrorAt,omitzero"`
	// LastErrorProblem says why the failure record could not be read, when
	// that is why LastError is unknown.
	LastErrorProblem string `json:"lastErrorProblem,omitempty"`
	// LogFilter is a Cloud Logging filter that finds the failed attempts'
	// log entries, which hold each attempt's error.
	LogFilter string `json:"logFilter,omitempty"`
	// Settled is true when what the message asked for is known to have
	// been done since by other means (the sweep, a later message, a later
	// poll), so that it no longer matters: List (and Purge with
	// OnlySettled) judges it from the mappings and poll state when Mappings
	// is set (see settle). False whenever that is not known.
	Settled bool `json:"settled"`
	// SettledBy says what settled it (times and ids only).
	SettledBy string `json:"settledBy,omitempty"`
	// NotSettledBecause says what still keeps a judged message from being
	// settled (times and ids only).
	NotSettledBecause string `json:"notSettledBecause,omitempty"`
	// SettledProblem says why it could not be judged: no mapping, the
	// store could not be read, a message that is not judged.
	SettledProblem string `json:"settledProblem,omitempty"`

	data  []byte
	attrs map[string]string
}

// Selection picks messages of the dead-letter subscriptions.
type Selection struct {
	// IDs are the message ids to act on; empty means every message.
	IDs []string
	// Limit caps how many messages are acted on (0: no cap). With IDs it
	// is ignored.
	Limit int
	// OnlySettled restricts Purge to the selected messages that are
	// settled (DeadLetter.Settled); the others are handed back.
	OnlySettled bool
}

func (s Selection) wants(id string) bool { return len(s.IDs) == 0 || slices.Contains(s.IDs, id) }

// DeadLetterQueues reads, replays and purges the dead-letter pull
// subscriptions of a topology.
type DeadLetterQueues struct {
	Client  *pubsub.Client
	Project string
	// Topology is the deployment's subscriptions (eventing.Topology with
	// its prefix): it maps a dead-letter subscription to the subscription
	// and topic its messages came from.
	Topology []eventing.Subscription
	// Failures, when set, is where List reads each message's last error
	// (shared/store.Store); without it LastError stays UnknownError.
	Failures FailureReader
	// Mappings, when set, is where List and Purge read the mappings and
	// the poll state to tell which messages are settled
	// (shared/store.Store); without it none is.
	Mappings MappingReader
	// SyncRequestedTopic is the topic id replays "as sync-requested" go to.
	// Default: the topic of the topology's sync-requested subscription.
	SyncRequestedTopic string
	// PullWait is how long one pull waits for messages before the
	// subscription counts as drained. Default 3 s.
	PullWait time.Duration
	// Hold is the lease taken on every pulled message while a command
	// runs. Default 2 minutes.
	Hold time.Duration
}

// FailureReader reads the failure records the functions keep of their
// attempts that Pub/Sub redelivers (shared/store.Store).
type FailureReader interface {
	GetFailure(ctx context.Context, key string) (eventing.DeliveryFailure, bool, error)
}

// DeadLetterSubscriptions returns the ids of the topology's dead-letter
// pull subscriptions, in topology order.
func (q *DeadLetterQueues) DeadLetterSubscriptions() []string {
	var out []string
	for _, s := range q.Topology {
		out = append(out, s.DeadLetterSubscription())
	}
	return out
}

func (q *DeadLetterQueues) pullWait() time.Duration {
	if q.PullWait > 0 {
		return q.PullWait
	}
	return 3 * time.Second
}

func (q *DeadLetterQueues) hold() time.Duration {
	if q.Hold > 0 {
		return q.Hold
	}
	return 2 * time.Minute
}

func (q *DeadLetterQueues) syncRequestedTopic() string {
	if q.SyncRequestedTopic != "" {
		return q.SyncRequestedTopic
	}
	for _, s := range q.Topology {
		if strings.HasSuffix(s.Topic, eventing.TopicSyncRequested) && s.Function == eventing.FunctionSyncCase {
			return s.Topic
		}
	}
	return eventing.TopicSyncRequested
}

func (q *DeadLetterQueues) subName(id string) string {
	if strings.HasPrefix(id, "projects/") {
		return id
	}
	return "projects/" + q.Project + "/subscriptions/" + id
}

// held is one pulled message whose lease the session holds.
type held struct {
	dl     DeadLetter
	sub    string // full subscription name
	ackIDs []string
}

// session holds pulled messages until each is acknowledged or handed back.
// close hands back everything not acknowledged.
type session struct {
	q       *DeadLetterQueues
	msgs    []*held
	settled map[*held]bool
}

func (q *DeadLetterQueues) newSession() *session {
	return &session{q: q, settled: map[*held]bool{}}
}

// pull reads sub until it is drained or, without IDs, limit messages are
// selected. Every message read is held; the selected ones are returned.
func (s *session) pull(ctx context.Context, subID string, sel Selection, selected *[]*held) error {
	sub := s.q.subName(subID)
	byID := map[string]*held{}
	// The first pull returns at once, with whatever is there: its answer
	// proves that Pub/Sub was reached. Only after it may a later pull that
	// waited PullWait without an answer count as "drained"; a first pull
	// without an answer is an unreachable Pub/Sub, never an empty queue.
	answered := false
	for {
		if len(sel.IDs) == 0 && sel.Limit > 0 && len(*selected) >= sel.Limit {
			return nil
		}
		if len(sel.IDs) > 0 && allFound(sel.IDs, *selected) {
			return nil
		}
		var resp *pubsubpb.PullResponse
		var err error
		if !answered {
			// ReturnImmediately is deprecated for performance reasons; one
			// such pull per subscription and command costs nothing.
			resp, err = s.q.Client.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{Subscription: sub, MaxMessages: 100, ReturnImmediately: true})
		} else {
			pctx, cancel := context.WithTimeout(ctx, s.q.pullWait())
			resp, err = s.q.Client.SubscriptionAdminClient.Pull(pctx, &pubsubpb.PullRequest{Subscription: sub, MaxMessages: 100})
			cancel()
		}
		if err != nil {
			if status.Code(err) == codes.NotFound {
				return fmt.Errorf("dead-letter subscription %s does not exist (check --project and --prefix): %w", subID, err)
			}
			if answered && ctx.Err() == nil && (errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded) {
				return nil // nothing more arrived in PullWait: drained
			}
			if answered && ctx.Err() != nil {
				return fmt.Errorf("the time allowed ran out while reading %s (Pub/Sub answers, but draining each subscription takes up to the pull wait, %s): %w", subID, s.q.pullWait(), err)
			}
			return Reach(ctx, ServicePubSub, s.q.Project, fmt.Errorf("pulling %s: %w", subID, err))
		}
		if len(resp.ReceivedMessages) == 0 {
			if !answered {
				// An immediate pull may come back empty while messages
				// exist: wait for them once.
				answered = true
				continue
			}
			return nil
		}
		answered = true
		ackIDs := make([]string, 0, len(resp.ReceivedMessages))
		for _, rm := range resp.ReceivedMessages {
			ackIDs = append(ackIDs, rm.AckId)
		}
		// Hold what was read for the rest of the command.
		if err := s.q.Client.SubscriptionAdminClient.ModifyAckDeadline(ctx, &pubsubpb.ModifyAckDeadlineRequest{
			Subscription: sub, AckIds: ackIDs, AckDeadlineSeconds: int32(s.q.hold() / time.Second),
		}); err != nil {
			// Not fatal: the message comes back when its deadline passes.
			// Remember it so it is handed back now.
			s.msgs = append(s.msgs, &held{sub: sub, ackIDs: ackIDs})
			return Reach(ctx, ServicePubSub, s.q.Project, fmt.Errorf("holding the messages pulled from %s: %w", subID, err))
		}
		fresh := 0
		for _, rm := range resp.ReceivedMessages {
			if h, dup := byID[rm.Message.MessageId]; dup {
				// A duplicate delivery of a message already held.
				h.ackIDs = append(h.ackIDs, rm.AckId)
				continue
			}
			fresh++
			h := &held{dl: s.q.describe(subID, rm.Message), sub: sub, ackIDs: []string{rm.AckId}}
			byID[h.dl.MessageID] = h
			s.msgs = append(s.msgs, h)
			if sel.wants(h.dl.MessageID) && (len(sel.IDs) > 0 || sel.Limit <= 0 || len(*selected) < sel.Limit) {
				*selected = append(*selected, h)
			}
		}
		if fresh == 0 {
			return nil
		}
	}
}

func allFound(ids []string, selected []*held) bool {
	for _, id := range ids {
		if !slices.ContainsFunc(selected, func(h *held) bool { return h.dl.MessageID == id }) {
			return false
		}
	}
	return true
}

// ack acknowledges h: it leaves the dead-letter subscription for good.
func (s *session) ack(ctx context.Context, h *held) error {
	if err := s.q.Client.SubscriptionAdminClient.Acknowledge(ctx, &pubsubpb.AcknowledgeRequest{Subscription: h.sub, AckIds: h.ackIDs}); err != nil {
		return Reach(ctx, ServicePubSub, s.q.Project, fmt.Errorf("acknowledging message %s: %w", h.dl.MessageID, err))
	}
	s.settled[h] = true
	return nil
}

// handBackTime bounds the handing back of the messages a command held,
// which happens even when the command's own time has run out.
const handBackTime = 10 * time.Second

// close hands every message not acknowledged back to its subscription
// (a nack), even when ctx has ended, within handBackTime.
func (s *session) close(ctx context.Context) error {
	bySub := map[string][]string{}
	for _, h := range s.msgs {
		if !s.settled[h] {
			bySub[h.sub] = append(bySub[h.sub], h.ackIDs...)
		}
	}
	if len(bySub) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handBackTime)
	defer cancel()
	var errs []error
	for sub, ids := range bySub {
		for chunk := range slices.Chunk(ids, 1000) {
			if err := s.q.Client.SubscriptionAdminClient.ModifyAckDeadline(ctx, &pubsubpb.ModifyAckDeadlineRequest{
				Subscription: sub, AckIds: chunk, AckDeadlineSeconds: 0,
			}); err != nil {
				errs = append(errs, fmt.Errorf("handing %d messages back to %s (they return by themselves when their lease ends): %w", len(chunk), sub, err))
			}
		}
	}
	return errors.Join(errs...)
}

// describe decodes a pulled message.
func (q *DeadLetterQueues) describe(dlqSub string, m *pubsubpb.PubsubMessage) DeadLetter {
	attrs := m.GetAttributes()
	dl := DeadLetter{
		MessageID:              m.GetMessageId(),
		DeadLetterSubscription: dlqSub,
		SourceSubscription:     shortName(attrs[AttrSourceSubscription]),
		Size:                   len(m.GetData()),
		OrderingKey:            m.GetOrderingKey(),
		ReplayOf:               attrs[AttrReplayOf],
		LastError:              UnknownError,
		data:                   m.GetData(),
		attrs:                  attrs,
	}
	if m.GetPublishTime() != nil {
		dl.DeadLetteredAt = m.GetPublishTime().AsTime().UTC()
	}
	if n, err := strconv.Atoi(attrs[AttrDeliveryCount]); err == nil {
		dl.DeliveryCount = n
	}
	if t, ok := parseTime(attrs[AttrSourcePublishTime]); ok {
		dl.FirstPublishTime = t
	}
	// The topology knows where a dead-letter subscription's messages come
	// from; the attribute says the same for a message Pub/Sub moved.
	for _, s := range q.Topology {
		if s.DeadLetterSubscription() == dlqSub || (dl.SourceSubscription != "" && s.Name == dl.SourceSubscription) {
			if dl.SourceSubscription == "" {
				dl.SourceSubscription = s.Name
			}
			dl.SourceTopic = s.Topic
			dl.Function = s.Function
			break
		}
	}
	switch {
	case dl.Function == eventing.FunctionGoogleEvents:
		dl.Kind = KindSupportEvent
		readSupportEvent(&dl)
	case isTickFunction(dl.Function):
		dl.Kind = KindTick
	default:
		ref, err := eventing.DecodeCaseRef(dl.data)
		if err != nil {
			dl.Kind = KindMalformed
			dl.Problem = err.Error()
		} else {
			dl.Kind = KindCase
			dl.Case = &ref
		}
	}
	dl.LogFilter = logFilter(dl)
	return dl
}

// readSupportEvent reads the Google case names of a support event as
// GoogleEvents read them: from the message as it was published on the
// support-events topic, without the attributes Pub/Sub added when it
// dead-lettered it.
func readSupportEvent(dl *DeadLetter) {
	ev := eventing.ReadSupportEvent(eventing.PubsubMessage{Data: dl.data, Attributes: sourceAttributes(dl.attrs)})
	dl.SupportCases = ev.Cases
	var why []string
	if ev.DataSkipped {
		why = append(why, fmt.Sprintf("its data (%d bytes) is larger than the %d bytes read", ev.DataBytes, eventing.MaxSupportEventData))
	}
	if ev.MoreCases {
		why = append(why, fmt.Sprintf("it names more than the %d cases taken from one event", eventing.MaxSupportEventCases))
	}
	dl.SupportCasesIncomplete = strings.Join(why, "; ")
}

// sourceAttributes is attrs without the attributes Pub/Sub adds to a
// message it dead-letters.
func sourceAttributes(attrs map[string]string) map[string]string {
	out := make(map[string]string, len(attrs))
	for k, v := range attrs {
		if !strings.HasPrefix(k, deadLetterAttrPrefix) {
			out[k] = v
		}
	}
	return out
}

func isTickFunction(fn string) bool {
	return fn != "" && eventing.TickPeriod(fn) > 0
}

// logFilterMargin is how long after a message's dead-lettering the filter
// of a support event still looks: the function's clock and Pub/Sub's may
// differ a little.
const logFilterMargin = 10 * time.Second

// logFilter is a Cloud Logging filter for the log entries of the failed
// attempts: by case for a case message, by function for a tick, and by
// function between the first publication and the dead-lettering for a
// support event (whose failed attempts are logged under the event's id on
// the support-events topic, not the one it has on the dead-letter topic,
// and name no case).
func logFilter(dl DeadLetter) string {
	var parts []string
	if dl.Function != "" {
		parts = append(parts, fmt.Sprintf("jsonPayload.%s=%q", logging.KeyFunction, dl.Function))
	}
	switch {
	case dl.Case != nil && dl.Case.ID != "":
		parts = append(parts, fmt.Sprintf("jsonPayload.%s=%q", logging.KeyCaseSide, dl.Case.Side),
			fmt.Sprintf("jsonPayload.%s=%q", logging.KeyCaseID, dl.Case.ID))
	case dl.Case != nil && dl.Case.MappingID != "":
		parts = append(parts, fmt.Sprintf("jsonPayload.%s=%q", logging.KeyMappingID, dl.Case.MappingID))
	}
	if len(parts) == 0 {
		return ""
	}
	parts = append(parts, "severity>=WARNING")
	if !dl.FirstPublishTime.IsZero() {
		parts = append(parts, fmt.Sprintf("timestamp>=%q", dl.FirstPublishTime.Format(time.RFC3339)))
	}
	if dl.Kind == KindSupportEvent && !dl.DeadLetteredAt.IsZero() {
		parts = append(parts, fmt.Sprintf("timestamp<=%q", dl.DeadLetteredAt.Add(logFilterMargin).Format(time.RFC3339)))
	}
	return strings.Join(parts, " AND ")
}

func shortName(name string) string {
	if i := strings.LastIndex(name, "/"); i >= 0 {
		return name[i+1:]
	}
	return name
}

func parseTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	// Some emit milliseconds since the epoch.
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), true
	}
	return time.Time{}, false
}

// resolveSubs checks that every requested dead-letter subscription is
// known, or returns all of the topology's when none is requested.
func (q *DeadLetterQueues) resolveSubs(subs []string) []string {
	if len(subs) == 0 {
		return q.DeadLetterSubscriptions()
	}
	out := make([]string, 0, len(subs))
	for _, s := range subs {
		out = append(out, shortName(s))
	}
	return out
}

// collect pulls the selected messages of subs into a session.
func (q *DeadLetterQueues) collect(ctx context.Context, subs []string, sel Selection) (*session, []*held, error) {
	s := q.newSession()
	var selected []*held
	for _, sub := range q.resolveSubs(subs) {
		if err := s.pull(ctx, sub, sel, &selected); err != nil {
			return s, selected, err
		}
	}
	if len(sel.IDs) > 0 {
		var missing []string
		for _, id := range sel.IDs {
			if !slices.ContainsFunc(selected, func(h *held) bool { return h.dl.MessageID == id }) {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			return s, selected, &NotFoundError{IDs: missing}
		}
	}
	return s, selected, nil
}

// NotFoundError names requested message ids no dead-letter subscription
// holds (or holds but another reader had leased).
type NotFoundError struct{ IDs []string }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("no dead-letter subscription holds message %s (already replayed or purged, or leased by another reader: try again in a minute)", strings.Join(e.IDs, ", "))
}

// List returns the selected messages of the dead-letter subscriptions subs
// (all of the topology's when empty), with their last errors when Failures
// knows them and whether each is settled when Mappings is set, and hands
// every one back: nothing is removed.
func (q *DeadLetterQueues) List(ctx context.Context, subs []string, sel Selection) (_ []DeadLetter, err error) {
	s, selected, err := q.collect(ctx, subs, sel)
	defer func() { err = errors.Join(err, s.close(ctx)) }()
	out := make([]DeadLetter, 0, len(selected))
	for _, h := range selected {
		out = append(out, h.dl)
	}
	if ctx.Err() == nil {
		// A Firestore that cannot be reached leaves the errors unknown and
		// nothing settled; it fails the command too, since it will not
		// answer the next command either.
		ferr := q.lastErrors(ctx, out)
		if ferr == nil {
			ferr = q.settle(ctx, out)
		} else if q.Mappings != nil {
			// Asking again would only wait as long once more.
			cannotJudge(out, ferr)
		}
		err = errors.Join(err, ferr)
	}
	sortLetters(out)
	return out, err
}

// lastErrors sets the last error of each message from the failure record of
// its function and case (or tick), read once per key. A record counts only
// when it was written after the message's first publication and no later
// than its dead-lettering, i.e. by one of the message's own attempts; a
// later record is a newer message's. After a read fails, the rest are not
// tried (the cause, e.g. a missing role, is the same) and each says why.
// It returns the failure only when Firestore could not be reached or did
// not answer in time (an *UnreachableError).
func (q *DeadLetterQueues) lastErrors(ctx context.Context, dls []DeadLetter) error {
	if q.Failures == nil {
		return nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, lookupTimeout)
		defer cancel()
	}
	type record struct {
		f  eventing.DeliveryFailure
		ok bool
	}
	read := map[string]record{}
	var readErr error
	for i := range dls {
		d := &dls[i]
		key, ok := failureKey(*d)
		if !ok {
			continue
		}
		r, seen := read[key]
		if !seen && readErr == nil {
			f, found, err := q.Failures.GetFailure(ctx, key)
			if err != nil {
				readErr = Reach(ctx, ServiceFirestore, q.Project, fmt.Errorf("reading the failure record %s: %w", key, err))
			} else {
				r = record{f, found}
				read[key] = r
			}
		}
		if !seen && readErr != nil {
			d.LastErrorProblem = "the failure record could not be read: " + readErr.Error()
			continue
		}
		if r.ok && explains(r.f, *d) {
			d.LastError, d.LastErrorAt = r.f.Error, r.f.At
		}
	}
	var ue *UnreachableError
	if errors.As(readErr, &ue) {
		return readErr
	}
	return nil
}

// lookupTimeout bounds the reading of the failure records of one List
// called without a deadline: the messages are held meanwhile, and an
// unreachable Firestore must not hang the tool.
const lookupTimeout = 30 * time.Second

// failureKey is the key under which the function that failed on d recorded
// its error (eventing.FailureKey); false for a message no function reads
// as a case or a tick.
func failureKey(d DeadLetter) (string, bool) {
	switch {
	case d.Function == "":
		return "", false
	case d.Kind == KindTick:
		return eventing.FailureKey(d.Function, nil), true
	case d.Kind == KindSupportEvent:
		// A support event names no single case: GoogleEvents records its
		// failures under the function's tick key (eventing.Handler's
		// SupportEvent).
		return eventing.FailureKey(d.Function, nil), true
	case d.Kind == KindCase && d.Case != nil:
		return eventing.FailureKey(d.Function, d.Case), true
	}
	return "", false
}

// explains reports whether failure f was recorded by one of d's attempts:
// after d was first published and no later than it was dead-lettered.
func explains(f eventing.DeliveryFailure, d DeadLetter) bool {
	if d.DeadLetteredAt.IsZero() || f.At.After(d.DeadLetteredAt) {
		return false
	}
	return d.FirstPublishTime.IsZero() || f.At.After(d.FirstPublishTime)
}

// Count returns how many messages the dead-letter subscription sub holds,
// by pulling every one and handing it back. It suits the emulator and
// small queues; on Pub/Sub, MonitoringDepth reads the same number without
// touching the messages.
func (q *DeadLetterQueues) Count(ctx context.Context, sub string) (n int, err error) {
	s := q.newSession()
	var selected []*held
	defer func() { err = errors.Join(err, s.close(ctx)) }()
	err = s.pull(ctx, sub, Selection{}, &selected)
	return len(selected), err
}

// ReplayAs says where a replay republishes.
type ReplayAs string

const (
	// ReplayOriginal republishes the message as it was, on its source topic.
	ReplayOriginal ReplayAs = "original"
	// ReplaySyncRequested publishes a sync-requested command for the
	// message's case (case messages only).
	ReplaySyncRequested ReplayAs = "sync-requested"
)

// Replayed is the outcome of replaying one message.
type Replayed struct {
	DeadLetter
	// Topic is where it was republished.
	Topic string `json:"topic,omitempty"`
	// NewMessageID is the republished message's id.
	NewMessageID string `json:"newMessageId,omitempty"`
	// Error says why it was not replayed; the message then stays in its
	// dead-letter subscription.
	Error string `json:"error,omitempty"`
}

// Replay republishes the selected messages and acknowledges each only
// after its republication was accepted; a message that could not be
// republished (or acknowledged) stays in its dead-letter subscription. The
// error reports every message not replayed.
func (q *DeadLetterQueues) Replay(ctx context.Context, subs []string, sel Selection, as ReplayAs) (_ []Replayed, err error) {
	if as != ReplayOriginal && as != ReplaySyncRequested {
		return nil, fmt.Errorf("replay as %q: want %q or %q", as, ReplayOriginal, ReplaySyncRequested)
	}
	s, selected, err := q.collect(ctx, subs, sel)
	defer func() { err = errors.Join(err, s.close(ctx)) }()
	if err != nil {
		return nil, err
	}
	pubs := newPublishers(q.Client, q.Project)
	defer pubs.stop()

	out := make([]Replayed, 0, len(selected))
	var failed int
	var unreached error // the first failure to reach Pub/Sub
	for _, h := range selected {
		r := Replayed{DeadLetter: h.dl}
		msg, topic, perr := q.replayMessage(h.dl, as)
		r.Topic = topic
		if perr == nil {
			r.NewMessageID, perr = pubs.publish(ctx, topic, msg)
		}
		if perr == nil {
			// Only now may the dead-lettered copy go. If the ack fails the
			// message stays and a second replay republishes it, which the
			// functions handle idempotently.
			perr = s.ack(ctx, h)
			if perr != nil {
				perr = fmt.Errorf("republished as %s but not removed from the dead-letter subscription: %w", r.NewMessageID, perr)
			}
		}
		if perr != nil {
			r.Error = perr.Error()
			failed++
			if ue := (*UnreachableError)(nil); unreached == nil && errors.As(perr, &ue) {
				unreached = ue
			}
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool { return lessLetter(out[i].DeadLetter, out[j].DeadLetter) })
	if failed > 0 && unreached != nil {
		return out, fmt.Errorf("%w; %d of %d messages not replayed, they stay in their dead-letter subscriptions", unreached, failed, len(out))
	}
	if failed > 0 {
		return out, fmt.Errorf("%d of %d messages not replayed; they stay in their dead-letter subscriptions", failed, len(out))
	}
	return out, nil
}

// replayMessage builds the message a replay publishes and its topic id.
func (q *DeadLetterQueues) replayMessage(dl DeadLetter, as ReplayAs) (*pubsub.Message, string, error) {
	attrs := map[string]string{AttrReplayOf: dl.MessageID}
	if dl.ReplayOf != "" {
		// Keep pointing at the first dead-lettered copy.
		attrs[AttrReplayOf] = dl.ReplayOf
	}
	for k, v := range dl.attrs {
		if !strings.HasPrefix(k, deadLetterAttrPrefix) && k != AttrReplayOf {
			attrs[k] = v
		}
	}
	switch as {
	case ReplaySyncRequested:
		topic := q.syncRequestedTopic()
		if dl.Kind == KindSupportEvent {
			return nil, topic, fmt.Errorf("a support event is not a case reference: replay it as %s, and GoogleEvents reads it again", ReplayOriginal)
		}
		if dl.Case == nil {
			return nil, topic, fmt.Errorf("a %s message names no case: replay it as %s", dl.Kind, ReplayOriginal)
		}
		// A command to reconcile now: without the update time, which
		// would let the reconciliation skip a case it thinks it has seen.
		body, err := eventing.EncodeCaseRef(casesync.CaseRef{Side: dl.Case.Side, ID: dl.Case.ID, MappingID: dl.Case.MappingID})
		if err != nil {
			return nil, topic, err
		}
		return &pubsub.Message{Data: body, Attributes: attrs}, topic, nil
	default:
		if dl.SourceTopic == "" {
			return nil, "", fmt.Errorf("the source topic of subscription %q is unknown (not in the topology of this --prefix)", dl.SourceSubscription)
		}
		// A message dead-lettered while case-updated was ordered keeps its
		// ordering key; it is harmless on an unordered subscription.
		return &pubsub.Message{Data: dl.data, Attributes: attrs, OrderingKey: dl.OrderingKey}, dl.SourceTopic, nil
	}
}

// Purge acknowledges the selected messages, which are then gone for good,
// and returns them. With sel.OnlySettled it first judges them (as List
// does) and acknowledges only the settled ones; every other is handed back
// and returned in kept, saying why it is not settled. A message it could
// not judge is never acknowledged: when Firestore cannot be read, nothing
// is.
func (q *DeadLetterQueues) Purge(ctx context.Context, subs []string, sel Selection) (purged, kept []DeadLetter, err error) {
	if sel.OnlySettled && q.Mappings == nil {
		return nil, nil, errors.New("purging only settled messages needs the mappings in Firestore, and they cannot be read: nothing was purged")
	}
	s, selected, err := q.collect(ctx, subs, sel)
	defer func() { err = errors.Join(err, s.close(ctx)) }()
	if err != nil {
		return nil, nil, err
	}
	if sel.OnlySettled {
		dls := make([]DeadLetter, len(selected))
		for i, h := range selected {
			dls[i] = h.dl
		}
		jerr := q.settle(ctx, dls)
		for i, h := range selected {
			h.dl = dls[i]
			if jerr != nil || !h.dl.Settled {
				kept = append(kept, h.dl)
			}
		}
		sortLetters(kept)
		if jerr != nil {
			return nil, kept, fmt.Errorf("%w; nothing was purged", jerr)
		}
	}
	var errs []error
	for _, h := range selected {
		if sel.OnlySettled && !h.dl.Settled {
			continue
		}
		if err := s.ack(ctx, h); err != nil {
			errs = append(errs, err)
			continue
		}
		purged = append(purged, h.dl)
	}
	sortLetters(purged)
	return purged, kept, errors.Join(errs...)
}

func sortLetters(dls []DeadLetter) {
	sort.SliceStable(dls, func(i, j int) bool { return lessLetter(dls[i], dls[j]) })
}

func lessLetter(a, b DeadLetter) bool {
	if a.DeadLetterSubscription != b.DeadLetterSubscription {
		return a.DeadLetterSubscription < b.DeadLetterSubscription
	}
	if !a.FirstPublishTime.Equal(b.FirstPublishTime) {
		return a.FirstPublishTime.Before(b.FirstPublishTime)
	}
	return a.MessageID < b.MessageID
}

// publishers keeps one publisher per topic and ordering mode.
type publishers struct {
	c       *pubsub.Client
	project string
	mu      sync.Mutex
	m       map[string]*pubsub.Publisher
}

func newPublishers(c *pubsub.Client, project string) *publishers {
	return &publishers{c: c, project: project, m: map[string]*pubsub.Publisher{}}
}

func (p *publishers) publish(ctx context.Context, topic string, msg *pubsub.Message) (string, error) {
	p.mu.Lock()
	key := topic
	if msg.OrderingKey != "" {
		key += "\x00ordered"
	}
	pub, ok := p.m[key]
	if !ok {
		pub = p.c.Publisher(topic)
		pub.EnableMessageOrdering = msg.OrderingKey != ""
		// The publisher retries on its own clock (a minute by default)
		// and its Stop waits for that: keep both inside ctx's time.
		if dl, ok := ctx.Deadline(); ok {
			pub.PublishSettings.Timeout = max(time.Until(dl), time.Millisecond)
		}
		p.m[key] = pub
	}
	p.mu.Unlock()
	id, err := pub.Publish(ctx, msg).Get(ctx)
	if err != nil {
		if msg.OrderingKey != "" {
			pub.ResumePublish(msg.OrderingKey)
		}
		return "", Reach(ctx, ServicePubSub, p.project, fmt.Errorf("republishing on %s: %w", topic, err))
	}
	return id, nil
}

func (p *publishers) stop() {
	for _, pub := range p.m {
		pub.Stop()
	}
}
