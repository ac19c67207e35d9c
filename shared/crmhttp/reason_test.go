package crmhttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
)

// errPriority stands for a vendor's own reason for refusing a call.
var errPriority = errors.New("priority is not one of the CRM's values")

// reasonByCode reads a vendor's error code from an error answer, the way an
// adapter's Config.Reason would.
func reasonByCode(_ int, body []byte) error {
	var e struct {
		Code string `json:"code"`
	}
	if json.Unmarshal(body, &e) == nil && e.Code == "invalid_priority" {
		return errPriority
	}
	return nil
}

func TestAVendorsReasonIsFoundInTheErrorOfItsAnswer(t *testing.T) {
	tests := []struct {
		name         string
		status       int
		body         string
		wantReason   bool
		wantNotFound bool
		wantMessage  string
	}{
		{"a code the vendor names gives its reason", 400, `{"code":"invalid_priority","error":"customer text here"}`, true, false,
			"TestCRM answered HTTP 400 Bad Request"},
		{"an unknown code gives none", 400, `{"code":"something_else"}`, false, false,
			"TestCRM answered HTTP 400 Bad Request"},
		{"a not-found answer with a reason is still not found", 404, `{"code":"invalid_priority"}`, true, true,
			"TestCRM answered HTTP 404 Not Found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &scripted{statuses: []int{tc.status}, body: tc.body}
			c, _ := newClient(t, s, crmhttp.Config{MaxAttempts: 1, Reason: reasonByCode})
			_, err := c.Do(context.Background(), crmhttp.Request{Op: "tickets.priority", Method: http.MethodPut, Path: "/tickets/1"})
			var ae *casesync.APIError
			var se *crmhttp.StatusError
			if !errors.As(err, &ae) || !errors.As(err, &se) || ae.Status != tc.status || se.Status != tc.status {
				t.Fatalf("error %v, want an APIError of status %d wrapping a StatusError", err, tc.status)
			}
			if got := errors.Is(err, errPriority); got != tc.wantReason {
				t.Errorf("errors.Is(err, the vendor's reason) = %v, want %v", got, tc.wantReason)
			}
			if got := casesync.IsNotFound(err); got != tc.wantNotFound {
				t.Errorf("IsNotFound = %v, want %v", got, tc.wantNotFound)
			}
			// The reason is for errors.Is; the message stays the status's.
			if got := se.Error(); got != tc.wantMessage {
				t.Errorf("message = %q, want %q", got, tc.wantMessage)
			}
		})
	}
}
