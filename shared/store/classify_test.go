package store

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/casebridge/casebridge/shared/casesync"
)

func TestClassifyMapsFirestoreErrorsToEngineErrors(t *testing.T) {
	tests := []struct {
		name          string
		err           error
		wantNotFound  bool
		wantTransient bool
	}{
		{"NotFound becomes ErrNotFound", status.Error(codes.NotFound, "x"), true, false},
		{"Aborted is transient", status.Error(codes.Aborted, "x"), false, true},
		{"Unavailable is transient", status.Error(codes.Unavailable, "x"), false, true},
		{"DeadlineExceeded is transient", status.Error(codes.DeadlineExceeded, "x"), false, true},
		{"ResourceExhausted is transient", status.Error(codes.ResourceExhausted, "x"), false, true},
		{"PermissionDenied is permanent", status.Error(codes.PermissionDenied, "x"), false, false},
		{"InvalidArgument is permanent", status.Error(codes.InvalidArgument, "x"), false, false},
		{"a conflict stays a conflict", casesync.ErrConflict, false, false},
		{"a held lease stays transient", casesync.ErrLeaseHeld, false, true},
		{"a cancelled context is not retried", context.Canceled, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := classify("op", tc.err)
			if nf := errors.Is(got, casesync.ErrNotFound); nf != tc.wantNotFound {
				t.Errorf("errors.Is(%v, ErrNotFound) = %v, want %v", got, nf, tc.wantNotFound)
			}
			if tr := casesync.IsTransient(got); tr != tc.wantTransient {
				t.Errorf("IsTransient(%v) = %v, want %v", got, tr, tc.wantTransient)
			}
			if !errors.Is(got, tc.err) {
				t.Errorf("%v does not wrap the original %v", got, tc.err)
			}
		})
	}
}
