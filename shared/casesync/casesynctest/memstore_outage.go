package casesynctest

import (
	"context"
	"sort"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
)

// ListOutageCandidates implements casesync.Store.
func (s *MemStore) ListOutageCandidates(ctx context.Context, pendingBefore time.Time, allOpen bool) ([]casesync.Mapping, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	before := func(t time.Time) bool { return !t.IsZero() && t.Before(pendingBefore) }
	var out []casesync.Mapping
	for _, m := range s.mappings {
		notice := m.Google.OutageNoticeSent || m.Company.OutageNoticeSent ||
			m.Google.OutageNoticeIntent || m.Company.OutageNoticeIntent
		open := !m.Resolved()
		pending := before(m.Google.PendingSince) || before(m.Company.PendingSince)
		if notice || (open && (allOpen || pending)) {
			out = append(out, clone(m))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
