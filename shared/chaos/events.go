package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
	"github.com/casebridge/casebridge/shared/eventing"
)

// Events. Both sides tell casebridge of their changes, people's and
// casebridge's own alike: Google through the support event subscription
// (GoogleEvents turns each support event into case-updated, with the id of
// the comment or file it names), the CRM through webhooks (CRMWebhook
// publishes case-updated for the ticket). Here each change may also put an
// event message in the same queue as the pollers' messages, with the same
// delivery faults; sync-case gets its publish time as the reference's
// EventTime. A side may send no event for a change, or send it late.

// eventModel is one campaign's events: which sides send them and what they
// name.
type eventModel struct {
	google, crm bool
	// crmItems: the CRM's webhooks name the reply or file that changed (the
	// CRM simulator's do not; some helpdesks' do), so its events carry an
	// item like Google's.
	crmItems bool
	// all: both sides send the event of every change, with no fault (the
	// phase where events alone must carry every change).
	all bool
}

func (m eventModel) String() string {
	on := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
	s := fmt.Sprintf("Google events %s, CRM events %s", on(m.google), on(m.crm))
	if m.crm && m.crmItems {
		s += " (naming items)"
	}
	return s
}

// newEventModel draws a campaign's events from its seed: each side sends
// events in three campaigns of four.
func (w *world) newEventModel() eventModel {
	m := eventModel{google: w.intn(4) != 0, crm: w.intn(4) != 0, crmItems: w.intn(2) == 0}
	if w.opts.NoEvents {
		m.google, m.crm = false, false
	}
	return m
}

// Event tallies, in Report.Events.
const (
	evPersonGoogle = "published: a person's change on Google"
	evPersonCRM    = "published: a person's change in the CRM"
	evOwnGoogle    = "published: casebridge's own write to Google"
	evOwnCRM       = "published: casebridge's own write to the CRM"
)

// lateEvent is an event a side sends only after later operations.
type lateEvent struct {
	kind  string
	refs  []casesync.CaseRef
	until int
}

var discardLog = slog.New(slog.DiscardHandler)

// googleChange is a change of a Google case: resource is the case, or the
// comment or attachment that was added. Google's support event names it; it
// goes through the same reading and forwarding as in production.
func (w *world) googleChange(ctx context.Context, d *dice, kind, notificationType, resource string) {
	if !w.events.google && !w.events.all {
		return
	}
	data, _ := json.Marshal(map[string]string{
		"notificationType": notificationType,
		"resourceName":     resource,
		"eventTime":        w.clock.Now().Format(time.RFC3339Nano),
	})
	ev := eventing.ReadSupportEvent(eventing.PubsubMessage{Data: data, Attributes: map[string]string{
		csapitest.AttrNotificationType: notificationType,
		csapitest.AttrResourceName:     resource,
	}})
	fw := eventing.SupportEventForwarder{InScope: w.inScope, Cases: refCollector{w: w, d: d, kind: kind}, PollGoogle: pollAsker{w: w}}
	if err := fw.Forward(ctx, discardLog, ev); err != nil {
		w.problem("forwarding the support event for %s: %v", resource, err)
	}
	w.tally(map[string]string{kindPerson: evPersonGoogle, kindOwn: evOwnGoogle}[kind])
}

// crmChange is a change of a ticket: its webhook names the ticket (and the
// reply or file added, when the campaign's CRM names items).
func (w *world) crmChange(ctx context.Context, d *dice, kind, ticket, item string) {
	if !w.events.crm && !w.events.all {
		return
	}
	ref := casesync.CaseRef{Side: casesync.SideCompany, ID: ticket}
	if w.events.crmItems {
		ref.Item = item
	}
	w.send(ctx, d, kind, []casesync.CaseRef{ref})
	w.tally(map[string]string{kindPerson: evPersonCRM, kindOwn: evOwnCRM}[kind])
}

// ownGoogleChange and ownCRMChange are casebridge's own writes: their
// events are sent while run r goes on (and may be delivered before the
// write's answer reaches it).
func (w *world) ownGoogleChange(ctx context.Context, r *run, notificationType, resource string) {
	w.googleChange(ctx, r.dice, kindOwn, notificationType, resource)
}

func (w *world) ownCRMChange(ctx context.Context, r *run, ticket, item string) {
	w.crmChange(ctx, r.dice, kindOwn, ticket, item)
}

// send hands a side's event to Pub/Sub, unless the side sends none or
// sends it late.
func (w *world) send(ctx context.Context, d *dice, kind string, refs []casesync.CaseRef) {
	if w.faults && !w.events.all {
		if d.roll(w.opts.FaultRate / 10) {
			w.count(faultNotSent)
			return
		}
		if d.roll(w.opts.FaultRate / 10) {
			w.count(faultSentLate)
			until := w.op + 1 + d.intn(20)
			w.mu.Lock()
			w.late = append(w.late, lateEvent{kind: kind, refs: refs, until: until})
			w.mu.Unlock()
			return
		}
	}
	w.queue.enqueue(ctx, d, kind, refs...)
}

