package casesync_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/option"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/csapi"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
)

// noticeIdentity is detect-outages' own service account. Deployed, every
// function runs as its own identity: sync-case writes mirrored items as
// connectorEmail, detect-outages posts its notices as this one.
const noticeIdentity = "cb-detect-outages@sandbox-project.iam.gserviceaccount.com"

// postsAsNoticeIdentity is the Google port of a function deployed as
// noticeIdentity. The simulator answers every API caller as one identity,
// so comments are posted through its console hook as noticeIdentity; the
// rest goes through the CSAPI adapter. While crashes is above zero, a post is
// made and then reported failed, as when the function dies before it records
// the post.
type postsAsNoticeIdentity struct {
	casesync.Google
	sim     *csapitest.Server
	crashes int
}

func (g *postsAsNoticeIdentity) AddComment(ctx context.Context, name, body string) (casesync.Comment, error) {
	posted, err := g.sim.AddComment(name, body, csapitest.Actor{DisplayName: "cb-detect-outages", Email: noticeIdentity, Username: noticeIdentity})
	if err != nil {
		return casesync.Comment{}, err
	}
	if g.crashes > 0 {
		g.crashes--
		return casesync.Comment{}, &casesync.TransientError{Err: errors.New("injected crash after posting the comment")}
	}
	cs, err := g.Google.ListComments(ctx, name)
	if err != nil {
		return casesync.Comment{}, err
	}
	for _, c := range cs {
		if strings.HasSuffix(posted, "/"+c.ID) {
			return c, nil
		}
	}
	return casesync.Comment{}, errors.New("the posted comment is not listed")
}

func TestNoticesPostedAsAnotherListedIdentityAreCasebridgesOwn(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	// Every function's CSAPI client lists both identities, as the
	// deployment's CSAPI_CONNECTOR_EMAIL does.
	both, err := csapi.New(w.ctx, csapi.Config{
		Parent: org, CreateParent: project, ClassificationID: classification, TestCase: true,
		ConnectorEmail: connectorEmail, MoreConnectorEmails: []string{noticeIdentity},
		MaxAttempts: 2, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
	}, option.WithEndpoint(w.google.URL()), option.WithoutAuthentication())
	if err != nil {
		t.Fatalf("csapi.New: %v", err)
	}
	w.engine.Google = both
	detect := &casesync.Engine{
		Google: &postsAsNoticeIdentity{Google: both, sim: w.google, crashes: 1},
		CRM:    w.crm, Store: w.store, Publisher: w.queue, Clock: w.clock,
	}

	name := w.newGoogleCase("Outage", "P2")
	w.settle()
	id := w.mapping(name).CompanyCaseID

	w.crm.SetDown(true)
	w.clock.Advance(11 * time.Minute)
	if _, err := w.engine.PollGoogle(w.ctx); err != nil {
		t.Fatal(err)
	}
	// The first run posts the outage notice on Google and dies before
	// recording it; the second must find that notice as its own and not
	// post another.
	for i := 0; i < 2; i++ {
		if _, err := detect.DetectOutages(w.ctx); !errors.Is(err, casesync.ErrOutage) {
			t.Fatalf("run %d: DetectOutages = %v, want ErrOutage", i+1, err)
		}
	}
	if got := countWithPrefix(w.googleBodies(name), "This case has not synced properly in "); got != 1 {
		t.Errorf("outage notices on Google = %d, want 1", got)
	}
	if !w.mapping(name).Google.OutageNoticeSent {
		t.Errorf("the outage notice on Google is not recorded as sent")
	}

	// The CRM comes back: sync-case reads the unrecorded notice, which is
	// casebridge's own and must not reach the CRM.
	w.crm.SetDown(false)
	w.settle()
	for i := 0; i < 2; i++ {
		if _, err := detect.DetectOutages(w.ctx); err != nil {
			t.Fatalf("run %d after recovery: DetectOutages = %v", i+1, err)
		}
		w.settle()
	}
	if got := countWithPrefix(w.googleBodies(name), "Syncing has resumed."); got != 1 {
		t.Errorf("resumed notices on Google = %d, want 1", got)
	}
	for _, c := range w.crmComments(id) {
		if strings.Contains(c.Body, "This case has not synced properly") || strings.Contains(c.Body, "Syncing has resumed") ||
			strings.HasPrefix(c.Body, "[Google Comment ") {
			t.Errorf("a notice posted on Google as %s was mirrored to the CRM", noticeIdentity)
		}
	}
}
