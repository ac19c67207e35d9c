package ops

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/casesync/casesynctest"
)

// TestStatusShowsTheCRMsAPIUsage: the usage the last CRM poll recorded is
// read from the store, shown on one line, and needs attention only above
// 80% of the limit.
func TestStatusShowsTheCRMsAPIUsage(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	tests := []struct {
		name      string
		usage     casesync.APIUsage // zero: none recorded
		want      *CRMAPIUsage
		line      string
		attention []string
	}{
		{
			name: "none recorded",
			line: "CRM API usage: not known (the CRM does not report it, or no CRM poll has recorded it yet)",
		},
		{
			name:  "Salesforce's daily limit, 12% used",
			usage: casesync.APIUsage{Used: 12345, Max: 100000, Window: casesync.APIUsageDay, At: ago(time.Minute)},
			want:  &CRMAPIUsage{Used: 12345, Max: 100000, Window: "day", At: ago(time.Minute), Percent: 12.345},
			line:  "CRM API usage: 12,345 of 100,000 requests in the last 24 hours (12.3%, as of 2026-06-01T11:59:00Z, 1m0s ago)",
		},
		{
			name:  "exactly 80% needs no attention",
			usage: casesync.APIUsage{Used: 80000, Max: 100000, Window: casesync.APIUsageDay, At: ago(time.Minute)},
			want:  &CRMAPIUsage{Used: 80000, Max: 100000, Window: "day", At: ago(time.Minute), Percent: 80},
			line:  "CRM API usage: 80,000 of 100,000 requests in the last 24 hours (80.0%, as of 2026-06-01T11:59:00Z, 1m0s ago)",
		},
		{
			name:      "above 80% of the daily limit needs attention",
			usage:     casesync.APIUsage{Used: 1085000, Max: 1250000, Window: casesync.APIUsageDay, At: ago(2 * time.Minute)},
			want:      &CRMAPIUsage{Used: 1085000, Max: 1250000, Window: "day", At: ago(2 * time.Minute), Percent: 86.8, High: true},
			line:      "CRM API usage: 1,085,000 of 1,250,000 requests in the last 24 hours (86.8%, as of 2026-06-01T11:58:00Z, 2m0s ago)",
			attention: []string{"CRM API usage above 80% of its limit: 1,085,000 of 1,250,000 requests in the last 24 hours (2m0s ago)"},
		},
		{
			name:      "Freshdesk's per-minute limit, nearly used up",
			usage:     casesync.APIUsage{Used: 390, Max: 400, Window: casesync.APIUsageMinute, At: ago(20 * time.Second)},
			want:      &CRMAPIUsage{Used: 390, Max: 400, Window: "minute", At: ago(20 * time.Second), Percent: 97.5, High: true},
			line:      "CRM API usage: 390 of 400 requests this minute (97.5%, as of 2026-06-01T11:59:40Z, 20s ago)",
			attention: []string{"CRM API usage above 80% of its limit: 390 of 400 requests this minute (20s ago)"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			s := casesynctest.NewMemStore()
			if err := s.RecordPoll(ctx, casesync.SideGoogle, ago(time.Minute), ago(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if tc.usage.IsZero() {
				if err := s.RecordPoll(ctx, casesync.SideCompany, ago(time.Minute), ago(time.Minute)); err != nil {
					t.Fatal(err)
				}
			} else if err := s.RecordCompanyPollWithAPIUsage(ctx, ago(time.Minute), ago(time.Minute), tc.usage); err != nil {
				t.Fatal(err)
			}
			st, err := ReadStatus(ctx, s, now, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, st.CRMAPIUsage); diff != "" {
				t.Errorf("usage (-want +got):\n%s", diff)
			}
			if got := st.APIUsageLine(); got != tc.line {
				t.Errorf("line\n got %q\nwant %q", got, tc.line)
			}
			if diff := cmp.Diff(tc.attention, st.Attention()); diff != "" {
				t.Errorf("attention (-want +got):\n%s", diff)
			}
		})
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 12345: "12,345", 100000: "100,000",
		1234567: "1,234,567", -1234: "-1,234", casesync.MaxAPIUsageCount: "1,099,511,627,776"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
