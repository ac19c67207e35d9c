package appconfig

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	syncCaseSA      = "cb-sync-case@cb-prod.iam.gserviceaccount.com"
	detectOutagesSA = "cb-detect-outages@cb-prod.iam.gserviceaccount.com"
)

func TestEveryConnectorEmailIsRead(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  []string
	}{
		{"one email is read as it is", syncCaseSA, []string{syncCaseSA}},
		{"a comma-separated list is read in order", syncCaseSA + "," + detectOutagesSA, []string{syncCaseSA, detectOutagesSA}},
		{"spaces around the entries are dropped", "  " + syncCaseSA + " ,  " + detectOutagesSA + " ", []string{syncCaseSA, detectOutagesSA}},
		{"capitals are lower-cased", "CB-Sync-Case@CB-Prod.iam.gserviceaccount.com", []string{syncCaseSA}},
		{"an email listed twice is kept once", syncCaseSA + "," + strings.ToUpper(syncCaseSA) + "," + detectOutagesSA, []string{syncCaseSA, detectOutagesSA}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(getenv(with(minimal(), EnvCSAPIConnectorEmail, tt.value)))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, c.CSAPIConnectorEmails); diff != "" {
				t.Errorf("connector emails (-want +got):\n%s", diff)
			}
		})
	}
}

func TestABadConnectorEmailListIsAProblem(t *testing.T) {
	var eleven []string
	for i := range 11 {
		eleven = append(eleven, fmt.Sprintf("cb-fn-%d@cb-prod.iam.gserviceaccount.com", i))
	}
	tests := []struct {
		name  string
		value string
		// wantHints must all appear in the one problem's message.
		wantHints []string
	}{
		{"an entry that is no email is named", syncCaseSA + ",detect-outages", []string{`"detect-outages"`, "not an email address", "comma-separated"}},
		{"an entry with a display name is named", syncCaseSA + ",Detector <" + detectOutagesSA + ">", []string{`"Detector <`, "not an email address"}},
		{"an entry without a domain is named", "cb-sync-case@", []string{`"cb-sync-case@"`, "not an email address"}},
		{"two emails run together are named", syncCaseSA + " " + detectOutagesSA, []string{"not an email address"}},
		{"only commas is not a list", " , ,", []string{"comma-separated"}},
		{"more than ten emails are too many", strings.Join(eleven, ","), []string{"lists 11 emails", "at most 10"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(getenv(with(minimal(), EnvCSAPIConnectorEmail, tt.value)))
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("Parse error = %v, want an *appconfig.Error", err)
			}
			if diff := cmp.Diff([]string{EnvCSAPIConnectorEmail}, cerr.Vars()); diff != "" {
				t.Fatalf("variables named (-want +got):\n%s", diff)
			}
			for _, h := range tt.wantHints {
				if !strings.Contains(cerr.Problems[0].Message, h) {
					t.Errorf("problem %q does not say %q", cerr.Problems[0].Message, h)
				}
			}
		})
	}
}

func TestBuildRefusesAConfigWithoutConnectorEmails(t *testing.T) {
	c, err := Parse(getenv(minimal()))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	c.CSAPIConnectorEmails = nil
	app, err := Build(context.Background(), c, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), EnvCSAPIConnectorEmail) {
		t.Errorf("Build = %v, %v; want an error naming %s", app, err, EnvCSAPIConnectorEmail)
	}
}
