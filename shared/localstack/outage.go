package localstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmsim"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/casebridge/casebridge/shared/logging"
	"github.com/casebridge/casebridge/shared/ops"
	"github.com/casebridge/casebridge/shared/store"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// OutageTarget is the simulator an outage takes down.
type OutageTarget string

const (
	// OutageCRM takes the CRM simulator down (PUT /_sim/down).
	OutageCRM OutageTarget = "crm"
	// OutageCSAPI takes the CSAPI simulator down (POST /_sim/down).
	OutageCSAPI OutageTarget = "csapi"
)

// Outage is one outage of a simulator, acted out by RunOutage.
type Outage struct {
	Target OutageTarget
	// Down is how long the simulator stays down.
	Down time.Duration
	// ConvergeWithin bounds the wait, from recovery, for everything to
	// reach the other side. Default 2 minutes.
	ConvergeWithin time.Duration
	// DrainWithin bounds the wait, from convergence, until every message
	// that failed during the outage has been handled again or has its work
	// done without it. Default 12 minutes (Pub/Sub's longest backoff is
	// 10).
	DrainWithin time.Duration
	// Progress, if set, is told each step, one line at a time.
	Progress func(line string)
}

// OutageItem is one thing made during or right after the outage and what
// became of it on the other side.
type OutageItem struct {
	// What names it and what is counted.
	What string
	// Count is how many were found on the other side at the end: 1 is
	// right, 0 is lost, more is doubled.
	Count int
	// Arrived is when it was first found there, from recovery (0 if
	// never).
	Arrived time.Duration
}

// OutageResult is what RunOutage measured.
type OutageResult struct {
	Target    OutageTarget
	Down      time.Duration
	PollEvery time.Duration
	// Converged reports whether everything reached the other side within
	// ConvergeWithin of recovery; Took is how long it took.
	Converged bool
	Took      time.Duration
	// Polls is how many poll ticks of the side that was down the
	// scheduler published after recovery until convergence: "converged
	// within two polls" is Polls <= 2.
	Polls int
	// FailedMessages is how many sync-case messages failed during the
	// outage and were left to Pub/Sub to redeliver; LateDeliveries how many
	// of their redeliveries came after convergence. Drained reports whether
	// every one of those messages was finally handled or dead-lettered.
	FailedMessages int
	LateDeliveries int
	Drained        bool
	// Undrained describes, when Drained is false, each message still
	// waiting: its failed deliveries and when the last one was.
	Undrained []string
	// WaitingDone is how many failed messages were still in Pub/Sub's
	// backoff (or dead-lettered) at the end with their work done: their
	// mapping had reconciled completely since they last failed.
	WaitingDone int
	// DeadLettered is how many sync-case messages were dead-lettered since
	// the outage began (they used their delivery attempts while it
	// lasted), and Settled how many of those the dead-letter tool judges
	// settled: their mapping reconciled since, so nothing is left to do.
	DeadLettered int
	Settled      int
	// Runs is how many sync-case deliveries were handled from recovery to
	// the end.
	Runs  int
	Items []OutageItem
}

// Lost and Doubled name the items found no time or more than once.
func (r OutageResult) Lost() []string    { return r.items(func(n int) bool { return n == 0 }) }
func (r OutageResult) Doubled() []string { return r.items(func(n int) bool { return n > 1 }) }

func (r OutageResult) items(f func(int) bool) []string {
	var out []string
	for _, it := range r.Items {
		if f(it.Count) {
			out = append(out, fmt.Sprintf("%s: %d", it.What, it.Count))
		}
	}
	return out
}

// Healed reports whether the stack healed as it must: converged within
// two polls of recovery, nothing lost or doubled, every failed message
// handled or its work done without it, and every dead-lettered one settled
// (so purging it loses nothing).
func (r OutageResult) Healed() bool {
	return r.Converged && r.Polls <= 2 && r.Drained && r.Settled == r.DeadLettered && len(r.Lost()) == 0 && len(r.Doubled()) == 0
}

