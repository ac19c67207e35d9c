// Command operator shows the state of a casebridge deployment and asks for
// one case to be synced again.
//
//	go run ./scripts/operator status [--project P] [--prefix X] [--poll-interval 1m] [--depth auto|pull|monitoring|none] [--json] [--timeout D]
//	go run ./scripts/operator resync (--google-case NAME | --crm-case ID | --mapping ID) [--project P] [--prefix X] [--timeout D]
//
// status reads Firestore (mapping counts; the mappings stuck, failing,
// given up and out of sync; outage flags; the pollers' watermarks,
// heartbeats and failing polls; the CRM's API usage its last poll saw) and the depth of every dead-letter
// subscription, and starts with one line saying what needs attention.
// resync publishes one sync-requested command, naming the case's mapping
// when it has one, which SyncCase handles like any other: it reconciles the
// case both ways, reading both cases, or creates its counterpart;
// a mapping the sweep gave up on is first made due again, with its run of
// failures cleared.
//
// It talks to the emulators when FIRESTORE_EMULATOR_HOST and
// PUBSUB_EMULATOR_HOST are set, else to Google Cloud with application
// default credentials; the caller needs roles/datastore.viewer (and
// roles/datastore.user to resync a given-up mapping),
// roles/pubsub.subscriber on the dead-letter subscriptions (status, with
// --depth pull), roles/monitoring.viewer (status, with --depth monitoring)
// and roles/pubsub.publisher on the sync-requested topic (resync). With
// CASEBRIDGE_CLOCK_FILE set (the sandbox), status uses the sandbox's clock.
//
// Every command waits at most --timeout (default 30 s) in all for Firestore,
// Pub/Sub and Cloud Monitoring. When one of them cannot be reached or does
// not answer in that time, the command exits 1 with one line naming the
// service and where it was looked for (the emulator's address, or the
// project); it never reports "none" for what it could not read.
//
// Exit status: 0 when all is well, 1 on failure, 2 on a usage error, 3 when
// status finds something that needs attention: a mapping stuck, failing,
// given up or out of sync, a poller failing, stale or never run, the CRM's
// API usage above 80% of its limit, or dead-lettered messages (so scripts
// and probes can act on it).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/clock"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/casebridge/casebridge/shared/ops"
	"github.com/casebridge/casebridge/shared/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: operator <status|resync> [flags]

  status    what needs attention; mappings stuck, failing, given up and out of sync; outage flags, pollers, dead-letter depth
  resync    publish sync-requested for one case (--google-case, --crm-case or --mapping); restarts a given-up mapping

