// Command deadletter lists, inspects, replays and purges the messages
// casebridge's functions could not handle: those Pub/Sub moved to the
// dead-letter topics after the last retry.
//
//	go run ./scripts/deadletter list    [--project P] [--prefix X] [--subscription S]... [--limit N] [--json] [--timeout D]
//	go run ./scripts/deadletter inspect --id ID[,ID...] [...]
//	go run ./scripts/deadletter replay  [--id ID[,ID...]] [--as original|sync-requested] [...]
//	go run ./scripts/deadletter purge   [--id ID[,ID...]] [--settled] --yes [...]
//
// list and inspect never remove a message: what they pull is handed back
// (nacked) before they exit. replay republishes each message on its
// original topic, or as a sync-requested command for its case, and
// acknowledges the dead-lettered copy only after the republication was
// accepted. purge acknowledges, which deletes, and needs --yes; with
// --settled it deletes only the settled messages and keeps every other.
//
// list and inspect show each message's last error, which the functions
// record in Firestore (deliveryFailures) when an attempt fails, when that
// record belongs to the message; otherwise "unknown", with the Cloud Logging
// filter that finds the failed attempts.
//
// list and inspect also say whether each message is settled: whether what it
// asked for has been done since by other means, read from the mappings and
// the pollers' heartbeats in Firestore. After a long outage the mappings
// heal by themselves (the pollers' sweep asks again for every mapping whose
// reconciliation failed), so most of what was dead-lettered meanwhile no
// longer matters: a case message is settled when its mapping has no failure
// outstanding and has reconciled the case since (past the message's update
// time, or completely after the message was published), a poll tick when
// its poller has succeeded since, a support event when each case it names
// was read by a completed reconciliation since it was published (or, for a
// case without a mapping, an event naming no case or one read incompletely,
// the Google poller has succeeded since). A message is settled only when
// that is known; purge --settled --yes deletes those.
//
// It talks to the Pub/Sub and Firestore emulators when PUBSUB_EMULATOR_HOST
// and FIRESTORE_EMULATOR_HOST are set, else to Google Cloud with
// application default credentials (gcloud auth application-default login);
// the caller needs roles/pubsub.subscriber on the dead-letter subscriptions,
// roles/datastore.viewer to read the last errors and the settled states
// (without it they show as unknown, and purge --settled deletes nothing)
// and, for replay, roles/pubsub.publisher on the topics.
//
// Every command waits at most --timeout (default 30 s) in all for Pub/Sub
// and Firestore (messages it holds are then handed back within 10 s more).
// When one of them cannot be reached or does not answer in that time, the
// command exits 1 with one line naming the service and where it was looked
// for (the emulator's address, or the project): it never says "no
// dead-lettered messages" unless Pub/Sub answered that.
//
// Exit status: 0 on success, 1 on failure (e.g. a message not replayed,
// Pub/Sub or Firestore not reached), 2 on a usage error.
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
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/casebridge/casebridge/shared/ops"
	"github.com/casebridge/casebridge/shared/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: deadletter <list|inspect|replay|purge> [flags]

  list      show the dead-lettered messages (nothing is removed)
  inspect   show the given messages in full (--id; nothing is removed)
  replay    republish messages, then remove them from the dead-letter subscription
  purge     delete messages for good (needs --yes; with --settled, only the
            settled ones)

A message is settled when what it asked for has been done since: after a long
outage the mappings heal by themselves, list shows which dead letters are
settled, and "deadletter purge --settled --yes" deletes those and keeps the rest.

