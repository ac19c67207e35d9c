package main

// The --demo mode: a scripted tour of casebridge on the running sandbox.
// It acts only as people do (a customer and a Google agent in the CSAPI
// simulator, helpdesk agents in the CRM: the CRM simulator, or a real
// Request Tracker with --crm rt) and as Cloud Scheduler does (poll,
// outage-detection and cleanup ticks), lets Pub/Sub and the functions do
// the rest, and checks what arrives on the other side. Every check has a
// deadline; the run ends with a table, the measured costs of a poll and the
// line "demo: N passed, M failed".

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/casebridge/casebridge/shared/appconfig"
	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/casebridge/casebridge/shared/localstack"
	"github.com/casebridge/casebridge/shared/store"
)

const (
	// demoPollEvery is how often the demo publishes the two poll ticks
	// (production: every minute).
	demoPollEvery = time.Second
	// demoDeadline is how long a check may take to converge.
	demoDeadline = 60 * time.Second
	// demoPollInterval is how often a check looks again.
	demoPollInterval = 150 * time.Millisecond
	// demoAttachmentLimit is MAX_ATTACHMENT_BYTES for the demo, small so
	// that a file over the limit is cheap to show.
	demoAttachmentLimit = 64 << 10
	// demoCreateParent is where the demo's customer opens Google cases: the
	// sandbox's only project.
	demoCreateParent = "projects/sandbox-project"
	// The demo's people.
	demoCustomerName  = "Jane Customer"
	demoCustomerEmail = "jane@customer.example"
	demoAgentName     = "Bob Agent"
)

// The schedule flags the demo takes over: it publishes those ticks itself,
// so that it can hold the polls still while it measures their cost.
var demoScheduleFlags = []string{"poll-every", "detect-outages-every", "cleanup-every"}

var demoRequested bool

func init() {
	flag.BoolFunc("demo", "run the scripted demo: act as people on both sides (the CSAPI simulator and the CRM), check that everything syncs "+
		"(deadline 60 s per check), measure the cost of a poll, print a table and stop; exit status 1 if a check failed. "+
		"The demo publishes the scheduler ticks itself (polls every 1 s), logs the functions' warnings and errors only "+
		"unless --log-level is given, and sets MAX_ATTACHMENT_BYTES=65536 unless it is set", setDemo)
	registerMode(func() bool { return demoRequested }, runDemo)
}

// setDemo handles --demo while the flags are parsed: it turns the
// sandbox's own ticker off (the demo ticks instead), quietens the
// functions' log unless asked otherwise, and lowers the attachment limit
// of the functions process, which inherits this process's environment.
func setDemo(v string) error {
	on, err := strconv.ParseBool(v)
	if err != nil {
		return err
	}
	demoRequested = on
	if !on {
		return nil
	}
	given := map[string]bool{}
	flag.CommandLine.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, name := range demoScheduleFlags {
		if given[name] {
			return fmt.Errorf("--demo publishes the scheduler ticks itself; leave out --%s", name)
		}
		if err := flag.CommandLine.Set(name, "-1s"); err != nil {
			return err
		}
	}
	if !given["log-level"] {
		if err := flag.CommandLine.Set("log-level", "warning"); err != nil {
			return err
		}
	}
	if os.Getenv(appconfig.EnvMaxAttachmentBytes) == "" {
		return os.Setenv(appconfig.EnvMaxAttachmentBytes, strconv.Itoa(demoAttachmentLimit))
	}
	return nil
}

// demo is one run of the demo.
type demo struct {
	st     *localstack.Stack
	crm    demoCRM
	prio   casesync.PriorityTable // the functions process's priority map
	out    io.Writer
	store  *store.Store
	ticks  *tickSource
	limit  int64 // MAX_ATTACHMENT_BYTES of the functions process
	began  time.Time
	outMu  sync.Mutex
	checks []*check
	costs  []string

	// The demo's cases. A and C start on Google; B and U in the CRM (B is
	// flagged for sync, U is not). ticketX is X's CRM ticket id, googleB
	// the Google case created for B.
	caseA, caseC, googleB     string
	ticketA, ticketB, ticketC string
	ticketU                   string
	mappingA, mappingB, mapC  string
}

// check is one row of the final table.
type check struct {
	id, title string
	ran, ok   bool
	took      time.Duration
	detail    string
	// expect holds what must be true for the check to converge; the
	// lasting ones are checked again once everything has settled.
	expect []expectation
}

// expectation is one condition on the state of the two sides.
type expectation struct {
	lasting bool
	// holds reports whether it is met and, if not, what was found.
	holds func() (bool, string)
}

// exactly expects count to give n, now and (lasting) for good.
func exactly(n int, what string, count func() (int, error)) expectation {
	return expectation{lasting: true, holds: func() (bool, string) {
		got, err := count()
		if err != nil {
			return false, fmt.Sprintf("%s: %v", what, err)
		}
		return got == n, fmt.Sprintf("%s: found %d, want %d", what, got, n)
	}}
}

// now expects f to hold when the check converges; later changes (a
// priority changed again, a case closed) are allowed.
func now(f func() (bool, string)) expectation { return expectation{holds: f} }

// always expects f to hold from convergence on.
func always(f func() (bool, string)) expectation { return expectation{lasting: true, holds: f} }

func allHold(es []expectation, lastingOnly bool) (bool, string) {
	for _, e := range es {
		if lastingOnly && !e.lasting {
			continue
		}
		if ok, why := e.holds(); !ok {
			return false, why
		}
	}
	return true, ""
}

func runDemo(ctx context.Context, st *localstack.Stack, out io.Writer) (err error) {
	d := &demo{st: st, out: out, began: time.Now()}
	for _, name := range demoScheduleFlags {
		if f := flag.Lookup(name); f != nil {
			if v, perr := time.ParseDuration(f.Value.String()); perr == nil && v >= 0 {
				return fmt.Errorf("--demo publishes the scheduler ticks itself; leave out --%s", name)
			}
		}
	}
	d.limit, err = strconv.ParseInt(os.Getenv(appconfig.EnvMaxAttachmentBytes), 10, 64)
	if err != nil || d.limit <= 0 || d.limit > 8<<20 {
		return fmt.Errorf("--demo needs %s between 1 and %d (or unset, for %d); it is %q",
			appconfig.EnvMaxAttachmentBytes, 8<<20, demoAttachmentLimit, os.Getenv(appconfig.EnvMaxAttachmentBytes))
	}
	// The demo reads Firestore (mappings, poll state) through the same
	// store the functions use, on the stack's emulator.
	if err := os.Setenv("FIRESTORE_EMULATOR_HOST", st.Firestore.Host); err != nil {
		return err
	}
	d.store, err = store.New(ctx, st.Project())
	if err != nil {
		return err
	}
	defer d.store.Close()
	d.crm, d.prio, err = newDemoCRM(st)
	if err != nil {
		return err
	}
	if err := d.checkPriorities(); err != nil {
		return err
	}

	d.newCheck("1", "Google case -> exactly one CRM ticket (subject, priority, Google-case field) + link comment")
	d.newCheck("2", "flagged CRM ticket -> exactly one Google case (link line, priority, test case); unflagged -> none")
	d.newCheck("3", "Google customer + agent comments -> CRM once each, attributed")
	d.newCheck("4", "public CRM comment -> Google once; internal note never")
	if n := d.longReplyLen(); n == demoLongReply {
		d.newCheck("5", "30,000-character CRM comment -> Google as numbered parts joining to the original")
	} else {
		d.newCheck("5", fmt.Sprintf("the longest comment %s takes (%d characters) -> Google once, whole", d.crm.Describe(), n))
	}
	d.newCheck("6", "binary attachments byte-exact both ways; over-limit file not copied, notice posted")
	d.newCheck("7", "priority change Google -> CRM and CRM -> Google")
	d.newCheck("8", "close on Google closes the CRM ticket; close in the CRM closes the Google case")
	d.newCheck("9", "no echo; every mirrored item exists exactly once")
	d.newCheck("10", "outage: one notice + failing detection; recovery: one \"Syncing has resumed.\"")
	d.newCheck("11", "cleanup 30 days after closing removes closed cases' mappings, keeps open ones")
	d.newCheck("12a", "cost of an idle poll: one search per side, at most 2 Firestore writes")
	d.newCheck("12b", "cost of one changed case (one comment mirrored)")
	d.newCheck("13", "Google's case state shows on the CRM ticket; an escalation asked for in the CRM escalates the Google case once, noted once")

	d.say("")
	d.say("==> casebridge demo: acting as people in the CSAPI simulator and %s; Pub/Sub and the functions do the rest.", d.crm.Describe())
	d.say("    Poll ticks every %s (published by the demo in place of Cloud Scheduler); MAX_ATTACHMENT_BYTES=%d; deadline %s per check.",
		demoPollEvery, d.limit, demoDeadline)
	d.ticks = startTicks(ctx, st, d.store, out, demoPollEvery)
	defer d.ticks.stop()

	err = d.script(ctx)
	d.ticks.stop()
	passed, failed := d.report()
	if err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d demo checks failed", failed, passed+failed)
	}
	return nil
}

