package eventing

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"slices"

	"cloud.google.com/go/pubsub/v2"
	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/logging"
	"github.com/cloudevents/sdk-go/v2/event"
)

// Support events are the messages the Cloud Support API publishes to the
// topic of an organization's support event subscription when one of its
// cases changes. Google does not document what such a message holds (a
// community demo reads the attributes notificationType and resourceName;
// nothing confirms it). casebridge therefore takes a support event only as
// "the cases named in here changed": it looks for Google case names
// anywhere in the message, and sync-case reads each case itself from the
// API. A message that names no case makes Google be polled at once.

// FunctionGoogleEvents is the entry point of the function fed support
// events (see FunctionPollGoogle and the others in handler.go).
const FunctionGoogleEvents = "GoogleEvents"

// Bounds on what is read of one support event.
const (
	// MaxSupportEventData is the largest data that is read; larger data is
	// not looked at (and Google is polled instead).
	MaxSupportEventData = 64 << 10
	// MaxSupportEventCases is how many distinct cases one event may name;
	// the rest are left to a poll.
	MaxSupportEventCases = 10
	// maxEventAttributes and maxAttributeValue are Pub/Sub's own limits on
	// a message's attributes (100, values of at most 1024 bytes): only that
	// much is read.
	maxEventAttributes = 100
	maxAttributeValue  = 1024
	// maxLoggedAttributeKeys bounds the keys a log line lists.
	maxLoggedAttributeKeys = 20
	// maxJSONDepth and maxJSONStrings bound the walk of the data read as
	// JSON; maxNameCandidates bounds the matches looked at in one text.
	maxJSONDepth      = 32
	maxJSONStrings    = 4096
	maxNameCandidates = 1024
)

// caseNameCandidate finds what may be a case name, or the name of a
// comment or attachment of one (whose case is the match): the exact form is
// then checked by casesync.CaseRef.Validate, as every Google case name is.
// The repetition bounds are a little wider than a valid name's, so that a
// longer run is seen whole and refused rather than cut to a valid prefix.
var caseNameCandidate = regexp.MustCompile(`(?:projects|organizations)/[A-Za-z0-9.:_-]{1,200}/cases/[0-9]{1,40}`)

// SupportEvent is what casebridge reads from a support event: the Google
// cases it names, and, for the log, its shape (never its content).
type SupportEvent struct {
	// Cases are the distinct, well-formed Google case names the message
	// mentions, in the order found (attributes by key, then the data as
	// JSON, then the data as text), at most MaxSupportEventCases.
	Cases []string
	// MoreCases says the message named more distinct cases than were
	// taken.
	MoreCases bool
	// Items holds, for a case the message names through exactly one of its
	// comments or attachments (".../cases/N/comments/ID"), that item's id:
	// a hint that lets sync-case recognise casebridge's own write coming
	// back without reading the case.
	Items map[string]string
	// AttributeKeys are the message's attribute keys, sorted.
	AttributeKeys []string
	// DataBytes is the size of the message's data.
	DataBytes int
	// DataSkipped says the data was larger than MaxSupportEventData and was
	// not read.
	DataSkipped bool
}

// Complete reports whether every case the message may name was taken: the
// data was read and no case was left out.
func (ev SupportEvent) Complete() bool { return !ev.DataSkipped && !ev.MoreCases }

// LogAttrs describe the event for a log line: its attribute keys (quoted,
// at most 20), the size of its data and how many cases it named. Never an
// attribute value or the data.
func (ev SupportEvent) LogAttrs() []any {
	keys := make([]string, 0, min(len(ev.AttributeKeys), maxLoggedAttributeKeys))
	for i, k := range ev.AttributeKeys {
		if i == maxLoggedAttributeKeys {
			break
		}
		keys = append(keys, casesync.Quote(k))
	}
	return []any{
		"attributeKeys", keys,
		"attributeCount", len(ev.AttributeKeys),
		"dataBytes", ev.DataBytes,
		"dataSkipped", ev.DataSkipped,
		"casesNamed", len(ev.Cases),
		"moreCases", ev.MoreCases,
	}
}

