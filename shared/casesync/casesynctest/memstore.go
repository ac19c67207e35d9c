// Package casesynctest holds test doubles for the sync engine's ports: an
// in-memory Store for pure engine unit tests, and the contract suite every
// Store implementation must pass.
package casesynctest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
)

// MemStore is an in-memory casesync.Store with the semantics of the Firestore
// store (shared/store): keys are unique per side, a Google case is keyed by
// its case number whatever the parent form, times keep microsecond
// precision, and every method is atomic. It is safe for concurrent use.
//
// Its zero value is not usable; call NewMemStore.
type MemStore struct {
	mu       sync.Mutex
	mappings map[string]casesync.Mapping
	keys     map[string]string // storeKey(side, key) -> mapping id
	poll     casesync.PollState
	memos    map[casesync.Side]casesync.PollMemo
	refusals map[string]casesync.Refusal
}

var _ casesync.Store = (*MemStore)(nil)
var _ casesync.PollResumeStore = (*MemStore)(nil)
var _ casesync.APIUsageStore = (*MemStore)(nil)

// NewMemStore returns an empty store.
func NewMemStore() *MemStore {
	return &MemStore{
		mappings: map[string]casesync.Mapping{},
		keys:     map[string]string{},
		refusals: map[string]casesync.Refusal{},
	}
}

// RecordRefusal implements casesync.RefusalStore.
func (s *MemStore) RecordRefusal(_ context.Context, f casesync.Refusal, at time.Time) (casesync.Refusal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at = at.UTC().Truncate(time.Microsecond)
	r, ok := s.refusals[f.Key()]
	if !ok {
		r = casesync.Refusal{Side: f.Side, CaseID: f.CaseID, Kind: f.Kind, First: at}
	}
	r.Reason, r.Last, r.Count = f.Reason, at, r.Count+1
	if u := f.CaseUpdateTime.UTC().Truncate(time.Microsecond); u.After(r.CaseUpdateTime) {
		r.CaseUpdateTime = u
	}
	s.refusals[f.Key()] = r
	return r, nil
}

// RefusedAt implements casesync.RefusalStore.
func (s *MemStore) RefusedAt(_ context.Context, side casesync.Side, ids []string) (map[string]time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]time.Time{}
	for _, id := range ids {
		for _, k := range casesync.RefusalKinds(side) {
			r, ok := s.refusals[casesync.Refusal{Side: side, CaseID: id, Kind: k}.Key()]
			if ok && r.CaseUpdateTime.After(out[id]) {
				out[id] = r.CaseUpdateTime
			}
		}
	}
	return out, nil
}

// ListRefusals implements casesync.RefusalStore.
func (s *MemStore) ListRefusals(_ context.Context, limit int) ([]casesync.Refusal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if limit <= 0 {
		limit = 100
	}
	out := make([]casesync.Refusal, 0, len(s.refusals))
	for _, r := range s.refusals {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Last.After(out[j].Last) })
	return out[:min(limit, len(out))], nil
}

// storeKey is the unique key of a case: the side and, for Google, the case
// number, so that "projects/p/cases/1" and "projects/123/cases/1" are one case.
func storeKey(side casesync.Side, key string) string {
	if side == casesync.SideGoogle {
		if n := casesync.CaseNumber(key); n != "" {
			key = n
		}
	}
	return string(side) + "-" + key
}