// script runs the scenarios in order. The two that move the stack's clock
// (outage, cleanup) come last: a real CRM's clock cannot be moved, so every
// earlier check runs on real time on both sides. It returns an error only
// when the demo cannot go on (ctx ended, a side refused a person's action).
func (d *demo) script(ctx context.Context) error {
	steps := []func(context.Context) error{
		d.createCases,
		d.commentsAttachmentsPriorities,
		d.stateAndEscalation,
		d.closeCases,
		d.noEcho,
		d.costs12,
		d.outage,
		d.cleanup,
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// ---- 1, 2: cases on one side get their counterpart ----

func (d *demo) createCases(ctx context.Context) error {
	d.say("")
	d.say("--> 1/2: a customer opens two Google cases (P1 and P2); a helpdesk agent opens a CRM ticket flagged for sync and one that is not")
	start := time.Now()
	var err error
	subjectA, subjectC := "Demo: VM does not boot after resize", "Demo: intermittent latency on the load balancer"
	if d.caseA, err = d.st.CSAPI.CreateCase(demoCreateParent, subjectA, "After resizing the VM it no longer boots.", "P1", demoCustomerEmail); err != nil {
		return fmt.Errorf("opening Google case A: %w", err)
	}
	if d.caseC, err = d.st.CSAPI.CreateCase(demoCreateParent, subjectC, "Latency spikes every few minutes.", "P2", demoCustomerEmail); err != nil {
		return fmt.Errorf("opening Google case C: %w", err)
	}
	prioB, prioU := d.crmPriority(casesync.P2), d.crmPriority(casesync.P3)
	if d.ticketB, err = d.crm.CreateTicket(ctx, demoTicket{Subject: "Demo: Cloud SQL failover question", Description: "How long does a failover take?",
		Priority: prioB, Flagged: true, Requester: "ops@company.example"}); err != nil {
		return fmt.Errorf("opening CRM ticket B: %w", err)
	}
	if d.ticketU, err = d.crm.CreateTicket(ctx, demoTicket{Subject: "Demo: office printer jam", Description: "Internal only.",
		Priority: prioU, Requester: "ops@company.example"}); err != nil {
		return fmt.Errorf("opening CRM ticket U: %w", err)
	}
	d.say("    Google case A %s (P1), Google case C %s (P2), CRM ticket B %s (flagged, %s), CRM ticket U %s (not flagged)",
		d.caseA, d.caseC, d.ticketB, prioB, d.ticketU)

	c1 := d.checkByID("1")
	for _, gc := range []struct {
		name, subject, priority string
		ticket                  *string
	}{{d.caseA, subjectA, d.crmPriority(casesync.P1), &d.ticketA}, {d.caseC, subjectC, d.crmPriority(casesync.P2), &d.ticketC}} {
		c1.expect = append(c1.expect,
			exactly(1, "CRM tickets naming Google case "+gc.name, func() (int, error) {
				ts, err := d.ticketsFor(ctx, gc.name)
				return len(ts), err
			}),
			now(func() (bool, string) {
				ts, err := d.ticketsFor(ctx, gc.name)
				if err != nil {
					return false, err.Error()
				}
				if len(ts) != 1 {
					return false, "no single CRM ticket for " + gc.name
				}
				t := ts[0]
				*gc.ticket = t.ID
				if t.Subject != gc.subject {
					return false, "CRM ticket " + t.ID + " has another subject than its Google case"
				}
				if !strings.EqualFold(t.Priority, gc.priority) {
					return false, fmt.Sprintf("CRM ticket %s has priority %q, want %q", t.ID, t.Priority, gc.priority)
				}
				return true, ""
			}),
			exactly(1, "link comments on Google case "+gc.name, func() (int, error) {
				ts, err := d.ticketsFor(ctx, gc.name)
				if err != nil || len(ts) == 0 {
					return 0, err
				}
				line := casesync.LinkLine(ts[0].ID)
				return d.countOnGoogle(gc.name, func(b string) bool { return strings.TrimSpace(b) == line }), nil
			}),
		)
	}

	c2 := d.checkByID("2")
	wantB := d.prio.Bucket(casesync.P2)
	c2.expect = append(c2.expect,
		exactly(1, "Google cases with the link line of CRM ticket "+d.ticketB, func() (int, error) { return len(d.googleCasesLinking(d.ticketB)), nil }),
		now(func() (bool, string) {
			t, err := d.crm.Ticket(ctx, d.ticketB)
			if err != nil {
				return false, err.Error()
			}
			if t.GoogleCase == "" {
				return false, "CRM ticket " + d.ticketB + " has no Google case yet"
			}
			g, ok := d.st.CSAPI.Case(t.GoogleCase)
			if !ok {
				return false, "the Google case " + t.GoogleCase + " named by ticket " + d.ticketB + " does not exist"
			}
			d.googleB = g.Name
			if !hasLine(g.Description, casesync.LinkLine(d.ticketB)) {
				return false, "Google case " + g.Name + " has no link line in its description"
			}
			if g.Priority != wantB.String() {
				return false, fmt.Sprintf("Google case %s has priority %s, want %s (%s)", g.Name, g.Priority, wantB, prioB)
			}
			if !g.TestCase {
				return false, "Google case " + g.Name + " is not marked testCase"
			}
			return true, ""
		}),
		exactly(0, "Google cases for the unflagged CRM ticket "+d.ticketU, func() (int, error) {
			n := len(d.googleCasesLinking(d.ticketU))
			t, err := d.crm.Ticket(ctx, d.ticketU)
			if err != nil {
				return 0, err
			}
			if t.GoogleCase != "" {
				n++
			}
			return n, nil
		}),
	)
	d.awaitAll(ctx, start, c1, c2)
	if d.ticketA == "" || d.ticketC == "" || d.googleB == "" {
		return errors.New("the cases the rest of the demo works on were not linked; stopping here")
	}
	d.say("    A -> CRM ticket %s, C -> CRM ticket %s, B -> Google case %s", d.ticketA, d.ticketC, d.googleB)
	return ctx.Err()
}

// ---- 3 to 7: comments, attachments and priorities ----

func (d *demo) commentsAttachmentsPriorities(ctx context.Context) error {
	d.say("")
	d.say("--> 3-7: comments, attachments and priority changes on both sides, all at once")
	start := time.Now()
	cust := csapitest.Actor{DisplayName: demoCustomerName, Email: demoCustomerEmail, Username: demoCustomerEmail}

	// 3: a customer comment and a Google agent comment on A.
	custText := "The serial console shows a kernel panic right after the resize."
	agentText := "Thanks, we are looking at the serial console output now."
	custName, err := d.st.CSAPI.AddComment(d.caseA, custText, cust)
	if err != nil {
		return fmt.Errorf("commenting on Google case A: %w", err)
	}
	agentName, err := d.st.CSAPI.AddAgentComment(d.caseA, agentText)
	if err != nil {
		return fmt.Errorf("adding an agent comment on Google case A: %w", err)
	}
	agentAuthor := "Google Support"
	for _, c := range d.st.CSAPI.Comments(d.caseA) {
		if c.Name == agentName && c.Creator != nil && c.Creator.DisplayName != "" {
			agentAuthor = c.Creator.DisplayName + " (Google Support)"
		}
	}
	custBody := fmt.Sprintf("[Google Comment %s by %s]\n\n%s", lastSegment(custName), demoCustomerName, custText)
	agentBody := fmt.Sprintf("[Google Comment %s by %s]\n\n%s", lastSegment(agentName), agentAuthor, agentText)
	c3 := d.checkByID("3")
	c3.expect = append(c3.expect,
		exactly(1, "CRM copies of the customer comment "+lastSegment(custName), func() (int, error) {
			return d.countInCRM(ctx, d.ticketA, func(b string) bool { return b == custBody })
		}),
		exactly(1, "CRM copies of the agent comment "+lastSegment(agentName)+" attributed \""+agentAuthor+"\"", func() (int, error) {
			return d.countInCRM(ctx, d.ticketA, func(b string) bool { return b == agentBody })
		}),
	)

	// 4: an internal note, then a public reply, on B.
	noteText := "Internal: the customer is on the premium plan; do not share the escalation path."
	replyText := "Failover usually completes within a minute; we will confirm with Google."
	noteID, err := d.crm.Comment(ctx, d.ticketB, demoAgentName, noteText, false)
	if err != nil {
		return fmt.Errorf("adding an internal note on CRM ticket B: %w", err)
	}
	replyID, err := d.crm.Comment(ctx, d.ticketB, demoAgentName, replyText, true)
	if err != nil {
		return fmt.Errorf("replying on CRM ticket B: %w", err)
	}
	// 5: a 30,000-character reply on B (or the longest the CRM takes).
	long := longText(d.longReplyLen())
	longID, err := d.crm.Comment(ctx, d.ticketB, demoAgentName, long, true)
	if err != nil {
		return fmt.Errorf("adding the long reply on CRM ticket B: %w", err)
	}
	// The Google copies name the author as the CRM shows it.
	author, err := d.commentAuthor(ctx, d.ticketB, replyID)
	if err != nil {
		return err
	}
	replyBody := fmt.Sprintf("[Company Comment %s by %s]\n\n%s", replyID, author, replyText)
	c4 := d.checkByID("4")
	c4.expect = append(c4.expect,
		exactly(1, "Google copies of the public CRM comment "+replyID, func() (int, error) {
			return d.countOnGoogle(d.googleB, func(b string) bool { return b == replyBody }), nil
		}),
		exactly(0, "Google comments carrying the internal note "+noteID, func() (int, error) {
			return d.countOnGoogle(d.googleB, func(b string) bool {
				return strings.Contains(b, noteText) || strings.HasPrefix(b, "[Company Comment "+noteID+" ")
			}), nil
		}),
	)
	c5 := d.checkByID("5")
	if len(long) > casesync.MaxGoogleCommentLen {
		c5.expect = append(c5.expect, always(func() (bool, string) {
			return d.partsJoin(d.googleB, longID, author, long)
		}))
	} else {
		longBody := fmt.Sprintf("[Company Comment %s by %s]\n\n%s", longID, author, long)
		c5.expect = append(c5.expect, exactly(1, "Google copies of the long CRM comment "+longID, func() (int, error) {
			return d.countOnGoogle(d.googleB, func(b string) bool { return b == longBody }), nil
		}))
	}

	// 6: binary files with NUL bytes both ways, and one over the limit.
	gFile, cFile := binaryData(4096, 1), binaryData(6000, 2)
	if _, err := d.st.CSAPI.AddAttachment(d.caseA, "core-dump.bin", "application/octet-stream", gFile, cust); err != nil {
		return fmt.Errorf("attaching a file on Google case A: %w", err)
	}
	bigName, err := d.st.CSAPI.AddAttachment(d.caseA, "full-trace.log", "text/plain", binaryData(int(d.limit)+4096, 3), cust)
	if err != nil {
		return fmt.Errorf("attaching the large file on Google case A: %w", err)
	}
	if err := d.crm.Attach(ctx, d.ticketB, demoAgentName, "heap-snapshot.bin", "application/octet-stream", cFile); err != nil {
		return fmt.Errorf("attaching a file on CRM ticket B: %w", err)
	}
	bigNotice := fmt.Sprintf("[Google Attachment %s by %s]", lastSegment(bigName), demoCustomerName)
	c6 := d.checkByID("6")
	c6.expect = append(c6.expect,
		exactly(1, "core-dump.bin (4096 bytes, NULs) on CRM ticket "+d.ticketA, func() (int, error) {
			files, err := d.crmFiles(ctx, d.ticketA, "core-dump.bin")
			return len(files), err
		}),
		always(func() (bool, string) {
			files, err := d.crmFiles(ctx, d.ticketA, "core-dump.bin")
			if err != nil {
				return false, err.Error()
			}
			return sameFiles(files, gFile, "core-dump.bin on CRM ticket "+d.ticketA)
		}),
		exactly(1, "heap-snapshot.bin (6000 bytes, NULs) on Google case "+d.googleB, func() (int, error) {
			return len(d.googleFiles(d.googleB, "heap-snapshot.bin")), nil
		}),
		always(func() (bool, string) {
			return sameFiles(d.googleFiles(d.googleB, "heap-snapshot.bin"), cFile, "heap-snapshot.bin on Google case "+d.googleB)
		}),
		exactly(1, "over-limit notices on CRM ticket "+d.ticketA, func() (int, error) {
			return d.countInCRM(ctx, d.ticketA, func(b string) bool { return strings.HasPrefix(b, bigNotice) })
		}),
		exactly(0, "copies of the over-limit full-trace.log on CRM ticket "+d.ticketA, func() (int, error) {
			files, err := d.crmFiles(ctx, d.ticketA, "full-trace.log")
			return len(files), err
		}),
		exactly(1, "core-dump.bin on Google case A (not copied back)", func() (int, error) {
			return len(d.googleFiles(d.caseA, "core-dump.bin")), nil
		}),
		exactly(1, "heap-snapshot.bin on CRM ticket B (not copied back)", func() (int, error) {
			files, err := d.crmFiles(ctx, d.ticketB, "heap-snapshot.bin")
			return len(files), err
		}),
	)

	// 7: priority changes on both sides.
	if err := d.st.CSAPI.SetPriority(d.caseA, "P3"); err != nil {
		return fmt.Errorf("changing the priority of Google case A: %w", err)
	}
	prioA, prioB := d.crmPriority(casesync.P3), d.crmPriority(casesync.P0)
	if err := d.crm.SetPriority(ctx, d.ticketB, prioB); err != nil {
		return fmt.Errorf("changing the priority of CRM ticket B: %w", err)
	}
	wantB := d.prio.Bucket(casesync.P0)
	c7 := d.checkByID("7")
	c7.expect = append(c7.expect,
		now(func() (bool, string) {
			t, err := d.crm.Ticket(ctx, d.ticketA)
			if err != nil {
				return false, err.Error()
			}
			return strings.EqualFold(t.Priority, prioA), fmt.Sprintf("CRM ticket %s has priority %q, want %q (P3)", d.ticketA, t.Priority, prioA)
		}),
		now(func() (bool, string) {
			g, _ := d.st.CSAPI.Case(d.googleB)
			return g.Priority == wantB.String(), fmt.Sprintf("Google case %s has priority %s, want %s (%s)", d.googleB, g.Priority, wantB, prioB)
		}),
	)
	d.say("    A: customer comment, agent comment, core-dump.bin (4096 B), full-trace.log (%d B, over the limit), priority P1 -> P3", int(d.limit)+4096)
	d.say("    B: internal note, public reply, 30,000-character reply, heap-snapshot.bin (6000 B), priority %s -> %s",
		d.crmPriority(casesync.P2), prioB)
	d.awaitAll(ctx, start, c3, c4, c5, c6, c7)
	return ctx.Err()
}

// ---- 8: closing ----

func (d *demo) closeCases(ctx context.Context) error {
	d.say("")
	d.say("--> 8: the customer closes Google case A; the helpdesk agent closes CRM ticket B")
	start := time.Now()
	if err := d.st.CSAPI.CloseCase(d.caseA); err != nil {
		return fmt.Errorf("closing Google case A: %w", err)
	}
	if err := d.crm.Close(ctx, d.ticketB); err != nil {
		return fmt.Errorf("closing CRM ticket B: %w", err)
	}
	c := d.checkByID("8")
	c.expect = append(c.expect,
		always(func() (bool, string) {
			t, err := d.crm.Ticket(ctx, d.ticketA)
			if err != nil {
				return false, err.Error()
			}
			return t.Closed, "CRM ticket " + d.ticketA + " is still open"
		}),
		always(func() (bool, string) {
			g, _ := d.st.CSAPI.Case(d.googleB)
			return g.State == "CLOSED", fmt.Sprintf("Google case %s is %s, want CLOSED", d.googleB, g.State)
		}),
	)
	d.awaitAll(ctx, start, c)
	return ctx.Err()
}

// ---- 13: Google's case state, escalation from the CRM ----

func (d *demo) stateAndEscalation(ctx context.Context) error {
	d.say("")
	d.say("--> 13: Google Support asks the customer for action on case A; the helpdesk agent asks for ticket B's Google case to be escalated")
	c := d.checkByID("13")
	sc, ok := d.crm.(demoStateCRM)
	if !ok {
		d.finish(c, false, 0, d.crm.Describe()+" has no escalation request the demo can make")
		return nil
	}
	start := time.Now()
	if err := d.st.CSAPI.SetState(d.caseA, "ACTION_REQUIRED"); err != nil {
		return fmt.Errorf("moving Google case A to ACTION_REQUIRED: %w", err)
	}
	if err := sc.RequestEscalation(ctx, d.ticketB); err != nil {
		return fmt.Errorf("asking for an escalation on CRM ticket B: %w", err)
	}
	isNote := func(body string) bool { return strings.HasPrefix(body, "Escalation of Google case "+d.googleB+",") }
	c.expect = append(c.expect,
		now(func() (bool, string) {
			st, err := sc.GoogleState(ctx, d.ticketA)
			if err != nil {
				return false, err.Error()
			}
			return st == "ACTION_REQUIRED", fmt.Sprintf("CRM ticket %s shows Google state %q, want ACTION_REQUIRED", d.ticketA, st)
		}),
		always(func() (bool, string) {
			g, _ := d.st.CSAPI.Case(d.googleB)
			return g.Escalated, "Google case " + d.googleB + " is not escalated"
		}),
		exactly(1, "escalation notes on CRM ticket "+d.ticketB, func() (int, error) { return d.countInCRM(ctx, d.ticketB, isNote) }),
		always(func() (bool, string) {
			requested, err := sc.EscalationRequested(ctx, d.ticketB)
			if err != nil {
				return false, err.Error()
			}
			return !requested, "CRM ticket " + d.ticketB + " still asks for an escalation"
		}),
	)
	d.awaitAll(ctx, start, c)
	return ctx.Err()
}

// ---- 9: no echo, nothing twice ----

func (d *demo) noEcho(ctx context.Context) error {
	d.say("")
	d.say("--> 9: letting three more polls run on each side, then counting every mirrored item")
	c := d.checkByID("9")
	start := time.Now()
	if err := d.pollRounds(ctx, 3); err != nil {
		d.finish(c, false, time.Since(start), err.Error())
		return ctx.Err()
	}
	googleCases := []string{d.caseA, d.googleB, d.caseC}
	tickets := []string{d.ticketA, d.ticketB, d.ticketC, d.ticketU}
	c.expect = append(c.expect, exactly(0, "\"[Google Comment\" texts on Google", func() (int, error) {
		n := 0
		for _, g := range googleCases {
			n += d.countOnGoogle(g, func(b string) bool { return strings.Contains(b, "[Google Comment") })
		}
		return n, nil
	}), exactly(0, "\"[Company Comment\" texts in the CRM", func() (int, error) {
		n := 0
		for _, t := range tickets {
			k, err := d.countInCRM(ctx, t, func(b string) bool { return strings.Contains(b, "[Company Comment") })
			if err != nil {
				return 0, err
			}
			n += k
		}
		return n, nil
	}))
	items := 0
	for _, other := range d.checks[:8] {
		for _, e := range other.expect {
			if e.lasting {
				c.expect = append(c.expect, e)
				items++
			}
		}
	}
	ok, why := allHold(c.expect, true)
	d.finish(c, ok, time.Since(start), why)
	if ok {
		d.say("    %d counts hold: nothing echoed, nothing twice, the internal note and the over-limit file stayed where they were", items+2)
	}
	return ctx.Err()
}

// ---- 12: what a poll costs ----

func (d *demo) costs12(ctx context.Context) error {
	d.say("")
	d.say("--> 12: measuring costs: the demo stops its poll ticks and waits until nothing moves (3 s)")
	idle, changed := d.checkByID("12a"), d.checkByID("12b")
	d.ticks.pause(true)
	defer d.ticks.pause(false)
	if err := d.quiet(ctx, 3*time.Second); err != nil {
		d.finish(idle, false, 0, err.Error())
		d.finish(changed, false, 0, err.Error())
		return ctx.Err()
	}
	searchOp, perPoll := d.crm.SearchOp(), d.crm.SearchCallsPerPoll()
	// crmSearches reads the CRM's search requests for one poll; with no
	// CRM counts, they are not checked.
	crmSearches := func(c map[string]int) (string, bool) {
		if c == nil {
			return "not measured", true
		}
		return strconv.Itoa(c[searchOp]), c[searchOp] >= 1 && c[searchOp] <= perPoll
	}
	wantSearches := "want 1 each"
	if perPoll > 1 {
		wantSearches = fmt.Sprintf("want 1 from CSAPI, at most %d from the CRM: one poll, read on to an empty page", perPoll)
	}

	// (a) An idle poll: one tick per side, nothing changed anywhere since
	// the last poll. A poll first sees what the reconciliations since the
	// last tick wrote (and remembers it in its poll memo); the next is idle.
	// A failure here shows again in the measured poll.
	if d.pollAndWait(ctx, eventing.FunctionPollGoogle, eventing.FunctionPollCRM) == nil {
		_ = d.quiet(ctx, time.Second)
	}
	start := time.Now()
	g, c, w, err := d.measure(ctx, func() error {
		if err := d.pollAndWait(ctx, eventing.FunctionPollGoogle, eventing.FunctionPollCRM); err != nil {
			return err
		}
		return d.quiet(ctx, time.Second)
	})
	if err != nil {
		d.finish(idle, false, time.Since(start), err.Error())
	} else {
		d.costs = append(d.costs,
			"idle poll (one PollGoogle and one PollCRM tick, nothing changed):",
			"  CSAPI calls: "+formatCalls(g),
			"  CRM calls:   "+d.formatCRMCalls(c),
			fmt.Sprintf("  Firestore writes: %d (reads: %d)", w.Writes, w.Reads))
		searches, searchOK := crmSearches(c)
		ok := g["cases.search"] == 1 && searchOK && w.Writes <= 2
		why := fmt.Sprintf("searches: CSAPI %d, CRM %s (%s); Firestore writes %d (want at most 2)",
			g["cases.search"], searches, wantSearches, w.Writes)
		if n := g["cases.get"]; n > 0 {
			why += fmt.Sprintf("; the idle poll started %d reconciliations of unchanged cases (CSAPI cases.get=%d)", n, n)
		}
		d.finish(idle, ok, time.Since(start), why)
	}

	// (b) One changed case: a customer comment on C, one tick per side.
	start = time.Now()
	text := "Latency spiked again at 10:42 UTC; the graphs are in the console."
	var mirrored int
	g, c, w, err = d.measure(ctx, func() error {
		name, err := d.st.CSAPI.AddComment(d.caseC, text, csapitest.Actor{DisplayName: demoCustomerName, Email: demoCustomerEmail, Username: demoCustomerEmail})
		if err != nil {
			return fmt.Errorf("commenting on Google case C: %w", err)
		}
		body := fmt.Sprintf("[Google Comment %s by %s]\n\n%s", lastSegment(name), demoCustomerName, text)
		count := func() (int, error) { return d.countInCRM(ctx, d.ticketC, func(b string) bool { return b == body }) }
		changed.expect = append(changed.expect, exactly(1, "CRM copies of the comment on C", count))
		if err := d.pollAndWait(ctx, eventing.FunctionPollGoogle); err != nil {
			return err
		}
		if ok, _, why := d.converge(ctx, start, func() (bool, string) { return allHold(changed.expect, false) }); !ok {
			return errors.New(why)
		}
		// The CRM poll then sees the ticket changed by casebridge's own
		// comment: its cost belongs to the change too.
		if err := d.pollAndWait(ctx, eventing.FunctionPollCRM); err != nil {
			return err
		}
		if err := d.quiet(ctx, time.Second); err != nil {
			return err
		}
		mirrored, err = count()
		return err
	})
	if err != nil {
		d.finish(changed, false, time.Since(start), err.Error())
	} else {
		d.costs = append(d.costs,
			"one changed case (a customer comment on C mirrored to the CRM; one tick per side and the reconciliations they triggered):",
			"  CSAPI calls: "+formatCalls(g),
			"  CRM calls:   "+d.formatCRMCalls(c),
			fmt.Sprintf("  Firestore writes: %d (reads: %d)", w.Writes, w.Reads))
		searches, searchOK := crmSearches(c)
		ok := mirrored == 1 && g["cases.search"] == 1 && searchOK
		d.finish(changed, ok, time.Since(start), fmt.Sprintf("comment mirrored %d times (want 1); searches: CSAPI %d, CRM %s (%s)",
			mirrored, g["cases.search"], searches, wantSearches))
	}
	d.say("    poll ticks resume")
	return ctx.Err()
}

// formatCRMCalls renders the CRM calls, or says they are not measured.
func (d *demo) formatCRMCalls(calls map[string]int) string {
	if calls == nil {
		return "not measured for " + d.crm.Describe()
	}
	return formatCalls(calls)
}

// measure runs f and returns the calls each side received (nil for the
// CRM when its calls are not measured) and the Firestore operations of the
// functions process during f.
func (d *demo) measure(ctx context.Context, f func() error) (google, crm map[string]int, fs localstack.FirestoreCounts, err error) {
	before, err := d.st.FirestoreCounts(ctx)
	if err != nil {
		return nil, nil, fs, err
	}
	d.st.CSAPI.ResetCalls()
	crmBefore, err := d.crm.Calls(ctx)
	if err != nil {
		return nil, nil, fs, err
	}
	if err := f(); err != nil {
		return nil, nil, fs, err
	}
	after, err := d.st.FirestoreCounts(ctx)
	if err != nil {
		return nil, nil, fs, err
	}
	fs = localstack.FirestoreCounts{Reads: after.Reads - before.Reads, Writes: after.Writes - before.Writes}
	crmAfter, err := d.crm.Calls(ctx)
	if err != nil {
		return nil, nil, fs, err
	}
	return d.st.CSAPI.Calls(), callsBetween(crmBefore, crmAfter), fs, nil
}

// callsBetween returns the calls counted in after but not yet in before
// (nil when the calls are not measured).
func callsBetween(before, after map[string]int) map[string]int {
	if after == nil {
		return nil
	}
	out := map[string]int{}
	for op, n := range after {
		if n -= before[op]; n > 0 {
			out[op] = n
		}
	}
	return out
}

// pollAndWait publishes one poll tick for each function and waits until
// each poll has recorded its heartbeat in Firestore (its last step).
func (d *demo) pollAndWait(ctx context.Context, functions ...string) error {
	before, err := d.store.GetPollState(ctx)
	if err != nil {
		return err
	}
	for _, fn := range functions {
		if _, err := d.st.PublishTick(ctx, fn); err != nil {
			return fmt.Errorf("publishing a %s tick: %w", fn, err)
		}
	}
	start := time.Now()
	ok, _, why := d.converge(ctx, start, func() (bool, string) {
		ps, err := d.store.GetPollState(ctx)
		if err != nil {
			return false, err.Error()
		}
		for _, fn := range functions {
			if fn == eventing.FunctionPollGoogle && ps.GoogleHeartbeat.Equal(before.GoogleHeartbeat) {
				return false, "PollGoogle did not finish a poll"
			}
			if fn == eventing.FunctionPollCRM && ps.CompanyHeartbeat.Equal(before.CompanyHeartbeat) {
				return false, "PollCRM did not finish a poll"
			}
		}
		return true, ""
	})
	if !ok {
		return errors.New(why)
	}
	return nil
}

// ---- 10: outage and recovery ----

func (d *demo) outage(ctx context.Context) error {
	d.say("")
	d.say("--> 10: outage: the CRM goes down (every call answers 503) while case C is open")
	c := d.checkByID("10")
	start := time.Now()
	fail := func(why string) error {
		d.st.SetCRMDown(false)
		d.finish(c, false, time.Since(start), why)
		return ctx.Err()
	}
	mid, err := d.mappingOf(ctx, d.caseC)
	if err != nil {
		return fail(err.Error())
	}
	d.mapC = mid
	// Start from a settled mapping, so that the outage is the only lag.
	if ok, _, why := d.converge(ctx, start, d.noPending); !ok {
		return fail("before the outage: " + why)
	}

	d.st.SetCRMDown(true)
	const jump = 11 * time.Minute
	if err := d.advance(jump, "past the 10-minute tolerance of a fresh case"); err != nil {
		return fail(err.Error())
	}
	d.say("    publishing detect-outages ticks (every 2 s until it reports); expecting an ERROR detection and one notice on Google case C")
	detect := d.ticker(ctx, eventing.FunctionDetectOutages)
	outageOnG := func() int { return d.countOnGoogle(d.caseC, isOutageNotice) }
	errLine := func(l localstack.LogLine) bool {
		return l.Str("function") == eventing.FunctionDetectOutages && detect.published[l.Str("eventId")] && l.Severity() == "ERROR"
	}
	ok, _, why := d.converge(ctx, time.Now(), func() (bool, string) {
		if err := detect.tick(); err != nil {
			return false, err.Error()
		}
		if len(d.st.Logs(errLine)) == 0 {
			return false, "no ERROR entry from DetectOutages for the ticks published"
		}
		if n := outageOnG(); n != 1 {
			return false, fmt.Sprintf("outage notices on Google case C: %d, want 1", n)
		}
		return true, ""
	})
	if !ok {
		return fail("during the outage: " + why)
	}
	d.say("    detection failed as it should (ERROR \"cases are out of sync\"); notice posted on Google case C (the CRM was unreachable)")

	d.st.SetCRMDown(false)
	up := d.st.Clock.Now()
	d.say("    the CRM is back; waiting for both polls to succeed and case C to catch up, then detecting again")
	if ok, _, why := d.converge(ctx, time.Now(), func() (bool, string) {
		ps, err := d.store.GetPollState(ctx)
		if err != nil {
			return false, err.Error()
		}
		if !ps.CompanyHeartbeat.After(up) || !ps.GoogleHeartbeat.After(up) {
			return false, "the polls have not succeeded since the CRM came back"
		}
		return d.noPending()
	}); !ok {
		return fail("after the outage: " + why)
	}
	resumedOnG := func() int { return d.countOnGoogle(d.caseC, isResumedNotice) }
	detect = d.ticker(ctx, eventing.FunctionDetectOutages)
	ok, _, why = d.converge(ctx, time.Now(), func() (bool, string) {
		if resumedOnG() >= 1 {
			return true, ""
		}
		if err := detect.tick(); err != nil {
			return false, err.Error()
		}
		return false, "no \"Syncing has resumed.\" on Google case C"
	})
	if !ok {
		return fail("after the outage: " + why)
	}
	took := time.Since(start)
	if err := d.pollRounds(ctx, 2); err != nil {
		return fail(err.Error())
	}
	outageOnC, err := d.countInCRM(ctx, d.ticketC, isOutageNotice)
	if err != nil {
		return fail(err.Error())
	}
	resumedOnC, err := d.countInCRM(ctx, d.ticketC, isResumedNotice)
	if err != nil {
		return fail(err.Error())
	}
	m, err := d.store.GetMapping(ctx, d.mapC)
	if err != nil {
		return fail(err.Error())
	}
	og, rg := outageOnG(), resumedOnG()
	detail := fmt.Sprintf("Google case C: %d outage notice, %d resumed (want 1 and 1); CRM ticket %s: %d outage notice, %d resumed (want equal, at most 1)",
		og, rg, d.ticketC, outageOnC, resumedOnC)
	ok = og == 1 && rg == 1 && outageOnC <= 1 && resumedOnC == outageOnC && !m.Google.OutageNoticeSent && !m.Company.OutageNoticeSent
	if !ok && (m.Google.OutageNoticeSent || m.Company.OutageNoticeSent) {
		detail += "; the mapping still records an outage notice"
	}
	d.finish(c, ok, took, detail)
	d.say("    %s", detail)
	return ctx.Err()
}

// noPending reports whether case C's mapping has no change waiting.
func (d *demo) noPending() (bool, string) {
	m, err := d.store.GetMapping(context.Background(), d.mapC)
	if err != nil {
		return false, err.Error()
	}
	if !m.Google.PendingSince.IsZero() || !m.Company.PendingSince.IsZero() {
		return false, "case C's mapping still has a change pending"
	}
	return true, ""
}

// ---- 11: cleanup ----

func (d *demo) cleanup(ctx context.Context) error {
	d.say("")
	d.say("--> 11: cleanup: mappings of cases closed more than 30 days ago are deleted")
	c := d.checkByID("11")
	start := time.Now()
	var err error
	for _, x := range []struct {
		name string
		id   *string
	}{{d.caseA, &d.mappingA}, {d.googleB, &d.mappingB}} {
		if *x.id, err = d.mappingOf(ctx, x.name); err != nil {
			d.finish(c, false, time.Since(start), err.Error())
			return ctx.Err()
		}
	}
	if err := d.advance(31*24*time.Hour, "past the 30-day retention of closed cases"); err != nil {
		d.finish(c, false, time.Since(start), err.Error())
		return ctx.Err()
	}
	// The functions process reads the clock offset at most every 50 ms:
	// the tick is published again every 2 s until the check converges
	// (cleanup is idempotent), so a first run on the old time does no harm.
	d.say("    publishing cleanup ticks (every 2 s until done); expecting the mappings of A and B gone and C's kept")
	cleanupTicks := d.ticker(ctx, eventing.FunctionCleanup)
	var kept casesync.Mapping
	exists := func(id string) (bool, error) {
		m, err := d.store.GetMapping(ctx, id)
		if casesync.IsNotFound(err) {
			return false, nil
		}
		kept = m
		return err == nil, err
	}
	c.expect = append(c.expect, now(func() (bool, string) {
		if err := cleanupTicks.tick(); err != nil {
			return false, err.Error()
		}
		for _, x := range []struct{ label, id string }{{"closed case A", d.mappingA}, {"closed case B", d.mappingB}} {
			there, err := exists(x.id)
			if err != nil {
				return false, err.Error()
			}
			if there {
				resolved := "never resolved"
				if kept.Resolved() {
					resolved = "resolved at " + kept.ResolvedAt.Format(time.RFC3339)
				}
				return false, fmt.Sprintf("the mapping %s of %s still exists (%s; closed on Google %t, in the CRM %t; stack clock %s)",
					x.id, x.label, resolved, kept.Google.Closed, kept.Company.Closed, d.st.Clock.Now().UTC().Format(time.RFC3339))
			}
		}
		there, err := exists(d.mapC)
		if err != nil {
			return false, err.Error()
		}
		return there, "the mapping of open case C was deleted"
	}))
	d.awaitAll(ctx, start, c)
	return ctx.Err()
}

// ---- running checks ----

func (d *demo) newCheck(id, title string) {
	d.checks = append(d.checks, &check{id: id, title: title})
}

func (d *demo) checkByID(id string) *check {
	for _, c := range d.checks {
		if c.id == id {
			return c
		}
	}
	panic("demo: no check " + id)
}

// awaitAll waits, in parallel, for each check's expectations to hold.
func (d *demo) awaitAll(ctx context.Context, start time.Time, checks ...*check) {
	var wg sync.WaitGroup
	for _, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, took, why := d.converge(ctx, start, func() (bool, string) { return allHold(c.expect, false) })
			d.finish(c, ok, took, why)
		}()
	}
	wg.Wait()
}

