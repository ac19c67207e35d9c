package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/localstack"
	"github.com/google/go-cmp/cmp"
)

func TestParseCampaign(t *testing.T) {
	t.Run("every outage length is run for every target, shortest first", func(t *testing.T) {
		got, err := parseCampaign("30s, 2m", "crm,csapi")
		if err != nil {
			t.Fatal(err)
		}
		want := []campaignOutage{
			{localstack.OutageCRM, 30 * time.Second}, {localstack.OutageCSAPI, 30 * time.Second},
			{localstack.OutageCRM, 2 * time.Minute}, {localstack.OutageCSAPI, 2 * time.Minute},
		}
		if diff := cmp.Diff(want, got, cmp.AllowUnexported(campaignOutage{})); diff != "" {
			t.Errorf("plan (-want +got):\n%s", diff)
		}
	})
	for _, tt := range []struct{ name, outages, targets, want string }{
		{"a length that is not a duration is refused", "30", "crm", "--outages"},
		{"a zero length is refused", "0s", "crm", "--outages"},
		{"an unknown simulator is refused", "30s", "zendesk", "--outage-targets"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parseCampaign(tt.outages, tt.targets); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one naming %s", err, tt.want)
			}
		})
	}
}

func TestReportCampaign(t *testing.T) {
	once := []localstack.OutageItem{{What: "a", Count: 1}}
	healed := localstack.OutageResult{Target: localstack.OutageCRM, Down: 30 * time.Second, PollEvery: 5 * time.Second,
		Converged: true, Took: 4 * time.Second, Polls: 1, Drained: true, Items: once}
	tests := []struct {
		name    string
		results []localstack.OutageResult
		wantErr bool
	}{
		{"outages that converged within two polls with everything once pass", []localstack.OutageResult{healed}, false},
		{"an outage that took three polls fails", []localstack.OutageResult{healed, with(healed, func(r *localstack.OutageResult) { r.Polls = 3 })}, true},
		{"an outage that lost something fails", []localstack.OutageResult{with(healed, func(r *localstack.OutageResult) {
			r.Items = []localstack.OutageItem{{What: "a", Count: 0}}
		})}, true},
		{"an outage that doubled something fails", []localstack.OutageResult{with(healed, func(r *localstack.OutageResult) {
			r.Items = []localstack.OutageItem{{What: "a", Count: 2}}
		})}, true},
		{"an outage whose failed messages were never handled fails", []localstack.OutageResult{with(healed, func(r *localstack.OutageResult) { r.Drained = false })}, true},
		{"an outage whose dead-lettered messages are all settled passes", []localstack.OutageResult{with(healed, func(r *localstack.OutageResult) { r.DeadLettered, r.Settled = 2, 2 })}, false},
		{"an outage with a dead-lettered message not settled fails", []localstack.OutageResult{with(healed, func(r *localstack.OutageResult) { r.DeadLettered, r.Settled = 2, 1 })}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := reportCampaign(&out, tt.results)
			if diff := cmp.Diff(tt.wantErr, err != nil); diff != "" {
				t.Errorf("failed (-want +got):\n%s\n%s", diff, out.String())
			}
		})
	}
}

func with(r localstack.OutageResult, f func(*localstack.OutageResult)) localstack.OutageResult {
	r.Items = append([]localstack.OutageItem(nil), r.Items...)
	f(&r)
	return r
}
