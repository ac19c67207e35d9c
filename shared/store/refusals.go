package store

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/casebridge/casebridge/shared/casesync"
)

// RefusalsCollection holds one document per refused case and kind
// (casesync.Refusal), counted, for the status command. Firestore's TTL
// policy (terraform/firestore.tf) deletes a record by its expireAt field,
// casesync.RefusalRetention after its last occurrence.
const RefusalsCollection = "refusals"

type refusalDoc struct {
	Side     string    `firestore:"side"`
	CaseID   string    `firestore:"caseId"`
	Kind     string    `firestore:"kind"`
	Reason   string    `firestore:"reason"`
	First    time.Time `firestore:"first"`
	Last     time.Time `firestore:"last"`
	Count    int64     `firestore:"count"`
	ExpireAt time.Time `firestore:"expireAt"`
	// CaseUpdateTime is casesync.Refusal's, null when none is known.
	CaseUpdateTime *time.Time `firestore:"caseUpdateTime"`
}

func (d refusalDoc) refusal() casesync.Refusal {
	return casesync.Refusal{Side: casesync.Side(d.Side), CaseID: d.CaseID, Kind: casesync.RefusalKind(d.Kind),
		Reason: d.Reason, First: d.First.UTC(), Last: d.Last.UTC(), Count: d.Count, CaseUpdateTime: timeVal(d.CaseUpdateTime)}
}

// RecordRefusal implements casesync.RefusalStore: one transaction that
// creates or counts up refusals/{side:kind:case}.
func (s *Store) RecordRefusal(ctx context.Context, f casesync.Refusal, at time.Time) (casesync.Refusal, error) {
	at = at.UTC()
	ref := s.client.Collection(RefusalsCollection).Doc(url.PathEscape(f.Key()))
	var out refusalDoc
	err := s.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		d := refusalDoc{Side: string(f.Side), CaseID: f.CaseID, Kind: string(f.Kind), First: at}
		snap, err := tx.Get(ref)
		switch {
		case err == nil:
			if err := snap.DataTo(&d); err != nil {
				return fmt.Errorf("store: decoding refusal %s: %w", ref.ID, err)
			}
		case snap == nil || snap.Exists():
			return err
		}
		d.Reason, d.Last, d.Count = f.Reason, at, d.Count+1
		if f.CaseUpdateTime.After(timeVal(d.CaseUpdateTime)) {
			d.CaseUpdateTime = timePtr(f.CaseUpdateTime.UTC().Truncate(time.Microsecond))
		}
		d.ExpireAt = at.Add(casesync.RefusalRetention)
		out = d
		return tx.Set(ref, d)
	}, firestore.MaxAttempts(txMaxAttempts))
	s.reads.Add(1)
	if err != nil {
		return casesync.Refusal{}, classify("record refusal", err)
	}
	s.writes.Add(1)
	return out.refusal(), nil
}

// ListRefusals implements casesync.RefusalStore, the most recent first.
func (s *Store) ListRefusals(ctx context.Context, limit int) ([]casesync.Refusal, error) {
	if limit <= 0 {
		limit = 100
	}
	docs, err := s.client.Collection(RefusalsCollection).OrderBy("last", firestore.Desc).Limit(limit).Documents(ctx).GetAll()
	if err != nil {
		return nil, classify("list refusals", err)
	}
	s.reads.Add(int64(max(len(docs), 1)))
	out := make([]casesync.Refusal, 0, len(docs))
	for _, snap := range docs {
		var d refusalDoc
		if err := snap.DataTo(&d); err != nil {
			return nil, fmt.Errorf("store: decoding refusal %s: %w", snap.Ref.ID, err)
		}
		out = append(out, d.refusal())
	}
	return out, nil
}

// RefusedAt implements casesync.RefusalStore: the records of every kind
// that applies to side, for all ids, are read in one batch (a missing one
// counts as a read, as Firestore bills it).
func (s *Store) RefusedAt(ctx context.Context, side casesync.Side, ids []string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	kinds := casesync.RefusalKinds(side)
	for _, chunk := range chunks(ids, refusedAtBatch/len(kinds)) {
		refs := make([]*firestore.DocumentRef, 0, len(chunk)*len(kinds))
		for _, id := range chunk {
			for _, k := range kinds {
				f := casesync.Refusal{Side: side, CaseID: id, Kind: k}
				refs = append(refs, s.client.Collection(RefusalsCollection).Doc(url.PathEscape(f.Key())))
			}
		}
		snaps, err := s.client.GetAll(ctx, refs)
		if err != nil {
			return nil, classify("read refusals", err)
		}
		s.reads.Add(int64(len(refs)))
		for _, snap := range snaps {
			if !snap.Exists() {
				continue
			}
			var d refusalDoc
			if err := snap.DataTo(&d); err != nil {
				return nil, fmt.Errorf("store: decoding refusal %s: %w", snap.Ref.ID, err)
			}
			if t := timeVal(d.CaseUpdateTime); t.After(out[d.CaseID]) {
				out[d.CaseID] = t
			}
		}
	}
	return out, nil
}

// refusedAtBatch bounds the documents one read of RefusedAt asks for.
const refusedAtBatch = 500
