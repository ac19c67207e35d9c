package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/eventing"
)

// FailuresCollection holds the last failed delivery of a message, one
// document per eventing.FailureKey, for the dead-letter tool.
const FailuresCollection = "deliveryFailures"

// FailureTTL is how long a failure record is kept: its expireAt field,
// which Firestore's TTL policy (terraform/firestore.tf) deletes by, is this
// long after the failure. A message is dead-lettered right after its last
// failed attempt and kept at most 31 days (dead_letter_retention, 14 days
// by default), so the record outlives every dead-lettered message it
// explains.
const FailureTTL = 32 * 24 * time.Hour

// failureDoc is the persisted form of an eventing.DeliveryFailure.
type failureDoc struct {
	Function     string    `firestore:"function"`
	Subscription string    `firestore:"subscription,omitempty"`
	Error        string    `firestore:"error"`
	At           time.Time `firestore:"at"`
	ExpireAt     time.Time `firestore:"expireAt"`
	Side         string    `firestore:"side,omitempty"`
	CaseID       string    `firestore:"caseId,omitempty"`
	MappingID    string    `firestore:"mappingId,omitempty"`
	UpdateTime   time.Time `firestore:"updateTime,omitempty"`
}

var _ eventing.FailureRecorder = (*Store)(nil)

// failureKeyOK checks that key is a Firestore document id of the failures
// collection.
func failureKeyOK(key string) error {
	if key == "" || strings.Contains(key, "/") || key == "." || key == ".." {
		return fmt.Errorf("store: %q is not a failure record key (see eventing.FailureKey)", key)
	}
	return nil
}

// RecordFailure implements eventing.FailureRecorder: it sets
// deliveryFailures/{f.Key}, replacing the previous failure of the same key,
// with one write and no read.
func (s *Store) RecordFailure(ctx context.Context, f eventing.DeliveryFailure) error {
	if err := failureKeyOK(f.Key); err != nil {
		return err
	}
	d := failureDoc{
		Function:     f.Function,
		Subscription: f.Subscription,
		Error:        f.Error,
		At:           f.At.UTC(),
		ExpireAt:     f.At.UTC().Add(FailureTTL),
	}
	if r := f.CaseRef; r != nil {
		d.Side, d.CaseID, d.MappingID, d.UpdateTime = string(r.Side), r.ID, r.MappingID, r.UpdateTime.UTC()
	}
	if _, err := s.client.Collection(FailuresCollection).Doc(f.Key).Set(ctx, d); err != nil {
		return classify("record delivery failure", err)
	}
	s.writes.Add(1)
	return nil
}

// GetFailure reads the failure record of key; ok is false when there is
// none (never recorded, or expired).
func (s *Store) GetFailure(ctx context.Context, key string) (_ eventing.DeliveryFailure, ok bool, _ error) {
	if err := failureKeyOK(key); err != nil {
		return eventing.DeliveryFailure{}, false, err
	}
	snap, err := s.client.Collection(FailuresCollection).Doc(key).Get(ctx)
	s.reads.Add(1)
	if err != nil {
		if snap != nil && !snap.Exists() {
			return eventing.DeliveryFailure{}, false, nil
		}
		return eventing.DeliveryFailure{}, false, classify("get delivery failure", err)
	}
	var d failureDoc
	if err := snap.DataTo(&d); err != nil {
		return eventing.DeliveryFailure{}, false, fmt.Errorf("store: decoding delivery failure %s: %w", key, err)
	}
	f := eventing.DeliveryFailure{
		Key:          key,
		Function:     d.Function,
		Subscription: d.Subscription,
		Error:        d.Error,
		At:           d.At.UTC(),
	}
	if d.CaseID != "" || d.MappingID != "" {
		f.CaseRef = &casesync.CaseRef{Side: casesync.Side(d.Side), ID: d.CaseID, MappingID: d.MappingID}
		if !d.UpdateTime.IsZero() {
			f.CaseRef.UpdateTime = d.UpdateTime.UTC()
		}
	}
	return f, true, nil
}