// ReadSupportEvent finds the Google case names a support event mentions:
// in any attribute value, and in its data read as JSON (every string value,
// at any depth up to a bound) and as text. A name is taken only if it is
// well-formed (casesync.CaseRef.Validate); a comment or attachment name
// yields its case. Everything is bounded: at most 100 attributes of at most
// 1024 bytes each, data of at most MaxSupportEventData, at most
// MaxSupportEventCases cases.
func ReadSupportEvent(m PubsubMessage) SupportEvent {
	ev := SupportEvent{DataBytes: len(m.Data)}
	for k := range m.Attributes {
		ev.AttributeKeys = append(ev.AttributeKeys, k)
	}
	slices.Sort(ev.AttributeKeys)

	f := caseFinder{seen: map[string]bool{}}
	for i, k := range ev.AttributeKeys {
		if i == maxEventAttributes {
			break
		}
		if v := m.Attributes[k]; len(v) <= maxAttributeValue {
			f.scan([]byte(v))
		}
	}
	if len(m.Data) > MaxSupportEventData {
		ev.DataSkipped = true
	} else if len(m.Data) > 0 {
		dec := json.NewDecoder(bytes.NewReader(m.Data))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) == nil {
			strs := 0
			f.walk(v, 0, &strs)
		}
		f.scan(m.Data)
	}
	ev.Cases, ev.MoreCases = f.cases, f.more
	for name, id := range f.items {
		if id != "" && f.seen[name] {
			if ev.Items == nil {
				ev.Items = map[string]string{}
			}
			ev.Items[name] = id
		}
	}
	return ev
}

// caseFinder collects distinct well-formed case names, and the one item
// each is named through.
type caseFinder struct {
	cases []string
	seen  map[string]bool
	more  bool
	// items: case name -> the id of the one comment or attachment it was
	// named through; "" once it was named otherwise too.
	items map[string]string
}

// itemAfter returns the id of a comment or attachment named right after a
// case name ("/comments/ID" or "/attachments/ID"), or "" if none.
func itemAfter(rest []byte) string {
	for _, p := range []string{"/comments/", "/attachments/"} {
		if !bytes.HasPrefix(rest, []byte(p)) {
			continue
		}
		id := rest[len(p):]
		n := 0
		for n < len(id) && n <= casesync.MaxIDLen && (isAlnum(id[n]) || id[n] == '_' || id[n] == '-') {
			n++
		}
		// The id must end the name: at the end, or before a quote, space
		// or separator; anything else may be part of a longer id.
		if n == 0 || n > casesync.MaxIDLen || (n < len(id) && !bytes.ContainsRune([]byte("\"' \t\r\n,;)]}"), rune(id[n]))) || !casesync.ValidID(string(id[:n])) {
			return ""
		}
		return string(id[:n])
	}
	return ""
}

// noteItem records through what name was found: one item, or more than
// one thing.
func (f *caseFinder) noteItem(name, item string) {
	if f.items == nil {
		f.items = map[string]string{}
	}
	prev, seen := f.items[name]
	switch {
	case !seen:
		f.items[name] = item
	case prev != item:
		f.items[name] = ""
	}
}

// walk scans every string value of a decoded JSON value, to maxJSONDepth
// levels and maxJSONStrings strings.
func (f *caseFinder) walk(v any, depth int, strs *int) {
	if depth > maxJSONDepth || *strs >= maxJSONStrings {
		return
	}
	switch t := v.(type) {
	case string:
		*strs++
		f.scan([]byte(t))
	case []any:
		for _, e := range t {
			f.walk(e, depth+1, strs)
		}
	case map[string]any:
		// Keys in order, so the cases found do not depend on map order.
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			f.walk(t[k], depth+1, strs)
		}
	}
}

// scan takes the case names in b: a candidate counts only when it is not
// part of a longer word (no letter, digit, '_', '-' or '.' just before it,
// no letter, digit or '_' just after it) and is a valid case name.
func (f *caseFinder) scan(b []byte) {
	for _, loc := range caseNameCandidate.FindAllIndex(b, maxNameCandidates) {
		start, end := loc[0], loc[1]
		if start > 0 && isNameByte(b[start-1]) {
			continue
		}
		if end < len(b) && (isAlnum(b[end]) || b[end] == '_') {
			continue
		}
		name := string(b[start:end])
		f.add(name)
		f.noteItem(name, itemAfter(b[end:]))
	}
}

