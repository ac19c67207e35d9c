package appconfig

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmsim"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/google/go-cmp/cmp"
)

// minimal is the smallest valid environment.
func minimal() map[string]string {
	return map[string]string{
		EnvProject:             "cb-prod",
		EnvCSAPIParent:         "organizations/123456",
		EnvCSAPIClassification: "100H41Q3DTMN0TBKCKD0SGRVNQ",
		EnvCSAPIConnectorEmail: "casebridge@cb-prod.iam.gserviceaccount.com",
		EnvCRMKind:             "simulator",
		EnvCRMURL:              "http://127.0.0.1:8081/",
	}
}

func with(env map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range env {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func getenv(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

func TestParseDefaults(t *testing.T) {
	got, err := Parse(getenv(minimal()))
	if err != nil {
		t.Fatal(err)
	}
	public := true
	want := Config{
		Project:               "cb-prod",
		CSAPIParent:           "organizations/123456",
		CSAPICreateParent:     "organizations/123456",
		CSAPIClassificationID: "100H41Q3DTMN0TBKCKD0SGRVNQ",
		CSAPITestCase:         true,
		CSAPIConnectorEmails:  []string{"casebridge@cb-prod.iam.gserviceaccount.com"},
		CSAPITimeZone:         "UTC",
		CRMKind:               "simulator",
		CRMURL:                "http://127.0.0.1:8081",
		CRM: CRMConfig{Settings: crmsim.Config{BaseURL: "http://127.0.0.1:8081", State: crmsim.StateConfig{
			StateField: crmsim.DefaultStateField, EscalationField: crmsim.DefaultEscalationField,
			EscalationReasonField: crmsim.DefaultEscalationReasonField, EscalationJustificationField: crmsim.DefaultEscalationJustificationField,
		}}},
		Engine: casesync.Config{
			GooglePollingWindow:  30 * time.Minute,
			CompanyPollingWindow: 5 * time.Minute,
			MaxAttachmentBytes:   26214400,
			Priorities:           casesync.DefaultPriorityTable(),
			GoogleCommentsPublic: &public,
			ReopenPolicy:         casesync.ReopenComment,
			EscalationReason:     casesync.DefaultEscalationReason,
			MaxSplitParts:        10,
			LeaseDuration:        30 * time.Second,
			RepublishAfter:       5 * time.Minute,
			RetryBackoff:         time.Minute,
			RetryMaxBackoff:      time.Hour,
			GiveUpAfter:          24 * time.Hour,
			PollInterval:         time.Minute,
		},
		TopicCaseUpdated:    "case-updated",
		TopicSyncRequested:  "sync-requested",
		TopicTickPollGoogle: "tick-poll-google",
		EventMaxAge:         24 * time.Hour,
		LogLevel:            slog.LevelInfo,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
}

func TestParseOverrides(t *testing.T) {
	env := with(minimal(),
		EnvCSAPICreateParent, "projects/cb-support",
		EnvCSAPITestCase, "false",
		EnvCSAPIEndpoint, "http://127.0.0.1:9000",
		EnvCRMPriorityMap, "1=P0,2=P1,3=P2,4=P3,5=P4",
		EnvGooglePollingWindow, "45m",
		EnvCompanyPollingWindow, "2m",
		EnvPollInterval, "15m",
		EnvMaxAttachmentBytes, "1048576",
		EnvReopenPolicy, "new-case",
		EnvGoogleCommentsPublic, "false",
		EnvSyncInternalNotes, "true",
		EnvTopicCaseUpdated, "cb-case-updated",
		EnvTopicSyncRequested, "cb-sync-requested",
		EnvTopicTickPollGoogle, "cb-tick-poll-google",
		EnvEventMaxAge, "6h",
		EnvLogLevel, "debug",
		EnvClockFile, "/tmp/clock",
	)
	got, err := Parse(getenv(env))
	if err != nil {
		t.Fatal(err)
	}
	prio, err := casesync.ParsePriorityTable("1=P0,2=P1,3=P2,4=P3,5=P4")
	if err != nil {
		t.Fatal(err)
	}
	type view struct {
		CreateParent, Endpoint, Topics, ClockFile string
		TestCase, Public, Internal                bool
		Windows                                   [2]time.Duration
		MaxBytes                                  int64
		Reopen                                    casesync.ReopenPolicy
		Prio                                      casesync.PriorityTable
		MaxAge                                    time.Duration
		Level                                     slog.Level
		PollInterval                              time.Duration
	}
	want := view{"projects/cb-support", "http://127.0.0.1:9000", "cb-case-updated cb-sync-requested cb-tick-poll-google", "/tmp/clock",
		false, false, true, [2]time.Duration{45 * time.Minute, 2 * time.Minute}, 1048576, casesync.ReopenNewCase, prio, 6 * time.Hour, slog.LevelDebug,
		15 * time.Minute}
	gotv := view{got.CSAPICreateParent, got.CSAPIEndpoint, got.TopicCaseUpdated + " " + got.TopicSyncRequested + " " + got.TopicTickPollGoogle, got.ClockFile,
		got.CSAPITestCase, *got.Engine.GoogleCommentsPublic, got.Engine.SyncInternalNotes,
		[2]time.Duration{got.Engine.GooglePollingWindow, got.Engine.CompanyPollingWindow}, got.Engine.MaxAttachmentBytes,
		got.Engine.ReopenPolicy, got.Engine.Priorities, got.EventMaxAge, got.LogLevel, got.Engine.PollInterval}
	if diff := cmp.Diff(want, gotv); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
}

func TestParseProblems(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		wantVars []string
		// wantHint must appear in the message of the first problem.
		wantHint string
	}{
		{name: "an empty environment names every required variable", env: map[string]string{},
			wantVars: []string{EnvProject, EnvCSAPIParent, EnvCSAPIClassification, EnvCSAPIConnectorEmail, EnvCRMKind},
			wantHint: "is not set"},
		{name: "a missing parent says what to set it to", env: with(minimal(), EnvCSAPIParent, ""),
			wantVars: []string{EnvCSAPIParent}, wantHint: "organizations/<number>"},
		{name: "a parent of the wrong form is rejected", env: with(minimal(), EnvCSAPIParent, "org/12"),
			wantVars: []string{EnvCSAPIParent}, wantHint: `"org/12"`},
		{name: "an organization listed with projects is rejected", env: with(minimal(), EnvCSAPIParent, "projects/a-1,organizations/12"),
			wantVars: []string{EnvCSAPIParent}, wantHint: "already covers its projects"},
		{name: "an unknown CRM kind lists the known ones", env: with(minimal(), EnvCRMKind, "no-such-crm"),
			wantVars: []string{EnvCRMKind}, wantHint: strings.Join(KnownCRMKinds, ", ")},
		{name: "the simulator needs its URL", env: with(minimal(), EnvCRMURL, ""),
			wantVars: []string{EnvCRMURL}, wantHint: "is not set"},
		{name: "a CRM URL that is not http is rejected", env: with(minimal(), EnvCRMURL, "crm.example.com"),
			wantVars: []string{EnvCRMURL}, wantHint: "not an http(s) URL"},
		{name: "an incomplete priority map is rejected", env: with(minimal(), EnvCRMPriorityMap, "high=P0"),
			wantVars: []string{EnvCRMPriorityMap}, wantHint: "P1"},
		{name: "a test-case flag that is not a boolean is rejected", env: with(minimal(), EnvCSAPITestCase, "no"),
			wantVars: []string{EnvCSAPITestCase}, wantHint: "true or false"},
		{name: "a window that is not a duration is rejected", env: with(minimal(), EnvGooglePollingWindow, "30"),
			wantVars: []string{EnvGooglePollingWindow}, wantHint: "Go duration"},
		{name: "a poll interval cron cannot space evenly is rejected", env: with(minimal(), EnvPollInterval, "7m"),
			wantVars: []string{EnvPollInterval}, wantHint: "divides 60"},
		{name: "a poll interval over an hour is rejected", env: with(minimal(), EnvPollInterval, "2h"),
			wantVars: []string{EnvPollInterval}, wantHint: "from 1m to 60m"},
		{name: "a poll interval under a minute is rejected", env: with(minimal(), EnvPollInterval, "30s"),
			wantVars: []string{EnvPollInterval}, wantHint: "whole number of minutes"},
		{name: "a negative attachment limit is rejected", env: with(minimal(), EnvMaxAttachmentBytes, "-1"),
			wantVars: []string{EnvMaxAttachmentBytes}, wantHint: "positive"},
		{name: "a split limit under two parts is rejected", env: with(minimal(), EnvMaxSplitParts, "1"),
			wantVars: []string{EnvMaxSplitParts}, wantHint: "between 2 and 100"},
		{name: "a split limit over a hundred parts is rejected", env: with(minimal(), EnvMaxSplitParts, "1000"),
			wantVars: []string{EnvMaxSplitParts}, wantHint: "between 2 and 100"},
		{name: "a page limit that is not a positive number is rejected", env: with(minimal(), EnvCRMMaxPages, "0"),
			wantVars: []string{EnvCRMMaxPages}, wantHint: "positive"},
		{name: "an unknown reopen policy is rejected", env: with(minimal(), EnvReopenPolicy, "reopen"),
			wantVars: []string{EnvReopenPolicy}, wantHint: "new-case"},
		{name: "an invalid topic id is rejected", env: with(minimal(), EnvTopicCaseUpdated, "1/2"),
			wantVars: []string{EnvTopicCaseUpdated}, wantHint: "topic id"},
		{name: "an unknown log level is rejected", env: with(minimal(), EnvLogLevel, "verbose"),
			wantVars: []string{EnvLogLevel}, wantHint: "debug"},
		{name: "an unknown time zone is rejected", env: with(minimal(), EnvCSAPITimeZone, "Mars/Olympus"),
			wantVars: []string{EnvCSAPITimeZone}, wantHint: "IANA"},
		{name: "a connector email without @ is rejected", env: with(minimal(), EnvCSAPIConnectorEmail, "casebridge"),
			wantVars: []string{EnvCSAPIConnectorEmail}, wantHint: "email"},
		{name: "several problems are reported together", env: with(minimal(), EnvProject, "", EnvEventMaxAge, "a day"),
			wantVars: []string{EnvProject, EnvEventMaxAge}, wantHint: "Firestore"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(getenv(tt.env))
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("Parse error = %v, want an *appconfig.Error", err)
			}
			if diff := cmp.Diff(tt.wantVars, cerr.Vars()); diff != "" {
				t.Errorf("variables named (-want +got):\n%s", diff)
			}
			if !strings.Contains(cerr.Problems[0].Message, tt.wantHint) {
				t.Errorf("first problem %q does not say %q", cerr.Problems[0].Message, tt.wantHint)
			}
			if !strings.Contains(err.Error(), tt.wantVars[0]) {
				t.Errorf("error text %q does not name %s", err.Error(), tt.wantVars[0])
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want int
	}{
		{name: "test cases against the real API are warned about", env: minimal(), want: 1},
		{name: "production cases against the real API are fine", env: with(minimal(), EnvCSAPITestCase, "false"), want: 0},
		{name: "test cases against the simulator are fine", env: with(minimal(), EnvCSAPIEndpoint, "http://127.0.0.1:9"), want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(getenv(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, len(c.Warnings())); diff != "" {
				t.Errorf("warnings %q (-want +got count):\n%s", c.Warnings(), diff)
			}
		})
	}
}

// crmEnvs is a complete environment for each real CRM kind.
var crmEnvs = map[string][]string{
	CRMRequestTracker: {EnvCRMKind, "rt", EnvCRMURL, "https://rt.example.com", "RT_TOKEN", "1-14-secret"},
	CRMZendesk: {EnvCRMKind, "zendesk", EnvCRMURL, "https://acme.zendesk.com", "ZENDESK_EMAIL", "sync@acme.com",
		"ZENDESK_API_TOKEN", "secret", "ZENDESK_SYNC_FLAG_FIELD_ID", "360001", "ZENDESK_GOOGLE_CASE_FIELD_ID", "360002"},
	CRMJira: {EnvCRMKind, "jira", EnvCRMURL, "https://acme.atlassian.net", "JIRA_EMAIL", "sync@acme.com",
		"JIRA_API_TOKEN", "secret", "JIRA_PROJECT_KEY", "SUP", "JIRA_SYNC_FLAG_FIELD", "customfield_10051",
		"JIRA_GOOGLE_CASE_FIELD", "customfield_10050"},
	CRMServiceNow: {EnvCRMKind, "servicenow", EnvCRMURL, "https://acme.service-now.com", "SERVICENOW_USER", "casebridge",
		"SERVICENOW_PASSWORD", "secret"},
	CRMFreshdesk: {EnvCRMKind, "freshdesk", EnvCRMURL, "https://acme.freshdesk.com", "FRESHDESK_API_KEY", "secret"},
	CRMSalesforce: {EnvCRMKind, "salesforce", EnvCRMURL, "https://acme.my.salesforce.com", "SALESFORCE_CLIENT_ID", "3MVG9id",
		"SALESFORCE_CLIENT_SECRET", "secret"},
}

func TestSeveralProjectsMayBeListedAsAnAllowlist(t *testing.T) {
	c, err := Parse(getenv(with(minimal(), EnvCSAPIParent, "projects/shop-prod, projects/shop-staging,projects/data-prod")))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	got := []any{c.CSAPIParent, c.CSAPIMoreParents, c.CSAPICreateParent}
	want := []any{"projects/shop-prod", []string{"projects/shop-staging", "projects/data-prod"}, "projects/shop-prod"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parents (-want +got):\n%s", diff)
	}
}

func TestEveryCRMKindReadsItsOwnSettings(t *testing.T) {
	tests := []struct {
		kind string
		// wantHigh is what the kind's default priority table writes for P1.
		wantP1 string
		// credVar is a credential variable whose absence must be named.
		credVar string
	}{
		{CRMRequestTracker, "High", "RT_TOKEN"},
		{CRMZendesk, "urgent", "ZENDESK_API_TOKEN"},
		{CRMJira, "High", "JIRA_API_TOKEN"},
		{CRMServiceNow, "2", "SERVICENOW_PASSWORD"},
		{CRMFreshdesk, "4", "FRESHDESK_API_KEY"},
		{CRMSalesforce, "High", "SALESFORCE_CLIENT_SECRET"},
	}
	for _, tc := range tests {
		t.Run(tc.kind+" parses with its default priority table", func(t *testing.T) {
			c, err := Parse(getenv(with(minimal(), crmEnvs[tc.kind]...)))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if v, _ := c.Engine.Priorities.Company(casesync.P1); v != tc.wantP1 {
				t.Errorf("P1 is written as %q, want %q", v, tc.wantP1)
			}
			if _, err := buildCRM(c); err != nil {
				t.Errorf("building the adapter: %v", err)
			}
		})
		t.Run(tc.kind+" without its credential names the variable and never prints a secret", func(t *testing.T) {
			_, err := Parse(getenv(with(minimal(), append(slices.Clone(crmEnvs[tc.kind]), tc.credVar, "")...)))
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("Parse error = %v, want an *appconfig.Error", err)
			}
			if !strings.Contains(err.Error(), tc.credVar) {
				t.Errorf("error %q does not name %s", err, tc.credVar)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q prints a credential", err)
			}
		})
	}
	t.Run("an explicit priority map overrides the kind's default", func(t *testing.T) {
		c, err := Parse(getenv(with(minimal(), append(slices.Clone(crmEnvs[CRMZendesk]), EnvCRMPriorityMap, "urgent=P0,high=P1,high=P2,normal=P3,low=P4")...)))
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		if v, _ := c.Engine.Priorities.Company(casesync.P1); v != "high" {
			t.Errorf("P1 is written as %q, want high", v)
		}
	})
	t.Run("Zendesk refuses a CRM polling window under its export's hold-back", func(t *testing.T) {
		_, err := Parse(getenv(with(minimal(), append(slices.Clone(crmEnvs[CRMZendesk]), EnvCompanyPollingWindow, "1m")...)))
		var cerr *Error
		if !errors.As(err, &cerr) || !slices.Contains(cerr.Vars(), EnvCompanyPollingWindow) {
			t.Errorf("Parse error = %v, want a problem with %s", err, EnvCompanyPollingWindow)
		}
	})
}

func TestFunctionsThatNeverCallTheCRMStartWithoutItsSettings(t *testing.T) {
	noCRMEnv := with(minimal(), EnvCRMKind, "", EnvCRMURL, "")
	t.Run("which functions call the CRM", func(t *testing.T) {
		got := map[string]bool{}
		for _, f := range []string{eventing.FunctionPollGoogle, eventing.FunctionPollCRM, eventing.FunctionSyncCase, eventing.FunctionDetectOutages, eventing.FunctionCleanup} {
			got[f] = NeedsCRM(f)
		}
		want := map[string]bool{eventing.FunctionPollGoogle: false, eventing.FunctionPollCRM: true, eventing.FunctionSyncCase: true, eventing.FunctionDetectOutages: true, eventing.FunctionCleanup: false}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("NeedsCRM (-want +got):\n%s", diff)
		}
	})
	t.Run("without CRM_KIND a function that needs no CRM parses, and its CRM refuses every call for good", func(t *testing.T) {
		c, err := ParseFor(getenv(noCRMEnv), false)
		if err != nil {
			t.Fatalf("ParseFor: %v", err)
		}
		crm, err := buildCRM(c)
		if err != nil {
			t.Fatalf("buildCRM: %v", err)
		}
		_, err = crm.SearchUpdated(context.Background(), time.Now())
		if !casesync.IsPermanent(err) || !strings.Contains(err.Error(), EnvCRMKind) {
			t.Errorf("SearchUpdated without a CRM = %v, want a permanent error naming %s", err, EnvCRMKind)
		}
	})
	t.Run("without CRM_KIND a function that needs the CRM is refused", func(t *testing.T) {
		_, err := ParseFor(getenv(noCRMEnv), true)
		var cerr *Error
		if !errors.As(err, &cerr) || !slices.Contains(cerr.Vars(), EnvCRMKind) {
			t.Errorf("ParseFor = %v, want a problem with %s", err, EnvCRMKind)
		}
	})
	t.Run("a CRM that is set is still checked for a function that needs none", func(t *testing.T) {
		_, err := ParseFor(getenv(with(minimal(), EnvCRMKind, "zendesk", EnvCRMURL, "https://acme.zendesk.com")), false)
		var cerr *Error
		if !errors.As(err, &cerr) || !slices.Contains(cerr.Vars(), "ZENDESK_SYNC_FLAG_FIELD_ID") {
			t.Errorf("ParseFor = %v, want the Zendesk settings checked", err)
		}
	})
}

func TestEveryCRMKindGetsThePageAndDownloadBounds(t *testing.T) {
	for _, k := range crmKinds {
		if k.Name == CRMSimulator {
			continue // its client reads what the simulator serves
		}
		t.Run(k.Name+" reads at most CRM_MAX_PAGES pages and MAX_ATTACHMENT_BYTES per file", func(t *testing.T) {
			kindEnv, ok := crmEnvs[k.Name]
			if !ok {
				t.Fatalf("crmEnvs has no complete environment for %s: add one", k.Name)
			}
			env := with(with(minimal(), kindEnv...), EnvCRMMaxPages, "7", EnvMaxAttachmentBytes, "1048576", EnvMaxSplitParts, "4")
			c, err := Parse(getenv(env))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			// Every adapter's Config names its bounds alike.
			settings := reflect.ValueOf(c.CRM.Settings)
			if settings.Kind() != reflect.Struct {
				t.Fatalf("the settings are a %T, want the adapter's Config", c.CRM.Settings)
			}
			pages, bytes := settings.FieldByName("MaxPages"), settings.FieldByName("MaxDownloadBytes")
			if !pages.CanInt() || !bytes.CanInt() {
				t.Fatalf("%T has no integer MaxPages and MaxDownloadBytes", c.CRM.Settings)
			}
			if got := [2]int64{pages.Int(), bytes.Int()}; got != [2]int64{7, 1048576} {
				t.Errorf("pages and download bytes = %v, want [7 1048576]", got)
			}
			if c.Engine.MaxSplitParts != 4 {
				t.Errorf("MaxSplitParts = %d, want 4", c.Engine.MaxSplitParts)
			}
		})
	}
}
