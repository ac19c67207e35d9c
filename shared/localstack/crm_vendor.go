package localstack

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// vendorCRM is a helpdesk vendor's simulator run by the stack in place of
// the CRM simulator, one per CRM kind: crm_zendesk.go, crm_jira.go and
// crm_servicenow.go. Each runs on its own 127.0.0.1 address, on the stack's
// clock, set up as the helpdesk's administrator sets it up for casebridge
// (docs/crms/<vendor>.md: the sync user and its credentials, the two
// custom fields); the functions process reaches it through the stack's CRM
// server, which SetCRMDown turns off.
type vendorCRM interface {
	// title names the simulator in messages ("the Zendesk simulator").
	title() string
	// start starts the simulator on the stack's clock and sets the
	// stack's field for it (Stack.Zendesk...). front is the URL the
	// functions process reaches it by (CRM_URL).
	start(st *Stack, front string) error
	// url is the simulator's own address, not behind the outage switch:
	// what the stack's CRM server forwards to, and where the administrator
	// and the helpdesk's people reach it.
	url() string
	// env is the adapter's variables for the functions process.
	env() map[string]string
	// syncUser is the sync user as the vendor's webhooks name who made a
	// change (CASEBRIDGE_WEBHOOK_SYNC_USER).
	syncUser() string
	// setWebhook registers, through the simulator's own API as the
	// administrator would, a webhook to url signed with secret, replacing
	// the one it registered before; url "" only removes that one. It
	// returns the secret CRMWebhook must check (Zendesk's webhooks are
	// first signed with a secret Zendesk makes).
	setWebhook(ctx context.Context, url, secret string) (string, error)
	// stopWebhooks stops the webhooks and waits for those on their way,
	// before the functions process stops.
	stopWebhooks()
	// close stops the simulator.
	close()
}

// newVendorCRM returns the wiring of a vendor's CRM kind, or nil for the
// CRM simulator and Request Tracker.
func newVendorCRM(kind string) vendorCRM {
	switch kind {
	case CRMZendesk:
		return &zendeskCRM{}
	case CRMJira:
		return &jiraCRM{}
	case CRMServiceNow:
		return &serviceNowCRM{}
	case CRMFreshdesk:
		return &freshdeskCRM{}
	case CRMSalesforce:
		return &salesforceCRM{}
	}
	return nil
}

// randomHex returns n random bytes in hex: the credentials the stack
// makes for a simulator's sync user.
func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making a credential: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// maxAdminAnswerBytes bounds what the stack reads of an answer to one of
// its administrator calls.
const maxAdminAnswerBytes = 1 << 20

// adminCall makes one administrator's call to a simulator's API: the
// request body in (nil: none) as JSON, with basic credentials when user is
// set, and the answer decoded into out (nil: ignored) when it has status
// want.
func adminCall(ctx context.Context, method, url, user, password string, in, out any, want int) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAdminAnswerBytes))
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		// The answer may quote what was sent (a secret among it): only its
		// status is told.
		return fmt.Errorf("%s %s answered HTTP %d, want %d", method, req.URL.Path, resp.StatusCode, want)
	}
	if out != nil {
		if err := json.Unmarshal(answer, out); err != nil {
			return fmt.Errorf("%s %s: reading the answer: %w", method, req.URL.Path, err)
		}
	}
	return nil
}