// converge polls cond until it holds or demoDeadline has passed since
// start.
func (d *demo) converge(ctx context.Context, start time.Time, cond func() (bool, string)) (bool, time.Duration, string) {
	for {
		ok, why := cond()
		if ok {
			return true, time.Since(start), ""
		}
		if time.Since(start) > demoDeadline {
			return false, time.Since(start), why
		}
		select {
		case <-ctx.Done():
			return false, time.Since(start), why + " (" + ctx.Err().Error() + ")"
		case <-time.After(demoPollInterval):
		}
	}
}

func (d *demo) finish(c *check, ok bool, took time.Duration, why string) {
	d.outMu.Lock()
	c.ran, c.ok, c.took = true, ok, took
	if !ok {
		c.detail = why
	}
	d.outMu.Unlock()
	if ok {
		d.say("    ok    %-3s converged in %s", c.id, took.Round(10*time.Millisecond))
	} else {
		d.say("    FAIL  %-3s did NOT converge (%s): %s", c.id, took.Round(10*time.Millisecond), why)
	}
}

// activity is what changes while the system works.
type activity struct {
	google, crm, fsReads, fsWrites int64
}

// quiet waits until nothing has moved for window: no API call on either
// side and no Firestore operation of the functions. Use it only while the
// poll ticks are paused.
func (d *demo) quiet(ctx context.Context, window time.Duration) error {
	sample := func() (activity, error) {
		var a activity
		for _, n := range d.st.CSAPI.Calls() {
			a.google += int64(n)
		}
		calls, err := d.crm.Calls(ctx)
		if err != nil {
			return a, err
		}
		for _, n := range calls {
			a.crm += int64(n)
		}
		fs, err := d.st.FirestoreCounts(ctx)
		if err != nil {
			return a, err
		}
		a.fsReads, a.fsWrites = fs.Reads, fs.Writes
		return a, nil
	}
	last, err := sample()
	if err != nil {
		return err
	}
	start, since := time.Now(), time.Now()
	for time.Since(since) < window {
		if time.Since(start) > demoDeadline {
			return fmt.Errorf("the system did not go quiet for %s within %s", window, demoDeadline)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(demoPollInterval):
		}
		cur, err := sample()
		if err != nil {
			return err
		}
		if cur != last {
			last, since = cur, time.Now()
		}
	}
	return nil
}

