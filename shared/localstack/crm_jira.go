package localstack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/casebridge/casebridge/shared/jirasm"
	"github.com/casebridge/casebridge/shared/jirasm/jirasmtest"
)

// The Jira site the stack sets up (docs/crms/jira.md): one service project
// and its two custom fields.
const (
	jiraProject         = "SUP"
	jiraSyncFlagField   = "customfield_10051"
	jiraSyncFlagValue   = "Yes"
	jiraGoogleCaseField = "customfield_10050"
)

// The fields of Google's case state and escalation requests on the
// stack's Jira site (docs/crms/jira.md): a short text field, a select list
// and a paragraph field. An agent asks for an escalation with the label
// jirasm.DefaultEscalationLabel.
const (
	JiraStateField         = "customfield_10060"
	JiraReasonField        = "customfield_10062"
	JiraJustificationField = "customfield_10063"
)

// jiraStateStatuses moves an issue along the simulator's service-desk
// workflow as Google's case state changes.
const jiraStateStatuses = "IN_PROGRESS_GOOGLE_SUPPORT=" + jirasmtest.StatusInProgress + ",ACTION_REQUIRED=" + jirasmtest.StatusWaiting

// jiraWebhookEvents are the events of the stack's Jira webhook, as
// docs/webhooks.md asks the administrator to choose.
var jiraWebhookEvents = []string{
	jirasmtest.EventIssueCreated, jirasmtest.EventIssueUpdated,
	jirasmtest.EventCommentCreated, "comment_updated",
}

// jiraCRM runs the Jira Service Management simulator
// (shared/jirasm/jirasmtest), set up as docs/crms/jira.md asks the
// administrator: a sync user with an API token, the project, the
// checkbox and text fields, and the fields of Google's case state and
// escalation requests (the simulator's own: it serves no field
// administration API). Its webhook is an admin webhook with a secret.
// The simulator's search shows changes at once (no index lag).
type jiraCRM struct {
	sim *jirasmtest.Server

	mu sync.Mutex
	// hookID is the webhook the stack registered ("" when none).
	hookID string
}

func (j *jiraCRM) title() string { return "the Jira Service Management simulator" }

func (j *jiraCRM) start(st *Stack, _ string) error {
	token, err := randomHex(16)
	if err != nil {
		return err
	}
	j.sim = jirasmtest.Start(jirasmtest.Options{
		Email:           "casebridge.sync@example.com",
		APIToken:        token,
		SyncDisplayName: "casebridge sync",
		ProjectKey:      jiraProject,
		SyncFlagField:   jiraSyncFlagField,
		SyncFlagValue:   jiraSyncFlagValue,
		GoogleCaseField: jiraGoogleCaseField,
		CustomFields: map[string]jirasmtest.CustomField{
			JiraStateField: {Name: "Google case state", Type: jirasmtest.FieldText},
			JiraReasonField: {Name: "Escalation reason", Type: jirasmtest.FieldSelect,
				Options: []string{"Resolution time", "Technical expertise", "Business impact"}},
			JiraJustificationField: {Name: "Escalation justification", Type: jirasmtest.FieldParagraph},
		},
		Clock: st.Clock.Now,
	})
	st.Jira = j.sim
	return nil
}

func (j *jiraCRM) url() string { return j.sim.URL }

func (j *jiraCRM) env() map[string]string {
	return map[string]string{
		jirasm.EnvEmail:           j.sim.Email(),
		jirasm.EnvAPIToken:        j.sim.APIToken(),
		jirasm.EnvProjectKey:      jiraProject,
		jirasm.EnvSyncFlagField:   jiraSyncFlagField,
		jirasm.EnvSyncFlagValue:   jiraSyncFlagValue,
		jirasm.EnvGoogleCaseField: jiraGoogleCaseField,

		jirasm.EnvStateField:                   JiraStateField,
		jirasm.EnvStateStatuses:                jiraStateStatuses,
		jirasm.EnvEscalationReasonField:        JiraReasonField,
		jirasm.EnvEscalationJustificationField: JiraJustificationField,
	}
}

// syncUser is the sync user's account id, which Jira's webhooks give as
// the user who made a change.
func (j *jiraCRM) syncUser() string { return j.sim.SyncAccountID() }

// jiraWebhookFilter is the webhook's JQL filter: the project's issues
// flagged for sync or linked to a Google case (docs/webhooks.md).
func jiraWebhookFilter() string {
	flag := strings.TrimPrefix(jiraSyncFlagField, "customfield_")
	linked := strings.TrimPrefix(jiraGoogleCaseField, "customfield_")
	return fmt.Sprintf(`project = %s AND (cf[%s] = "%s" OR cf[%s] IS NOT EMPTY)`, jiraProject, flag, jiraSyncFlagValue, linked)
}

// setWebhook creates an admin webhook with POST /rest/webhooks/1.0/webhook,
// with the secret, the events and the JQL filter docs/webhooks.md gives,
// deleting the one registered before.
func (j *jiraCRM) setWebhook(ctx context.Context, endpoint, secret string) (string, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	call := func(method, path string, in, out any, want int) error {
		return adminCall(ctx, method, j.sim.URL+path, j.sim.Email(), j.sim.APIToken(), in, out, want)
	}
	if j.hookID != "" {
		if err := call(http.MethodDelete, "/rest/webhooks/1.0/webhook/"+j.hookID, nil, nil, http.StatusNoContent); err != nil {
			return "", err
		}
		j.hookID = ""
	}
	if endpoint == "" {
		return secret, nil
	}
	var created struct {
		Self string `json:"self"`
	}
	err := call(http.MethodPost, "/rest/webhooks/1.0/webhook", map[string]any{
		"name": "casebridge", "url": endpoint, "events": jiraWebhookEvents,
		"filters":     map[string]string{"issue-related-events-section": jiraWebhookFilter()},
		"excludeBody": false, "secret": secret,
	}, &created, http.StatusCreated)
	if err != nil {
		return "", err
	}
	id := created.Self[strings.LastIndex(created.Self, "/")+1:]
	if id == "" || strings.Trim(id, "0123456789") != "" {
		return "", errors.New("POST /rest/webhooks/1.0/webhook answered no webhook id in self")
	}
	j.hookID = id
	return secret, nil
}

func (j *jiraCRM) stopWebhooks() {
	if j.sim != nil {
		j.sim.StopWebhooks()
	}
}

func (j *jiraCRM) close() {
	if j.sim != nil {
		j.sim.Close()
	}
}