// newID returns a random 20-character id like Firestore's auto ids.
func newID() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 20)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// ResolveMapping implements casesync.Store.
func (s *MemStore) ResolveMapping(ctx context.Context, googleCase, companyCaseID string, create bool, init func(*casesync.Mapping)) (casesync.Mapping, bool, error) {
	if googleCase == "" && companyCaseID == "" {
		return casesync.Mapping{}, false, errors.New("casesynctest: ResolveMapping needs a Google case or a CRM case id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	var gID, cID string
	if googleCase != "" {
		gID = s.keys[storeKey(casesync.SideGoogle, googleCase)]
	}
	if companyCaseID != "" {
		cID = s.keys[storeKey(casesync.SideCompany, companyCaseID)]
	}
	switch {
	case gID != "" && cID != "" && gID != cID:
		return casesync.Mapping{}, false, fmt.Errorf("Google case %s and CRM case %s belong to different mappings: %w", googleCase, companyCaseID, casesync.ErrConflict)
	case gID != "" || cID != "":
		id := gID
		if id == "" {
			id = cID
		}
		m := s.mappings[id]
		switch {
		case gID == "" && googleCase != "":
			if m.GoogleCase != "" {
				return casesync.Mapping{}, false, fmt.Errorf("mapping %s of CRM case %s is linked to another Google case: %w", id, companyCaseID, casesync.ErrConflict)
			}
			m.GoogleCase = googleCase
			s.keys[storeKey(casesync.SideGoogle, googleCase)] = id
		case cID == "" && companyCaseID != "":
			if m.CompanyCaseID != "" {
				return casesync.Mapping{}, false, fmt.Errorf("mapping %s of Google case %s is linked to another CRM case: %w", id, googleCase, casesync.ErrConflict)
			}
			m.CompanyCaseID = companyCaseID
			s.keys[storeKey(casesync.SideCompany, companyCaseID)] = id
		}
		s.mappings[id] = m
		return clone(m), false, nil
	case !create:
		return casesync.Mapping{}, false, casesync.ErrNotFound
	}

	m := casesync.Mapping{Priority: casesync.PriorityUnspecified}
	if init != nil {
		init(&m)
	}
	m.ID = newID()
	m.GoogleCase = googleCase
	m.CompanyCaseID = companyCaseID
	m = normalize(m)
	s.mappings[m.ID] = m
	if googleCase != "" {
		s.keys[storeKey(casesync.SideGoogle, googleCase)] = m.ID
	}
	if companyCaseID != "" {
		s.keys[storeKey(casesync.SideCompany, companyCaseID)] = m.ID
	}
	return clone(m), true, nil
}

// GetMapping implements casesync.Store.
func (s *MemStore) GetMapping(ctx context.Context, id string) (casesync.Mapping, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.mappings[id]
	if !ok {
		return casesync.Mapping{}, fmt.Errorf("mapping %s: %w", id, casesync.ErrNotFound)
	}
	return clone(m), nil
}

// LookupMappings implements casesync.Store.
func (s *MemStore) LookupMappings(ctx context.Context, side casesync.Side, keys []string) (map[string]casesync.Mapping, error) {
	if !side.Valid() {
		return nil, fmt.Errorf("casesynctest: invalid side %q", side)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]casesync.Mapping{}
	for _, k := range keys {
		if k == "" {
			continue
		}
		if id, ok := s.keys[storeKey(side, k)]; ok {
			out[k] = clone(s.mappings[id])
		}
	}
	return out, nil
}

// UpdateMapping implements casesync.Store. fn may not change the mapping's
// keys (use LinkKey); if it does, nothing is written and the error wraps
// casesync.ErrConflict.
func (s *MemStore) UpdateMapping(ctx context.Context, id string, fn func(*casesync.Mapping) error) (casesync.Mapping, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.mappings[id]
	if !ok {
		return casesync.Mapping{}, fmt.Errorf("mapping %s: %w", id, casesync.ErrNotFound)
	}
	m := clone(cur)
	if err := fn(&m); err != nil {
		return casesync.Mapping{}, err
	}
	m.ID = id
	if err := checkKeysUnchanged(cur, m); err != nil {
		return casesync.Mapping{}, err
	}
	m = normalize(m)
	s.mappings[id] = m
	return clone(m), nil
}

// checkKeysUnchanged returns an error wrapping casesync.ErrConflict when
// next changes the case keys of prev: keys change only through LinkKey and
// ResolveMapping, which keep the key index in step. A Google case name may
// change its parent form (project id or number) but not its case number.
func checkKeysUnchanged(prev, next casesync.Mapping) error {
	if storeKey(casesync.SideGoogle, prev.GoogleCase) != storeKey(casesync.SideGoogle, next.GoogleCase) {
		return fmt.Errorf("mapping %s: UpdateMapping may not change the Google case (use LinkKey): %w", prev.ID, casesync.ErrConflict)
	}
	if prev.CompanyCaseID != next.CompanyCaseID {
		return fmt.Errorf("mapping %s: UpdateMapping may not change the CRM case (use LinkKey): %w", prev.ID, casesync.ErrConflict)
	}
	return nil
}

// LinkKey implements casesync.Store. Linking a new Google case keeps the
// previous one in PreviousGoogleCases, and its key keeps pointing to the
// mapping; linking a new CRM case frees the previous CRM case id.
func (s *MemStore) LinkKey(ctx context.Context, id string, side casesync.Side, key string) (casesync.Mapping, error) {
	if !side.Valid() || key == "" {
		return casesync.Mapping{}, fmt.Errorf("casesynctest: LinkKey needs a valid side and a key, got %q %q", side, key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.mappings[id]
	if !ok {
		return casesync.Mapping{}, fmt.Errorf("mapping %s: %w", id, casesync.ErrNotFound)
	}
	sk := storeKey(side, key)
	if holder, ok := s.keys[sk]; ok && holder != id {
		return casesync.Mapping{}, fmt.Errorf("%s case %s belongs to mapping %s: %w", side, key, holder, casesync.ErrConflict)
	}
	m = clone(m)
	if side == casesync.SideGoogle {
		if m.GoogleCase != "" && storeKey(side, m.GoogleCase) != sk && !slices.Contains(m.PreviousGoogleCases, m.GoogleCase) {
			m.PreviousGoogleCases = append(m.PreviousGoogleCases, m.GoogleCase)
			casesync.StartOverOnNewGoogleCase(&m)
		}
		m.GoogleCase = key
	} else {
		if m.CompanyCaseID != "" && m.CompanyCaseID != key {
			delete(s.keys, storeKey(side, m.CompanyCaseID))
		}
		m.CompanyCaseID = key
	}
	s.keys[sk] = id
	s.mappings[id] = m
	return clone(m), nil
}

// AcquireLease implements casesync.Store.
func (s *MemStore) AcquireLease(ctx context.Context, id, holder string, now, until time.Time) (casesync.Mapping, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.mappings[id]
	if !ok {
		return casesync.Mapping{}, fmt.Errorf("mapping %s: %w", id, casesync.ErrNotFound)
	}
	if m.LeaseHolder != "" && m.LeaseHolder != holder && m.LeaseUntil.After(now) {
		m.RerunRequested = true
		m.DueAt = casesync.NextDue(m.DueAt, now, m.LeaseUntil)
		s.mappings[id] = m
		return casesync.Mapping{}, fmt.Errorf("mapping %s: %w", id, casesync.ErrLeaseHeld)
	}
	if m.LeaseHolder != holder {
		m.LeaseGeneration++
	}
	m.LeaseHolder = holder
	m.LeaseUntil = until
	m.DueAt = until
	m = normalize(m)
	recorded := m.WritesRecorded
	m.WritesRecorded = false
	s.mappings[id] = m
	out := clone(m)
	out.WritesRecorded = recorded
	return out, nil
}

// RenewLease implements casesync.Store.
func (s *MemStore) RenewLease(ctx context.Context, id, holder string, gen int64, until time.Time) (casesync.Mapping, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.mappings[id]
	if !ok {
		return casesync.Mapping{}, fmt.Errorf("mapping %s: %w", id, casesync.ErrNotFound)
	}
	if m.LeaseHolder != holder || m.LeaseGeneration != gen {
		return casesync.Mapping{}, fmt.Errorf("mapping %s: %w", id, casesync.ErrLeaseLost)
	}
	m.LeaseUntil = until
	m.DueAt = until
	m = normalize(m)
	s.mappings[id] = m
	return clone(m), nil
}

// ListDue implements casesync.Store.
func (s *MemStore) ListDue(ctx context.Context, after, before time.Time, limit int) ([]casesync.Mapping, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []casesync.Mapping
	for _, m := range s.mappings {
		if !m.DueAt.IsZero() && !m.DueAt.After(before) && (after.IsZero() || m.DueAt.After(after)) {
			out = append(out, clone(m))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].DueAt.Equal(out[j].DueAt) {
			return out[i].DueAt.Before(out[j].DueAt)
		}
		return out[i].ID < out[j].ID
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// ClaimDue implements casesync.Store.
func (s *MemStore) ClaimDue(ctx context.Context, ids []string, now, before, next time.Time) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var claimed []string
	for _, id := range ids {
		m, ok := s.mappings[id]
		if !ok || m.DueAt.IsZero() || m.DueAt.After(before) || slices.Contains(claimed, id) {
			continue
		}
		if m.LeaseHolder != "" && m.LeaseUntil.After(now) {
			continue
		}
		m.DueAt = normTime(next)
		s.mappings[id] = m
		claimed = append(claimed, id)
	}
	return claimed, nil
}

// ReleaseLease implements casesync.Store.
func (s *MemStore) ReleaseLease(ctx context.Context, id, holder string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.mappings[id]
	if !ok {
		return fmt.Errorf("mapping %s: %w", id, casesync.ErrNotFound)
	}
	if m.LeaseHolder == holder {
		m.LeaseHolder = ""
		m.LeaseUntil = time.Time{}
		s.mappings[id] = m
	}
	return nil
}

// MarkPending implements casesync.Store. Ids with no mapping are ignored.
func (s *MemStore) MarkPending(ctx context.Context, side casesync.Side, ids []string, at, due time.Time) error {
	if !side.Valid() {
		return fmt.Errorf("casesynctest: invalid side %q", side)
	}
	at = normTime(at)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		m, ok := s.mappings[id]
		if !ok {
			continue
		}
		p := &m.Google.PendingSince
		if side == casesync.SideCompany {
			p = &m.Company.PendingSince
		}
		if p.IsZero() {
			*p = at
		}
		m.DueAt = casesync.NextDue(m.DueAt, at, normTime(due))
		s.mappings[id] = m
	}
	return nil
}

// ListMappings implements casesync.Store. It calls fn in id order, without
// holding the store's lock, so fn may use the store.
func (s *MemStore) ListMappings(ctx context.Context, fn func(casesync.Mapping) error) error {
	s.mu.Lock()
	all := make([]casesync.Mapping, 0, len(s.mappings))
	for _, m := range s.mappings {
		all = append(all, clone(m))
	}
	s.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	for _, m := range all {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

// ListResolvedBefore implements casesync.Store. Ids come oldest resolution
// first.
func (s *MemStore) ListResolvedBefore(ctx context.Context, t time.Time) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []casesync.Mapping
	for _, m := range s.mappings {
		if !m.ResolvedAt.IsZero() && m.ResolvedAt.Before(t) {
			found = append(found, m)
		}
	}
	sort.Slice(found, func(i, j int) bool { return found[i].ResolvedAt.Before(found[j].ResolvedAt) })
	var ids []string
	for _, m := range found {
		ids = append(ids, m.ID)
	}
	return ids, nil
}

// MergeMapping implements casesync.Store.
func (s *MemStore) MergeMapping(ctx context.Context, fromID, intoID string) (casesync.Mapping, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	from, ok := s.mappings[fromID]
	if !ok {
		return casesync.Mapping{}, fmt.Errorf("mapping %s: %w", fromID, casesync.ErrNotFound)
	}
	into, ok := s.mappings[intoID]
	if !ok {
		return casesync.Mapping{}, fmt.Errorf("mapping %s: %w", intoID, casesync.ErrNotFound)
	}
	if err := casesync.CheckMerge(from, into); err != nil {
		return casesync.Mapping{}, err
	}
	key := from.CompanyCaseID
	s.deleteLocked(fromID)
	into = clone(into)
	into.CompanyCaseID = key
	s.keys[storeKey(casesync.SideCompany, key)] = intoID
	s.mappings[intoID] = into
	return clone(into), nil
}

// DeleteMapping implements casesync.Store. Deleting a mapping that does not
// exist is not an error, so a repeated cleanup is harmless.
func (s *MemStore) DeleteMapping(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteLocked(id)
	return nil
}

// GetPollState implements casesync.Store. Before any poll it is all zero.
func (s *MemStore) GetPollState(ctx context.Context) (casesync.PollState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.poll, nil
}

// RecordPoll implements casesync.Store.
func (s *MemStore) RecordPoll(ctx context.Context, side casesync.Side, lastPolledAt, heartbeat time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch side {
	case casesync.SideGoogle:
		s.poll.GoogleLastPolledAt, s.poll.GoogleHeartbeat = normTime(lastPolledAt), normTime(heartbeat)
		s.poll.GoogleFailingSince = time.Time{}
	case casesync.SideCompany:
		s.poll.CompanyLastPolledAt, s.poll.CompanyHeartbeat = normTime(lastPolledAt), normTime(heartbeat)
		s.poll.CompanyFailingSince = time.Time{}
	default:
		return fmt.Errorf("casesynctest: invalid side %q", side)
	}
	return nil
}

// SaveCompanyPollResume implements casesync.PollResumeStore.
func (s *MemStore) SaveCompanyPollResume(ctx context.Context, r casesync.PollResume) error {
	if !r.IsZero() {
		if err := r.Check(r.StartedAt); err != nil {
			return fmt.Errorf("casesynctest: a CRM poll position with %w", err)
		}
		r.Since, r.StartedAt = normTime(r.Since), normTime(r.StartedAt)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.poll.CompanyResume = r
	return nil
}

// RecordCompanyPollWithAPIUsage implements casesync.APIUsageStore.
func (s *MemStore) RecordCompanyPollWithAPIUsage(ctx context.Context, lastPolledAt, heartbeat time.Time, u casesync.APIUsage) error {
	if err := u.Check(); err != nil {
		return fmt.Errorf("casesynctest: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.poll.CompanyLastPolledAt, s.poll.CompanyHeartbeat = normTime(lastPolledAt), normTime(heartbeat)
	s.poll.CompanyFailingSince = time.Time{}
	u.At = normTime(u.At)
	s.poll.CompanyAPIUsage = u
	return nil
}

// SaveCompanyAPIUsage implements casesync.APIUsageStore.
func (s *MemStore) SaveCompanyAPIUsage(ctx context.Context, u casesync.APIUsage) error {
	if err := u.Check(); err != nil {
		return fmt.Errorf("casesynctest: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u.At = normTime(u.At)
	s.poll.CompanyAPIUsage = u
	return nil
}

// GetPollMemo implements casesync.Store.
func (s *MemStore) GetPollMemo(ctx context.Context, side casesync.Side) (casesync.PollMemo, error) {
	if !side.Valid() {
		return casesync.PollMemo{}, fmt.Errorf("casesynctest: invalid side %q", side)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.memos[side]
	out := casesync.PollMemo{Cases: map[string]time.Time{}, Recheck: m.Recheck}
	for k, at := range m.Cases {
		out.Cases[k] = at
	}
	return out, nil
}

// SavePollMemo implements casesync.Store.
func (s *MemStore) SavePollMemo(ctx context.Context, side casesync.Side, memo casesync.PollMemo) error {
	if !side.Valid() {
		return fmt.Errorf("casesynctest: invalid side %q", side)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.memos == nil {
		s.memos = map[casesync.Side]casesync.PollMemo{}
	}
	kept := casesync.PollMemo{Cases: map[string]time.Time{}, Recheck: memo.Recheck}
	for k, at := range memo.Cases {
		kept.Cases[k] = normTime(at)
	}
	s.memos[side] = kept
	return nil
}

// RecordPollFailure implements casesync.Store.
func (s *MemStore) RecordPollFailure(ctx context.Context, side casesync.Side, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := &s.poll.GoogleFailingSince
	switch side {
	case casesync.SideGoogle:
	case casesync.SideCompany:
		p = &s.poll.CompanyFailingSince
	default:
		return fmt.Errorf("casesynctest: invalid side %q", side)
	}
	if p.IsZero() {
		*p = normTime(at)
	}
	return nil
}

// clone copies m so that callers never share its slices with the store.
func clone(m casesync.Mapping) casesync.Mapping {
	m.PreviousGoogleCases = cloneStrings(m.PreviousGoogleCases)
	m.Google.OwnWrites = cloneStrings(m.Google.OwnWrites)
	m.Company.OwnWrites = cloneStrings(m.Company.OwnWrites)
	m.Google.Items = cloneItems(m.Google.Items)
	m.Company.Items = cloneItems(m.Company.Items)
	return m
}

// cloneItems copies a side's item logs, with Firestore's precision.
func cloneItems(s casesync.SideItems) casesync.SideItems {
	cp := func(l casesync.ItemLog) casesync.ItemLog {
		out := casesync.ItemLog{Through: normTime(l.Through)}
		for _, d := range l.Done {
			out.Done = append(out.Done, casesync.DoneItem{ID: d.ID, At: normTime(d.At)})
		}
		return out
	}
	return casesync.SideItems{Comments: cp(s.Comments), Attachments: cp(s.Attachments)}
}

// cloneStrings copies s; an empty slice becomes nil, as Firestore returns it.
func cloneStrings(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return append([]string(nil), s...)
}

// normalize gives m's times Firestore's microsecond precision and copies
// its slices.
func normalize(m casesync.Mapping) casesync.Mapping {
	for _, t := range []*time.Time{
		&m.CreatedAt, &m.NewContentAt, &m.ResolvedAt,
		&m.Google.UpdatesSyncedAt, &m.Company.UpdatesSyncedAt,
		&m.Google.PendingSince, &m.Company.PendingSince,
		&m.Google.SeenUpdateTime, &m.Company.SeenUpdateTime,
		&m.Google.ReadAt, &m.Company.ReadAt,
		&m.CreateIntentAt, &m.LeaseUntil, &m.DueAt, &m.FailingSince, &m.GaveUpAt,
		&m.Escalation.SeenAt, &m.Escalation.IntentAt, &m.LastEscalation.SeenAt, &m.LastEscalation.IntentAt,
	} {
		*t = normTime(*t)
	}
	return clone(m)
}

// normTime truncates t to microseconds, the precision Firestore keeps.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Truncate(time.Microsecond).UTC()
}
