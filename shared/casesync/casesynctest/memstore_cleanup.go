package casesynctest

import (
	"context"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
)

// DeleteResolvedBefore implements casesync.Store: the check and the deletion
// happen under one lock, as the Firestore store does them in one
// transaction.
func (s *MemStore) DeleteResolvedBefore(ctx context.Context, id string, before, now time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.mappings[id]
	if !ok || !casesync.ReadyForCleanup(m, before, now) {
		return false, nil
	}
	s.deleteLocked(id)
	return true, nil
}

// deleteLocked deletes mapping id and every key that names it. The caller
// holds s.mu.
func (s *MemStore) deleteLocked(id string) {
	for k, holder := range s.keys {
		if holder == id {
			delete(s.keys, k)
		}
	}
	delete(s.mappings, id)
}
