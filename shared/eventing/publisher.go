package eventing

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"cloud.google.com/go/pubsub/v2"
	"github.com/casebridge/casebridge/shared/casesync"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Publisher sends case-updated facts and sync-requested commands on Pub/Sub.
// It implements casesync.Publisher. Messages carry no ordering key: each
// reconciliation reads both cases' current state under the mapping's lease,
// so their order does not matter.
type Publisher struct {
	caseUpdated   *pubsub.Publisher
	syncRequested *pubsub.Publisher
	stopOnce      sync.Once
}

var _ casesync.Publisher = (*Publisher)(nil)

// NewPublisher publishes on the two topics (ids or full names) through c.
// Call Stop when done.
func NewPublisher(c *pubsub.Client, caseUpdatedTopic, syncRequestedTopic string) *Publisher {
	return &Publisher{caseUpdated: c.Publisher(caseUpdatedTopic), syncRequested: c.Publisher(syncRequestedTopic)}
}

// PublishCaseUpdated publishes one message per reference and waits until
// every one is accepted. If any fails it returns an error naming how many
// failed; a retry republishes all, which is harmless (the sync is
// idempotent).
func (p *Publisher) PublishCaseUpdated(ctx context.Context, refs []casesync.CaseRef) error {
	results := make([]*pubsub.PublishResult, 0, len(refs))
	for _, ref := range refs {
		body, err := EncodeCaseRef(ref)
		if err != nil {
			return fmt.Errorf("encoding case-updated message: %w", err)
		}
		results = append(results, p.caseUpdated.Publish(ctx, &pubsub.Message{Data: body}))
	}
	var errs []error
	for _, r := range results {
		if _, err := r.Get(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return classify(fmt.Errorf("publishing case-updated: %d of %d messages failed: %w", len(errs), len(refs), errors.Join(errs...)))
	}
	return nil
}

// PublishSyncRequested publishes one sync-requested command and waits until
// it is accepted.
func (p *Publisher) PublishSyncRequested(ctx context.Context, ref casesync.CaseRef) error {
	body, err := EncodeCaseRef(ref)
	if err != nil {
		return fmt.Errorf("encoding sync-requested message: %w", err)
	}
	if _, err := p.syncRequested.Publish(ctx, &pubsub.Message{Data: body}).Get(ctx); err != nil {
		return classify(fmt.Errorf("publishing sync-requested: %w", err))
	}
	return nil
}

// Stop flushes pending messages and stops the publishers' goroutines.
func (p *Publisher) Stop() {
	p.stopOnce.Do(func() {
		p.caseUpdated.Stop()
		p.syncRequested.Stop()
	})
}

// classify marks a publish failure transient unless retrying cannot help
// (the message itself was rejected as invalid). A missing topic or a
// missing permission is treated as transient: it is a deployment fault,
// and once fixed the retry succeeds, whereas acking would lose the update.
func classify(err error) error {
	if hasCode(err, codes.InvalidArgument) {
		return err
	}
	return &casesync.TransientError{Err: err}
}

func hasCode(err error, c codes.Code) bool {
	var found bool
	walk(err, func(e error) {
		if s, ok := status.FromError(e); ok && s.Code() == c {
			found = true
		}
	})
	return found
}

func walk(err error, fn func(error)) {
	if err == nil {
		return
	}
	fn(err)
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			walk(e, fn)
		}
	case interface{ Unwrap() error }:
		walk(u.Unwrap(), fn)
	}
}