// repeatedTick publishes the tick of one scheduled function at most every
// 2 s, from inside a convergence check, and remembers the event ids.
type repeatedTick struct {
	tick      func() error
	published map[string]bool
}

func (d *demo) ticker(ctx context.Context, function string) *repeatedTick {
	t := &repeatedTick{published: map[string]bool{}}
	var last time.Time
	t.tick = func() error {
		if !last.IsZero() && time.Since(last) < 2*time.Second {
			return nil
		}
		last = time.Now()
		id, err := d.st.PublishTick(ctx, function)
		if err != nil {
			return fmt.Errorf("publishing a %s tick: %w", function, err)
		}
		t.published[id] = true
		return nil
	}
	return t
}

// pollRounds waits until each poller has finished n more polls (its
// heartbeat in Firestore has moved n times), so that whatever was still
// to be picked up has been.
func (d *demo) pollRounds(ctx context.Context, n int) error {
	seenG, seenC := map[int64]bool{}, map[int64]bool{}
	ok, _, why := d.converge(ctx, time.Now(), func() (bool, string) {
		ps, err := d.store.GetPollState(ctx)
		if err != nil {
			return false, err.Error()
		}
		seenG[ps.GoogleHeartbeat.UnixNano()] = true
		seenC[ps.CompanyHeartbeat.UnixNano()] = true
		if len(seenG) > n && len(seenC) > n {
			return true, ""
		}
		return false, fmt.Sprintf("only %d Google and %d CRM polls finished, want %d each", len(seenG)-1, len(seenC)-1, n)
	})
	if !ok {
		return errors.New(why)
	}
	return nil
}