// String is one line: the outage, the convergence in polls, what was lost
// or doubled.
func (r OutageResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s down %s: ", r.Target, r.Down)
	if r.Converged {
		fmt.Fprintf(&b, "converged %.1f s after recovery, within %d poll(s) of %s (%.1f poll periods)",
			r.Took.Seconds(), r.Polls, r.PollEvery, float64(r.Took)/float64(r.PollEvery))
	} else {
		fmt.Fprintf(&b, "NOT converged %.0f s after recovery", r.Took.Seconds())
	}
	fmt.Fprintf(&b, "; %d item(s), lost %d, doubled %d", len(r.Items), len(r.Lost()), len(r.Doubled()))
	fmt.Fprintf(&b, "; %d sync-case message(s) failed during the outage, %d redelivered after convergence", r.FailedMessages, r.LateDeliveries)
	if !r.Drained {
		b.WriteString(" (some neither handled nor their work done)")
	}
	if r.WaitingDone > 0 {
		fmt.Fprintf(&b, "; %d still in Pub/Sub's backoff or dead-lettered, their work done", r.WaitingDone)
	}
	if r.DeadLettered > 0 {
		fmt.Fprintf(&b, "; %d dead-lettered, %d of them settled", r.DeadLettered, r.Settled)
	}
	fmt.Fprintf(&b, "; %d sync-case run(s) after recovery", r.Runs)
	return b.String()
}

// deliveries follows the functions' log for RunOutage: the outcome of
// every sync-case delivery and when each poll tick was handled.
type deliveries struct {
	mu        sync.Mutex
	failed    map[string]bool             // message id → its last delivery failed
	everFail  map[string]bool             // message ids that failed at least once
	fails     map[string]int              // message id → failed deliveries
	lastSeen  map[string]time.Time        // message id → its last delivery's log line
	refs      map[string]casesync.CaseRef // message id → what it asked for, from its log lines
	handled   []time.Time                 // when each sync-case delivery was handled
	lateAfter time.Time                   // deliveries of failed messages after this count as late
	late      int
}

func (d *deliveries) follow(lines <-chan LogLine) {
	for l := range lines {
		if l.Str("function") != eventing.FunctionSyncCase || l.Str("eventId") == "" {
			continue
		}
		id, now := l.Str("eventId"), time.Now()
		d.mu.Lock()
		if d.fails == nil {
			d.fails, d.lastSeen, d.refs = map[string]int{}, map[string]time.Time{}, map[string]casesync.CaseRef{}
		}
		d.lastSeen[id] = now
		if strings.Contains(l.Message(), "will redeliver") {
			d.failed[id], d.everFail[id] = true, true
			d.fails[id]++
			if m := l.Str(logging.KeyMappingID); m != "" {
				d.refs[id] = casesync.CaseRef{MappingID: m}
			} else if side, cid := casesync.Side(l.Str(logging.KeyCaseSide)), l.Str(logging.KeyCaseID); side.Valid() && cid != "" {
				d.refs[id] = casesync.CaseRef{Side: side, ID: cid}
			}
		} else {
			if d.everFail[id] && !d.lateAfter.IsZero() && now.After(d.lateAfter) {
				d.late++
			}
			d.failed[id] = false
			d.handled = append(d.handled, now)
		}
		d.mu.Unlock()
	}
}

// undrained describes each message whose last delivery failed: its id,
// how often it failed, and how long ago its last delivery was logged.
func (d *deliveries) undrained() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for id, f := range d.failed {
		if f {
			out = append(out, fmt.Sprintf("message %s: %d failed deliveries, the last %.0f s ago", id, d.fails[id], time.Since(d.lastSeen[id]).Seconds()))
		}
	}
	sort.Strings(out)
	return out
}

// waitingMessage is a failed message not yet delivered again: what it
// asked for and when it last failed.
type waitingMessage struct {
	ref      casesync.CaseRef
	known    bool
	lastFail time.Time
}

