package ops

import (
	"context"
	"errors"
	"fmt"
	"github.com/casebridge/casebridge/shared/ops/opstest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestReachNamesTheServiceOnlyWhenItDidNotAnswer(t *testing.T) {
	t.Setenv("PUBSUB_EMULATOR_HOST", "")
	live, cancel := WithTimeout(t.Context(), time.Minute)
	defer cancel()
	tests := []struct {
		name string
		err  error
		want string // "" when err must come back unchanged
	}{
		{"Unavailable (connection refused, retried until the deadline) is not reaching it",
			fmt.Errorf("pulling x: %w", status.Error(codes.Unavailable, "connection refused")),
			"could not reach Pub/Sub at pubsub.googleapis.com for project p within 1m0s: pulling x: rpc error: code = Unavailable desc = connection refused"},
		{"a deadline that passed is not reaching it",
			fmt.Errorf("pulling x: %w", context.DeadlineExceeded),
			"could not reach Pub/Sub at pubsub.googleapis.com for project p within 1m0s: pulling x: context deadline exceeded"},
		{"an HTTP 503 is not reaching it",
			&googleapi.Error{Code: 503, Message: "unavailable"},
			"could not reach Pub/Sub at pubsub.googleapis.com for project p within 1m0s: googleapi: Error 503: unavailable"},
		{"a missing subscription is an answer", status.Error(codes.NotFound, "no such subscription"), ""},
		{"a missing role is an answer", status.Error(codes.PermissionDenied, "denied"), ""},
		{"an HTTP 403 is an answer", &googleapi.Error{Code: 403, Message: "denied"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Reach(live, ServicePubSub, "p", tt.err)
			var ue *UnreachableError
			if tt.want == "" {
				if got != tt.err {
					t.Errorf("Reach returned %v, want the error unchanged", got)
				}
				return
			}
			if !errors.As(got, &ue) || !errors.Is(got, tt.err) {
				t.Fatalf("Reach returned %#v, want an *UnreachableError wrapping the error", got)
			}
			if diff := cmp.Diff(tt.want, got.Error()); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("no error stays no error", func(t *testing.T) {
		if err := Reach(live, ServicePubSub, "p", nil); err != nil {
			t.Errorf("Reach(nil) = %v", err)
		}
	})
}

func TestMonitoringDepthsFailInTimeNamingCloudMonitoring(t *testing.T) {
	const within = 2 * time.Second
	for _, tt := range []struct {
		name string
		addr func(*testing.T) string
	}{
		{"an endpoint on a closed port", opstest.ClosedAddr},
		{"an endpoint that accepts and never answers", opstest.SilentAddr},
	} {
		t.Run(tt.name+" fails within the time allowed, naming Cloud Monitoring, and counts nothing", func(t *testing.T) {
			ctx, cancel := WithTimeout(t.Context(), within)
			defer cancel()
			start := time.Now()
			ds, err := MonitoringDepths(ctx, "p", []string{"a-dead-letter", "b-dead-letter"},
				option.WithEndpoint("http://"+tt.addr(t)+"/"), option.WithoutAuthentication())
			if took := time.Since(start); took > within+2*time.Second {
				t.Errorf("took %v with %v allowed", took, within)
			}
			var ue *UnreachableError
			if !errors.As(err, &ue) || ue.Service != ServiceMonitoring || ue.Within != within {
				t.Fatalf("error %v, want Cloud Monitoring not reached within %v", err, within)
			}
			if !strings.HasPrefix(err.Error(), "could not reach Cloud Monitoring at monitoring.googleapis.com for project p within 2s: ") {
				t.Errorf("message %q does not name the service and the project", err)
			}
			for _, d := range ds {
				if d.Error == "" {
					t.Errorf("depth %+v counted without an answer", d)
				}
			}
		})
	}
}
