package main

// The --outage-campaign mode: simulator outages of growing length acted out
// on the running sandbox (localstack.Stack.RunOutage), each measured in
// polls from recovery to convergence, with what was lost or doubled.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/casebridge/casebridge/shared/localstack"
)

// campaignPollEvery is the poll tick of a campaign unless --poll-every is
// given: the catch-up after an outage takes 2 to 5 s of work on the
// emulators, and a shorter tick would count the machine's speed in polls.
const campaignPollEvery = 5 * time.Second

var (
	campaignRequested bool
	campaignOutages   = flag.String("outages", "30s,2m,15m", "with --outage-campaign: the outage lengths, comma-separated")
	campaignTargets   = flag.String("outage-targets", "crm,csapi", "with --outage-campaign: the simulators taken down, comma-separated (crm, csapi)")
)

func init() {
	flag.BoolFunc("outage-campaign", "take the CRM and CSAPI simulators down in turn for each of --outages while people keep working "+
		"on both sides, and print, per outage, how many polls after recovery everything converged and whether anything was lost or "+
		"doubled; exit status 1 if an outage did not heal within two polls. Polls every 5 s unless --poll-every is given; prints "+
		"its own lines instead of the functions'", setCampaign)
	registerMode(func() bool { return campaignRequested }, runCampaign)
}

func setCampaign(v string) error {
	on, err := strconv.ParseBool(v)
	if err != nil {
		return err
	}
	campaignRequested = on
	if !on {
		return nil
	}
	given := flagsGiven()
	if !given["poll-every"] {
		if err := flag.CommandLine.Set("poll-every", campaignPollEvery.String()); err != nil {
			return err
		}
	}
	return followFunctionLines("outage-campaign", given)
}

// followFunctionLines prepares a mode that follows the functions' INFO
// lines (each delivery's outcome) and prints its own lines instead of
// theirs. given holds the flags set so far.
func followFunctionLines(mode string, given map[string]bool) error {
	if given["log-level"] || given["raw-logs"] {
		return fmt.Errorf("--%s follows the functions' INFO lines and prints its own: leave out --log-level and --raw-logs", mode)
	}
	hideFunctionLogs = true
	return flag.CommandLine.Set("log-level", "info")
}

// flagsGiven returns the names of the flags set so far.
func flagsGiven() map[string]bool {
	given := map[string]bool{}
	flag.CommandLine.Visit(func(f *flag.Flag) { given[f.Name] = true })
	return given
}

type campaignOutage struct {
	target localstack.OutageTarget
	down   time.Duration
}

// parseCampaign reads --outages and --outage-targets: every length for
// every target, shortest first.
func parseCampaign(outages, targets string) ([]campaignOutage, error) {
	var downs []time.Duration
	for _, s := range strings.Split(outages, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("--outages: %q is not a positive duration", s)
		}
		downs = append(downs, d)
	}
	var ts []localstack.OutageTarget
	for _, s := range strings.Split(targets, ",") {
		t := localstack.OutageTarget(strings.TrimSpace(s))
		if t != localstack.OutageCRM && t != localstack.OutageCSAPI {
			return nil, fmt.Errorf("--outage-targets: %q is neither %s nor %s", s, localstack.OutageCRM, localstack.OutageCSAPI)
		}
		ts = append(ts, t)
	}
	var out []campaignOutage
	for _, d := range downs {
		for _, t := range ts {
			out = append(out, campaignOutage{target: t, down: d})
		}
	}
	return out, nil
}

func runCampaign(ctx context.Context, st *localstack.Stack, out io.Writer) error {
	plan, err := parseCampaign(*campaignOutages, *campaignTargets)
	if err != nil {
		return err
	}
	if st.CRM == nil {
		return errors.New("--outage-campaign takes the CRM simulator down: leave out --crm rt")
	}
	if st.PollEvery() <= 0 {
		return errors.New("--outage-campaign needs the sandbox's poll ticks: give --poll-every a positive duration")
	}
	say := func(format string, args ...any) { fmt.Fprintf(out, "campaign: "+format+"\n", args...) }
	say("%d outage(s), polls every %s", len(plan), st.PollEvery())
	var results []localstack.OutageResult
	for _, p := range plan {
		say("")
		say("--> the %s simulator down for %s", p.target, p.down)
		res, err := st.RunOutage(ctx, localstack.Outage{
			Target:   p.target,
			Down:     p.down,
			Progress: func(line string) { say("    %s", line) },
		})
		if err != nil {
			return fmt.Errorf("the %s outage of %s: %w", p.target, p.down, err)
		}
		say("    %s", res)
		for _, l := range res.Lost() {
			say("    LOST %s", l)
		}
		for _, d := range res.Doubled() {
			say("    DOUBLED %s", d)
		}
		results = append(results, res)
	}
	return reportCampaign(out, results)
}

// reportCampaign prints the table and the verdict; it fails if an outage
// did not heal.
func reportCampaign(out io.Writer, results []localstack.OutageResult) error {
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "outage\tdown\tconverged after\tpolls\tlost\tdoubled\tfailed messages\tlate redeliveries\tdead-lettered (settled)\tsync runs\thealed")
	failed := 0
	for _, r := range results {
		conv := fmt.Sprintf("%.1f s", r.Took.Seconds())
		if !r.Converged {
			conv = "never (" + conv + ")"
		}
		healed := "yes"
		if !r.Healed() {
			healed, failed = "NO", failed+1
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d (%d)\t%d\t%s\n", r.Target, r.Down, conv, r.Polls,
			len(r.Lost()), len(r.Doubled()), r.FailedMessages, r.LateDeliveries, r.DeadLettered, r.Settled, r.Runs, healed)
	}
	tw.Flush()
	fmt.Fprintf(out, "campaign: %d of %d outages healed within two polls, nothing lost or doubled, every dead-lettered message settled\n", len(results)-failed, len(results))
	if failed > 0 {
		return fmt.Errorf("%d outage(s) did not heal", failed)
	}
	return nil
}