// advance moves the whole stack's clock forward, and says so.
func (d *demo) advance(by time.Duration, why string) error {
	total, err := d.st.Advance(by)
	if err != nil {
		return fmt.Errorf("moving the clock forward: %w", err)
	}
	d.say("    time is accelerated: the clock was moved forward by %s (%s); the stack's clock is now %s ahead of real time",
		humanDuration(by), why, humanDuration(total))
	return nil
}

// mappingOf returns the id of the mapping holding a Google case.
func (d *demo) mappingOf(ctx context.Context, googleCase string) (string, error) {
	var id string
	err := d.store.ListMappings(ctx, func(m casesync.Mapping) error {
		if m.GoogleCase != "" && casesync.CaseNumber(m.GoogleCase) == casesync.CaseNumber(googleCase) {
			id = m.ID
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("listing mappings: %w", err)
	}
	if id == "" {
		return "", fmt.Errorf("no mapping holds Google case %s", googleCase)
	}
	return id, nil
}

// ---- reading both sides ----

// ticketsFor returns the CRM tickets whose Google-case field names the
// Google case (by number, whatever the parent form).
func (d *demo) ticketsFor(ctx context.Context, googleCase string) ([]crmTicket, error) {
	num := casesync.CaseNumber(googleCase)
	all, err := d.crm.Synced(ctx)
	if err != nil {
		return nil, err
	}
	var out []crmTicket
	for _, t := range all {
		if num != "" && casesync.CaseNumber(t.GoogleCase) == num {
			out = append(out, t)
		}
	}
	return out, nil
}

// googleCasesLinking returns the names of the Google cases whose
// description carries the link line of a CRM ticket.
func (d *demo) googleCasesLinking(ticketID string) []string {
	line := casesync.LinkLine(ticketID)
	var out []string
	for _, c := range d.st.CSAPI.Cases() {
		if hasLine(c.Description, line) {
			out = append(out, c.Name)
		}
	}
	return out
}

func (d *demo) countOnGoogle(caseName string, match func(body string) bool) int {
	n := 0
	for _, c := range d.st.CSAPI.Comments(caseName) {
		if match(c.Body) {
			n++
		}
	}
	return n
}

func (d *demo) countInCRM(ctx context.Context, ticketID string, match func(body string) bool) (int, error) {
	t, err := d.crm.Ticket(ctx, ticketID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range t.Comments {
		if match(c.Body) {
			n++
		}
	}
	return n, nil
}

// commentAuthor returns the author name the CRM shows for a comment.
func (d *demo) commentAuthor(ctx context.Context, ticketID, commentID string) (string, error) {
	t, err := d.crm.Ticket(ctx, ticketID)
	if err != nil {
		return "", err
	}
	for _, c := range t.Comments {
		if c.ID == commentID {
			return c.Author, nil
		}
	}
	return "", fmt.Errorf("CRM ticket %s shows no comment %s", ticketID, commentID)
}

func (d *demo) googleFiles(caseName, filename string) [][]byte {
	var out [][]byte
	for _, a := range d.st.CSAPI.Attachments(caseName) {
		if a.Filename == filename {
			data, _ := d.st.CSAPI.AttachmentData(a.Name)
			out = append(out, data)
		}
	}
	return out
}

func (d *demo) crmFiles(ctx context.Context, ticketID, filename string) ([][]byte, error) {
	t, err := d.crm.Ticket(ctx, ticketID)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, f := range t.Files {
		if f.Filename == filename {
			out = append(out, f.Data)
		}
	}
	return out, nil
}

// crmPriority is the CRM value the functions write for a Google priority.
func (d *demo) crmPriority(p casesync.Priority) string {
	v, _ := d.prio.Company(p)
	return v
}

// checkPriorities makes sure the CRM's priority map lets the demo show a
// change each way: P1 and P3 have different CRM values, and so have P2 and
// P0 (the flagged ticket's priority before and after).
func (d *demo) checkPriorities() error {
	for _, pair := range [][2]casesync.Priority{{casesync.P1, casesync.P3}, {casesync.P2, casesync.P0}} {
		a, b := d.crmPriority(pair[0]), d.crmPriority(pair[1])
		if strings.EqualFold(a, b) {
			return fmt.Errorf("the CRM priority map gives %s and %s the same value %q: the demo cannot show a priority change", pair[0], pair[1], a)
		}
	}
	return nil
}

func sameFiles(got [][]byte, want []byte, what string) (bool, string) {
	if len(got) == 0 {
		return false, what + ": not there yet"
	}
	for _, g := range got {
		if !slices.Equal(g, want) {
			return false, fmt.Sprintf("%s: %d bytes that differ from the original %d bytes", what, len(g), len(want))
		}
	}
	return true, ""
}

var partRE = regexp.MustCompile(`^\[Company Comment (\S+) by ([^\n]*)\] \(part (\d+)/(\d+)\)\n\n`)

// partsJoin checks that a long CRM comment arrived on Google as parts 1..n
// (n at least 2), each exactly once, whose texts joined give the original.
func (d *demo) partsJoin(googleCase, commentID, author, original string) (bool, string) {
	parts := map[int][]string{}
	total := 0
	for _, c := range d.st.CSAPI.Comments(googleCase) {
		m := partRE.FindStringSubmatch(c.Body)
		if m == nil || m[1] != commentID {
			continue
		}
		if m[2] != author {
			return false, fmt.Sprintf("a part of CRM comment %s is attributed to %q, want %q", commentID, m[2], author)
		}
		i, _ := strconv.Atoi(m[3])
		n, _ := strconv.Atoi(m[4])
		if total != 0 && n != total {
			return false, fmt.Sprintf("parts of CRM comment %s disagree on their count (%d and %d)", commentID, total, n)
		}
		total = n
		parts[i] = append(parts[i], c.Body[len(m[0]):])
	}
	if total < 2 {
		return false, fmt.Sprintf("CRM comment %s: %d numbered parts on Google, want at least 2", commentID, len(parts))
	}
	var joined strings.Builder
	for i := 1; i <= total; i++ {
		if len(parts[i]) != 1 {
			return false, fmt.Sprintf("CRM comment %s: part %d/%d is there %d times, want once", commentID, i, total, len(parts[i]))
		}
		joined.WriteString(parts[i][0])
	}
	if len(parts) != total {
		return false, fmt.Sprintf("CRM comment %s: parts numbered outside 1..%d", commentID, total)
	}
	if joined.String() != original {
		return false, fmt.Sprintf("CRM comment %s: the %d parts joined (%d characters) differ from the original (%d characters)",
			commentID, total, len([]rune(joined.String())), len([]rune(original)))
	}
	return true, ""
}

// ---- output ----

func (d *demo) say(format string, args ...any) {
	d.outMu.Lock()
	defer d.outMu.Unlock()
	fmt.Fprintf(d.out, format+"\n", args...)
}

// report prints the table, the costs and the final count line.
func (d *demo) report() (passed, failed int) {
	d.outMu.Lock()
	defer d.outMu.Unlock()
	var b strings.Builder
	idW, titleW := len("#"), len("check")
	for _, c := range d.checks {
		idW = max(idW, len(c.id))
		titleW = max(titleW, len(c.title))
	}
	row := func(id, title, conv, took string) {
		fmt.Fprintf(&b, "%-*s  %-*s | %-9s | %s\n", idW, id, titleW, title, conv, took)
	}
	b.WriteString("\n")
	row("#", "check", "converged", "time taken")
	b.WriteString(strings.Repeat("-", idW+2+titleW) + "-+-" + strings.Repeat("-", 9) + "-+-" + strings.Repeat("-", 10) + "\n")
	for _, c := range d.checks {
		conv, took := "NO", "-"
		if c.ran {
			took = c.took.Round(10 * time.Millisecond).String()
		} else {
			took = "not run"
		}
		if c.ok {
			conv = "yes"
			passed++
		} else {
			failed++
		}
		row(c.id, c.title, conv, took)
	}
	if failed > 0 {
		b.WriteString("\nwhy the failed checks failed:\n")
		for _, c := range d.checks {
			if !c.ok {
				why := c.detail
				if !c.ran {
					why = "not run: an earlier step could not continue"
				}
				fmt.Fprintf(&b, "  %s: %s\n", c.id, why)
			}
		}
	}
	if len(d.costs) > 0 {
		b.WriteString("\ncosts (API calls by method, Firestore operations of the functions process):\n")
		for _, l := range d.costs {
			b.WriteString("  " + l + "\n")
		}
	}
	fmt.Fprintf(&b, "\ndemo took %s\n", time.Since(d.began).Round(time.Second))
	fmt.Fprintf(&b, "demo: %d passed, %d failed\n", passed, failed)
	io.WriteString(d.out, b.String())
	return passed, failed
}

// formatCalls renders call counts as "cases.search=1, comments.list=2".
func formatCalls(calls map[string]int) string {
	if len(calls) == 0 {
		return "none"
	}
	keys := slices.Sorted(maps.Keys(calls))
	parts := make([]string, 0, len(keys))
	total := 0
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, calls[k]))
		total += calls[k]
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}

// ---- the demo's scheduler ----

// tickSource publishes the two poll ticks every period, as Cloud Scheduler
// does, and can be paused while costs are measured. Unlike Cloud Scheduler
// it does not pile polls up on a slow emulator: a side's next tick waits
// until its previous poll has finished (its heartbeat moved) or 5 s have
// passed (a failing poll, e.g. during an outage).
type tickSource struct {
	paused atomic.Bool
	cancel context.CancelFunc
	done   chan struct{}
}

func startTicks(ctx context.Context, st *localstack.Stack, ps *store.Store, out io.Writer, every time.Duration) *tickSource {
	ctx, cancel := context.WithCancel(ctx)
	t := &tickSource{cancel: cancel, done: make(chan struct{})}
	type published struct{ at, heartbeat time.Time }
	last := map[string]published{}
	go func() {
		defer close(t.done)
		tk := time.NewTicker(every)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
			if t.paused.Load() {
				continue
			}
			state, stateErr := ps.GetPollState(ctx)
			for _, fn := range []string{eventing.FunctionPollGoogle, eventing.FunctionPollCRM} {
				hb := state.GoogleHeartbeat
				if fn == eventing.FunctionPollCRM {
					hb = state.CompanyHeartbeat
				}
				if p, ok := last[fn]; ok && stateErr == nil && hb.Equal(p.heartbeat) && time.Since(p.at) < 5*time.Second {
					continue // the previous poll of this side is still running
				}
				last[fn] = published{at: time.Now(), heartbeat: hb}
				pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
				if _, err := st.PublishTick(pctx, fn); err != nil && ctx.Err() == nil {
					fmt.Fprintf(out, "demo: the %s tick was not published: %v\n", fn, err)
				}
				pcancel()
			}
		}
	}()
	return t
}