func (f *caseFinder) add(name string) {
	if f.seen[name] {
		return
	}
	if (casesync.CaseRef{Side: casesync.SideGoogle, ID: name}).Validate() != nil {
		return
	}
	if len(f.cases) == MaxSupportEventCases {
		f.more = true
		return
	}
	f.seen[name] = true
	f.cases = append(f.cases, name)
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isNameByte(c byte) bool { return isAlnum(c) || c == '_' || c == '-' || c == '.' }

// SupportEvent returns the handler of a function fed support events: the
// message is read with ReadSupportEvent and run acts on it, under the same
// retry contract as Tick and Case (a malformed push is logged and
// acknowledged, an event older than MaxAge dropped, a transient failure
// returned for redelivery and recorded in Failures under the function's
// tick key, as a support event names no single case).
func (h Handler) SupportEvent(run func(ctx context.Context, log *slog.Logger, ev SupportEvent) error) func(context.Context, event.Event) error {
	return func(ctx context.Context, e event.Event) error {
		log := logging.WithFunction(h.Log, h.Function)
		msg, err := Decode(e)
		if err != nil {
			return Settle(logging.WithEvent(log, e.ID()), err)
		}
		log = logging.WithEvent(log, msg.Message.MessageID)
		if h.tooOld(log, msg) {
			return nil
		}
		err = Settle(log, run(ctx, log, ReadSupportEvent(msg.Message)))
		h.recordFailure(ctx, log, msg, nil, err)
		return err
	}
}

// CaseUpdatedPublisher publishes case-updated facts (Publisher does).
type CaseUpdatedPublisher interface {
	PublishCaseUpdated(ctx context.Context, refs []casesync.CaseRef) error
}

// TickSender publishes one scheduler tick (TickPublisher does).
type TickSender interface {
	PublishTick(ctx context.Context) (string, error)
}

// SupportEventForwarder turns a support event into work: a case-updated
// for each case it names that casebridge syncs, and a Google poll at once
// when it may name cases that were not taken (none found, too many, data
// too large to read).
type SupportEventForwarder struct {
	// InScope reports whether casebridge syncs a case (the Google adapter's
	// InScope): an event names any case of the organization, and only cases
	// inside CSAPI_PARENT may sync.
	InScope func(name string) bool
	// Cases publishes case-updated.
	Cases CaseUpdatedPublisher
	// PollGoogle publishes a tick on tick-poll-google.
	PollGoogle TickSender
}

// Forward handles one support event. The case-updated messages carry no
// update time: nothing in the event is trusted beyond the case names, and
// sync-case reads each case from the API. A failed publish is transient,
// so Pub/Sub redelivers the event.
func (f SupportEventForwarder) Forward(ctx context.Context, log *slog.Logger, ev SupportEvent) error {
	log.Info("support event received", ev.LogAttrs()...)
	var refs []casesync.CaseRef
	outside := 0
	for _, name := range ev.Cases {
		if f.InScope != nil && !f.InScope(name) {
			outside++
			continue
		}
		refs = append(refs, casesync.CaseRef{Side: casesync.SideGoogle, ID: name, Item: ev.Items[name]})
	}
	if outside > 0 {
		log.Info("support event names cases casebridge does not sync: they are ignored", "outsideScope", outside)
	}
	if len(refs) > 0 {
		if err := f.Cases.PublishCaseUpdated(ctx, refs); err != nil {
			return err
		}
		names := make([]string, len(refs))
		for i, r := range refs {
			names[i] = r.ID
		}
		log.Info("case-updated published for the cases the support event names", "cases", names)
	}
	if len(ev.Cases) > 0 && ev.Complete() {
		return nil
	}
	id, err := f.PollGoogle.PublishTick(ctx)
	if err != nil {
		return classify(fmt.Errorf("publishing a Google poll tick: %w", err))
	}
	why := "it names no case"
	switch {
	case ev.DataSkipped:
		why = "its data is too large to read"
	case ev.MoreCases:
		why = "it names more cases than are taken from one event"
	}
	log.Info("Google poll asked for: "+why, "tickMessageId", id)
	return nil
}

// TickPublisher publishes scheduler ticks on one topic, as Cloud Scheduler
// does.
type TickPublisher struct {
	p *pubsub.Publisher
}

var _ TickSender = (*TickPublisher)(nil)

// NewTickPublisher publishes on topic (an id or a full name) through c.
// Call Stop when done.
func NewTickPublisher(c *pubsub.Client, topic string) *TickPublisher {
	return &TickPublisher{p: c.Publisher(topic)}
}

// PublishTick publishes one tick and waits until it is accepted; it returns
// the message id.
func (t *TickPublisher) PublishTick(ctx context.Context) (string, error) {
	return t.p.Publish(ctx, &pubsub.Message{Data: []byte("tick")}).Get(ctx)
}

// Stop flushes and stops the publisher.
func (t *TickPublisher) Stop() { t.p.Stop() }
