package salesforcetest

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/casebridge/casebridge/shared/simhttp"
)

// Salesforce has no signed webhook of its own that suits casebridge (see
// docs/crms/salesforce.md, "Webhooks"): the admin installs the Apex that
// page gives, triggers after insert and update of Case and after insert of
// CaseComment and ContentDocumentLink that enqueue a Queueable job, which
// POSTs for each case flagged for sync or linked
//
//	{"case_id":"<18-character Case id>","object":"<Case|CaseComment|ContentDocumentLink>","user_id":"<18-character id of the user who made the change>"}
//
// to casebridge's receiver, signed with casebridge's scheme
// (X-Casebridge-Timestamp in Unix seconds, X-Casebridge-Signature
// "sha256=" and the lowercase hex HMAC-SHA256 of "<timestamp>.<body>",
// computed with Crypto.generateMac). WebhookApex stands for that code and
// its settings. As the Queueable job does, the simulator sends after the
// change, in the background and never under the org's lock, once, with a
// timeout; an Apex callout is not retried, so a failure is dropped (the
// poll catches up). Every update DML fires the trigger, even one that
// changes nothing, and the sync user's own changes are sent too: the
// receiver drops them by user_id (CASEBRIDGE_WEBHOOK_SYNC_USER).

// WebhookTimeout bounds one callout (the Apex default is 10 seconds).
const WebhookTimeout = 10 * time.Second

// WebhookApex is the installed Apex and its settings.
type WebhookApex struct {
	// URL is the Named Credential's URL: casebridge's receiver.
	URL string `json:"url"`
	// Secret is the signing secret (a protected custom setting).
	Secret string `json:"secret"`
}

// SimWebhookPath is the control endpoint that stands for the admin's
// deployment of the Apex: PUT a WebhookApex as JSON (answers 204), or {}
// to remove it. It needs no authentication and is not counted in Calls.
const SimWebhookPath = "/_sim/webhook-apex"

// ErrBadWebhook is the answer to settings that cannot work.
var ErrBadWebhook = errors.New("salesforcetest: the Apex needs an http or https url and a secret of 16 to 1024 bytes (or both empty to remove it)")

// SetWebhookApex installs the Apex with its settings, replacing any; a
// zero WebhookApex removes it.
func (s *Server) SetWebhookApex(a WebhookApex) error {
	if a != (WebhookApex{}) && !simhttp.ValidWebhookTarget(a.URL, a.Secret) {
		return ErrBadWebhook
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a == (WebhookApex{}) {
		s.apex = nil
		return nil
	}
	s.apex = &a
	return nil
}

// WaitWebhooks waits until every webhook sent so far was answered or
// dropped.
func (s *Server) WaitWebhooks() { s.sender.Wait() }

// CloseWebhooks abandons the webhooks on their way and sends no more.
func (s *Server) CloseWebhooks() { s.sender.Close() }

// webhookBody is the body the Queueable job builds.
type webhookBody struct {
	CaseID string `json:"case_id"`
	Object string `json:"object"`
	UserID string `json:"user_id"`
}

// afterSaveLocked runs the Apex for a record of object (Case,
// CaseComment, ContentDocumentLink) of the case rc just saved by user.
// The caller holds s.mu; delivery runs in its own goroutine.
func (s *Server) afterSaveLocked(rc *rec, object string, user *rec) {
	a := s.apex
	if a == nil || rc == nil {
		return
	}
	flagged, _ := rc.vals[SyncFlagField].(bool)
	linked, _ := rc.vals[GoogleCaseField].(string)
	if !flagged && linked == "" {
		return
	}
	body, err := json.Marshal(webhookBody{CaseID: rc.id(), Object: object, UserID: user.id()})
	if err != nil {
		return
	}
	s.sender.Send(simhttp.Delivery{
		URL:    a.URL,
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   body,
		Sign:   simhttp.CasebridgeSigner(a.Secret),
		At:     s.opts.Clock(),
	})
}

// newWebhookSender returns the sender of the callouts: one attempt each,
// bounded by WebhookTimeout.
func newWebhookSender() *simhttp.Sender {
	return simhttp.NewSender(simhttp.SenderOptions{Timeout: WebhookTimeout})
}

// serveWebhookApex is the control endpoint at SimWebhookPath.
func (s *Server) serveWebhookApex(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut {
		w.Header().Set("Allow", http.MethodPut)
		writeErr(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "PUT only")
		return
	}
	var a WebhookApex
	if err := json.NewDecoder(io.LimitReader(r.Body, 8<<10)).Decode(&a); err != nil {
		writeErr(w, http.StatusBadRequest, "JSON_PARSER_ERROR", "The settings are not valid JSON.")
		return
	}
	if err := s.SetWebhookApex(a); err != nil {
		writeErr(w, http.StatusBadRequest, "INVALID_INPUT", err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
