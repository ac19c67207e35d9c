package servicenowtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/casebridge/casebridge/shared/simhttp"
)

// ServiceNow has no webhook API. The documented pattern, and what
// docs/webhooks.md tells the admin to set up, is an async business rule
// (after insert and update on the case table, condition: flagged for sync
// or linked, and not changed by the integration user) whose script signs
// the change with casebridge's scheme and sends it through an outbound
// REST message (sn_ws.RESTMessageV2). WebhookRule stands for that setup:
// after each insert or update of a case record that meets the condition,
// the simulator POSTs
//
//	{"table":"<table>","sys_id":"<sys_id>","number":"<number>","updated_by":"<user>"}
//
// with X-Casebridge-Timestamp (Unix seconds, by the instance's clock) and
// X-Casebridge-Signature: "sha256=" and the lowercase hex
// HMAC-SHA256(secret, timestamp + "." + body). As an async rule does, it
// sends after the change, in the background and never under the
// instance's lock, with a short timeout; a REST message is not retried, so
// a failure is dropped (casebridge's polling catches up). An attachment
// alone does not update the record, so it fires nothing, as on the
// platform.

// WebhookTimeout bounds one delivery (the REST message's HTTP timeout).
const WebhookTimeout = 5 * time.Second

// WebhookRule is the business rule and REST message setup.
type WebhookRule struct {
	// URL is the REST message's endpoint: casebridge's receiver.
	URL string `json:"url"`
	// Secret is the signing secret (a password2 system property on the
	// platform).
	Secret string `json:"secret"`
	// Table is the table the rule runs on; it fires only for the case
	// table.
	Table string `json:"table"`
	// ExcludedUser is the integration (sync) user whose own changes the
	// rule's condition leaves out.
	ExcludedUser string `json:"excluded_user"`
}

// SimWebhookPath is the control endpoint that stands for the admin setup:
// PUT a WebhookRule as JSON (answers 204), or {} to remove it. It needs no
// authentication and is not counted in Requests.
const SimWebhookPath = "/_sim/webhook-rule"

// ErrBadWebhookRule is the answer to a rule that cannot work.
var ErrBadWebhookRule = errors.New("the rule needs an http or https url, a secret of 16 to 1024 bytes and a table name (or all empty to remove it)")

// SetWebhookRule installs the rule, replacing any; a zero WebhookRule
// removes it.
func (s *Server) SetWebhookRule(r WebhookRule) error {
	if r != (WebhookRule{}) && (!simhttp.ValidWebhookTarget(r.URL, r.Secret) || !validTableName(r.Table)) {
		return ErrBadWebhookRule
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r == (WebhookRule{}) {
		s.rule = nil
		return nil
	}
	s.rule = &r
	return nil
}

// WaitWebhooks waits until every webhook sent so far was delivered or
// dropped.
func (s *Server) WaitWebhooks() { s.sender.Wait() }

func validTableName(t string) bool {
	if t == "" || len(t) > 80 {
		return false
	}
	for _, c := range t {
		if c != '_' && (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// webhookBody is the body the business rule's script builds, in its order.
type webhookBody struct {
	Table     string `json:"table"`
	SysID     string `json:"sys_id"`
	Number    string `json:"number"`
	UpdatedBy string `json:"updated_by"`
}

// afterWriteLocked runs the business rule for a case record just inserted
// or updated by user by. The caller holds s.mu; delivery runs in its own
// goroutine.
func (s *Server) afterWriteLocked(row map[string]string, by string) {
	r := s.rule
	if r == nil || r.Table != s.opts.Table || s.tables[s.opts.Table].byID[row["sys_id"]] == nil {
		return
	}
	if !(row[s.opts.SyncFlagField] == "true" || row[s.opts.GoogleCaseField] != "") || strings.EqualFold(by, r.ExcludedUser) {
		return
	}
	body, err := json.Marshal(webhookBody{Table: s.opts.Table, SysID: row["sys_id"], Number: row["number"], UpdatedBy: by})
	if err != nil {
		return
	}
	s.sender.Send(simhttp.Delivery{
		URL: r.URL,
		Header: http.Header{
			"Content-Type": {"application/json"},
			"User-Agent":   {"ServiceNow/1.0"},
		},
		Body: body,
		Sign: simhttp.CasebridgeSigner(r.Secret),
		At:   s.opts.Clock(),
	})
}

// newWebhookSender returns the sender of the REST message: one attempt
// each, bounded by WebhookTimeout, with a client that follows redirects as
// Go's default one does.
func newWebhookSender() *simhttp.Sender {
	return simhttp.NewSender(simhttp.SenderOptions{Client: &http.Client{}, Timeout: WebhookTimeout})
}

// serveWebhookRule is the control endpoint at SimWebhookPath.
func (s *Server) serveWebhookRule(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut {
		w.Header().Set("Allow", http.MethodPut)
		writeError(w, http.StatusMethodNotAllowed, "Method not allowed", "")
		return
	}
	var rule WebhookRule
	if err := json.NewDecoder(io.LimitReader(r.Body, 8<<10)).Decode(&rule); err != nil {
		writeError(w, http.StatusBadRequest, "Exception while reading request", "The payload is not valid JSON.")
		return
	}
	if err := s.SetWebhookRule(rule); err != nil {
		writeError(w, http.StatusBadRequest, "Invalid webhook rule", err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// UpdateRecord changes a case record as user by (a user_name), as a human
// does in the UI: fields are column values, "comments" and "work_notes"
// become journal entries. The platform's data policies apply; a write that
// changes nothing does not update the record.
func (s *Server) UpdateRecord(id, by string, fields map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	row := s.tables[s.opts.Table].byID[id]
	if row == nil {
		return fmt.Errorf("no record %s", id)
	}
	before := maps.Clone(row)
	journal, err := s.applyLocked(row, fields)
	if err != nil {
		return err
	}
	for _, j := range journal {
		s.addJournalLocked(row, j[0], by, j[1])
	}
	if len(journal) > 0 || !maps.Equal(before, row) {
		s.touchLocked(row, by)
	}
	return nil
}
