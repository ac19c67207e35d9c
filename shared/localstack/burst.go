package localstack

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/casebridge/casebridge/shared/store"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// MaxRunsPerChange is the most sync-case runs a burst may spend per change
// it brought (issue 9: "at most 1.5 sync runs per change").
const MaxRunsPerChange = 1.5

// Burst is a burst of work by many people at once, acted out by RunBurst
// in two phases: Cases new Google cases at once, then Comments comments on
// each side at once over the pairs the first phase linked.
type Burst struct {
	Cases    int
	Comments int
	// DrainWithin bounds each phase's wait for everything to reach the
	// other side. Default 3 s per change, at least 5 minutes.
	DrainWithin time.Duration
	// SettleWithin bounds the wait, once a phase has drained, for
	// sync-case to fall quiet (no delivery for two polls and a few
	// seconds) and for every failed message to be handled again. Default
	// 3 minutes.
	SettleWithin time.Duration
	// Progress, if set, is told each step, one line at a time.
	Progress func(line string)
}

// BurstPhase is what RunBurst measured of one phase.
type BurstPhase struct {
	// Name says what the phase did, e.g. "200 new Google cases".
	Name string
	// Changes is how many changes people made: cases for the first phase,
	// comments on both sides for the second.
	Changes int
	// Drained reports whether everything reached the other side within
	// Burst.DrainWithin; Took is how long it took from the first change.
	Drained bool
	Took    time.Duration
	// Settled reports whether sync-case then fell quiet with no failed
	// message left to redeliver, within Burst.SettleWithin.
	Settled bool
	// Runs is how many sync-case deliveries were handled (whatever their
	// outcome) from the phase's first change until it settled.
	Runs int
	// Worked counts the runs that wrote something; Idle the runs that had
	// nothing to do, by the reason they logged ("reconciled, no actions"
	// for a run that went through a reconciliation and wrote nothing);
	// Failed the deliveries that failed and were left to Pub/Sub.
	Worked int
	Idle   map[string]int
	Failed int
	// Published is how many case-updated messages the pollers logged
	// publishing during the phase (the sweep's sync-requested ones are not
	// logged by count).
	Published int
	// Outstanding counts, once the phase settled, the mappings still
	// marked pending, due for the sweep, leased or failing: each would be
	// asked for again, a run the phase caused but did not see.
	Outstanding map[string]int
	// Items is every change and how often it was found on the other side
	// (and echoed back) at the end.
	Items []OutageItem
}

// RunsPerChange is Runs / Changes.
func (p BurstPhase) RunsPerChange() float64 {
	if p.Changes == 0 {
		return 0
	}
	return float64(p.Runs) / float64(p.Changes)
}

// IdleRuns is how many runs had nothing to do.
func (p BurstPhase) IdleRuns() int {
	n := 0
	for _, c := range p.Idle {
		n += c
	}
	return n
}

// Lost and Doubled name the changes found no time or more than once.
func (p BurstPhase) Lost() []string    { return OutageResult{Items: p.Items}.Lost() }
func (p BurstPhase) Doubled() []string { return OutageResult{Items: p.Items}.Doubled() }

// Problems says what is wrong with the phase, nothing when it drained and
// settled with every change on the other side exactly once, nothing left
// outstanding, and at most MaxRunsPerChange runs per change.
func (p BurstPhase) Problems() []string {
	var out []string
	if !p.Drained {
		out = append(out, fmt.Sprintf("did not drain (%.0f s)", p.Took.Seconds()))
	}
	if !p.Settled {
		out = append(out, "sync-case did not fall quiet, or failed messages were never handled")
	}
	if n := len(p.Lost()); n > 0 {
		out = append(out, fmt.Sprintf("%d lost", n))
	}
	if n := len(p.Doubled()); n > 0 {
		out = append(out, fmt.Sprintf("%d doubled", n))
	}
	if r := p.RunsPerChange(); r > MaxRunsPerChange {
		out = append(out, fmt.Sprintf("%.2f sync runs per change, more than %.1f", r, MaxRunsPerChange))
	}
	if n := sum(p.Outstanding); n > 0 {
		out = append(out, fmt.Sprintf("mappings left outstanding: %s", countsString(p.Outstanding)))
	}
	return out
}

