package rt_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/rt/rttest"
	"github.com/casebridge/casebridge/shared/webhook"
	"github.com/google/go-cmp/cmp"
)

// notice is the body RT's webhook scrip sends.
type notice struct {
	Ticket  int    `json:"ticket"`
	Txn     int    `json:"txn"`
	Type    string `json:"type"`
	Creator string `json:"creator"`
}

// delivery is one request the scrip made, as the endpoint received it.
type delivery struct {
	header http.Header
	body   []byte
	notice notice
}

// scripEndpoint stands for casebridge's webhook receiver: it records what
// RT's scrip sends, and can answer slowly or with an error for chosen
// tickets.
type scripEndpoint struct {
	srv *httptest.Server

	mu     sync.Mutex
	got    []delivery
	slow   map[int]bool // never answers (until the scrip gives up)
	broken map[int]bool // answers 500
}

func newScripEndpoint(t *testing.T) *scripEndpoint {
	e := &scripEndpoint{slow: map[int]bool{}, broken: map[int]bool{}}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		var n notice
		_ = json.Unmarshal(body, &n)
		e.mu.Lock()
		e.got = append(e.got, delivery{header: r.Header.Clone(), body: body, notice: n})
		slow, broken := e.slow[n.Ticket], e.broken[n.Ticket]
		e.mu.Unlock()
		switch {
		case slow:
			select {
			case <-r.Context().Done():
			case <-time.After(30 * time.Second):
			}
		case broken:
			w.WriteHeader(http.StatusInternalServerError)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	t.Cleanup(e.srv.Close)
	return e
}

// deliveries returns what arrived for a ticket.
func (e *scripEndpoint) deliveries(ticket int) []delivery {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []delivery
	for _, d := range e.got {
		if d.notice.Ticket == ticket {
			out = append(out, d)
		}
	}
	return out
}

// waitFor returns the first delivery for the transaction, waiting up to
// ten seconds (the scrip sends it within the request that made the
// transaction, so it is normally already there).
func (e *scripEndpoint) waitFor(t *testing.T, ticket, txn int) delivery {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, d := range e.deliveries(ticket) {
			if d.notice.Txn == txn {
				return d
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no webhook for ticket %d transaction %d arrived; got %+v", ticket, txn, e.deliveries(ticket))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// casebridgeSignature computes the signature of casebridge's own scheme
// independently of the scrip: sha256=<hex HMAC-SHA256(secret, timestamp +
// "." + body)>.
func casebridgeSignature(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp + "." + string(body)))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// syncComment comments on a ticket as the sync user, as casebridge does,
// and returns the transaction's id.
func syncComment(ctx context.Context, t *testing.T, inst *rttest.Instance, ticket, text string) int {
	t.Helper()
	body := `{"Content":` + strconv.Quote(text) + `,"ContentType":"text/plain"}`
	req, err := http.NewRequestWithContext(ctx, "POST", inst.RESTURL()+"/ticket/"+ticket+"/comment", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "token "+inst.SyncToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	txn, err := strconv.Atoi(path.Base(resp.Header.Get("Location")))
	if resp.StatusCode != http.StatusCreated || err != nil {
		t.Fatalf("commenting as the sync user answered %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return txn
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return n
}

// TestTheWebhookScripSignsPeoplesChangesAndSkipsTheSyncUsers runs an RT
// whose webhook scrip points at a local endpoint, and checks what arrives
// there as the receiver would.
func TestTheWebhookScripSignsPeoplesChangesAndSkipsTheSyncUsers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	ep := newScripEndpoint(t)
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	secret := hex.EncodeToString(b)
	hooked, err := rttest.Start(ctx, rttest.Options{WebhookURL: ep.srv.URL + "/crm-webhook", WebhookSecret: secret})
	if err != nil {
		t.Fatalf("cannot start Request Tracker, which this test needs: %v", err)
	}
	defer func() {
		if err := hooked.Stop(); err != nil {
			t.Error(err)
		}
	}()
	human := hooked.Human
	login, err := human.Login(ctx, "Alice Agent")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("a comment by a person arrives signed, naming the ticket and transaction", func(t *testing.T) {
		id, err := human.CreateTicket(ctx, rttest.NewTicket{Subject: "webhook", Description: "d", Author: "Alice Agent"})
		if err != nil {
			t.Fatal(err)
		}
		txn, err := human.AddComment(ctx, id, "Alice Agent", "looking into it", false)
		if err != nil {
			t.Fatal(err)
		}
		d := ep.waitFor(t, atoi(t, id), atoi(t, txn))
		ts := d.header.Get("X-Casebridge-Timestamp")
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || time.Since(time.Unix(sec, 0)).Abs() > time.Minute {
			t.Errorf("X-Casebridge-Timestamp %q is not the current unix time", ts)
		}
		if got, want := d.header.Get("X-Casebridge-Signature"), casebridgeSignature(secret, ts, d.body); got != want {
			t.Errorf("X-Casebridge-Signature %q, want %q", got, want)
		}
		var raw map[string]any
		if err := json.Unmarshal(d.body, &raw); err != nil {
			t.Fatalf("the body is not JSON: %v", err)
		}
		want := map[string]any{"ticket": float64(atoi(t, id)), "txn": float64(atoi(t, txn)), "type": "Comment", "creator": login}
		if diff := cmp.Diff(want, raw); diff != "" {
			t.Errorf("body (-want +got):\n%s", diff)
		}
		if ct := d.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		// casebridge's receiver accepts it as RT's webhook for the ticket.
		v, err := webhook.New(webhook.KindRequestTracker, []byte(secret), nil)
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest("POST", "/", strings.NewReader(string(d.body)))
		req.Header = d.header
		ev, err := v.Verify(req)
		if err != nil {
			t.Fatalf("the receiver's verifier refused the scrip's request: %v", err)
		}
		ev.Size = 0
		wantEv := webhook.Event{Kind: webhook.KindRequestTracker, CaseIDs: []string{id}, EventID: txn, Type: "Comment", Actor: login}
		if diff := cmp.Diff(wantEv, ev); diff != "" {
			t.Errorf("verified event (-want +got):\n%s", diff)
		}
	})

	t.Run("a comment by the sync user is not sent", func(t *testing.T) {
		id, err := human.CreateTicket(ctx, rttest.NewTicket{Subject: "echo", Description: "d", Author: "Alice Agent"})
		if err != nil {
			t.Fatal(err)
		}
		syncTxn := syncComment(ctx, t, hooked, id, "[Google Comment 1 by someone]")
		// A person's comment after it: once it has arrived, the sync
		// user's, made before in the same way, would have too.
		after, err := human.AddComment(ctx, id, "Alice Agent", "after", false)
		if err != nil {
			t.Fatal(err)
		}
		ep.waitFor(t, atoi(t, id), atoi(t, after))
		for _, d := range ep.deliveries(atoi(t, id)) {
			if d.notice.Txn == syncTxn || d.notice.Creator == rttest.SyncUser {
				t.Errorf("the sync user's transaction was sent: %s", d.body)
			}
		}
	})

	t.Run("an endpoint that does not answer or fails never stalls or fails a person's change", func(t *testing.T) {
		for _, mode := range []string{"never answers", "answers 500"} {
			id, err := human.CreateTicket(ctx, rttest.NewTicket{Subject: "slow endpoint", Description: "d", Author: "Alice Agent"})
			if err != nil {
				t.Fatal(err)
			}
			ep.mu.Lock()
			if mode == "never answers" {
				ep.slow[atoi(t, id)] = true
			} else {
				ep.broken[atoi(t, id)] = true
			}
			ep.mu.Unlock()
			start := time.Now()
			txn, err := human.AddComment(ctx, id, "Alice Agent", "still works", false)
			took := time.Since(start)
			if err != nil {
				t.Fatalf("endpoint %s: the comment failed: %v", mode, err)
			}
			ep.waitFor(t, atoi(t, id), atoi(t, txn))
			// The scrip gives up after 2 s; RT's own work adds little.
			if took > 6*time.Second {
				t.Errorf("endpoint %s: the comment took %v, want the scrip to give up after about 2 s", mode, took)
			}
		}
	})
}

// TestTheDocumentedScripIsTheOneTheTestsRun keeps the scrip that
// docs/crms/request-tracker.md tells administrators to paste into RT the
// same as the one the test instances install.
func TestTheDocumentedScripIsTheOneTheTestsRun(t *testing.T) {
	data, err := os.ReadFile("../../scripts/rt/initialdata.pl")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)<<'CODE';\n(.*?)\nCODE\n`).FindSubmatch(data)
	if m == nil {
		t.Fatal("scripts/rt/initialdata.pl holds no <<'CODE' block")
	}
	doc, err := os.ReadFile("../../docs/crms/request-tracker.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```perl\n"+string(m[1])+"\n```") {
		t.Error("docs/crms/request-tracker.md does not show the commit code of scripts/rt/initialdata.pl's scrip as it is")
	}
}
