package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"

	"github.com/casebridge/casebridge/shared/casesync"
)

// ResolveMapping implements casesync.Store. A new mapping starts with
// PriorityUnspecified before init runs; init cannot change its ID or keys.
// When a mapping already holds a different case of the side a key belongs
// to, the key is not taken and the error wraps casesync.ErrConflict.
func (s *Store) ResolveMapping(ctx context.Context, googleCase, companyCaseID string, create bool, init func(*casesync.Mapping)) (casesync.Mapping, bool, error) {
	if googleCase == "" && companyCaseID == "" {
		return casesync.Mapping{}, false, errors.New("store: ResolveMapping needs a Google case or a CRM case id")
	}
	if !create && (googleCase == "" || companyCaseID == "") {
		// The usual lookup, one case of a linked pair: one document read
		// by a query instead of the key document and then the mapping.
		if m, ok, err := s.findHolder(ctx, googleCase, companyCaseID); ok || err != nil {
			return m, false, err
		}
	}
	type wanted struct {
		side casesync.Side
		key  string
		ref  *firestore.DocumentRef
	}
	var ws []wanted
	if googleCase != "" {
		ws = append(ws, wanted{casesync.SideGoogle, googleCase, s.keyRef(casesync.SideGoogle, googleCase)})
	}
	if companyCaseID != "" {
		ws = append(ws, wanted{casesync.SideCompany, companyCaseID, s.keyRef(casesync.SideCompany, companyCaseID)})
	}

	var out casesync.Mapping
	var created bool
	err := s.run(ctx, "resolve mapping", func(ctx context.Context, t *txn) error {
		created = false
		refs := make([]*firestore.DocumentRef, len(ws))
		for i, w := range ws {
			refs[i] = w.ref
		}
		keySnaps, err := t.getAll(refs...)
		if err != nil {
			return err
		}
		holders := make([]string, len(ws)) // mapping id per wanted key, "" if free
		for i, snap := range keySnaps {
			if !snap.Exists() {
				continue
			}
			var k keyDoc
			if err := snap.DataTo(&k); err != nil {
				return err
			}
			holders[i] = k.MappingID
		}
		id := ""
		for i, h := range holders {
			switch {
			case h == "":
			case id == "":
				id = h
			case h != id:
				return fmt.Errorf("%s case %s and %s case %s belong to different mappings: %w",
					ws[0].side, ws[0].key, ws[i].side, ws[i].key, casesync.ErrConflict)
			}
		}

		if id != "" {
			mRef := s.mappings.Doc(id)
			snap, err := t.get(mRef)
			if err != nil {
				return err
			}
			if snap.Exists() {
				m, err := decodeMapping(snap)
				if err != nil {
					return err
				}
				var updates []firestore.Update
				for i, w := range ws {
					if holders[i] != "" {
						continue
					}
					// The mapping gains the free key, unless it already
					// holds another case of that side.
					field, cur := fieldGoogleCase, &m.GoogleCase
					if w.side == casesync.SideCompany {
						field, cur = fieldCompanyCaseID, &m.CompanyCaseID
					}
					if *cur != "" && s.keyRef(w.side, *cur).ID != w.ref.ID {
						return fmt.Errorf("mapping %s is linked to %s case %s, not %s: %w", id, w.side, *cur, w.key, casesync.ErrConflict)
					}
					if *cur == "" {
						*cur = w.key
						updates = append(updates, firestore.Update{Path: field, Value: w.key})
					}
				}
				for i, w := range ws {
					if holders[i] == "" {
						if err := t.set(w.ref, keyDoc{MappingID: id, Side: string(w.side), Key: w.key}); err != nil {
							return err
						}
					}
				}
				if len(updates) > 0 {
					if err := t.update(mRef, updates); err != nil {
						return err
					}
				}
				out = m
				return nil
			}
			// A key naming a mapping that no longer exists is free.
		}

		if !create {
			return notFound(fmt.Sprintf("for Google case %q / CRM case %q", googleCase, companyCaseID))
		}
		mRef := s.mappings.NewDoc()
		m := casesync.Mapping{Priority: casesync.PriorityUnspecified}
		if init != nil {
			init(&m)
		}
		m.ID, m.GoogleCase, m.CompanyCaseID = mRef.ID, googleCase, companyCaseID
		if err := t.create(mRef, toDoc(m)); err != nil {
			return err
		}
		for _, w := range ws {
			// Set, not Create: the transaction read the key as free, and
			// a stale key of a deleted mapping is overwritten.
			if err := t.set(w.ref, keyDoc{MappingID: m.ID, Side: string(w.side), Key: w.key}); err != nil {
				return err
			}
		}
		out, created = m, true
		return nil
	})
	if err != nil {
		return casesync.Mapping{}, false, err
	}
	return normalized(out), created, nil
}