// String is one line: the drain, the runs per change, what was lost or
// doubled.
func (p BurstPhase) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: ", p.Name)
	if p.Drained {
		fmt.Fprintf(&b, "drained in %.1f s", p.Took.Seconds())
	} else {
		fmt.Fprintf(&b, "NOT drained after %.0f s", p.Took.Seconds())
	}
	fmt.Fprintf(&b, "; %d sync-case run(s) for %d change(s) = %.2f per change", p.Runs, p.Changes, p.RunsPerChange())
	fmt.Fprintf(&b, " (%d wrote something, %d had nothing to do, %d failed)", p.Worked, p.IdleRuns(), p.Failed)
	fmt.Fprintf(&b, "; %d published by the pollers", p.Published)
	fmt.Fprintf(&b, "; lost %d, doubled %d", len(p.Lost()), len(p.Doubled()))
	if !p.Settled {
		b.WriteString("; did not settle")
	}
	return b.String()
}

// BurstResult is what RunBurst measured.
type BurstResult struct {
	PollEvery time.Duration
	Phases    []BurstPhase
}

// syncRun is one handled sync-case delivery as the functions logged it.
type syncRun struct {
	at      time.Time
	outcome string // runWorked, runIdle or runFailed
	reason  string // for an idle run: why
}

const (
	runWorked = "worked"
	runIdle   = "idle"
	runFailed = "failed"
)

// runLog follows the functions' log for RunBurst: every sync-case
// delivery's outcome, and how many cases the pollers published.
type runLog struct {
	mu        sync.Mutex
	runs      []syncRun
	failedNow map[string]bool // message id → its last delivery failed
	published []struct {
		at time.Time
		n  int
	}
}

// outcome classifies one line of the functions' log: the line SyncCase's
// handler writes once per delivery, or "" for any other line.
func outcome(l LogLine) (kind, reason string) {
	if l.Str("function") != eventing.FunctionSyncCase || l.Str("eventId") == "" {
		return "", ""
	}
	switch msg := l.Message(); {
	case msg == "case reconciled":
		if acts, _ := l.Fields["actions"].([]any); len(acts) == 0 {
			return runIdle, "reconciled, no actions"
		}
		return runWorked, ""
	case msg == "case needed no work":
		return runIdle, l.Str("reason") + " (" + l.Str("caseSide") + " side)"
	case strings.Contains(msg, "will redeliver"):
		return runFailed, ""
	case strings.HasPrefix(msg, "permanent failure"), strings.HasPrefix(msg, "event dropped"):
		return runIdle, msg
	}
	return "", ""
}

func (r *runLog) follow(lines <-chan LogLine) {
	for l := range lines {
		now := time.Now()
		if fn := l.Str("function"); fn == eventing.FunctionPollGoogle || fn == eventing.FunctionPollCRM {
			if n, ok := l.Fields["published"].(float64); ok && n > 0 {
				r.mu.Lock()
				r.published = append(r.published, struct {
					at time.Time
					n  int
				}{now, int(n)})
				r.mu.Unlock()
			}
			continue
		}
		kind, reason := outcome(l)
		if kind == "" {
			continue
		}
		r.mu.Lock()
		r.runs = append(r.runs, syncRun{at: now, outcome: kind, reason: reason})
		r.failedNow[l.Str("eventId")] = kind == runFailed
		r.mu.Unlock()
	}
}

// since counts the runs and publishes after from into p.
func (r *runLog) since(from time.Time, p *BurstPhase) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p.Runs, p.Worked, p.Failed, p.Published, p.Idle = 0, 0, 0, 0, map[string]int{}
	for _, run := range r.runs {
		if run.at.Before(from) {
			continue
		}
		p.Runs++
		switch run.outcome {
		case runWorked:
			p.Worked++
		case runFailed:
			p.Failed++
		default:
			p.Idle[run.reason]++
		}
	}
	for _, pub := range r.published {
		if !pub.at.Before(from) {
			p.Published += pub.n
		}
	}
}

