package csapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/option"

	"github.com/casebridge/casebridge/shared/csapi"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
)

// detector is a second identity casebridge writes to CSAPI as: in a
// deployment, detect-outages posts its notices as its own service account.
const detector = "cb-detect-outages@sandbox-project.iam.gserviceaccount.com"

// ownership is what a listing says about one item's author.
type ownership struct {
	Case, Comment, Attachment bool
}

func TestEveryListedIdentityIsCasebridgesOwn(t *testing.T) {
	tests := []struct {
		name   string
		author string
		want   bool
	}{
		{"the identity the client calls as is casebridge's", connector, true},
		{"a further listed identity is casebridge's", detector, true},
		{"a further listed identity written in capitals is casebridge's", "CB-Detect-Outages@Sandbox-Project.iam.gserviceaccount.com", true},
		{"a third service account of the project is not casebridge's", "cb-poll-google@sandbox-project.iam.gserviceaccount.com", false},
		{"an identity that merely contains a listed one is not casebridge's", "x" + detector, false},
		{"a customer is not casebridge's", "ann@example.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			sim, clock := newSim(t)
			cfg := testConfig()
			// Listed with stray spaces and capitals, as an operator may type it.
			cfg.MoreConnectorEmails = []string{" CB-Detect-Outages@sandbox-project.iam.gserviceaccount.com "}
			c := newClient(t, sim.URL(), cfg)

			name, err := sim.CreateCase(project, "Disk full", "The disk is full.", "P3", tt.author)
			if err != nil {
				t.Fatalf("simulator CreateCase: %v", err)
			}
			clock.Advance(time.Minute)
			author := csapitest.Actor{DisplayName: "someone", Email: tt.author}
			if _, err := sim.AddComment(name, "Syncing has resumed.", author); err != nil {
				t.Fatalf("simulator AddComment: %v", err)
			}
			if _, err := sim.AddAttachment(name, "log.txt", "text/plain", []byte("log"), author); err != nil {
				t.Fatalf("simulator AddAttachment: %v", err)
			}

			g, err := c.GetCase(ctx, name)
			if err != nil {
				t.Fatalf("GetCase: %v", err)
			}
			coms, err := c.ListComments(ctx, name)
			if err != nil || len(coms) != 1 {
				t.Fatalf("ListComments = %d comments, %v; want the one", len(coms), err)
			}
			atts, err := c.ListAttachments(ctx, name)
			if err != nil || len(atts) != 1 {
				t.Fatalf("ListAttachments = %d attachments, %v; want the one", len(atts), err)
			}
			got := ownership{g.ByConnector, coms[0].ByConnector, atts[0].ByConnector}
			want := ownership{tt.want, tt.want, tt.want}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ByConnector of the case, comment and attachment (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewChecksTheFurtherConnectorEmails(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*csapi.Config)
		wantErr bool
	}{
		{"several identities are accepted", func(c *csapi.Config) { c.MoreConnectorEmails = []string{detector, "a@b.example"} }, false},
		{"an entry that is no email is refused", func(c *csapi.Config) { c.MoreConnectorEmails = []string{"detect-outages"} }, true},
		{"an empty entry is refused", func(c *csapi.Config) { c.MoreConnectorEmails = []string{" "} }, true},
		{"further identities without the first are refused", func(c *csapi.Config) {
			c.ConnectorEmail, c.MoreConnectorEmails = "", []string{detector}
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			tt.mutate(&cfg)
			_, err := csapi.New(context.Background(), cfg,
				option.WithEndpoint("http://127.0.0.1:1/"), option.WithoutAuthentication())
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Errorf("New error = %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}
