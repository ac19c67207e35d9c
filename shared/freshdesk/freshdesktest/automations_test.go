package freshdesktest_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/casebridge/casebridge/shared/freshdesk/freshdesktest"
	"github.com/casebridge/casebridge/shared/webhook"
	"github.com/google/go-cmp/cmp"
)

const ruleSecret = "freshdesk-rule-secret-0123456789"

// receiver is casebridge's verifier behind a real HTTP server; it keeps
// the ticket ids of the webhooks it took and counts those it refused.
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	tickets []string
	refused int
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	v, err := webhook.New(webhook.KindFreshdesk, []byte(ruleSecret), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ev, err := v.Verify(req)
		r.mu.Lock()
		defer r.mu.Unlock()
		if err != nil {
			r.refused++
			http.Error(w, err.Error(), webhook.Status(err))
			return
		}
		r.tickets = append(r.tickets, ev.CaseIDs...)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// take returns the ticket ids received since the last call, once the
// simulator's webhooks so far are answered.
func (r *receiver) take(sim *freshdesktest.Server) ([]string, int) {
	sim.WaitWebhooks()
	r.mu.Lock()
	defer r.mu.Unlock()
	got, refused := r.tickets, r.refused
	r.tickets, r.refused = nil, 0
	return got, refused
}

// adminRules are the rules docs/crms/freshdesk.md asks the admin for: one
// on ticket creation and two on updates (by agents but the sync agent,
// and by requesters), each for tickets flagged for sync or linked, with
// the secret in a custom header and the ticket id in the content.
func adminRules(url string, syncAgent int64) []freshdesktest.AutomationRule {
	base := freshdesktest.AutomationRule{
		URL:         url,
		Headers:     map[string]string{webhook.HeaderWebhookSecret: ruleSecret},
		Content:     `{"ticket_id":"{{ticket.id}}"}`,
		AnyFieldSet: []string{freshdesktest.FieldSyncFlag, freshdesktest.FieldGoogleCase},
	}
	created, byAgents, byRequesters := base, base, base
	created.Name, created.Event = "casebridge: ticket created", freshdesktest.RuleOnCreation
	byAgents.Name, byAgents.Event, byAgents.PerformedBy = "casebridge: agent updates", freshdesktest.RuleOnUpdate, freshdesktest.PerformedByAgent
	byAgents.ExceptAgents = []int64{syncAgent}
	byRequesters.Name, byRequesters.Event, byRequesters.PerformedBy = "casebridge: requester updates", freshdesktest.RuleOnUpdate, freshdesktest.PerformedByRequester
	return []freshdesktest.AutomationRule{created, byAgents, byRequesters}
}

func putRules(t *testing.T, s *freshdesktest.Server, rules []freshdesktest.AutomationRule) int {
	t.Helper()
	st, _, _ := call(t, s, http.MethodPut, freshdesktest.SimAutomationsPath, "", map[string]any{"rules": rules})
	return st
}

func TestAutomationRulesTriggerWebhooks(t *testing.T) {
	s := freshdesktest.NewServer(t, freshdesktest.Options{})
	key := s.Options().APIKey
	rcv := newReceiver(t)
	if st := putRules(t, s, adminRules(rcv.srv.URL, s.SyncAgentID())); st != http.StatusNoContent {
		t.Fatalf("PUT %s = %d, want 204", freshdesktest.SimAutomationsPath, st)
	}

	flagged := s.CreateTicket(freshdesktest.Ticket{Subject: "s", Description: "d", SyncFlag: true})
	unflagged := s.CreateTicket(freshdesktest.Ticket{Subject: "s", Description: "d"})
	check := func(what string, want ...string) {
		t.Helper()
		got, refused := rcv.take(s)
		if refused != 0 || !cmp.Equal(want, got) {
			t.Errorf("%s: the receiver took %v and refused %d, want %v and none refused", what, got, refused, want)
		}
	}
	check("a flagged ticket and an unflagged one created", flagged)

	if _, err := s.AddHumanComment(flagged, "Dana Agent", "a reply", true); err != nil {
		t.Fatal(err)
	}
	check("an agent's reply", flagged)
	if _, err := s.AddCustomerReply(flagged, "thanks"); err != nil {
		t.Fatal(err)
	}
	check("the requester's reply", flagged)
	if err := s.SetHumanPriority(flagged, 4); err != nil {
		t.Fatal(err)
	}
	check("a priority an agent set", flagged)
	if err := s.SetHumanPriority(flagged, 4); err != nil {
		t.Fatal(err)
	}
	check("the same priority again, which changes nothing")
	if _, err := s.AddHumanComment(unflagged, "Dana Agent", "a reply", true); err != nil {
		t.Fatal(err)
	}
	check("a reply on a ticket neither flagged nor linked")

	// The sync agent's own writes through the API: left out by the rule
	// on agents' updates.
	if st, _, body := call(t, s, http.MethodPost, "/api/v2/tickets/"+flagged+"/notes", key, map[string]any{"body": "from Google", "private": false}); st != http.StatusCreated {
		t.Fatalf("adding a note: %d %s", st, body)
	}
	if st, _, body := call(t, s, http.MethodPut, "/api/v2/tickets/"+unflagged, key, map[string]any{"custom_fields": map[string]any{freshdesktest.FieldGoogleCase: "projects/p/cases/1"}}); st != http.StatusOK {
		t.Fatalf("linking a ticket: %d %s", st, body)
	}
	check("the sync agent's note and link")
	if st, _, body := call(t, s, http.MethodPost, "/api/v2/tickets", key, map[string]any{"subject": "from Google", "description": "d", "email": "casebridge.sync@example.com",
		"custom_fields": map[string]any{freshdesktest.FieldGoogleCase: "projects/p/cases/2"}}); st != http.StatusCreated {
		t.Fatalf("creating a ticket: %d %s", st, body)
	} else {
		// A creation rule has no performer: the sync agent's linked new
		// ticket runs it too.
		check("a linked ticket the sync agent created", strconv.Itoa(mustID(t, body)))
	}

	// Without the exception, the sync agent's writes trigger the rule.
	rules := adminRules(rcv.srv.URL, s.SyncAgentID())
	rules[1].ExceptAgents = nil
	if st := putRules(t, s, rules); st != http.StatusNoContent {
		t.Fatalf("PUT rules = %d", st)
	}
	if st, _, body := call(t, s, http.MethodPost, "/api/v2/tickets/"+flagged+"/notes", key, map[string]any{"body": "from Google", "private": false}); st != http.StatusCreated {
		t.Fatalf("adding a note: %d %s", st, body)
	}
	check("the sync agent's note with no agent left out", flagged)

	// A wrong secret in the header is refused by casebridge's verifier.
	rules = adminRules(rcv.srv.URL, s.SyncAgentID())
	rules[1].Headers = map[string]string{webhook.HeaderWebhookSecret: "another-secret-0123456789"}
	if st := putRules(t, s, rules); st != http.StatusNoContent {
		t.Fatalf("PUT rules = %d", st)
	}
	if _, err := s.AddHumanComment(flagged, "Dana Agent", "again", true); err != nil {
		t.Fatal(err)
	}
	if got, refused := rcv.take(s); len(got) != 0 || refused != 1 {
		t.Errorf("with a wrong secret the receiver took %v and refused %d, want none taken and one refused", got, refused)
	}

	// No rules, no webhooks.
	if st := putRules(t, s, nil); st != http.StatusNoContent {
		t.Fatalf("PUT no rules = %d", st)
	}
	if _, err := s.AddHumanComment(flagged, "Dana Agent", "once more", true); err != nil {
		t.Fatal(err)
	}
	check("a reply with the rules removed")
}

func mustID(t *testing.T, body []byte) int {
	t.Helper()
	var v struct{ ID int }
	if err := json.Unmarshal(body, &v); err != nil || v.ID == 0 {
		t.Fatalf("no ticket id in %s: %v", body, err)
	}
	return v.ID
}

func TestAutomationRulesThatCannotWorkAreRefused(t *testing.T) {
	s := freshdesktest.NewServer(t, freshdesktest.Options{})
	good := adminRules("http://127.0.0.1:1/hook", s.SyncAgentID())[1]
	for name, change := range map[string]func(r *freshdesktest.AutomationRule){
		"no event":                   func(r *freshdesktest.AutomationRule) { r.Event = "" },
		"an unknown performer":       func(r *freshdesktest.AutomationRule) { r.PerformedBy = "robot" },
		"a performer on creation":    func(r *freshdesktest.AutomationRule) { r.Event = freshdesktest.RuleOnCreation },
		"a URL without a scheme":     func(r *freshdesktest.AutomationRule) { r.URL = "127.0.0.1/hook" },
		"a header with a line break": func(r *freshdesktest.AutomationRule) { r.Headers = map[string]string{"X-A": "a\r\nX-B: b"} },
		"a header name with a space": func(r *freshdesktest.AutomationRule) { r.Headers = map[string]string{"X A": "a"} },
		"a field the account lacks":  func(r *freshdesktest.AutomationRule) { r.AnyFieldSet = []string{"cf_unknown"} },
	} {
		t.Run(name, func(t *testing.T) {
			r := good
			change(&r)
			if st := putRules(t, s, []freshdesktest.AutomationRule{r}); st != http.StatusBadRequest {
				t.Errorf("PUT = %d, want 400", st)
			}
		})
	}
	if st, _, _ := call(t, s, http.MethodGet, freshdesktest.SimAutomationsPath, "", nil); st != http.StatusMethodNotAllowed {
		t.Errorf("GET %s = %d, want 405", freshdesktest.SimAutomationsPath, st)
	}
}
