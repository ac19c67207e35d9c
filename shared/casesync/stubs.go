package casesync

import (
	"context"
	"errors"
)

// Placeholders while the engine is written; replaced by sync.go, poll.go,
// outage.go and cleanup.go.
func (e *Engine) poll(ctx context.Context, side Side) (PollResult, error) {
	return PollResult{}, errors.New("not implemented")
}

// SyncCase reconciles the mapping of one case, both ways.
func (e *Engine) SyncCase(ctx context.Context, ref CaseRef) (SyncResult, error) {
	return SyncResult{}, errors.New("not implemented")
}

// Cleanup deletes mappings resolved longer ago than CleanupAfter.
func (e *Engine) Cleanup(ctx context.Context) (int, error) {
	return 0, errors.New("not implemented")
}

// DetectOutages checks every linked mapping against the tolerance table.
func (e *Engine) DetectOutages(ctx context.Context) (OutageReport, error) {
	return OutageReport{}, errors.New("not implemented")
}