Every command waits at most --timeout (default 30s) for Pub/Sub and Firestore,
and fails naming the one it could not reach.
Run "deadletter <command> -h" for the flags.
`

// listFlag collects a repeatable, comma-separated flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

type options struct {
	project  string
	prefix   string
	subs     listFlag
	ids      listFlag
	limit    int
	as       string
	yes      bool
	settled  bool
	json     bool
	pullWait time.Duration
	timeout  time.Duration
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd := args[0]
	switch cmd {
	case "list", "inspect", "replay", "purge":
	default:
		fmt.Fprintf(stderr, "deadletter: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	fs := flag.NewFlagSet("deadletter "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.project, "project", os.Getenv("GOOGLE_CLOUD_PROJECT"), "the project holding the Pub/Sub topics (default $GOOGLE_CLOUD_PROJECT)")
	fs.StringVar(&o.prefix, "prefix", "", "the prefix of casebridge's topic and subscription names, exactly as it precedes \"case-updated\" (e.g. \"casebridge-\"; \"\" for the local sandbox)")
	fs.Var(&o.subs, "subscription", "a dead-letter pull subscription to read (repeatable or comma-separated; default: every one of the topology)")
	fs.Var(&o.ids, "id", "message ids to act on (repeatable or comma-separated; default for list, replay, purge: all)")
	fs.IntVar(&o.limit, "limit", 100, "act on at most this many messages per run (ignored with --id; 0: no limit)")
	fs.BoolVar(&o.json, "json", false, "print JSON instead of text")
	fs.DurationVar(&o.pullWait, "pull-wait", 3*time.Second, "how long a pull waits for messages before a subscription counts as drained (unless set, at most a quarter of --timeout)")
	fs.DurationVar(&o.timeout, "timeout", ops.DefaultTimeout, "how long the whole command may wait for Pub/Sub and Firestore before it fails naming the one that did not answer (each subscription read takes up to --pull-wait of it)")
	if cmd == "replay" {
		fs.StringVar(&o.as, "as", string(ops.ReplayOriginal), "republish on the original topic (original) or as a sync-requested command for the message's case (sync-requested)")
	}
	if cmd == "purge" {
		fs.BoolVar(&o.yes, "yes", false, "really delete the messages")
		fs.BoolVar(&o.settled, "settled", false, "delete only the settled messages (see list), keeping every other")
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "deadletter %s: unexpected arguments %q\n", cmd, fs.Args())
		return 2
	}
	if o.project == "" {
		fmt.Fprintf(stderr, "deadletter %s: no project: pass --project or set GOOGLE_CLOUD_PROJECT\n", cmd)
		return 2
	}
	pullWaitSet := false
	fs.Visit(func(f *flag.Flag) { pullWaitSet = pullWaitSet || f.Name == "pull-wait" })
	if !pullWaitSet {
		// Leave time for reading several subscriptions and the last errors.
		o.pullWait = min(o.pullWait, o.timeout/4)
	}
	if o.timeout <= 0 || o.pullWait <= 0 || o.pullWait >= o.timeout {
		fmt.Fprintf(stderr, "deadletter %s: --timeout is %s and --pull-wait %s: both must be positive, and --pull-wait shorter\n", cmd, o.timeout, o.pullWait)
		return 2
	}
	if cmd == "inspect" && len(o.ids) == 0 {
		fmt.Fprintln(stderr, "deadletter inspect: name the messages with --id (see deadletter list)")
		return 2
	}
	if cmd == "replay" && o.as != string(ops.ReplayOriginal) && o.as != string(ops.ReplaySyncRequested) {
		fmt.Fprintf(stderr, "deadletter replay: --as is %q: use %s or %s\n", o.as, ops.ReplayOriginal, ops.ReplaySyncRequested)
		return 2
	}
	if cmd == "purge" && !o.yes {
		fmt.Fprintln(stderr, "deadletter purge: purging deletes messages for good; run deadletter list first, then add --yes")
		return 2
	}

	ctx, cancel := ops.WithTimeout(ctx, o.timeout)
	defer cancel()
	client, err := pubsub.NewClient(ctx, o.project)
	if err != nil {
		fmt.Fprintf(stderr, "deadletter %s: connecting to Pub/Sub: %v\n", cmd, ops.Reach(ctx, ops.ServicePubSub, o.project, err))
		return 1
	}
	defer client.Close()
	q := &ops.DeadLetterQueues{
		Client:   client,
		Project:  o.project,
		Topology: eventing.Topology(o.prefix),
		PullWait: o.pullWait,
	}
	sel := ops.Selection{IDs: o.ids, Limit: o.limit, OnlySettled: o.settled}
	emulator := os.Getenv("PUBSUB_EMULATOR_HOST") != ""

	switch cmd {
	case "list", "inspect":
		if st := openStore(ctx, o.project, emulator, stderr, "the last errors and settled states show as unknown"); st != nil {
			defer st.Close()
			q.Failures, q.Mappings = st, st
		}
		dls, err := q.List(ctx, o.subs, sel)
		if len(dls) > 0 || err == nil {
			if o.json {
				writeJSON(stdout, dls)
			} else if cmd == "list" {
				printList(stdout, dls, sel)
			} else {
				printInspect(stdout, dls, o.project, emulator)
			}
		}
		return fail(stderr, cmd, err)
	case "replay":
		res, err := q.Replay(ctx, o.subs, sel, ops.ReplayAs(o.as))
		if len(res) == 0 && err != nil {
			// Nothing was read: there is nothing to report but the error.
			return fail(stderr, cmd, err)
		}
		if o.json {
			writeJSON(stdout, res)
		} else {
			printReplay(stdout, res)
		}
		return fail(stderr, cmd, err)
	default: // purge
		if o.settled {
			if st := openStore(ctx, o.project, emulator, stderr, "no message can be judged settled, so none is purged"); st != nil {
				defer st.Close()
				q.Mappings = st
			}
		}
		purged, kept, err := q.Purge(ctx, o.subs, sel)
		if len(purged) == 0 && len(kept) == 0 && err != nil {
			return fail(stderr, cmd, err)
		}
		switch {
		case o.json && o.settled:
			writeJSON(stdout, struct {
				Purged []ops.DeadLetter `json:"purged"`
				Kept   []ops.DeadLetter `json:"kept"`
			}{orEmpty(purged), orEmpty(kept)})
		case o.json:
			writeJSON(stdout, purged)
		default:
			printPurge(stdout, purged, kept, o.settled)
		}
		return fail(stderr, cmd, err)
	}
}

// openStore opens the Firestore database where the functions record their
// failures and the mappings, or says on stderr why it cannot, with
// consequence, and returns nil.
func openStore(ctx context.Context, project string, emulator bool, stderr io.Writer, consequence string) *store.Store {
	if emulator && os.Getenv("FIRESTORE_EMULATOR_HOST") == "" {
		fmt.Fprintf(stderr, "deadletter: PUBSUB_EMULATOR_HOST is set but FIRESTORE_EMULATOR_HOST is not: %s (set it as the sandbox prints it)\n", consequence)
		return nil
	}
	st, err := store.New(ctx, project)
	if err != nil {
		fmt.Fprintf(stderr, "deadletter: Firestore cannot be read, %s: %v\n", consequence, err)
		return nil
	}
	return st
}

func orEmpty(dls []ops.DeadLetter) []ops.DeadLetter {
	if dls == nil {
		return []ops.DeadLetter{}
	}
	return dls
}

func fail(stderr io.Writer, cmd string, err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "deadletter %s: %v\n", cmd, err)
	return 1
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// describeBody is a message's content in one line: the case reference (ids
// only, never case text), the Google cases a support event names (names
// only, never the event's other text), or what kind of message it is.
func describeBody(d ops.DeadLetter) string {
	switch d.Kind {
	case ops.KindTick:
		return "scheduler tick (no case)"
	case ops.KindSupportEvent:
		s := fmt.Sprintf("support event naming no case (%d bytes)", d.Size)
		if len(d.SupportCases) > 0 {
			s = "support event naming Google case(s) " + strings.Join(d.SupportCases, ", ")
		}
		if d.SupportCasesIncomplete != "" {
			s += " (it may name more: " + d.SupportCasesIncomplete + ")"
		}
		return s
	case ops.KindMalformed:
		return fmt.Sprintf("not a case reference: %s (%d bytes)", d.Problem, d.Size)
	}
	if d.Case == nil {
		return "?"
	}
	var parts []string
	if d.Case.ID != "" {
		parts = append(parts, string(d.Case.Side)+" case "+d.Case.ID)
	}
	if d.Case.MappingID != "" {
		parts = append(parts, "mapping "+d.Case.MappingID)
	}
	if !d.Case.UpdateTime.IsZero() {
		parts = append(parts, "updated "+d.Case.UpdateTime.Format(time.RFC3339))
	}
	return strings.Join(parts, ", ")
}

func printList(w io.Writer, dls []ops.DeadLetter, sel ops.Selection) {
	if len(dls) == 0 {
		fmt.Fprintln(w, "no dead-lettered messages")
		return
	}
	more := ""
	if len(sel.IDs) == 0 && sel.Limit > 0 && len(dls) >= sel.Limit {
		more = fmt.Sprintf(" (the first %d: raise --limit to see more)", sel.Limit)
	}
	fmt.Fprintf(w, "%d dead-lettered message(s)%s\n", len(dls), more)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MESSAGE ID\tFROM SUBSCRIPTION\tDELIVERIES\tFIRST PUBLISHED\tCONTENT\tSETTLED\tLAST ERROR")
	settled := 0
	for _, d := range dls {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", d.MessageID, d.SourceSubscription, d.DeliveryCount, formatTime(d.FirstPublishTime), describeBody(d), settledWord(d), shortError(d))
		if d.Settled {
			settled++
		}
	}
	tw.Flush()
	for _, d := range dls {
		if d.LastErrorProblem != "" {
			fmt.Fprintf(w, "last errors unknown: %s\n", d.LastErrorProblem)
			break
		}
	}
	for _, d := range dls {
		if strings.Contains(d.SettledProblem, "could not be read") {
			fmt.Fprintf(w, "settled states unknown: %s\n", d.SettledProblem)
			break
		}
	}
	if settled > 0 {
		fmt.Fprintf(w, "%d settled: what they asked for has been done since; deadletter purge --settled --yes deletes them (inspect says why a message is or is not settled)\n", settled)
	}
}

// settledWord is a message's settled state in one word: yes, no (judged
// not settled) or unknown (could not be judged, or not judged).
func settledWord(d ops.DeadLetter) string {
	switch {
	case d.Settled:
		return "yes"
	case d.NotSettledBecause != "":
		return "no"
	}
	return "unknown"
}

// settledLine is a message's settled state with its reason.
func settledLine(d ops.DeadLetter) string {
	switch {
	case d.Settled:
		return "yes: " + d.SettledBy
	case d.NotSettledBecause != "":
		return "no: " + d.NotSettledBecause
	case d.SettledProblem != "":
		return "unknown: " + d.SettledProblem
	}
	return "unknown: not judged (the mappings were not read)"
}

// listErrorLen is how much of an error the list shows (inspect and --json
// show all of it).
const listErrorLen = 100

// shortError is a message's last error in one short line, with its time.
func shortError(d ops.DeadLetter) string {
	if d.LastError == ops.UnknownError {
		return d.LastError
	}
	e := strings.Join(strings.Fields(d.LastError), " ")
	if r := []rune(e); len(r) > listErrorLen {
		e = string(r[:listErrorLen-1]) + "…"
	}
	return formatTime(d.LastErrorAt) + " " + e
}

func printInspect(w io.Writer, dls []ops.DeadLetter, project string, emulator bool) {
	for i, d := range dls {
		if i > 0 {
			fmt.Fprintln(w)
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "message\t%s\n", d.MessageID)
		fmt.Fprintf(tw, "dead-letter subscription\t%s\n", d.DeadLetterSubscription)
		fmt.Fprintf(tw, "from subscription\t%s\n", d.SourceSubscription)
		fmt.Fprintf(tw, "from topic\t%s\n", orUnknown(d.SourceTopic))
		fmt.Fprintf(tw, "function\t%s\n", orUnknown(d.Function))
		fmt.Fprintf(tw, "content\t%s\n", describeBody(d))
		if d.OrderingKey != "" {
			fmt.Fprintf(tw, "ordering key\t%s\n", d.OrderingKey)
		}
		fmt.Fprintf(tw, "delivery attempts\t%d\n", d.DeliveryCount)
		fmt.Fprintf(tw, "first published\t%s\n", formatTime(d.FirstPublishTime))
		fmt.Fprintf(tw, "dead-lettered\t%s\n", formatTime(d.DeadLetteredAt))
		if d.ReplayOf != "" {
			fmt.Fprintf(tw, "replay of\t%s (it failed again after a replay)\n", d.ReplayOf)
		}
		fmt.Fprintf(tw, "settled\t%s\n", settledLine(d))
		if d.LastError == ops.UnknownError {
			why := "no failure record of this function and case was written during the message's life (none kept, expired, or overwritten by a newer message)"
			if d.Kind == ops.KindTick || d.Kind == ops.KindSupportEvent {
				why = "no failure record of this function was written during the message's life (none kept, expired, or overwritten by a newer message)"
			}
			if d.LastErrorProblem != "" {
				why = d.LastErrorProblem
			}
			fmt.Fprintf(tw, "last error\tunknown: %s; the function logged the error of every failed attempt\n", why)
		} else {
			fmt.Fprintf(tw, "last error\t%s\n", d.LastError)
			fmt.Fprintf(tw, "last error at\t%s\n", formatTime(d.LastErrorAt))
		}
		tw.Flush()
		if d.LogFilter != "" {
			if emulator {
				fmt.Fprintf(w, "  the local functions process logged the attempts: look for the lines matching %s\n", d.LogFilter)
			} else {
				fmt.Fprintf(w, "  read the attempts' errors with:\n    gcloud logging read '%s' --project %s --limit 10 --format 'value(timestamp,severity,jsonPayload.message,jsonPayload.error)'\n", d.LogFilter, project)
			}
		}
	}
}

func printPurge(w io.Writer, purged, kept []ops.DeadLetter, onlySettled bool) {
	if !onlySettled {
		fmt.Fprintf(w, "purged %d message(s)\n", len(purged))
	} else {
		fmt.Fprintf(w, "purged %d settled message(s); kept %d that are not settled or could not be judged\n", len(purged), len(kept))
	}
	for _, d := range purged {
		fmt.Fprintf(w, "  %s  %s  %s\n", d.MessageID, d.DeadLetterSubscription, describeBody(d))
		if d.Settled {
			fmt.Fprintf(w, "      settled: %s\n", d.SettledBy)
		}
	}
	if len(kept) > 0 {
		fmt.Fprintln(w, "kept:")
	}
	for _, d := range kept {
		why := "could not be judged: " + strings.TrimPrefix(settledLine(d), "unknown: ")
		if d.NotSettledBecause != "" {
			why = "not settled: " + d.NotSettledBecause
		}
		fmt.Fprintf(w, "  %s  %s  %s\n      %s\n", d.MessageID, d.DeadLetterSubscription, describeBody(d), why)
	}
}

func printReplay(w io.Writer, res []ops.Replayed) {
	ok := 0
	for _, r := range res {
		if r.Error == "" {
			ok++
		}
	}
	fmt.Fprintf(w, "replayed %d of %d message(s)\n", ok, len(res))
	for _, r := range res {
		if r.Error != "" {
			fmt.Fprintf(w, "  %s  NOT replayed (left in %s): %s\n", r.MessageID, r.DeadLetterSubscription, r.Error)
			continue
		}
		fmt.Fprintf(w, "  %s  -> %s as message %s  (%s)\n", r.MessageID, r.Topic, r.NewMessageID, describeBody(r.DeadLetter))
	}
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format(time.RFC3339)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown (not in the topology of this --prefix)"
	}
	return s
}