// findHolder looks up the mapping holding one case by its case field, a
// query that reads the one document it finds (Firestore bills a query that
// finds nothing as one read). It reports false when no mapping holds the
// case under exactly that name, or more than one seems to: the caller then
// goes by the case's key document, which also knows a Google case by its
// number under another parent and the Google cases a mapping held before.
func (s *Store) findHolder(ctx context.Context, googleCase, companyCaseID string) (casesync.Mapping, bool, error) {
	field, key := fieldGoogleCase, googleCase
	if googleCase == "" {
		field, key = fieldCompanyCaseID, companyCaseID
	}
	snaps, err := s.mappings.Where(field, "==", key).Limit(2).Documents(ctx).GetAll()
	s.reads.Add(int64(max(1, len(snaps))))
	if err != nil {
		return casesync.Mapping{}, false, classify("find mapping", err)
	}
	if len(snaps) != 1 {
		return casesync.Mapping{}, false, nil
	}
	m, err := decodeMapping(snaps[0])
	if err != nil {
		return casesync.Mapping{}, false, fmt.Errorf("store: decoding mapping %s: %w", snaps[0].Ref.ID, err)
	}
	return normalized(m), true, nil
}

// GetMapping implements casesync.Store.
func (s *Store) GetMapping(ctx context.Context, id string) (casesync.Mapping, error) {
	if id == "" {
		return casesync.Mapping{}, notFound(`""`)
	}
	snap, err := s.mappings.Doc(id).Get(ctx)
	s.reads.Add(1)
	if err != nil {
		return casesync.Mapping{}, classify("get mapping "+id, err)
	}
	m, err := decodeMapping(snap)
	if err != nil {
		return casesync.Mapping{}, fmt.Errorf("store: decoding mapping %s: %w", id, err)
	}
	return m, nil
}

// maxInValues is how many values one Firestore "in" filter may compare.
const maxInValues = 30

// LookupMappings implements casesync.Store. It finds the mappings holding
// the keys by their case field, 30 keys a query, reading each mapping found
// once (and one read for a query that finds none); a key no mapping holds
// under exactly that name is then looked up by its key document (see
// findHolder).
func (s *Store) LookupMappings(ctx context.Context, side casesync.Side, keys []string) (map[string]casesync.Mapping, error) {
	if !side.Valid() {
		return nil, fmt.Errorf("store: invalid side %q", side)
	}
	field := fieldGoogleCase
	if side == casesync.SideCompany {
		field = fieldCompanyCaseID
	}
	out := map[string]casesync.Mapping{}
	var rest []string
	for _, chunk := range chunks(keys, maxInValues) {
		snaps, err := s.mappings.Where(field, "in", chunk).Documents(ctx).GetAll()
		s.reads.Add(int64(max(1, len(snaps))))
		if err != nil {
			return nil, classify("lookup mappings", err)
		}
		holders := map[string]int{}
		for _, snap := range snaps {
			m, err := decodeMapping(snap)
			if err != nil {
				return nil, fmt.Errorf("store: decoding mapping %s: %w", snap.Ref.ID, err)
			}
			k := m.GoogleCase
			if side == casesync.SideCompany {
				k = m.CompanyCaseID
			}
			if slices.Contains(chunk, k) {
				holders[k]++
				out[k] = normalized(m)
			}
		}
		for _, k := range chunk {
			if holders[k] != 1 {
				delete(out, k)
				rest = append(rest, k)
			}
		}
	}
	return out, s.lookupByKeys(ctx, side, rest, out)
}

// lookupByKeys adds to out the mappings holding keys, found through the
// keys' documents: each key document and each mapping found is read once,
// in two batched reads.
func (s *Store) lookupByKeys(ctx context.Context, side casesync.Side, keys []string, out map[string]casesync.Mapping) error {
	var given []string
	var keyRefs []*firestore.DocumentRef
	for _, k := range keys {
		if k == "" || slices.Contains(given, k) {
			continue
		}
		given = append(given, k)
		keyRefs = append(keyRefs, s.keyRef(side, k))
	}
	if len(keyRefs) == 0 {
		return nil
	}
	keySnaps, err := s.client.GetAll(ctx, keyRefs)
	if err != nil {
		return classify("lookup mappings", err)
	}
	s.reads.Add(int64(len(keyRefs)))

	idOf := map[string]string{} // given key -> mapping id
	var mRefs []*firestore.DocumentRef
	seen := map[string]bool{}
	for i, snap := range keySnaps {
		if !snap.Exists() {
			continue
		}
		var k keyDoc
		if err := snap.DataTo(&k); err != nil {
			return fmt.Errorf("store: decoding case key %s: %w", snap.Ref.ID, err)
		}
		idOf[given[i]] = k.MappingID
		if !seen[k.MappingID] {
			seen[k.MappingID] = true
			mRefs = append(mRefs, s.mappings.Doc(k.MappingID))
		}
	}
	if len(mRefs) == 0 {
		return nil
	}
	mSnaps, err := s.client.GetAll(ctx, mRefs)
	if err != nil {
		return classify("lookup mappings", err)
	}
	s.reads.Add(int64(len(mRefs)))
	byID := map[string]casesync.Mapping{}
	for _, snap := range mSnaps {
		if !snap.Exists() {
			continue
		}
		m, err := decodeMapping(snap)
		if err != nil {
			return fmt.Errorf("store: decoding mapping %s: %w", snap.Ref.ID, err)
		}
		byID[m.ID] = m
	}
	for k, id := range idOf {
		if m, ok := byID[id]; ok {
			out[k] = m
		}
	}
	return nil
}

