package store

import (
	"context"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/casebridge/casebridge/shared/casesync"
)

// DeleteResolvedBefore implements casesync.Store: one transaction reads the
// mapping, checks that it is still resolved before before, that no lease on
// it runs at now and that no change is pending on it, and only then deletes
// it with its key documents.
func (s *Store) DeleteResolvedBefore(ctx context.Context, id string, before, now time.Time) (bool, error) {
	if id == "" {
		return false, nil
	}
	mRef := s.mappings.Doc(id)
	var deleted bool
	err := s.run(ctx, "delete resolved mapping "+id, func(ctx context.Context, t *txn) error {
		deleted = false
		m, err := t.getMapping(mRef, id)
		if casesync.IsNotFound(err) {
			return nil // already gone
		}
		if err != nil {
			return err
		}
		if !casesync.ReadyForCleanup(m, before, now) {
			return nil
		}
		if err := t.deleteMapping(m); err != nil {
			return err
		}
		deleted = true
		return nil
	})
	if err != nil {
		return false, err
	}
	return deleted, nil
}

// deleteMapping deletes mapping m, as read in this transaction, and every
// key document that names it (its Google case, previous Google cases and CRM
// case). A key document that names another mapping is left alone.
func (t *txn) deleteMapping(m casesync.Mapping) error {
	var refs []*firestore.DocumentRef
	seen := map[string]bool{}
	add := func(side casesync.Side, key string) {
		if key == "" {
			return
		}
		r := t.s.keyRef(side, key)
		if !seen[r.ID] {
			seen[r.ID] = true
			refs = append(refs, r)
		}
	}
	add(casesync.SideGoogle, m.GoogleCase)
	for _, g := range m.PreviousGoogleCases {
		add(casesync.SideGoogle, g)
	}
	add(casesync.SideCompany, m.CompanyCaseID)
	if len(refs) > 0 {
		keySnaps, err := t.getAll(refs...)
		if err != nil {
			return err
		}
		for _, ks := range keySnaps {
			if !ks.Exists() {
				continue
			}
			var k keyDoc
			if err := ks.DataTo(&k); err != nil {
				return err
			}
			if k.MappingID != m.ID {
				continue // another mapping's key: leave it
			}
			if err := t.delete(ks.Ref); err != nil {
				return err
			}
		}
	}
	return t.delete(t.s.mappings.Doc(m.ID))
}