// count is how many runs have been handled since from.
func (r *runLog) count(from time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, run := range r.runs {
		if !run.at.Before(from) {
			n++
		}
	}
	return n
}

// quietSince is when the last run was handled (zero if none), and how
// many messages' last delivery failed.
func (r *runLog) quietSince() (time.Time, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var last time.Time
	if len(r.runs) > 0 {
		last = r.runs[len(r.runs)-1].at
	}
	failing := 0
	for _, f := range r.failedNow {
		if f {
			failing++
		}
	}
	return last, failing
}

// burstPair is a Google case of the burst and the CRM ticket linked to it.
type burstPair struct{ google, ticket string }

// RunBurst acts out a burst on the running stack, as many people at once
// would through the simulators' hooks: it opens b.Cases Google cases at
// once and waits until each has exactly one CRM ticket linked to it; then
// it adds b.Comments public comments on Google and b.Comments public
// replies in the CRM at once, spread over those pairs (the Google ones on
// the first pairs, the CRM ones on the next), and waits until each is on
// the other side. After each phase it waits for sync-case to fall quiet,
// then counts its runs from the functions' log and, on the simulators, how
// often each change arrived.
//
// It needs the CRM simulator, the stack's own poll ticker and the
// functions' INFO lines.
func (s *Stack) RunBurst(ctx context.Context, b Burst) (res BurstResult, err error) {
	if s.CRM == nil {
		return res, errors.New("a burst is acted out on the CRM simulator, not on Request Tracker")
	}
	every := s.PollEvery()
	if every <= 0 {
		return res, errors.New("a burst needs the stack's poll ticker (Options.PollEvery > 0)")
	}
	if lvl := strings.ToLower(s.opts.Env["LOG_LEVEL"]); lvl != "" && lvl != "info" && lvl != "debug" {
		return res, fmt.Errorf("a burst counts the functions' INFO lines: start the stack with LOG_LEVEL info or debug, not %q", lvl)
	}
	if b.Cases <= 0 || b.Comments < 0 {
		return res, fmt.Errorf("a burst needs at least one case and no negative number of comments (cases %d, comments %d)", b.Cases, b.Comments)
	}
	if b.DrainWithin <= 0 {
		b.DrainWithin = max(5*time.Minute, time.Duration(max(b.Cases, 2*b.Comments))*3*time.Second)
	}
	if b.SettleWithin <= 0 {
		b.SettleWithin = 3 * time.Minute
	}
	say := func(format string, args ...any) {
		if b.Progress != nil {
			b.Progress(fmt.Sprintf(format, args...))
		}
	}
	res.PollEvery = every
	db, err := store.New(ctx, s.opts.Project, option.WithEndpoint(s.Firestore.Host), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		return res, fmt.Errorf("reading the stack's Firestore: %w", err)
	}
	defer db.Close()

	rl := &runLog{failedNow: map[string]bool{}}
	lines, unsubscribe := s.SubscribeLogs()
	defer unsubscribe()
	go rl.follow(lines)
	// Whatever was running before the burst ends first.
	if _, err := s.settle(ctx, rl, every, b.SettleWithin); err != nil {
		return res, err
	}

	tag := fmt.Sprintf("burst-%d", time.Now().UnixNano())
	customer := csapitest.Actor{DisplayName: "Burst Customer", Email: "customer@burst.example", Username: "customer@burst.example"}
	casesBefore, ticketsBefore := len(s.CSAPI.Cases()), len(s.CRM.Tickets())

	// Phase 1: new Google cases at once.
	p1 := BurstPhase{Name: fmt.Sprintf("%d new Google cases", b.Cases), Changes: b.Cases}
	say("phase 1: opening %d Google cases at once", b.Cases)
	start := time.Now()
	cases := make([]string, b.Cases)
	for i := range cases {
		cases[i], err = s.CSAPI.CreateCase("projects/"+s.opts.CreateProject, fmt.Sprintf("%s case %04d", tag, i), "opened in a burst", "P3", customer.Email)
		if err != nil {
			return res, fmt.Errorf("opening Google case %d: %w", i, err)
		}
	}
	pairs := make([]burstPair, b.Cases)
	linked := func() int {
		byNumber := map[string][]string{}
		for _, t := range s.CRM.Tickets() {
			if n := casesync.CaseNumber(t.GoogleCase); n != "" {
				byNumber[n] = append(byNumber[n], t.ID)
			}
		}
		done := 0
		for i, g := range cases {
			if ts := byNumber[casesync.CaseNumber(g)]; len(ts) >= 1 && s.linkComments(g, ts[0]) >= 1 {
				pairs[i] = burstPair{google: g, ticket: ts[0]}
				done++
			}
		}
		return done
	}
	p1.Drained, p1.Took = s.drain(ctx, rl, start, b, func() (int, int) { return linked(), b.Cases }, say)
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	p1.Settled, err = s.settle(ctx, rl, every, b.SettleWithin)
	if err != nil {
		return res, err
	}
	rl.since(start, &p1)
	p1.Outstanding, err = outstanding(ctx, db, s.Clock.Now())
	if err != nil {
		return res, err
	}
	for i, g := range cases {
		ts := s.ticketsNaming(g)
		p1.Items = append(p1.Items, OutageItem{What: fmt.Sprintf("Google case %d: CRM tickets naming it", i), Count: len(ts)})
		links := 0
		for _, t := range ts {
			links += s.linkComments(g, t)
		}
		p1.Items = append(p1.Items, OutageItem{What: fmt.Sprintf("Google case %d: link comments on it", i), Count: links})
	}
	// Nothing else may appear: no Google case mirrored back from a ticket
	// casebridge opened.
	p1.Items = append(p1.Items,
		OutageItem{What: "CRM tickets opened (one per Google case, counted as one)", Count: ratio(len(s.CRM.Tickets())-ticketsBefore, b.Cases)},
		OutageItem{What: "Google cases (only the burst's, counted as one)", Count: ratio(len(s.CSAPI.Cases())-casesBefore, b.Cases)})
	res.Phases = append(res.Phases, p1)
	say("%s", p1)
	if !p1.Drained || b.Comments == 0 {
		return res, nil
	}

	// Phase 2: comments on both sides at once, over the linked pairs.
	p2 := BurstPhase{Name: fmt.Sprintf("%d comments on each side", b.Comments), Changes: 2 * b.Comments}
	say("phase 2: adding %d comments on Google and %d replies in the CRM at once", b.Comments, b.Comments)
	type comment struct {
		pair   burstPair
		text   string
		google bool // written on Google
	}
	var comments []comment
	start = time.Now()
	for i := range b.Comments {
		c := comment{pair: pairs[i%b.Cases], text: fmt.Sprintf("%s comment %04d on Google.", tag, i), google: true}
		if _, err := s.CSAPI.AddComment(c.pair.google, c.text, customer); err != nil {
			return res, fmt.Errorf("commenting on Google case %s: %w", c.pair.google, err)
		}
		comments = append(comments, c)
	}
	for i := range b.Comments {
		c := comment{pair: pairs[(b.Comments+i)%b.Cases], text: fmt.Sprintf("%s reply %04d in the CRM.", tag, i)}
		if _, err := s.CRM.AddHumanComment(c.pair.ticket, "Burst Agent", c.text, true); err != nil {
			return res, fmt.Errorf("replying on CRM ticket %s: %w", c.pair.ticket, err)
		}
		comments = append(comments, c)
	}
	// count returns how often c is on the other side and on its own.
	count := func(c comment, crm map[string]string, google map[string]string) (other, own int) {
		gtext, ttext := google[c.pair.google], crm[c.pair.ticket]
		if c.google {
			return strings.Count(ttext, c.text), strings.Count(gtext, c.text)
		}
		return strings.Count(gtext, c.text), strings.Count(ttext, c.text)
	}
	texts := func() (crm, google map[string]string) {
		crm, google = map[string]string{}, map[string]string{}
		for _, p := range pairs {
			if _, ok := google[p.google]; ok {
				continue
			}
			var gb, tb strings.Builder
			for _, c := range s.CSAPI.Comments(p.google) {
				gb.WriteString(c.Body + "\n")
			}
			t, _ := s.CRM.Ticket(p.ticket)
			for _, c := range t.Comments {
				tb.WriteString(c.Body + "\n")
			}
			google[p.google], crm[p.ticket] = gb.String(), tb.String()
		}
		return crm, google
	}
	arrived := func() (int, int) {
		crm, google := texts()
		done := 0
		for _, c := range comments {
			if other, _ := count(c, crm, google); other >= 1 {
				done++
			}
		}
		return done, len(comments)
	}
	p2.Drained, p2.Took = s.drain(ctx, rl, start, b, arrived, say)
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	p2.Settled, err = s.settle(ctx, rl, every, b.SettleWithin)
	if err != nil {
		return res, err
	}
	rl.since(start, &p2)
	p2.Outstanding, err = outstanding(ctx, db, s.Clock.Now())
	if err != nil {
		return res, err
	}
	crm, google := texts()
	for i, c := range comments {
		other, own := count(c, crm, google)
		from, to := "CRM reply", "Google case"
		if c.google {
			from, to = "Google comment", "CRM ticket"
		}
		p2.Items = append(p2.Items,
			OutageItem{What: fmt.Sprintf("%s %d: copies on its %s", from, i%b.Comments, to), Count: other},
			OutageItem{What: fmt.Sprintf("%s %d: on its own side (1 unless echoed back)", from, i%b.Comments), Count: own})
	}
	res.Phases = append(res.Phases, p2)
	say("%s", p2)
	return res, nil
}