// UpdateMapping implements casesync.Store. fn may not change the mapping's
// case keys (LinkKey does that); if it does, nothing is written and the
// error wraps casesync.ErrConflict.
func (s *Store) UpdateMapping(ctx context.Context, id string, fn func(*casesync.Mapping) error) (casesync.Mapping, error) {
	if id == "" {
		return casesync.Mapping{}, notFound(`""`)
	}
	ref := s.mappings.Doc(id)
	var out casesync.Mapping
	err := s.run(ctx, "update mapping "+id, func(ctx context.Context, t *txn) error {
		cur, err := t.getMapping(ref, id)
		if err != nil {
			return err
		}
		m := cur
		m.PreviousGoogleCases = slices.Clone(cur.PreviousGoogleCases)
		m.Google.Items = cloneItems(cur.Google.Items)
		m.Company.Items = cloneItems(cur.Company.Items)
		if err := fn(&m); err != nil {
			return err
		}
		m.ID = id
		if err := s.checkKeysUnchanged(cur, m); err != nil {
			return err
		}
		if err := t.set(ref, toDoc(m)); err != nil {
			return err
		}
		out = m
		return nil
	})
	if err != nil {
		return casesync.Mapping{}, err
	}
	return normalized(out), nil
}

// checkKeysUnchanged refuses a change of the case keys outside LinkKey, which
// would leave the key documents pointing elsewhere. A Google case name may
// change its parent form but not its case number.
func (s *Store) checkKeysUnchanged(prev, next casesync.Mapping) error {
	if s.keyRef(casesync.SideGoogle, prev.GoogleCase).ID != s.keyRef(casesync.SideGoogle, next.GoogleCase).ID {
		return fmt.Errorf("mapping %s: UpdateMapping may not change the Google case (use LinkKey): %w", prev.ID, casesync.ErrConflict)
	}
	if prev.CompanyCaseID != next.CompanyCaseID {
		return fmt.Errorf("mapping %s: UpdateMapping may not change the CRM case (use LinkKey): %w", prev.ID, casesync.ErrConflict)
	}
	return nil
}

// LinkKey implements casesync.Store. Linking a new Google case keeps the
// previous one in PreviousGoogleCases, and its key keeps naming the mapping,
// so events about the old case still find it; linking a new CRM case frees
// the previous CRM case id.
func (s *Store) LinkKey(ctx context.Context, id string, side casesync.Side, key string) (casesync.Mapping, error) {
	if !side.Valid() || key == "" {
		return casesync.Mapping{}, fmt.Errorf("store: LinkKey needs a valid side and a key, got %q %q", side, key)
	}
	if id == "" {
		return casesync.Mapping{}, notFound(`""`)
	}
	mRef := s.mappings.Doc(id)
	kRef := s.keyRef(side, key)
	var out casesync.Mapping
	err := s.run(ctx, "link key", func(ctx context.Context, t *txn) error {
		snaps, err := t.getAll(mRef, kRef)
		if err != nil {
			return err
		}
		if !snaps[0].Exists() {
			return notFound(id)
		}
		m, err := decodeMapping(snaps[0])
		if err != nil {
			return err
		}
		keyHeld := false
		if snaps[1].Exists() {
			var k keyDoc
			if err := snaps[1].DataTo(&k); err != nil {
				return err
			}
			if k.MappingID != id {
				other, err := t.get(s.mappings.Doc(k.MappingID))
				if err != nil {
					return err
				}
				if other.Exists() {
					return fmt.Errorf("%s case %s belongs to mapping %s: %w", side, key, k.MappingID, casesync.ErrConflict)
				}
			} else {
				keyHeld = true
			}
		}
		// The previous CRM key is freed, but only if it is still ours.
		var oldRef *firestore.DocumentRef
		if side == casesync.SideCompany && m.CompanyCaseID != "" && m.CompanyCaseID != key {
			r := s.keyRef(side, m.CompanyCaseID)
			snap, err := t.get(r)
			if err != nil {
				return err
			}
			if snap.Exists() {
				var k keyDoc
				if err := snap.DataTo(&k); err != nil {
					return err
				}
				if k.MappingID == id {
					oldRef = r
				}
			}
		}

		var updates []firestore.Update
		startOver := false
		if side == casesync.SideGoogle {
			if m.GoogleCase != "" && s.keyRef(side, m.GoogleCase).ID != kRef.ID && !slices.Contains(m.PreviousGoogleCases, m.GoogleCase) {
				m.PreviousGoogleCases = append(m.PreviousGoogleCases, m.GoogleCase)
				// A new Google case: its side starts over and the mapping
				// is open again, in the same transaction as the link. The
				// whole mapping is written, so that every field the start
				// over resets is stored as returned.
				casesync.StartOverOnNewGoogleCase(&m)
				startOver = true
			}
			if m.GoogleCase != key {
				m.GoogleCase = key
				updates = append(updates, firestore.Update{Path: fieldGoogleCase, Value: key})
			}
		} else if m.CompanyCaseID != key {
			m.CompanyCaseID = key
			updates = append(updates, firestore.Update{Path: fieldCompanyCaseID, Value: key})
		}
		if !keyHeld {
			if err := t.set(kRef, keyDoc{MappingID: id, Side: string(side), Key: key}); err != nil {
				return err
			}
		}
		if oldRef != nil {
			if err := t.delete(oldRef); err != nil {
				return err
			}
		}
		if startOver {
			if err := t.set(mRef, toDoc(m)); err != nil {
				return err
			}
		} else if len(updates) > 0 {
			if err := t.update(mRef, updates); err != nil {
				return err
			}
		}
		out = m
		return nil
	})
	if err != nil {
		return casesync.Mapping{}, err
	}
	return normalized(out), nil
}

