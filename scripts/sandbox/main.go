// Command sandbox runs casebridge locally: the Firestore and Pub/Sub
// emulators, the CSAPI simulator, the CRM simulator, the Zendesk, Jira
// Service Management or ServiceNow simulator (--crm zendesk|jira|servicenow)
// or (--crm rt) a real Request Tracker, every function behind the same push subscriptions as
// production, and a ticker in place of Cloud Scheduler. It prints the
// endpoints as KEY=value lines, then what the functions do, until SIGINT or
// SIGTERM, and stops everything.
//
//	go run ./scripts/sandbox [--crm simulator|rt|zendesk|jira|servicenow] [--poll-every 2s] [--detect-outages-every 30s]
//	    [--cleanup-every 60s] [--events=true|false] [--crm-webhooks=true|false] [--endpoints-file FILE]
//	    [--log-level info] [--raw-logs]
//
// With --events (the default) changes flow as events from both sides, and
// arrive in seconds without waiting for a poll: the CSAPI simulator
// publishes its support events, as the Cloud Support API does once
// Terraform has created the organization's subscription, for GoogleEvents;
// and the CRM sends signed webhooks to CRMWebhook (CRM_WEBHOOK_URL), set up
// as the helpdesk's administrator would with a secret the sandbox makes.
// Polling stays on as the safety net. --events=false leaves polling only;
// --crm-webhooks=false turns the CRM's webhooks off alone.
//
// Exit status: 0 after a clean stop, 1 on failure, 2 when an emulator (or
// the Cloud SDK or Java) or, with --crm rt, Request Tracker is missing, with
// the instructions to install it.
//
// Other files of this package may add modes (e.g. a scripted demo): see
// registerMode.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/casebridge/casebridge/shared/emulators"
	"github.com/casebridge/casebridge/shared/localstack"
	"github.com/casebridge/casebridge/shared/rt/rttest"
)

// mode is a way to use the running stack other than waiting for a signal.
type mode struct {
	// enabled reports, after flag parsing, whether the mode was asked for.
	enabled func() bool
	// run uses the stack; the sandbox stops everything when it returns.
	// ctx ends on SIGINT or SIGTERM.
	run func(ctx context.Context, st *localstack.Stack, out io.Writer) error
}

var modes []mode

// hideFunctionLogs keeps the functions' lines off the output, for a mode
// that prints its own.
var hideFunctionLogs bool

// registerMode adds a mode; call it from an init function that also
// defines the mode's flag on flag.CommandLine (e.g. --demo).
func registerMode(enabled func() bool, run func(ctx context.Context, st *localstack.Stack, out io.Writer) error) {
	modes = append(modes, mode{enabled: enabled, run: run})
}

func main() {
	var (
		pollEvery     = flag.Duration("poll-every", 2*time.Second, "how often the pollers are ticked (negative: never)")
		outageEvery   = flag.Duration("detect-outages-every", 30*time.Second, "how often outage detection is ticked (negative: never)")
		cleanupEvery  = flag.Duration("cleanup-every", 60*time.Second, "how often cleanup is ticked (negative: never)")
		endpointsFile = flag.String("endpoints-file", "", "also write the KEY=value endpoint lines to this file")
		logLevel      = flag.String("log-level", "info", "LOG_LEVEL of the functions: debug, info, warning or error")
		rawLogs       = flag.Bool("raw-logs", false, "print the functions' JSON log lines as they are")
		events        = flag.Bool("events", true, "events from both sides: the CSAPI simulator publishes support events to GoogleEvents and the CRM sends webhooks to CRMWebhook (false: changes arrive by polling only)")
		crmWebhooks   = flag.Bool("crm-webhooks", true, "with --events, the CRM sends webhooks to CRMWebhook (false: CRM changes arrive by polling only)")
		crm           = flag.String("crm", localstack.CRMSimulator, "the CRM casebridge talks to: "+localstack.CRMSimulator+
			" (the in-process CRM simulator), "+localstack.CRMZendesk+", "+localstack.CRMJira+" (or jirasm) or "+localstack.CRMServiceNow+
			" (that vendor's simulator, set up as its administrator would, webhooks included), "+localstack.CRMFreshdesk+
			" (Freshdesk's simulator, its webhooks from automation rules), "+localstack.CRMSalesforce+
			" (Salesforce's simulator, its webhooks from Apex), or "+localstack.CRMRequestTracker+
			" (a throw-away real Request Tracker 5 on real time; install it with scripts/rt.sh install)")
	)
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *crm == "jirasm" {
		*crm = localstack.CRMJira // the adapter's package name
	}
	switch *crm {
	case localstack.CRMSimulator, localstack.CRMRequestTracker, localstack.CRMZendesk, localstack.CRMJira, localstack.CRMServiceNow,
		localstack.CRMFreshdesk, localstack.CRMSalesforce:
	default:
		fmt.Fprintf(os.Stderr, "sandbox: --crm is %q: use %s, %s, %s, %s, %s, %s or %s\n", *crm, localstack.CRMSimulator,
			localstack.CRMRequestTracker, localstack.CRMZendesk, localstack.CRMJira, localstack.CRMServiceNow, localstack.CRMFreshdesk,
			localstack.CRMSalesforce)
		os.Exit(1)
	}
	err := run(ctx, os.Stdout, localstack.Options{
		CRM:                *crm,
		PollEvery:          *pollEvery,
		DetectOutagesEvery: *outageEvery,
		CleanupEvery:       *cleanupEvery,
		NoSupportEvents:    !*events,
		NoCRMWebhooks:      !*crmWebhooks,
		Env:                map[string]string{"LOG_LEVEL": *logLevel},
	}, *endpointsFile, *rawLogs)
	switch {
	case err == nil:
	case errors.Is(err, emulators.ErrNotInstalled), errors.Is(err, rttest.ErrNotInstalled):
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, opts localstack.Options, endpointsFile string, raw bool) (err error) {
	what := "emulators, simulators, functions"
	switch opts.CRM {
	case localstack.CRMRequestTracker:
		what = "emulators, CSAPI simulator, Request Tracker, functions"
	case localstack.CRMZendesk, localstack.CRMJira, localstack.CRMServiceNow, localstack.CRMFreshdesk, localstack.CRMSalesforce:
		what = "emulators, CSAPI simulator, " + opts.CRM + " simulator, functions"
	}
	fmt.Fprintf(out, "# starting the casebridge sandbox (%s)...\n", what)
	st, err := localstack.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(out, "# stopping...")
		if serr := st.Stop(); serr != nil && err == nil {
			err = fmt.Errorf("stopping the sandbox: %w", serr)
		}
		if err == nil {
			fmt.Fprintln(out, "# stopped; nothing left running")
		}
	}()

	lines := endpointLines(st.Endpoints())
	fmt.Fprint(out, lines)
	if st.RT != nil {
		fmt.Fprintf(out, "# Request Tracker: log in at %s as root, with the password in %s/root-password;\n"+
			"# CRM_URL is the same RT behind the sandbox's outage switch. Its clock is real time.\n", st.RT.URL, st.RT.Dir)
	}
	fmt.Fprintln(out, eventsLine(st))
	if endpointsFile != "" {
		if err := os.WriteFile(endpointsFile, []byte(lines), 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", endpointsFile, err)
		}
	}

	logs, unsubscribe := st.SubscribeLogs()
	defer unsubscribe()
	go func() {
		for l := range logs {
			if hideFunctionLogs {
				continue
			}
			if raw {
				fmt.Fprintln(out, l.Raw)
			} else if s := Condense(l); s != "" {
				fmt.Fprintln(out, s)
			}
		}
	}()

	var chosen []mode
	for _, m := range modes {
		if m.enabled() {
			chosen = append(chosen, m)
		}
	}
	switch len(chosen) {
	case 0:
	case 1:
		return chosen[0].run(ctx, st, out)
	default:
		return errors.New("give one of --demo, --outage-campaign and --burst-campaign, not more")
	}
	fmt.Fprintln(out, "# running; press Ctrl-C to stop")
	<-ctx.Done()
	return nil
}

