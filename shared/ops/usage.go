package ops

import (
	"fmt"
	"strconv"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
)

// CRMAPIUsage is the CRM's API usage as the latest CRM poll that saw one
// recorded it (casesync.PollState.CompanyAPIUsage): what the CRM's own
// answers said, with no call of its own.
type CRMAPIUsage struct {
	// Used of Max requests in the current Window ("day": Salesforce's
	// rolling 24 hours; "hour"; "minute": Freshdesk's per-minute limit).
	Used   int64  `json:"used"`
	Max    int64  `json:"max"`
	Window string `json:"window"`
	// At is when the poll recorded it.
	At time.Time `json:"at"`
	// Percent is Used as a share of Max.
	Percent float64 `json:"percent"`
	// High is true above casesync.APIUsageWarnPercent of the limit.
	High bool `json:"high"`
}

// crmAPIUsage is the status of the recorded usage u; nil when none is.
func crmAPIUsage(u casesync.APIUsage) *CRMAPIUsage {
	if u.Check() != nil {
		return nil
	}
	return &CRMAPIUsage{Used: u.Used, Max: u.Max, Window: u.Window, At: u.At, Percent: u.Percent(), High: u.High()}
}

// APIUsageLine is status's line on the CRM's API usage, as
// "CRM API usage: 12,345 of 100,000 requests in the last 24 hours (12.3%,
// as of 2026-06-01T11:59:00Z, 1m0s ago)".
func (s Status) APIUsageLine() string {
	u := s.CRMAPIUsage
	if u == nil {
		return "CRM API usage: not known (the CRM does not report it, or no CRM poll has recorded it yet)"
	}
	return fmt.Sprintf("CRM API usage: %s of %s requests %s (%s, as of %s, %s)",
		thousands(u.Used), thousands(u.Max), windowPhrase(u.Window), percent(u.Percent), stamp(u.At), ago(s.Now.Sub(u.At)))
}

// apiUsageAttention is the attention phrase for a usage above the warning
// share of the limit, or "".
func (s Status) apiUsageAttention() string {
	u := s.CRMAPIUsage
	if u == nil || !u.High {
		return ""
	}
	return fmt.Sprintf("CRM API usage above %d%% of its limit: %s of %s requests %s (%s)",
		casesync.APIUsageWarnPercent, thousands(u.Used), thousands(u.Max), windowPhrase(u.Window), ago(s.Now.Sub(u.At)))
}

func windowPhrase(w string) string {
	switch w {
	case casesync.APIUsageDay:
		return "in the last 24 hours"
	case casesync.APIUsageHour:
		return "this hour"
	case casesync.APIUsageMinute:
		return "this minute"
	}
	return "per " + w
}

// percent renders p with one decimal, as "85.3%".
func percent(p float64) string { return strconv.FormatFloat(p, 'f', 1, 64) + "%" }

// thousands renders n with commas between groups of three digits.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3+1)
	if neg {
		out = append(out, '-')
	}
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