// MergeMapping implements casesync.Store.
func (s *Store) MergeMapping(ctx context.Context, fromID, intoID string) (casesync.Mapping, error) {
	if fromID == "" || intoID == "" || fromID == intoID {
		return casesync.Mapping{}, fmt.Errorf("store: MergeMapping needs two mapping ids, got %q and %q", fromID, intoID)
	}
	fromRef, intoRef := s.mappings.Doc(fromID), s.mappings.Doc(intoID)
	var out casesync.Mapping
	err := s.run(ctx, "merge mapping "+fromID, func(ctx context.Context, t *txn) error {
		from, err := t.getMapping(fromRef, fromID)
		if err != nil {
			return err
		}
		into, err := t.getMapping(intoRef, intoID)
		if err != nil {
			return err
		}
		if err := casesync.CheckMerge(from, into); err != nil {
			return err
		}
		kRef := s.keyRef(casesync.SideCompany, from.CompanyCaseID)
		ks, err := t.get(kRef)
		if err != nil {
			return err
		}
		if ks.Exists() {
			var k keyDoc
			if err := ks.DataTo(&k); err != nil {
				return err
			}
			if k.MappingID != fromID {
				return fmt.Errorf("CRM case %s belongs to mapping %s: %w", from.CompanyCaseID, k.MappingID, casesync.ErrConflict)
			}
		}
		if err := t.delete(fromRef); err != nil {
			return err
		}
		if err := t.set(kRef, keyDoc{MappingID: intoID, Side: string(casesync.SideCompany), Key: from.CompanyCaseID}); err != nil {
			return err
		}
		into.CompanyCaseID = from.CompanyCaseID
		out = into
		return t.update(intoRef, []firestore.Update{{Path: fieldCompanyCaseID, Value: from.CompanyCaseID}})
	})
	if err != nil {
		return casesync.Mapping{}, err
	}
	return normalized(out), nil
}

// AcquireLease implements casesync.Store. A refused acquisition records
// RerunRequested in the same transaction.
func (s *Store) AcquireLease(ctx context.Context, id, holder string, now, until time.Time) (casesync.Mapping, error) {
	if id == "" {
		return casesync.Mapping{}, notFound(`""`)
	}
	ref := s.mappings.Doc(id)
	var out casesync.Mapping
	held := false
	err := s.run(ctx, "acquire lease", func(ctx context.Context, t *txn) error {
		held = false
		m, err := t.getMapping(ref, id)
		if err != nil {
			return err
		}
		if m.LeaseHolder != "" && m.LeaseHolder != holder && m.LeaseUntil.After(now) {
			held = true
			due := casesync.NextDue(m.DueAt, now, m.LeaseUntil)
			if m.RerunRequested && due.Equal(m.DueAt) {
				return nil
			}
			return t.update(ref, []firestore.Update{{Path: fieldRerunRequested, Value: true}, {Path: fieldDueAt, Value: timeValue(due)}})
		}
		if m.LeaseHolder != holder {
			m.LeaseGeneration++
		}
		m.LeaseHolder, m.LeaseUntil, m.DueAt = holder, until, until
		out = m
		return t.update(ref, []firestore.Update{
			{Path: fieldLeaseHolder, Value: holder},
			{Path: fieldLeaseUntil, Value: timeValue(until)},
			{Path: fieldLeaseGeneration, Value: m.LeaseGeneration},
			{Path: fieldDueAt, Value: timeValue(until)},
			{Path: fieldWritesRecorded, Value: false},
		})
	})
	if err != nil {
		return casesync.Mapping{}, err
	}
	if held {
		return casesync.Mapping{}, fmt.Errorf("mapping %s: %w", id, casesync.ErrLeaseHeld)
	}
	return normalized(out), nil
}