// waiting returns the messages whose last delivery failed.
func (d *deliveries) waiting() map[string]waitingMessage {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]waitingMessage{}
	for id, f := range d.failed {
		if f {
			ref, known := d.refs[id]
			out[id] = waitingMessage{ref: ref, known: known, lastFail: d.lastSeen[id]}
		}
	}
	return out
}

func (d *deliveries) outstanding() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, f := range d.failed {
		if f {
			n++
		}
	}
	return n
}

// RunOutage acts out one outage on the running stack, as a user of the
// sandbox would: it makes a Google case and its CRM ticket and waits until
// they are linked; takes the simulator down over HTTP; meanwhile opens a
// new Google case and a new flagged CRM ticket and adds a comment on each
// side of the linked pair; brings the simulator back and at once opens one
// more case on each side. Then it waits until each of those six things has
// reached the other side, counts the scheduler's poll ticks of the side
// that was down since recovery, waits until Pub/Sub has redelivered every
// sync-case message that failed during the outage, and counts on the
// simulators how often each thing arrived.
//
// It needs the CRM simulator (not Request Tracker) and the stack's own
// poll ticker (Options.PollEvery > 0).
func (s *Stack) RunOutage(ctx context.Context, o Outage) (res OutageResult, err error) {
	if s.CRM == nil {
		return res, errors.New("an outage is acted out on the CRM simulator, not on Request Tracker")
	}
	if o.Target != OutageCRM && o.Target != OutageCSAPI {
		return res, fmt.Errorf("an outage takes down %q or %q, not %q", OutageCRM, OutageCSAPI, o.Target)
	}
	every := s.PollEvery()
	if every <= 0 {
		return res, errors.New("an outage needs the stack's poll ticker (Options.PollEvery > 0)")
	}
	if lvl := strings.ToLower(s.opts.Env["LOG_LEVEL"]); lvl != "" && lvl != "info" && lvl != "debug" {
		return res, fmt.Errorf("an outage follows the functions' INFO lines: start the stack with LOG_LEVEL info or debug, not %q", lvl)
	}
	if o.ConvergeWithin <= 0 {
		o.ConvergeWithin = 2 * time.Minute
	}
	if o.DrainWithin <= 0 {
		o.DrainWithin = 12 * time.Minute
	}
	say := func(format string, args ...any) {
		if o.Progress != nil {
			o.Progress(fmt.Sprintf(format, args...))
		}
	}
	res = OutageResult{Target: o.Target, Down: o.Down, PollEvery: every}
	poller := eventing.FunctionPollCRM
	if o.Target == OutageCSAPI {
		poller = eventing.FunctionPollGoogle
	}
	// A unique tag, so that the counts see this run's things only. The
	// things carry no real case text.
	tag := fmt.Sprintf("outage-%s-%s-%d", o.Target, o.Down, time.Now().UnixNano())
	customer := csapitest.Actor{DisplayName: "Outage Customer", Email: "customer@outage.example", Username: "customer@outage.example"}

	d := &deliveries{failed: map[string]bool{}, everFail: map[string]bool{}}
	lines, unsubscribe := s.SubscribeLogs()
	defer unsubscribe()
	go d.follow(lines)

	// A linked pair to comment on.
	say("opening Google case 0 and waiting for its CRM ticket")
	g0, err := s.CSAPI.CreateCase("projects/"+s.opts.CreateProject, tag+" case 0", "linked before the outage", "P3", customer.Email)
	if err != nil {
		return res, fmt.Errorf("opening Google case 0: %w", err)
	}
	var t0 string
	if err := waitUntil(ctx, o.ConvergeWithin, func() bool {
		ts := s.ticketsNaming(g0)
		if len(ts) == 1 && s.linkComments(g0, ts[0]) == 1 {
			t0 = ts[0]
			return true
		}
		return false
	}); err != nil {
		return res, fmt.Errorf("Google case 0 did not get its CRM ticket before the outage: %w", err)
	}
	// Two polls of each side, so that the pair is settled.
	if err := sleep(ctx, 2*every); err != nil {
		return res, err
	}

	say("taking the %s simulator down for %s", o.Target, o.Down)
	if err := s.setSimulatorDown(ctx, o.Target, true); err != nil {
		return res, err
	}
	up := false
	defer func() {
		if !up {
			// Never leave the simulator down behind an error.
			bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			err = errors.Join(err, s.setSimulatorDown(bctx, o.Target, false))
		}
	}()
	downAt := time.Now()
	// One poll period into the outage, so that the side's polls have
	// failed, people carry on on both sides.
	if err := sleep(ctx, min(every, o.Down/2)); err != nil {
		return res, err
	}
	g1, err := s.CSAPI.CreateCase("projects/"+s.opts.CreateProject, tag+" case 1", "opened during the outage", "P3", customer.Email)
	if err != nil {
		return res, fmt.Errorf("opening Google case 1: %w", err)
	}
	t1 := s.CRM.CreateTicket(crmsim.Ticket{Subject: tag + " ticket 1", Description: "opened during the outage", Priority: "normal", SyncFlag: true, Requester: "ops@outage.example"})
	googleNote, crmNote := tag+" comment on Google during the outage", tag+" reply in the CRM during the outage"
	if _, err := s.CSAPI.AddComment(g0, googleNote, customer); err != nil {
		return res, fmt.Errorf("commenting on Google case 0: %w", err)
	}
	if _, err := s.CRM.AddHumanComment(t0, "Outage Agent", crmNote, true); err != nil {
		return res, fmt.Errorf("replying on CRM ticket %s: %w", t0, err)
	}
	if err := sleep(ctx, time.Until(downAt.Add(o.Down))); err != nil {
		return res, err
	}

	if err := s.setSimulatorDown(ctx, o.Target, false); err != nil {
		return res, err
	}
	up = true
	recovered := time.Now()
	say("the %s simulator is back; opening one more case on each side", o.Target)
	g2, err := s.CSAPI.CreateCase("projects/"+s.opts.CreateProject, tag+" case 2", "opened right after the outage", "P3", customer.Email)
	if err != nil {
		return res, fmt.Errorf("opening Google case 2: %w", err)
	}
	t2 := s.CRM.CreateTicket(crmsim.Ticket{Subject: tag + " ticket 2", Description: "opened right after the outage", Priority: "normal", SyncFlag: true, Requester: "ops@outage.example"})

	items := []struct {
		what  string
		count func() int
	}{
		{"Google case opened during the outage: CRM tickets naming it", func() int { return len(s.ticketsNaming(g1)) }},
		{"Google case opened during the outage: link comments on it", func() int {
			n := 0
			for _, t := range s.ticketsNaming(g1) {
				n += s.linkComments(g1, t)
			}
			return n
		}},
		{"CRM ticket opened during the outage: Google cases carrying its link", func() int { return len(s.casesLinking(t1)) }},
		{"CRM ticket opened during the outage: its Google-case field set", func() int { return s.linkedTickets(t1) }},
		{"comment on the linked Google case during the outage: copies in its CRM ticket", func() int { return s.crmComments(t0, googleNote) }},
		{"reply on the linked CRM ticket during the outage: copies on its Google case", func() int { return s.googleComments(g0, crmNote) }},
		{"Google case opened right after recovery: CRM tickets naming it", func() int { return len(s.ticketsNaming(g2)) }},
		{"CRM ticket opened right after recovery: Google cases carrying its link", func() int { return len(s.casesLinking(t2)) }},
	}
	arrived := make([]time.Duration, len(items))
	all := func() bool {
		done := true
		for i, it := range items {
			if arrived[i] > 0 {
				continue
			}
			if it.count() < 1 {
				done = false
				continue
			}
			arrived[i] = time.Since(recovered)
		}
		return done
	}

	werr := waitUntil(ctx, o.ConvergeWithin, all)
	converged := time.Now()
	res.Took = converged.Sub(recovered)
	if werr == nil {
		res.Converged = true
		res.Polls = s.TicksBetween(poller, recovered, converged)
		say("converged %.1f s after recovery (%d poll tick(s) of %s)", res.Took.Seconds(), res.Polls, poller)
	} else if ctx.Err() != nil {
		return res, ctx.Err()
	} else {
		say("not converged within %s of recovery", o.ConvergeWithin)
	}

	d.mu.Lock()
	d.lateAfter = converged
	res.FailedMessages = len(d.everFail)
	d.mu.Unlock()
	say("waiting until each of the %d sync-case message(s) that failed during the outage is handled again or has its work done", res.FailedMessages)
	dl, err := s.deadLetters(ctx)
	if err != nil {
		return res, err
	}
	defer dl.close()
	var waitingDone int
	res.Drained = waitUntil(ctx, o.DrainWithin, func() bool {
		// A failed message is redelivered after Pub/Sub's backoff, which
		// may reach the subscription's 10-minute maximum, or, once it has
		// used its attempts, dead-lettered (the emulator's backoff grows
		// more slowly than production's, where a 15-minute outage uses 8
		// of the 10 attempts). Either way its work is done once its
		// mapping has reconciled completely since it last failed: the
		// sweep saw to it, and the message, when it comes, finds nothing
		// to do.
		waiting := d.waiting()
		waitingDone = dl.worked(ctx, waiting)
		return waitingDone == len(waiting)
	}) == nil
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	// Read once the wait is over: what was dead-lettered is reported,
	// and each must be settled.
	letters, err := dl.since(ctx, downAt)
	if err != nil {
		return res, err
	}
	if !res.Drained {
		res.Undrained = d.undrained()
	}
	res.WaitingDone = waitingDone
	res.DeadLettered = len(letters)
	for _, l := range letters {
		if l.Settled {
			res.Settled++
		}
	}
	if res.DeadLettered > 0 {
		say("%d sync-case message(s) were dead-lettered during the outage; %d of them settled", res.DeadLettered, res.Settled)
	}
	// Two more polls of each side: anything still to come would come now.
	if err := sleep(ctx, 2*every+time.Second); err != nil {
		return res, err
	}

	d.mu.Lock()
	res.LateDeliveries = d.late
	for _, at := range d.handled {
		if at.After(recovered) {
			res.Runs++
		}
	}
	d.mu.Unlock()
	for i, it := range items {
		res.Items = append(res.Items, OutageItem{What: it.what, Count: it.count(), Arrived: arrived[i]})
	}
	return res, nil
}