Every command waits at most --timeout (default 30s) for Firestore, Pub/Sub and
Cloud Monitoring, and fails naming the one it could not reach.
Run "operator <command> -h" for the flags.
`

// Exit codes.
const (
	exitOK        = 0
	exitFailure   = 1
	exitUsage     = 2
	exitAttention = 3
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd := args[0]
	fs := flag.NewFlagSet("operator "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	project := fs.String("project", os.Getenv("GOOGLE_CLOUD_PROJECT"), "the project holding casebridge's Firestore database and Pub/Sub topics (default $GOOGLE_CLOUD_PROJECT)")
	prefix := fs.String("prefix", "", "the prefix of casebridge's topic and subscription names, exactly as it precedes \"case-updated\" (e.g. \"casebridge-\"; \"\" for the local sandbox)")
	timeout := fs.Duration("timeout", ops.DefaultTimeout, "how long the whole command may wait for Firestore, Pub/Sub and Cloud Monitoring before it fails naming the one that did not answer")
	switch cmd {
	case "status":
		depth := fs.String("depth", "auto", "how to count dead-lettered messages: pull (pull and hand back every message), monitoring (Cloud Monitoring's num_undelivered_messages), none, or auto (pull on the emulator, monitoring on Pub/Sub)")
		asJSON := fs.Bool("json", false, "print JSON instead of text")
		defInterval := eventing.DefaultPollInterval
		if v, err := time.ParseDuration(os.Getenv("POLL_INTERVAL")); err == nil {
			defInterval = v
		}
		pollInterval := fs.Duration("poll-interval", defInterval, "how often the deployment's pollers run (Terraform's poll_interval_minutes; default $POLL_INTERVAL, else 1m): outage lag and stale pollers are judged by it")
		if code, ok := parse(fs, args[1:], stderr); !ok {
			return code
		}
		if _, err := eventing.PollSchedule(*pollInterval); err != nil {
			fmt.Fprintf(stderr, "operator status: --poll-interval: %v\n", err)
			return exitUsage
		}
		ctx, cancel := ops.WithTimeout(ctx, *timeout)
		defer cancel()
		return status(ctx, *project, *prefix, *depth, *asJSON, *timeout, *pollInterval, stdout, stderr)
	case "resync":
		googleCase := fs.String("google-case", "", "the Google case name, e.g. projects/my-project/cases/12345")
		crmCase := fs.String("crm-case", "", "the CRM case id, e.g. an RT ticket number or a Jira issue key")
		mapping := fs.String("mapping", "", "the mapping id (see operator status)")
		if code, ok := parse(fs, args[1:], stderr); !ok {
			return code
		}
		ctx, cancel := ops.WithTimeout(ctx, *timeout)
		defer cancel()
		return resync(ctx, *project, *prefix, *googleCase, *crmCase, *mapping, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "operator: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
}

// parse parses the flags; ok is false when run should return code.
func parse(fs *flag.FlagSet, args []string, stderr io.Writer) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected arguments %q\n", fs.Name(), fs.Args())
		return exitUsage, false
	}
	if fs.Lookup("project").Value.String() == "" {
		fmt.Fprintf(stderr, "%s: no project: pass --project or set GOOGLE_CLOUD_PROJECT\n", fs.Name())
		return exitUsage, false
	}
	if d := fs.Lookup("timeout").Value.(flag.Getter).Get().(time.Duration); d <= 0 {
		fmt.Fprintf(stderr, "%s: --timeout is %s: give a positive duration, e.g. 30s\n", fs.Name(), d)
		return exitUsage, false
	}
	return exitOK, true
}

func status(ctx context.Context, project, prefix, depth string, asJSON bool, timeout, pollInterval time.Duration, stdout, stderr io.Writer) int {
	switch depth {
	case "auto", ops.DepthByPull, ops.DepthByMonitoring, "none":
	default:
		fmt.Fprintf(stderr, "operator status: --depth is %q: use auto, pull, monitoring or none\n", depth)
		return exitUsage
	}
	st, err := store.New(ctx, project)
	if err != nil {
		fmt.Fprintf(stderr, "operator status: %v\n", ops.Reach(ctx, ops.ServiceFirestore, project, err))
		return exitFailure
	}
	defer st.Close()
	s, err := ops.ReadStatus(ctx, st, clock.FromEnv().Now(), pollInterval)
	if err != nil {
		fmt.Fprintf(stderr, "operator status: %v\n", ops.Reach(ctx, ops.ServiceFirestore, project, err))
		return exitFailure
	}

	topo := eventing.Topology(prefix)
	if depth == "auto" {
		depth = ops.DepthByMonitoring
		if os.Getenv("PUBSUB_EMULATOR_HOST") != "" {
			depth = ops.DepthByPull
		}
	}
	var dlqs []string
	for _, sub := range topo {
		dlqs = append(dlqs, sub.DeadLetterSubscription())
	}
	// A depth that could not be read is shown as unknown, and the command
	// fails after printing the rest.
	var depthErr error
	switch depth {
	case ops.DepthByPull:
		client, err := pubsub.NewClient(ctx, project)
		if err != nil {
			fmt.Fprintf(stderr, "operator status: connecting to Pub/Sub: %v\n", ops.Reach(ctx, ops.ServicePubSub, project, err))
			return exitFailure
		}
		defer client.Close()
		// The subscriptions are counted at once; each count waits up to
		// PullWait for its subscription to drain.
		q := &ops.DeadLetterQueues{Client: client, Project: project, Topology: topo, PullWait: min(2*time.Second, timeout/3)}
		s.DeadLetters, depthErr = q.PullDepths(ctx, dlqs)
	case ops.DepthByMonitoring:
		s.DeadLetters, depthErr = ops.MonitoringDepths(ctx, project, dlqs)
		if depthErr != nil && len(s.DeadLetters) == 0 {
			fmt.Fprintf(stderr, "operator status: %v\n", depthErr)
			return exitFailure
		}
	}

	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(jsonStatus(s))
	} else {
		printStatus(stdout, s)
	}
	if depthErr != nil {
		fmt.Fprintf(stderr, "operator status: %v\n", depthErr)
		return exitFailure
	}
	if needsAttention(s) {
		return exitAttention
	}
	return exitOK
}

// needsAttention reports whether an operator should look: a mapping
// stuck, failing, given up or out of sync, a poller failing or stale, the
// CRM's API usage near its limit, or a dead-lettered message (see
// ops.Status.Attention).
func needsAttention(s ops.Status) bool { return len(s.Attention()) > 0 }

// jsonStatus renders durations as strings ("1h2m3s") for people reading
// the JSON, and seconds for programs.
func jsonStatus(s ops.Status) any {
	type outOfSync struct {
		ops.OutOfSync
		Lag              string  `json:"lag"`
		LagSeconds       float64 `json:"lagSeconds"`
		Tolerance        string  `json:"tolerance"`
		ToleranceSeconds float64 `json:"toleranceSeconds"`
	}
	type poller struct {
		ops.PollerStatus
		HeartbeatAge        string  `json:"heartbeatAge,omitempty"`
		HeartbeatAgeSeconds float64 `json:"heartbeatAgeSeconds,omitempty"`
	}
	type stuck struct {
		ops.Stuck
		Age        string  `json:"age"`
		AgeSeconds float64 `json:"ageSeconds"`
	}
	out := struct {
		// Attention is what needs looking at, one phrase each; empty
		// when all is well (and the exit status is 0).
		Attention []string `json:"attention"`
		ops.Status
		Pollers   []poller    `json:"pollers"`
		OutOfSync []outOfSync `json:"outOfSync"`
		Stuck     []stuck     `json:"stuck"`
	}{Attention: s.Attention(), Status: s, Pollers: []poller{}, OutOfSync: []outOfSync{}, Stuck: []stuck{}}
	if out.Attention == nil {
		out.Attention = []string{}
	}
	for _, x := range s.Stuck {
		out.Stuck = append(out.Stuck, stuck{Stuck: x, Age: x.Age.Round(time.Second).String(), AgeSeconds: x.Age.Seconds()})
	}
	for _, p := range s.Pollers {
		jp := poller{PollerStatus: p}
		if !p.Heartbeat.IsZero() {
			jp.HeartbeatAge, jp.HeartbeatAgeSeconds = p.HeartbeatAge.Round(time.Second).String(), p.HeartbeatAge.Seconds()
		}
		out.Pollers = append(out.Pollers, jp)
	}
	for _, o := range s.OutOfSync {
		out.OutOfSync = append(out.OutOfSync, outOfSync{OutOfSync: o,
			Lag: o.Lag.Round(time.Second).String(), LagSeconds: o.Lag.Seconds(),
			Tolerance: o.Tolerance.String(), ToleranceSeconds: o.Tolerance.Seconds()})
	}
	return out
}

func printStatus(w io.Writer, s ops.Status) {
	fmt.Fprintf(w, "casebridge status at %s\n", s.Now.UTC().Format(time.RFC3339))
	if a := s.Attention(); len(a) > 0 {
		fmt.Fprintf(w, "ATTENTION: %s\n\n", strings.Join(a, "; "))
	} else {
		fmt.Fprint(w, "attention: none, all is well\n\n")
	}
	m := s.Mappings
	fmt.Fprintf(w, "mappings: %d open, %d resolved (%d not yet linked, %d with a change waiting to sync)\n\n", m.Open, m.Resolved, m.Unlinked, m.Pending)

	fmt.Fprintln(w, "pollers:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  SIDE\tLAST POLLED (WATERMARK)\tHEARTBEAT\tAGE\tSTATE")
	for _, p := range s.Pollers {
		state, age := "ok", "-"
		if p.Stale {
			state = "STALE"
		}
		if !p.Heartbeat.IsZero() {
			age = p.HeartbeatAge.Round(time.Second).String()
		} else {
			state = "NEVER POLLED"
		}
		if p.Failing {
			state = "FAILING since " + formatTime(p.FailingSince)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", p.Side, formatTime(p.LastPolledAt), formatTime(p.Heartbeat), age, state)
	}
	tw.Flush()
	fmt.Fprintln(w, s.APIUsageLine())
	fmt.Fprintln(w)

	printDelivery(w, s)

	if len(s.OutOfSync) == 0 {
		fmt.Fprintln(w, "out of sync: none")
	} else {
		fmt.Fprintf(w, "out of sync: %d mapping(s)\n", len(s.OutOfSync))
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  MAPPING\tGOOGLE CASE\tCRM CASE\tPRIORITY\tLAG\tTOLERANCE\tWAITING SIDE")
		for _, o := range s.OutOfSync {
			var waiting []string
			if o.GooglePending {
				waiting = append(waiting, "google")
			}
			if o.CompanyPending {
				waiting = append(waiting, "company")
			}
			if len(waiting) == 0 {
				waiting = append(waiting, "-")
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", o.MappingID, o.GoogleCase, o.CompanyCaseID, o.PriorityName,
				o.Lag.Round(time.Second), o.Tolerance, strings.Join(waiting, ","))
		}
		tw.Flush()
	}
	fmt.Fprintln(w)

	if len(s.OutageFlags) == 0 {
		fmt.Fprintln(w, "outage comments posted: none")
	} else {
		fmt.Fprintf(w, "outage comments posted: %d mapping(s)\n", len(s.OutageFlags))
		for _, f := range s.OutageFlags {
			var sides []string
			if f.SentToGoogle {
				sides = append(sides, "google")
			}
			if f.SentToCompany {
				sides = append(sides, "company")
			}
			fmt.Fprintf(w, "  %s  (%s / %s)  on %s\n", f.MappingID, f.GoogleCase, f.CompanyCaseID, strings.Join(sides, " and "))
		}
	}
	fmt.Fprintln(w)

	printRefusals(w, s)

	if len(s.DeadLetters) == 0 {
		fmt.Fprintln(w, "dead letters: not counted")
		return
	}
	fmt.Fprintln(w, "dead letters:")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  SUBSCRIPTION\tMESSAGES\tCOUNTED BY")
	for _, d := range s.DeadLetters {
		n := fmt.Sprint(d.Messages)
		if d.Error != "" {
			n = "? (" + d.Error + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", d.Subscription, n, d.Method)
	}
	tw.Flush()
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

func resync(ctx context.Context, project, prefix, googleCase, crmCase, mapping string, stdout, stderr io.Writer) int {
	var ref casesync.CaseRef
	n := 0
	if googleCase != "" {
		n++
		ref = casesync.CaseRef{Side: casesync.SideGoogle, ID: googleCase}
	}
	if crmCase != "" {
		n++
		ref = casesync.CaseRef{Side: casesync.SideCompany, ID: crmCase}
	}
	if mapping != "" {
		n++
		ref = casesync.CaseRef{MappingID: mapping}
	}
	if n != 1 {
		fmt.Fprintln(stderr, "operator resync: name exactly one case: --google-case NAME, --crm-case ID or --mapping ID")
		return exitUsage
	}
	if googleCase != "" && casesync.CaseNumber(googleCase) == "" {
		fmt.Fprintf(stderr, "operator resync: --google-case is %q: give the full case name, e.g. projects/my-project/cases/12345\n", googleCase)
		return exitUsage
	}
	// The mapping is read first: a mapping id that does not exist would
	// only be logged and dropped by SyncCase, so that is said now; and a
	// mapping the sweep gave up on is started again here, or its next
	// failure would give up at once.
	st, err := store.New(ctx, project)
	if err != nil {
		fmt.Fprintf(stderr, "operator resync: %v\n", ops.Reach(ctx, ops.ServiceFirestore, project, err))
		return exitFailure
	}
	m, err := mappingOf(ctx, st, ref)
	if err == nil {
		m, err = restartGivenUp(ctx, st, m, clock.FromEnv().Now())
	}
	restarted := m
	st.Close()
	if casesync.IsNotFound(err) && mapping != "" {
		fmt.Fprintf(stderr, "operator resync: there is no mapping %q (see operator status)\n", mapping)
		return exitFailure
	}
	if err != nil {
		fmt.Fprintf(stderr, "operator resync: %v\n", ops.Reach(ctx, ops.ServiceFirestore, project, err))
		return exitFailure
	}
	if !restarted.GaveUpAt.IsZero() {
		fmt.Fprintf(stdout, "mapping %s had been given up at %s after %d attempts; cleared, the sweep asks for it again at its next poll\n",
			restarted.ID, formatTime(restarted.GaveUpAt), restarted.Attempts)
	}
	what := "mapping " + ref.MappingID
	if ref.ID != "" {
		what = string(ref.Side) + " case " + ref.ID
	}
	if ref.ID != "" && m.ID != "" {
		// A message naming a case announces a change on that side, and a
		// reconciliation may take the other side's case to be as the
		// mapping last saw it; naming the mapping has both cases read.
		what += " (mapping " + m.ID + ")"
		ref = casesync.CaseRef{MappingID: m.ID}
	}
	body, err := eventing.EncodeCaseRef(ref)
	if err != nil {
		fmt.Fprintf(stderr, "operator resync: encoding the sync-requested message: %v\n", err)
		return exitFailure
	}
	client, err := pubsub.NewClient(ctx, project)
	if err != nil {
		fmt.Fprintf(stderr, "operator resync: connecting to Pub/Sub: %v\n", ops.Reach(ctx, ops.ServicePubSub, project, err))
		return exitFailure
	}
	defer client.Close()
	topic := prefix + eventing.TopicSyncRequested
	pub := client.Publisher(topic)
	// The publisher retries on its own clock (a minute by default) and Stop
	// waits for it: keep both inside the command's time.
	if dl, ok := ctx.Deadline(); ok {
		pub.PublishSettings.Timeout = max(time.Until(dl), time.Millisecond)
	}
	defer pub.Stop()
	if _, err := pub.Publish(ctx, &pubsub.Message{Data: body}).Get(ctx); err != nil {
		fmt.Fprintf(stderr, "operator resync: %v\n", ops.Reach(ctx, ops.ServicePubSub, project, fmt.Errorf("publishing sync-requested on %s: %w", topic, err)))
		return exitFailure
	}
	fmt.Fprintf(stdout, "published sync-requested for %s on %s\n", what, topic)
	return exitOK
}

// printRefusals lists what casebridge refused to link or copy, newest first.
func printRefusals(w io.Writer, s ops.Status) {
	if len(s.Refusals) == 0 {
		fmt.Fprintln(w, "refused links: none")
		fmt.Fprintln(w)
		return
	}
	more := ""
	if s.RefusalsMore {
		more = fmt.Sprintf(", the %d most recent shown", len(s.Refusals))
	}
	fmt.Fprintf(w, "refused links: %d case(s)%s\n", len(s.Refusals), more)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  SIDE\tCASE\tKIND\tTIMES\tLAST\tREASON")
	for _, f := range s.Refusals {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\t%s\n", f.Side, f.CaseID, f.Kind, f.Count, formatTime(f.Last), f.Reason)
	}
	tw.Flush()
	fmt.Fprintln(w)
}

// printDelivery lists the stuck, failing and given-up mappings, each list
// oldest first and cut to ops.MaxMappingsShown.
func printDelivery(w io.Writer, s ops.Status) {
	if s.Mappings.Stuck == 0 {
		fmt.Fprintf(w, "stuck: none (no change has waited %s for a sync that is not running)\n\n", ops.StuckAfter)
	} else {
		fmt.Fprintf(w, "stuck: %d mapping(s)%s with a change that has waited %s or more for a sync that is not running\n", s.Mappings.Stuck, shown(len(s.Stuck), s.Mappings.Stuck, "oldest"), ops.StuckAfter)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  MAPPING\tGOOGLE CASE\tCRM CASE\tWAITING SIDE\tSINCE\tAGE\tNEXT ASKED\tLAST ERROR")
		for _, x := range s.Stuck {
			sides := make([]string, len(x.Sides))
			for i, sd := range x.Sides {
				sides[i] = string(sd)
			}
			next := formatTime(x.DueAt)
			switch {
			case x.DueAt.IsZero():
				next = "not scheduled"
			case !x.DueAt.After(s.Now):
				next = "overdue, at the next poll"
			}
			if x.LeaseExpired {
				next += " (lease expired)"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.MappingID, orDash(x.GoogleCase), orDash(x.CompanyCaseID), strings.Join(sides, ","),
				formatTime(x.Since), x.Age.Round(time.Second), next, oneLine(x.LastError))
		}
		tw.Flush()
		fmt.Fprintln(w)
	}

	if s.Mappings.Failing == 0 {
		fmt.Fprint(w, "failing: none\n\n")
	} else {
		fmt.Fprintf(w, "failing: %d mapping(s)%s whose syncs fail and are retried\n", s.Mappings.Failing, shown(len(s.Failing), s.Mappings.Failing, "longest failing"))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  MAPPING\tGOOGLE CASE\tCRM CASE\tATTEMPTS\tFAILING SINCE\tNEXT TRY\tLAST ERROR")
		for _, x := range s.Failing {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\t%s\t%s\n", x.MappingID, orDash(x.GoogleCase), orDash(x.CompanyCaseID), x.Attempts,
				formatTime(x.FailingSince), formatTime(x.NextTry), oneLine(x.LastError))
		}
		tw.Flush()
		fmt.Fprintln(w)
	}

	if s.Mappings.GivenUp == 0 {
		fmt.Fprint(w, "given up: none\n\n")
		return
	}
	fmt.Fprintf(w, "given up: %d mapping(s)%s whose counterpart could not be created; nothing retries them until\n", s.Mappings.GivenUp, shown(len(s.GivenUp), s.Mappings.GivenUp, "oldest"))
	fmt.Fprintln(w, "  the cause is fixed and \"operator resync --mapping <id>\" starts them again")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  MAPPING\tGOOGLE CASE\tCRM CASE\tGAVE UP\tFAILING SINCE\tATTEMPTS\tLAST ERROR")
	for _, x := range s.GivenUp {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%d\t%s\n", x.MappingID, orDash(x.GoogleCase), orDash(x.CompanyCaseID),
			formatTime(x.GaveUpAt), formatTime(x.FailingSince), x.Attempts, oneLine(x.LastError))
	}
	tw.Flush()
	fmt.Fprintln(w)
}

// shown says how many of n a list shows, when it shows fewer.
func shown(listed, n int, which string) string {
	if listed >= n {
		return ""
	}
	return fmt.Sprintf(" (the %d %s shown)", listed, which)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine keeps a stored error on one table row: control characters
// become spaces.
func oneLine(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// errNotGivenUp leaves a mapping unwritten: it was not given up after all.
var errNotGivenUp = errors.New("the mapping is not given up")

// restartGivenUp reads the mapping ref names and, if the sweep gave up on
// it, clears the give-up and the run of failures behind it and makes it
// due now, so that the sweep asks for it even if the sync-requested
// command is lost, and its next failure starts a new run of retries. It
// returns the mapping as it was when it was given up (zero GaveUpAt when
// it was not, or when a case has no mapping yet). Only a given-up mapping
// is written. ErrNotFound when ref names a mapping id that does not exist.
// mappingOf reads the mapping ref names, or the mapping holding its case
// (zero when the case has none).
func mappingOf(ctx context.Context, st *store.Store, ref casesync.CaseRef) (casesync.Mapping, error) {
	if ref.MappingID != "" {
		m, err := st.GetMapping(ctx, ref.MappingID)
		if err != nil {
			return casesync.Mapping{}, fmt.Errorf("reading mapping %s: %w", ref.MappingID, err)
		}
		return m, nil
	}
	found, err := st.LookupMappings(ctx, ref.Side, []string{ref.ID})
	if err != nil {
		return casesync.Mapping{}, fmt.Errorf("looking up the mapping of %s case %s: %w", ref.Side, ref.ID, err)
	}
	return found[ref.ID], nil
}

// restartGivenUp clears m's given-up state, if it has one, and returns m as
// it was; m unchanged when it was not given up.
func restartGivenUp(ctx context.Context, st *store.Store, m casesync.Mapping, now time.Time) (casesync.Mapping, error) {
	if m.GaveUpAt.IsZero() {
		return m, nil
	}
	var was casesync.Mapping
	_, err := st.UpdateMapping(ctx, m.ID, func(x *casesync.Mapping) error {
		was = *x
		if x.GaveUpAt.IsZero() {
			return errNotGivenUp
		}
		x.GaveUpAt, x.Attempts, x.FailingSince = time.Time{}, 0, time.Time{}
		x.DueAt = now
		return nil
	})
	if errors.Is(err, errNotGivenUp) {
		// Another resync, or a sync that succeeded, got there first.
		was.GaveUpAt = time.Time{}
		return was, nil
	}
	if err != nil {
		return casesync.Mapping{}, fmt.Errorf("restarting given-up mapping %s: %w", m.ID, err)
	}
	return was, nil
}