// RenewLease implements casesync.Store.
func (s *Store) RenewLease(ctx context.Context, id, holder string, gen int64, until time.Time) (casesync.Mapping, error) {
	if id == "" {
		return casesync.Mapping{}, notFound(`""`)
	}
	ref := s.mappings.Doc(id)
	var out casesync.Mapping
	err := s.run(ctx, "renew lease", func(ctx context.Context, t *txn) error {
		m, err := t.getMapping(ref, id)
		if err != nil {
			return err
		}
		if m.LeaseHolder != holder || m.LeaseGeneration != gen {
			return fmt.Errorf("mapping %s: %w", id, casesync.ErrLeaseLost)
		}
		m.LeaseUntil, m.DueAt = until, until
		out = m
		return t.update(ref, []firestore.Update{
			{Path: fieldLeaseUntil, Value: timeValue(until)},
			{Path: fieldDueAt, Value: timeValue(until)},
		})
	})
	if err != nil {
		return casesync.Mapping{}, err
	}
	return normalized(out), nil
}

// ListDue implements casesync.Store with a range query on dueAt, which
// mappings with nothing outstanding (null) never match.
func (s *Store) ListDue(ctx context.Context, after, before time.Time, limit int) ([]casesync.Mapping, error) {
	q := s.mappings.Where(fieldDueAt, "<=", before)
	if !after.IsZero() {
		q = q.Where(fieldDueAt, ">", after)
	}
	q = q.OrderBy(fieldDueAt, firestore.Asc)
	if limit > 0 {
		q = q.Limit(limit)
	}
	it := q.Documents(ctx)
	defer it.Stop()
	var out []casesync.Mapping
	for {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, classify("list due mappings", err)
		}
		s.reads.Add(1)
		m, err := decodeMapping(snap)
		if err != nil {
			return nil, fmt.Errorf("store: decoding mapping %s: %w", snap.Ref.ID, err)
		}
		out = append(out, m)
	}
}

// ClaimDue implements casesync.Store: one transaction per 500 mappings,
// writing only the ones it claims.
func (s *Store) ClaimDue(ctx context.Context, ids []string, now, before, next time.Time) ([]string, error) {
	var claimed []string
	seen := map[string]bool{}
	var uniq []string
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	for _, chunk := range chunks(uniq, maxTxWrites) {
		refs := make([]*firestore.DocumentRef, len(chunk))
		for i, id := range chunk {
			refs[i] = s.mappings.Doc(id)
		}
		var got []string
		err := s.run(ctx, "claim due mappings", func(ctx context.Context, t *txn) error {
			got = got[:0]
			snaps, err := t.getAll(refs...)
			if err != nil {
				return err
			}
			for _, snap := range snaps {
				if !snap.Exists() {
					continue
				}
				m, err := decodeMapping(snap)
				if err != nil {
					return err
				}
				if m.DueAt.IsZero() || m.DueAt.After(before) || (m.LeaseHolder != "" && m.LeaseUntil.After(now)) {
					continue
				}
				if err := t.update(snap.Ref, []firestore.Update{{Path: fieldDueAt, Value: timeValue(next)}}); err != nil {
					return err
				}
				got = append(got, snap.Ref.ID)
			}
			return nil
		})
		if err != nil {
			return claimed, err
		}
		claimed = append(claimed, got...)
	}
	return claimed, nil
}

// ReleaseLease implements casesync.Store.
func (s *Store) ReleaseLease(ctx context.Context, id, holder string) error {
	if id == "" {
		return notFound(`""`)
	}
	ref := s.mappings.Doc(id)
	return s.run(ctx, "release lease", func(ctx context.Context, t *txn) error {
		snap, err := t.get(ref)
		if err != nil {
			return err
		}
		if !snap.Exists() {
			return notFound(id)
		}
		var lease struct {
			Holder string `firestore:"leaseHolder"`
		}
		if err := snap.DataTo(&lease); err != nil {
			return err
		}
		if lease.Holder != holder {
			return nil
		}
		return t.update(ref, []firestore.Update{
			{Path: fieldLeaseHolder, Value: ""},
			{Path: fieldLeaseUntil, Value: nil},
		})
	})
}