// stackDeadLetters reads the stack's sync-case dead-letter subscriptions
// as the dead-letter tool does.
type stackDeadLetters struct {
	q    *ops.DeadLetterQueues
	db   *store.Store
	subs []string
}

// deadLetters opens the stack's sync-case dead-letter subscriptions, with
// the Firestore the dead-letter tool judges them from.
func (s *Stack) deadLetters(ctx context.Context) (*stackDeadLetters, error) {
	db, err := store.New(ctx, s.opts.Project, option.WithEndpoint(s.Firestore.Host), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		return nil, fmt.Errorf("reading the stack's Firestore: %w", err)
	}
	q := &ops.DeadLetterQueues{Client: s.psClient, Project: s.opts.Project, Topology: s.topo, Mappings: db, PullWait: time.Second}
	var subs []string
	for _, sub := range s.topo {
		if sub.Function == eventing.FunctionSyncCase {
			subs = append(subs, sub.DeadLetterSubscription())
		}
	}
	return &stackDeadLetters{q: q, db: db, subs: subs}, nil
}

// worked counts the waiting messages whose work is done: the mapping they
// name has reconciled completely, with no failure outstanding, since they
// last failed.
func (d *stackDeadLetters) worked(ctx context.Context, waiting map[string]waitingMessage) int {
	n := 0
	for _, w := range waiting {
		if !w.known {
			continue
		}
		var m casesync.Mapping
		var ok bool
		if w.ref.MappingID != "" {
			got, err := d.db.GetMapping(ctx, w.ref.MappingID)
			m, ok = got, err == nil
		} else {
			got, err := d.db.LookupMappings(ctx, w.ref.Side, []string{w.ref.ID})
			m, ok = got[w.ref.ID]
			ok = ok && err == nil
		}
		if ok && m.Linked() && m.Attempts == 0 && m.Google.UpdatesSyncedAt.After(w.lastFail) && m.Company.UpdatesSyncedAt.After(w.lastFail) {
			n++
		}
	}
	return n
}

