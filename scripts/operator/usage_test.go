package main

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
)

// TestStatusShowsTheCRMsAPIUsage: operator status prints the API usage the
// last CRM poll recorded, in text and in JSON, and exits 3 with a warning
// once it is above 80% of the limit.
func TestStatusShowsTheCRMsAPIUsage(t *testing.T) {
	st, _ := env(t)
	ctx := t.Context()
	now := time.Now().UTC()
	polled := now.Add(-time.Minute)
	if err := st.RecordPoll(ctx, casesync.SideGoogle, polled, polled); err != nil {
		t.Fatal(err)
	}

	t.Run("with no usage recorded it says so, and all is well", func(t *testing.T) {
		if err := st.RecordPoll(ctx, casesync.SideCompany, polled, polled); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCmd(t, "status")
		if code != exitOK {
			t.Errorf("exit code %d, want %d; stdout:\n%s\nstderr: %s", code, exitOK, out, errOut)
		}
		if !strings.Contains(out, "\nCRM API usage: not known (") {
			t.Errorf("status does not say the usage is not known:\n%s", out)
		}
	})

	t.Run("Salesforce's daily usage under 80% is shown, with no warning", func(t *testing.T) {
		u := casesync.APIUsage{Used: 12345, Max: 100000, Window: casesync.APIUsageDay, At: polled}
		if err := st.RecordCompanyPollWithAPIUsage(ctx, polled, polled, u); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCmd(t, "status")
		if code != exitOK {
			t.Errorf("exit code %d, want %d; stdout:\n%s\nstderr: %s", code, exitOK, out, errOut)
		}
		line := regexp.MustCompile(`\nCRM API usage: 12,345 of 100,000 requests in the last 24 hours \(12\.3%, as of ` +
			regexp.QuoteMeta(polled.Truncate(time.Second).Format(time.RFC3339)) + `, 1m\d+s ago\)\n`)
		if !line.MatchString(out) {
			t.Errorf("status does not show the usage line:\n%s", out)
		}
	})

	t.Run("Freshdesk's minute above 80% is a warning, in text and JSON", func(t *testing.T) {
		u := casesync.APIUsage{Used: 390, Max: 400, Window: casesync.APIUsageMinute, At: polled}
		if err := st.RecordCompanyPollWithAPIUsage(ctx, polled, polled, u); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCmd(t, "status")
		if code != exitAttention {
			t.Errorf("exit code %d, want %d; stderr: %s", code, exitAttention, errOut)
		}
		if !regexp.MustCompile(`(?m)^ATTENTION: .*CRM API usage above 80% of its limit: 390 of 400 requests this minute \(1m\d+s ago\)`).MatchString(out) ||
			!strings.Contains(out, "\nCRM API usage: 390 of 400 requests this minute (97.5%, as of ") {
			t.Errorf("status does not warn of the usage:\n%s", out)
		}

		code, out, errOut = runCmd(t, "status", "--json")
		if code != exitAttention {
			t.Errorf("--json: exit code %d, want %d; stderr: %s", code, exitAttention, errOut)
		}
		var got struct {
			Attention []string `json:"attention"`
			Usage     *struct {
				Used    int64     `json:"used"`
				Max     int64     `json:"max"`
				Window  string    `json:"window"`
				At      time.Time `json:"at"`
				Percent float64   `json:"percent"`
				High    bool      `json:"high"`
			} `json:"crmApiUsage"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("status --json printed %q: %v", out, err)
		}
		if got.Usage == nil || got.Usage.Used != 390 || got.Usage.Max != 400 || got.Usage.Window != "minute" ||
			!got.Usage.At.Equal(polled.Truncate(time.Microsecond)) || got.Usage.Percent != 97.5 || !got.Usage.High {
			t.Errorf("crmApiUsage = %+v, want 390 of 400 this minute, high, at %v", got.Usage, polled)
		}
		if !slices.ContainsFunc(got.Attention, func(a string) bool { return strings.HasPrefix(a, "CRM API usage above 80% of its limit: ") }) {
			t.Errorf("attention %q does not name the usage", got.Attention)
		}
	})
}