// sendLate sends the late events whose time has come (all of them when all
// is true).
func (w *world) sendLate(ctx context.Context, all bool) {
	w.mu.Lock()
	var due []lateEvent
	kept := w.late[:0]
	for _, e := range w.late {
		if all || e.until <= w.op {
			due = append(due, e)
		} else {
			kept = append(kept, e)
		}
	}
	w.late = kept
	w.mu.Unlock()
	for _, e := range due {
		w.queue.enqueue(ctx, w.dice, e.kind, e.refs...)
	}
}

// refCollector is the case-updated publisher GoogleEvents is given.
type refCollector struct {
	w    *world
	d    *dice
	kind string
}

func (c refCollector) PublishCaseUpdated(ctx context.Context, refs []casesync.CaseRef) error {
	c.w.send(ctx, c.d, c.kind, refs)
	return nil
}

// pollAsker is the tick publisher GoogleEvents is given: a support event
// that names no case makes Google be polled at once. Every event here names
// its case, so it is a problem when asked.
type pollAsker struct{ w *world }

func (p pollAsker) PublishTick(context.Context) (string, error) {
	p.w.problem("a support event named no case GoogleEvents could take")
	return "tick", nil
}

func (w *world) inScope(name string) bool {
	if s, ok := w.gAPI.(interface{ InScope(string) bool }); ok {
		return s.InScope(name)
	}
	return true
}

// tally counts one event or outcome in Report.Events.
func (w *world) tally(what string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stats.Events == nil {
		w.stats.Events = map[string]int{}
	}
	w.stats.Events[what]++
}

// problem records something wrong found while the campaign runs.
func (w *world) problem(format string, args ...any) {
	p := fmt.Sprintf(format, args...)
	w.tracef("problem: %s", p)
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.problems) < 50 {
		w.problems = append(w.problems, p)
	}
}

// outcome tallies what sync-case made of an event message.
func (w *world) outcome(m message, res casesync.SyncResult, err error) {
	if m.kind != kindPerson && m.kind != kindOwn {
		return
	}
	what := "reconciled"
	switch {
	case errors.Is(err, casesync.ErrWaitForHolder):
		what = "handed back while a run held the case"
	case err != nil:
		what = "failed (retried)"
	case res.Skipped != "":
		what = "skipped: " + res.Skipped
	}
	w.tally(m.kind + ", " + what)
}

// mirrorMarker is the first line of a body casebridge writes when it is
// the marker of one item of the other side (a mirrored comment or part, or
// the notice of a file not copied): "" for anything else.
func mirrorMarker(body string) string {
	line, _, _ := strings.Cut(body, "\n")
	for _, p := range []string{"[Google Comment ", "[Company Comment ", "[Google Attachment ", "[Company Attachment "} {
		if strings.HasPrefix(line, p) {
			return line
		}
	}
	return ""
}

// checkWrite is called before casebridge writes a comment or a file to a
// case: the write must not be a second copy of what casebridge already
// wrote there. Whatever started the run (a poll, a command, an event for a
// person's change or for casebridge's own write), a reconciliation writes
// only what a poll's would, so an event never adds a copy.
func (w *world) checkWrite(r *run, side casesync.Side, target, what, body string) {
	if r.dead.Load() {
		return
	}
	trigger := r.trigger
	if trigger == "" {
		trigger = "outage detection"
	}
	w.tally("writes by a run of " + trigger)
	key := body
	if what == "comment" {
		if key = mirrorMarker(body); key == "" {
			return
		}
	}
	n := 0
	if side == casesync.SideGoogle {
		if what == "comment" {
			for _, c := range w.google.Comments(target) {
				if c.Creator != nil && c.Creator.Email == connectorEmail && mirrorMarker(c.Body) == key {
					n++
				}
			}
		} else {
			for _, a := range w.google.Attachments(target) {
				if a.Creator != nil && a.Creator.Email == connectorEmail && a.Filename == key {
					n++
				}
			}
		}
	} else if t, ok := w.crm.Ticket(target); ok {
		if what == "comment" {
			for _, c := range t.Comments {
				if c.ByConnector && mirrorMarker(c.Body) == key {
					n++
				}
			}
		} else {
			for _, a := range t.Attachments {
				if a.ByConnector && a.Filename == key {
					n++
				}
			}
		}
	}
	if n > 0 {
		// The marker up to its author, or the file name: no case text.
		label := key
		if i := strings.Index(key, " by "); what == "comment" && i > 0 {
			label = key[:i] + "]"
		}
		w.problem("a run of %s wrote a second copy to %s case %s: %s %q", trigger, side, target, what, label)
	}
}