// eventsLine says, as a comment line, where events come from.
func eventsLine(st *localstack.Stack) string {
	google := "Google changes arrive by polling only"
	if st.SupportEventSubscription() != "" {
		google = "the CSAPI simulator publishes support events to GoogleEvents"
	}
	crm := "CRM changes arrive by polling only"
	switch {
	case st.CRMWebhooks() && st.RT != nil:
		crm = "Request Tracker's scrip sends webhooks to CRM_WEBHOOK_URL (it signs them by real time: once the clock is moved, the poll carries its changes)"
	case st.CRMWebhooks() && st.Zendesk != nil:
		crm = "the Zendesk simulator sends its event webhooks to CRM_WEBHOOK_URL"
	case st.CRMWebhooks() && st.Jira != nil:
		crm = "the Jira simulator sends its admin webhooks to CRM_WEBHOOK_URL"
	case st.CRMWebhooks() && st.ServiceNow != nil:
		crm = "the ServiceNow simulator's business rule sends webhooks to CRM_WEBHOOK_URL"
	case st.CRMWebhooks() && st.Salesforce != nil:
		crm = "the Salesforce simulator's Apex sends webhooks to CRM_WEBHOOK_URL"
	case st.CRMWebhooks() && st.Freshdesk != nil:
		crm = "the Freshdesk simulator's automation rules send webhooks to CRM_WEBHOOK_URL"
	case st.CRMWebhooks():
		crm = "the CRM simulator sends webhooks to CRM_WEBHOOK_URL"
	}
	return "# events: " + google + "; " + crm + "; polls stay on as the safety net"
}

// endpointLines renders the endpoints as sorted KEY=value lines.
func endpointLines(eps map[string]string) string {
	keys := make([]string, 0, len(eps))
	for k := range eps {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, eps[k])
	}
	return b.String()
}

// Condense renders one functions log line on one short line:
// "15:04:05 INFO    SyncCase  case reconciled caseSide=google ...". Plain
// lines (functions-framework's own) are returned as they are; lines it
// has nothing to say about give "".
func Condense(l localstack.LogLine) string {
	if l.Fields == nil {
		return strings.TrimSpace(l.Raw)
	}
	ts := "--:--:--"
	if t, err := time.Parse(time.RFC3339Nano, l.Str("timestamp")); err == nil {
		ts = t.Local().Format("15:04:05")
	}
	var extra []string
	keys := make([]string, 0, len(l.Fields))
	for k := range l.Fields {
		switch k {
		case "timestamp", "severity", "message", "function", "eventId":
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		extra = append(extra, fmt.Sprintf("%s=%v", k, l.Fields[k]))
	}
	s := fmt.Sprintf("%s %-8s %-13s %s", ts, l.Severity(), l.Str("function"), l.Message())
	if len(extra) > 0 {
		s += "  " + strings.Join(extra, " ")
	}
	return s
}
