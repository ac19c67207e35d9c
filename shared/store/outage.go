package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"

	"github.com/casebridge/casebridge/shared/casesync"
)

// The mapping fields outage detection queries on their own.
const (
	fieldOutageSentToGoogle  = "outageCommentSentToGoogle"
	fieldOutageSentToCompany = "outageCommentSentToCompany"
	fieldOutageIntentGoogle  = "outageNoticeIntentGoogle"
	fieldOutageIntentCompany = "outageNoticeIntentCompany"
)

// ListOutageCandidates implements casesync.Store with queries that each
// filter on one field, so Firestore's automatic single-field indexes serve
// them and no composite index is needed: an equality query per outage flag
// and intent, a range query per side's pending mark (a null mark never
// matches), and, with allOpen, an equality query for a null resolvedAt.
// Resolved mappings the pending queries return are dropped here; a mapping
// several queries return is read once per query.
func (s *Store) ListOutageCandidates(ctx context.Context, pendingBefore time.Time, allOpen bool) ([]casesync.Mapping, error) {
	type query struct {
		what     string
		q        firestore.Query
		openOnly bool
	}
	qs := []query{
		{"outage notices sent to Google", s.mappings.Where(fieldOutageSentToGoogle, "==", true), false},
		{"outage notices sent to the CRM", s.mappings.Where(fieldOutageSentToCompany, "==", true), false},
		{"outage notices intended for Google", s.mappings.Where(fieldOutageIntentGoogle, "==", true), false},
		{"outage notices intended for the CRM", s.mappings.Where(fieldOutageIntentCompany, "==", true), false},
	}
	if allOpen {
		qs = append(qs, query{"open mappings", s.mappings.Where(fieldResolvedAt, "==", nil), true})
	} else {
		qs = append(qs,
			query{"mappings pending on Google", s.mappings.Where(fieldGooglePendingSince, "<", pendingBefore), true},
			query{"mappings pending on the CRM", s.mappings.Where(fieldCompanyPendingSince, "<", pendingBefore), true})
	}
	byID := map[string]casesync.Mapping{}
	for _, q := range qs {
		if err := s.collect(ctx, q.what, q.q, func(m casesync.Mapping) {
			if q.openOnly && m.Resolved() {
				return
			}
			byID[m.ID] = m
		}); err != nil {
			return nil, err
		}
	}
	out := make([]casesync.Mapping, 0, len(byID))
	for _, m := range byID {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// collect runs q and passes each mapping it returns to fn.
func (s *Store) collect(ctx context.Context, what string, q firestore.Query, fn func(casesync.Mapping)) error {
	it := q.Documents(ctx)
	defer it.Stop()
	for {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return nil
		}
		if err != nil {
			return classify("list "+what, err)
		}
		s.reads.Add(1)
		m, err := decodeMapping(snap)
		if err != nil {
			return fmt.Errorf("store: decoding mapping %s: %w", snap.Ref.ID, err)
		}
		fn(m)
	}
}