// since lists the sync-case messages dead-lettered at or after t, each
// judged settled or not. Every message is handed back.
func (d *stackDeadLetters) since(ctx context.Context, t time.Time) ([]ops.DeadLetter, error) {
	all, err := d.q.List(ctx, d.subs, ops.Selection{})
	if err != nil {
		return nil, fmt.Errorf("listing the dead-lettered sync-case messages: %w", err)
	}
	var out []ops.DeadLetter
	for _, l := range all {
		if !l.DeadLetteredAt.Before(t) {
			out = append(out, l)
		}
	}
	return out, nil
}

func (d *stackDeadLetters) close() { d.db.Close() }

// setSimulatorDown switches a simulator's outage over its HTTP test hook,
// as a sandbox user does with curl.
func (s *Stack) setSimulatorDown(ctx context.Context, target OutageTarget, down bool) error {
	method, url := http.MethodPut, s.crmURL+"/_sim/down"
	if target == OutageCSAPI {
		method, url = http.MethodPost, strings.TrimRight(s.CSAPI.URL(), "/")+"/_sim/down"
	}
	body, _ := json.Marshal(map[string]bool{"down": down})
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("switching the %s simulator's outage: %w", target, err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("switching the %s simulator's outage: %s %s answered HTTP %d", target, method, url, resp.StatusCode)
	}
	return nil
}

