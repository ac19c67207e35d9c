package crmsim_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmsim"
)

func TestAFailedAnswerNamesOnlyACodeTheSimulatorSends(t *testing.T) {
	const caseText = "the customer's secret case text"
	tests := []struct {
		name       string
		body       string
		wantReason error
		wantMsg    string
	}{
		{"a known code is named and gives its reason", `{"error":"` + caseText + `","code":"invalid_priority"}`,
			crmsim.ErrInvalidPriority, "CRM simulator answered HTTP 400 Bad Request: invalid_priority"},
		{"an unknown code is not repeated", `{"error":"` + caseText + `","code":"` + caseText + `"}`,
			nil, "CRM simulator answered HTTP 400 Bad Request"},
		{"a body that is not JSON is not repeated", caseText,
			nil, "CRM simulator answered HTTP 400 Bad Request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, tc.body)
			}))
			t.Cleanup(srv.Close)
			err := crmsim.NewClient(srv.URL, srv.Client()).SetPriority(context.Background(), "1", "P9")
			var ae *casesync.APIError
			if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Transient || ae.Op != crmsim.OpSetPriority {
				t.Fatalf("SetPriority = %v, want a permanent 400 APIError of %s", err, crmsim.OpSetPriority)
			}
			if tc.wantReason != nil && !errors.Is(err, tc.wantReason) {
				t.Errorf("SetPriority = %v, want it to wrap %v", err, tc.wantReason)
			}
			if msg := ae.Err.Error(); msg != tc.wantMsg {
				t.Errorf("message = %q, want %q", msg, tc.wantMsg)
			}
			if strings.Contains(err.Error(), caseText) {
				t.Errorf("error %q repeats the answer's text", err)
			}
		})
	}
}