// MarkPending implements casesync.Store: one transaction per 500 mappings,
// writing only the mappings whose pending time was unset. Ids with no
// mapping are ignored (cleanup may have deleted them).
func (s *Store) MarkPending(ctx context.Context, side casesync.Side, ids []string, at, due time.Time) error {
	field := fieldGooglePendingSince
	switch side {
	case casesync.SideGoogle:
	case casesync.SideCompany:
		field = fieldCompanyPendingSince
	default:
		return fmt.Errorf("store: invalid side %q", side)
	}
	for _, chunk := range chunks(ids, maxTxWrites) {
		refs := make([]*firestore.DocumentRef, len(chunk))
		for i, id := range chunk {
			refs[i] = s.mappings.Doc(id)
		}
		err := s.run(ctx, "mark pending", func(ctx context.Context, t *txn) error {
			snaps, err := t.getAll(refs...)
			if err != nil {
				return err
			}
			for _, snap := range snaps {
				if !snap.Exists() {
					continue
				}
				var cur casesync.Mapping
				if v, err := snap.DataAt(fieldDueAt); err == nil {
					if t, ok := v.(time.Time); ok {
						cur.DueAt = t
					}
				}
				updates := []firestore.Update{{Path: fieldDueAt, Value: timeValue(casesync.NextDue(cur.DueAt, at, due))}}
				if v, err := snap.DataAt(field); err != nil || v == nil {
					updates = append(updates, firestore.Update{Path: field, Value: timeValue(at)})
				}
				if err := t.update(snap.Ref, updates); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// ListMappings implements casesync.Store. It streams the collection and
// stops at fn's first error, which it returns unchanged.
func (s *Store) ListMappings(ctx context.Context, fn func(casesync.Mapping) error) error {
	it := s.mappings.Documents(ctx)
	defer it.Stop()
	for {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return nil
		}
		if err != nil {
			return classify("list mappings", err)
		}
		s.reads.Add(1)
		m, err := decodeMapping(snap)
		if err != nil {
			return fmt.Errorf("store: decoding mapping %s: %w", snap.Ref.ID, err)
		}
		if err := fn(m); err != nil {
			return err
		}
	}
}

// ListResolvedBefore implements casesync.Store with a range query on
// resolvedAt, which open mappings (null) never match. Only document ids are
// fetched.
func (s *Store) ListResolvedBefore(ctx context.Context, t time.Time) ([]string, error) {
	it := s.mappings.Where(fieldResolvedAt, "<", t).OrderBy(fieldResolvedAt, firestore.Asc).Select().Documents(ctx)
	defer it.Stop()
	var ids []string
	for {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return ids, nil
		}
		if err != nil {
			return nil, classify("list resolved mappings", err)
		}
		s.reads.Add(1)
		ids = append(ids, snap.Ref.ID)
	}
}

// DeleteMapping implements casesync.Store. It deletes the mapping and every
// key document that names it (its Google case, previous Google cases and CRM
// case). Deleting a mapping that does not exist is not an error, so a
// repeated cleanup is harmless.
func (s *Store) DeleteMapping(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	mRef := s.mappings.Doc(id)
	return s.run(ctx, "delete mapping "+id, func(ctx context.Context, t *txn) error {
		snap, err := t.get(mRef)
		if err != nil {
			return err
		}
		if !snap.Exists() {
			return nil
		}
		m, err := decodeMapping(snap)
		if err != nil {
			return err
		}
		return t.deleteMapping(m)
	})
}

// pollDoc is the persisted form of casesync.PollState, named as in the
// design's global document.
type pollDoc struct {
	GoogleLastPolledAt  *time.Time `firestore:"google_last_polled_at"`
	CompanyLastPolledAt *time.Time `firestore:"company_last_polled_at"`
	GoogleHeartbeat     *time.Time `firestore:"google_heartbeat"`
	CompanyHeartbeat    *time.Time `firestore:"company_heartbeat"`
	GoogleFailingSince  *time.Time `firestore:"google_failing_since"`
	CompanyFailingSince *time.Time `firestore:"company_failing_since"`
	// CompanyResume is where an unfinished CRM poll stopped; absent when
	// none is.
	CompanyResume *pollResumeDoc `firestore:"company_resume"`
	// CompanyAPIUsage is the CRM's API usage the latest CRM poll recorded;
	// absent before any (usage.go).
	CompanyAPIUsage *apiUsageDoc `firestore:"company_api_usage"`
}

// pollResumeDoc is the persisted form of casesync.PollResume.
type pollResumeDoc struct {
	Cursor    string    `firestore:"cursor"`
	Since     time.Time `firestore:"since"`
	StartedAt time.Time `firestore:"started_at"`
}

// fieldCompanyResume is the poll state's field holding pollResumeDoc.
const fieldCompanyResume = "company_resume"

// GetPollState implements casesync.Store. Before any poll it is all zero.
func (s *Store) GetPollState(ctx context.Context) (casesync.PollState, error) {
	snap, err := s.global.Get(ctx)
	s.reads.Add(1)
	if err != nil {
		if snap != nil && !snap.Exists() {
			return casesync.PollState{}, nil
		}
		return casesync.PollState{}, classify("get poll state", err)
	}
	var d pollDoc
	if err := snap.DataTo(&d); err != nil {
		return casesync.PollState{}, fmt.Errorf("store: decoding poll state: %w", err)
	}
	return casesync.PollState{
		GoogleLastPolledAt:  timeVal(d.GoogleLastPolledAt),
		CompanyLastPolledAt: timeVal(d.CompanyLastPolledAt),
		GoogleHeartbeat:     timeVal(d.GoogleHeartbeat),
		CompanyHeartbeat:    timeVal(d.CompanyHeartbeat),
		GoogleFailingSince:  timeVal(d.GoogleFailingSince),
		CompanyFailingSince: timeVal(d.CompanyFailingSince),
		CompanyResume:       d.CompanyResume.value(),
		CompanyAPIUsage:     d.CompanyAPIUsage.value(),
	}, nil
}

// value is the stored position as the engine takes it; the zero value when
// none is stored. What it holds is checked by the engine before use.
func (d *pollResumeDoc) value() casesync.PollResume {
	if d == nil {
		return casesync.PollResume{}
	}
	r := casesync.PollResume{Cursor: d.Cursor}
	if !d.Since.IsZero() {
		r.Since = d.Since.UTC()
	}
	if !d.StartedAt.IsZero() {
		r.StartedAt = d.StartedAt.UTC()
	}
	return r
}

var _ casesync.PollResumeStore = (*Store)(nil)

// SaveCompanyPollResume implements casesync.PollResumeStore with one merge
// write of the poll state's company_resume field (deleted for the zero
// value); it reads nothing and leaves the other fields alone.
func (s *Store) SaveCompanyPollResume(ctx context.Context, r casesync.PollResume) error {
	var v any = firestore.Delete
	if !r.IsZero() {
		if err := r.Check(r.StartedAt); err != nil {
			return fmt.Errorf("store: a CRM poll position with %w", err)
		}
		v = pollResumeDoc{Cursor: r.Cursor, Since: r.Since.Truncate(time.Microsecond).UTC(), StartedAt: r.StartedAt.Truncate(time.Microsecond).UTC()}
	}
	if _, err := s.global.Set(ctx, map[string]any{fieldCompanyResume: v}, firestore.MergeAll); err != nil {
		return classify("save the CRM poll position", err)
	}
	s.writes.Add(1)
	return nil
}

// RecordPoll implements casesync.Store with one merge write of the side's
// two fields; it reads nothing and leaves the other side's fields alone.
func (s *Store) RecordPoll(ctx context.Context, side casesync.Side, lastPolledAt, heartbeat time.Time) error {
	if !side.Valid() {
		return fmt.Errorf("store: invalid side %q", side)
	}
	_, err := s.global.Set(ctx, map[string]any{
		string(side) + "_last_polled_at": timeValue(lastPolledAt),
		string(side) + "_heartbeat":      timeValue(heartbeat),
		string(side) + "_failing_since":  nil,
	}, firestore.MergeAll)
	if err != nil {
		return classify("record poll", err)
	}
	s.writes.Add(1)
	return nil
}

// pollMemoDoc is the persisted form of one side's poll memo, a list (case
// keys hold '/', which map keys in field paths would need quoted).
type pollMemoDoc struct {
	Cases   []pollMemoEntry `firestore:"cases"`
	Recheck bool            `firestore:"recheck"`
}

type pollMemoEntry struct {
	Key string    `firestore:"key"`
	At  time.Time `firestore:"at"`
}

// memoRef is the document holding side's poll memo, beside the poll state.
func (s *Store) memoRef(side casesync.Side) *firestore.DocumentRef {
	return s.global.Parent.Doc(string(side) + "PollMemo")
}

// GetPollMemo implements casesync.Store with one read. Entries with a
// malformed key are left out.
func (s *Store) GetPollMemo(ctx context.Context, side casesync.Side) (casesync.PollMemo, error) {
	if !side.Valid() {
		return casesync.PollMemo{}, fmt.Errorf("store: invalid side %q", side)
	}
	snap, err := s.memoRef(side).Get(ctx)
	s.reads.Add(1)
	out := casesync.PollMemo{Cases: map[string]time.Time{}}
	if err != nil {
		if snap != nil && !snap.Exists() {
			return out, nil
		}
		return casesync.PollMemo{}, classify("get poll memo", err)
	}
	var d pollMemoDoc
	if err := snap.DataTo(&d); err != nil {
		return casesync.PollMemo{}, fmt.Errorf("store: decoding the %s poll memo: %w", side, err)
	}
	out.Recheck = d.Recheck
	for _, e := range d.Cases {
		if (casesync.CaseRef{Side: side, ID: e.Key}).Validate() == nil && !e.At.IsZero() {
			out.Cases[e.Key] = e.At.UTC()
		}
	}
	return out, nil
}

// SavePollMemo implements casesync.Store with one write.
func (s *Store) SavePollMemo(ctx context.Context, side casesync.Side, memo casesync.PollMemo) error {
	if !side.Valid() {
		return fmt.Errorf("store: invalid side %q", side)
	}
	d := pollMemoDoc{Cases: make([]pollMemoEntry, 0, len(memo.Cases)), Recheck: memo.Recheck}
	for k, at := range memo.Cases {
		d.Cases = append(d.Cases, pollMemoEntry{Key: k, At: at.Truncate(time.Microsecond).UTC()})
	}
	slices.SortFunc(d.Cases, func(a, b pollMemoEntry) int { return strings.Compare(a.Key, b.Key) })
	if _, err := s.memoRef(side).Set(ctx, d); err != nil {
		return classify("save poll memo", err)
	}
	s.writes.Add(1)
	return nil
}

// RecordPollFailure implements casesync.Store: a transaction that writes
// only when the side was not already failing.
func (s *Store) RecordPollFailure(ctx context.Context, side casesync.Side, at time.Time) error {
	if !side.Valid() {
		return fmt.Errorf("store: invalid side %q", side)
	}
	field := string(side) + "_failing_since"
	return s.run(ctx, "record poll failure", func(ctx context.Context, t *txn) error {
		snap, err := t.get(s.global)
		if err != nil {
			return err
		}
		if snap.Exists() {
			if v, err := snap.DataAt(field); err == nil && v != nil {
				return nil
			}
		}
		return t.set(s.global, map[string]any{field: timeValue(at)}, firestore.MergeAll)
	})
}

// normalized gives m the microsecond precision Firestore stores, so that what
// a write returns equals what a later read returns.
func normalized(m casesync.Mapping) casesync.Mapping {
	for _, t := range []*time.Time{
		&m.CreatedAt, &m.NewContentAt, &m.ResolvedAt,
		&m.Google.UpdatesSyncedAt, &m.Company.UpdatesSyncedAt,
		&m.Google.PendingSince, &m.Company.PendingSince,
		&m.Google.SeenUpdateTime, &m.Company.SeenUpdateTime,
		&m.Google.ReadAt, &m.Company.ReadAt,
		&m.CreateIntentAt, &m.LeaseUntil, &m.DueAt, &m.FailingSince, &m.GaveUpAt,
		&m.Escalation.SeenAt, &m.Escalation.IntentAt, &m.LastEscalation.SeenAt, &m.LastEscalation.IntentAt,
	} {
		if !t.IsZero() {
			*t = t.Truncate(time.Microsecond).UTC()
		}
	}
	m.PreviousGoogleCases = nilIfEmpty(m.PreviousGoogleCases)
	m.Google.OwnWrites = nilIfEmpty(slices.Clone(m.Google.OwnWrites))
	m.Company.OwnWrites = nilIfEmpty(slices.Clone(m.Company.OwnWrites))
	m.Google.Items = cloneItems(m.Google.Items)
	m.Company.Items = cloneItems(m.Company.Items)
	return m
}

// getMapping reads and decodes the mapping at ref in the transaction;
// ErrNotFound (naming id) if there is none.
func (t *txn) getMapping(ref *firestore.DocumentRef, id string) (casesync.Mapping, error) {
	snap, err := t.get(ref)
	if err != nil {
		return casesync.Mapping{}, err
	}
	if !snap.Exists() {
		return casesync.Mapping{}, notFound(id)
	}
	return decodeMapping(snap)
}

// cloneItems copies a side's item logs with the precision Firestore keeps;
// an empty Done list is nil, as a read returns it.
func cloneItems(s casesync.SideItems) casesync.SideItems {
	cp := func(l casesync.ItemLog) casesync.ItemLog {
		out := casesync.ItemLog{Through: timeVal(timePtr(l.Through.Truncate(time.Microsecond)))}
		for _, d := range l.Done {
			out.Done = append(out.Done, casesync.DoneItem{ID: d.ID, At: timeVal(timePtr(d.At.Truncate(time.Microsecond)))})
		}
		return out
	}
	return casesync.SideItems{Comments: cp(s.Comments), Attachments: cp(s.Attachments)}
}