// ticketsNaming returns the CRM tickets whose Google-case field names
// googleCase (by case number).
func (s *Stack) ticketsNaming(googleCase string) []string {
	num := casesync.CaseNumber(googleCase)
	var out []string
	for _, t := range s.CRM.Tickets() {
		if num != "" && casesync.CaseNumber(t.GoogleCase) == num {
			out = append(out, t.ID)
		}
	}
	return out
}

// linkedTickets is 1 when ticket's Google-case field names a Google case
// carrying its link, else 0.
func (s *Stack) linkedTickets(ticket string) int {
	t, ok := s.CRM.Ticket(ticket)
	if !ok || t.GoogleCase == "" {
		return 0
	}
	for _, name := range s.casesLinking(ticket) {
		if casesync.CaseNumber(name) == casesync.CaseNumber(t.GoogleCase) {
			return 1
		}
	}
	return 0
}

// casesLinking returns the Google cases whose description ends with
// ticket's link line.
func (s *Stack) casesLinking(ticket string) []string {
	line := casesync.LinkLine(ticket)
	var out []string
	for _, c := range s.CSAPI.Cases() {
		for _, l := range strings.Split(c.Description, "\n") {
			if strings.TrimSpace(l) == line {
				out = append(out, c.Name)
				break
			}
		}
	}
	return out
}

// linkComments counts the comments on googleCase that are ticket's link
// line.
func (s *Stack) linkComments(googleCase, ticket string) int {
	line := casesync.LinkLine(ticket)
	n := 0
	for _, c := range s.CSAPI.Comments(googleCase) {
		if strings.TrimSpace(c.Body) == line {
			n++
		}
	}
	return n
}

// crmComments counts the comments of ticket holding text.
func (s *Stack) crmComments(ticket, text string) int {
	t, _ := s.CRM.Ticket(ticket)
	n := 0
	for _, c := range t.Comments {
		if strings.Contains(c.Body, text) {
			n++
		}
	}
	return n
}

// googleComments counts the comments of googleCase holding text.
func (s *Stack) googleComments(googleCase, text string) int {
	n := 0
	for _, c := range s.CSAPI.Comments(googleCase) {
		if strings.Contains(c.Body, text) {
			n++
		}
	}
	return n
}

// waitUntil checks cond every 100 ms until it holds (nil), within passes
// (an error saying so) or ctx ends (its error).
func waitUntil(ctx context.Context, within time.Duration, cond func() bool) error {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", within)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