// drain waits until done() reports everything arrived, telling progress
// every ten seconds; it returns whether it did within b.DrainWithin and
// how long from start it took.
func (s *Stack) drain(ctx context.Context, rl *runLog, start time.Time, b Burst, done func() (int, int), say func(string, ...any)) (bool, time.Duration) {
	next := time.Now().Add(10 * time.Second)
	err := waitUntil(ctx, b.DrainWithin, func() bool {
		n, of := done()
		if time.Now().After(next) {
			say("    %d of %d arrived after %.0f s; %d sync-case run(s) so far", n, of, time.Since(start).Seconds(), rl.count(start))
			next = time.Now().Add(10 * time.Second)
		}
		return n == of
	})
	return err == nil, time.Since(start)
}

// settle waits until sync-case has handled no delivery for two polls and
// three seconds and no message's last delivery failed. It reports whether
// that happened within `within`; only ctx's end is an error.
func (s *Stack) settle(ctx context.Context, rl *runLog, every, within time.Duration) (bool, error) {
	quiet := 2*every + 3*time.Second
	begun := time.Now()
	err := waitUntil(ctx, within, func() bool {
		last, failing := rl.quietSince()
		if last.Before(begun) {
			last = begun
		}
		return failing == 0 && time.Since(last) >= quiet
	})
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	return err == nil, nil
}

// outstanding counts the mappings that some process would still ask for
// again: marked pending by a poller, due for the sweep, leased, failing.
func outstanding(ctx context.Context, db *store.Store, now time.Time) (map[string]int, error) {
	out := map[string]int{}
	err := db.ListMappings(ctx, func(m casesync.Mapping) error {
		if m.Resolved() {
			return nil
		}
		if !m.Google.PendingSince.IsZero() || !m.Company.PendingSince.IsZero() {
			out["pending"]++
		}
		if !m.DueAt.IsZero() {
			out["due for the sweep"]++
		}
		if m.LeaseHolder != "" && m.LeaseUntil.After(now) {
			out["leased"]++
		}
		if m.Attempts > 0 {
			out["failing"]++
		}
		if !m.Linked() {
			out["unlinked"]++
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the mappings: %w", err)
	}
	return out, nil
}

// ratio is 1 when got is want, 0 when less, 2 when more: a total counted
// as one item.
func ratio(got, want int) int {
	switch {
	case got == want:
		return 1
	case got < want:
		return 0
	}
	return 2
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// countsString renders counts as "a 2, b 1", largest first.
func countsString(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