func (t *tickSource) pause(p bool) { t.paused.Store(p) }

// stop ends the ticks; it may be called more than once.
func (t *tickSource) stop() {
	t.cancel()
	<-t.done
}

// ---- small pure helpers ----

func lastSegment(name string) string { return name[strings.LastIndex(name, "/")+1:] }

// hasLine reports whether text has line as one of its lines.
func hasLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) == line {
			return true
		}
	}
	return false
}

func isOutageNotice(body string) bool {
	return strings.HasPrefix(strings.TrimSpace(body), "This case has not synced properly in ")
}

func isResumedNotice(body string) bool { return strings.TrimSpace(body) == "Syncing has resumed." }

// demoLongReply is the length of check 5's long reply: more than two
// Google comments hold.
const demoLongReply = 30000

// longReplyLen is the length of check 5's reply: demoLongReply, or the
// longest comment a person can write in a CRM that takes less.
func (d *demo) longReplyLen() int {
	if l, ok := d.crm.(demoCommentLimit); ok && l.MaxCommentBytes() < demoLongReply {
		return l.MaxCommentBytes()
	}
	return demoLongReply
}

// longText returns n characters of readable text in lines.
func longText(n int) string {
	var b strings.Builder
	for i := 1; b.Len() < n; i++ {
		fmt.Fprintf(&b, "Step %04d: replica lag rose while the primary kept serving writes; failover was not triggered.\n", i)
	}
	return b.String()[:n]
}

// binaryData returns n bytes of a file that is not text: every third byte
// is NUL and the rest cycle through all other values.
func binaryData(n int, seed byte) []byte {
	out := make([]byte, n)
	for i := range out {
		if i%3 == 0 {
			continue
		}
		out[i] = byte(i*7) + seed
	}
	return out
}

// humanDuration renders whole days as days ("31 days").
func humanDuration(d time.Duration) string {
	const day = 24 * time.Hour
	if d >= day && d%day == 0 {
		return fmt.Sprintf("%d days", d/day)
	}
	if d > day {
		return fmt.Sprintf("%d days %s", d/day, d%day)
	}
	return d.String()
}
