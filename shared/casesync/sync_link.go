package casesync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

func (r *reconciliation) link(ctx context.Context) error {
	m := &r.m
	if m.CompanyCaseID == "" {
		if err := r.linkCompany(ctx); err != nil {
			return err
		}
	}
	if m.GoogleCase == "" {
		if err := r.linkGoogle(ctx); err != nil {
			return err
		}
	}
	// The CRM's Google-case field names the linked case (idempotent).
	if r.c != nil && r.c.GoogleCase != m.GoogleCase {
		if err := r.keepLease(ctx); err != nil {
			return err
		}
		if err := r.crmWrite().SetGoogleCase(ctx, r.c.ID, m.GoogleCase); err != nil {
			return err
		}
		r.c.GoogleCase = m.GoogleCase
		r.act("set the CRM case's Google case field")
	}
	// A Google case that got its CRM case says so, once.
	// Checked until the first complete run has recorded the CRM side.
	if m.Origin == SideGoogle && m.Company.SeenUpdateTime.IsZero() {
		coms, err := r.comments(ctx, SideGoogle)
		if err != nil {
			return err
		}
		if !linksTo(*r.g, coms, m.CompanyCaseID) {
			c, err := r.postComment(ctx, SideGoogle, LinkLine(m.CompanyCaseID), true)
			if err != nil {
				return err
			}
			r.gRead.comments = append(r.gRead.comments, c)
			r.act("posted the link comment on the Google case")
		}
	}
	return nil
}

// crmLookupLag is how long the CRM's FindByGoogleCase may miss a case just
// created (CreationLookupLag); zero for CRMs that find it at once.
func crmLookupLag(crm CRM) time.Duration {
	if l, ok := crm.(CreationLookupLag); ok {
		return l.CreationLookupLag()
	}
	return 0
}

// linkCompany finds or creates the CRM case for a Google-origin mapping.
func (r *reconciliation) linkCompany(ctx context.Context) error {
	e, m := r.e, &r.m
	found, ok, err := e.CRM.FindByGoogleCase(ctx, m.GoogleCase)
	if err != nil {
		return err
	}
	if !ok {
		// The Google case may name its CRM case in a link line.
		id, err := r.linkedCompanyID(ctx)
		if err != nil {
			return err
		}
		if id != "" {
			c, err := e.CRM.GetCase(ctx, id)
			switch {
			case err == nil && (c.GoogleCase == m.GoogleCase || (c.SyncFlag && c.GoogleCase == "")):
				found, ok = c, true
			case err == nil:
				// casebridge wrote the line, but the ticket it names no
				// longer asks to sync with this case: a person must decide.
				return r.refuse(ctx, Refusal{Side: SideGoogle, CaseID: m.GoogleCase, Kind: RefusedLinkedCaseNotFlagged,
					Reason: fmt.Sprintf("the Google case's link line names CRM case %s, which neither names this Google case nor is flagged for sync without another", Quote(id))})
			case !IsNotFound(err):
				return err
			}
		}
	}
	if !ok {
		if lag := crmLookupLag(e.CRM); m.CreateIntentSide == SideCompany && lag > 0 && r.start.Sub(m.CreateIntentAt) < lag {
			// An earlier attempt may have created the CRM case without the
			// CRM's search showing it yet. Wait rather than duplicate.
			return &TransientError{Err: fmt.Errorf("a CRM case for Google case %s may have been created at %s; waiting up to %s for the CRM's search to show it", m.GoogleCase, m.CreateIntentAt.Format(time.RFC3339), lag)}
		}
		if r.g.Closed() || r.start.Sub(r.g.CreateTime) >= r.cfg.MaxCaseAge {
			// Closed (or past the age limit) since its mapping was made
			// (an earlier attempt failed): it no longer gets a CRM case.
			return r.drop(ctx, "the Google case was closed or passed the age limit before its CRM case was created")
		}
		if err := r.recordIntent(ctx, SideCompany); err != nil {
			return err
		}
		p, _ := r.cfg.Priorities.Company(orDefault(r.g.Priority))
		found, err = r.crmWrite().CreateCase(ctx, NewCompanyCase{
			Subject:     r.g.DisplayName,
			Description: "CONTENT MIRRORED FROM GOOGLE SUPPORT:\n" + r.g.Description,
			Priority:    p,
			GoogleCase:  m.GoogleCase,
		})
		if err != nil {
			return err
		}
		r.act("created CRM case %s", found.ID)
	} else {
		r.act("linked existing CRM case %s", found.ID)
	}
	if !ValidID(found.ID) {
		return &APIError{Side: SideCompany, Op: "link case", Err: fmt.Errorf("the CRM returned a malformed case id %s", Quote(found.ID))}
	}
	lm, err := r.linkKey(ctx, SideCompany, found.ID)
	if err != nil {
		return err
	}
	m.CompanyCaseID = lm.CompanyCaseID
	m.CreateIntentAt, m.CreateIntentSide = time.Time{}, ""
	r.c, r.cAt = &found, e.now()
	return nil
}

// linkedCompanyID returns the CRM case id casebridge's own link line on the
// Google case names: the last line of the description of a case casebridge
// created, else its earliest link comment. A link line anyone else wrote,
// or one inside text casebridge copied, is not a link.
func (r *reconciliation) linkedCompanyID(ctx context.Context) (string, error) {
	if id, ok := descriptionLink(*r.g); ok {
		return id, nil
	}
	coms, err := r.comments(ctx, SideGoogle)
	if err != nil {
		return "", err
	}
	for _, c := range coms {
		if id, ok := commentLink(c); ok {
			return id, nil
		}
	}
	return "", nil
}

// linkGoogle finds or creates the Google case for a CRM-origin mapping.
func (r *reconciliation) linkGoogle(ctx context.Context) error {
	e, m := r.e, &r.m
	name, err := r.findLinkedGoogleCase(ctx, m.CompanyCaseID, nil)
	if err == nil && name == "" && m.CreateIntentSide == SideGoogle {
		// An earlier attempt may have created the case, which the search
		// index may not show yet: casebridge's own open cases are listed
		// from the cases themselves.
		name, err = r.findOwnCreation(ctx, m.CompanyCaseID, nil)
	}
	if err != nil {
		return err
	}
	if name == "" {
		if c := r.c; c.Closed || !(c.SyncFlag || c.GoogleCase != "") {
			// Closed, or no longer flagged, since its mapping was made
			// (an earlier attempt failed): it no longer asks for a case.
			return r.drop(ctx, "the CRM case was closed or unflagged before its Google case was created")
		}
		if err := r.recordIntent(ctx, SideGoogle); err != nil {
			return err
		}
		g, err := r.googleWrite().CreateCase(ctx, r.newGoogleCase(""))
		if err != nil {
			return err
		}
		name = g.Name
		r.g, r.gAt = &g, e.now()
		r.act("created Google case %s", name)
	} else {
		if _, err := r.getGoogle(ctx, name); err != nil {
			return err
		}
		r.act("linked existing Google case %s", name)
	}
	if !ValidGoogleCaseName(name) {
		return &APIError{Side: SideGoogle, Op: "link case", Err: fmt.Errorf("the API returned a malformed case name %s", Quote(name))}
	}
	lm, err := r.linkKey(ctx, SideGoogle, name)
	if err != nil {
		return err
	}
	m.GoogleCase = lm.GoogleCase
	m.CreateIntentAt, m.CreateIntentSide = time.Time{}, ""
	return nil
}

// linkKey gives this mapping the other side's key. When another mapping
// already holds it, both cases were picked up on their own before they were
// linked (a Google case and a CRM case that name each other). The mapping of
// the CRM side then merges into the Google side's: it deletes itself and gives
// its CRM key to the other, and the event is retried against that mapping.
// The Google side's mapping waits for that (a transient error). Two cases
// that each already have a different counterpart are a permanent conflict.
func (r *reconciliation) linkKey(ctx context.Context, side Side, key string) (Mapping, error) {
	e := r.e
	lm, err := e.Store.LinkKey(ctx, r.m.ID, side, key)
	if !errors.Is(err, ErrConflict) {
		return lm, err
	}
	var other Mapping
	if side == SideGoogle {
		other, _, err = e.Store.ResolveMapping(ctx, key, "", false, nil)
	} else {
		other, _, err = e.Store.ResolveMapping(ctx, "", key, false, nil)
	}
	if err != nil {
		return Mapping{}, &TransientError{Err: fmt.Errorf("find the mapping holding %s case %s: %w", side, key, err)}
	}
	switch {
	case side == SideGoogle && other.CompanyCaseID == "":
		// We are the CRM side's mapping, with no Google key of our own:
		// merged in one write, so that no failure between deleting it and
		// linking its CRM case leaves that case without a mapping (whose
		// next reconciliation could create a second Google case while
		// Google's search does not show the first).
		if _, err := e.Store.MergeMapping(ctx, r.m.ID, other.ID); err != nil {
			return Mapping{}, err
		}
		r.act("merged into mapping %s, which holds Google case %s", other.ID, key)
		r.merged = true
		return Mapping{}, &TransientError{Err: fmt.Errorf("mapping %s merged into %s; retry against it", r.m.ID, other.ID)}
	case side == SideCompany && other.GoogleCase == "":
		return Mapping{}, &TransientError{Err: fmt.Errorf("CRM case %s is held by mapping %s, which will merge into mapping %s", key, other.ID, r.m.ID)}
	}
	own, ownID := SideCompany, r.m.CompanyCaseID
	if ownID == "" {
		own, ownID = SideGoogle, r.m.GoogleCase
	}
	return Mapping{}, r.conflict(ctx, own, ownID, &ConflictError{GoogleCase: r.m.GoogleCase + other.GoogleCase, CompanyCaseID: r.m.CompanyCaseID + other.CompanyCaseID,
		Reason: fmt.Sprintf("%s case %s is already linked by mapping %s", side, key, other.ID)})
}

// ConflictError is a permanent error: two cases claim the same counterpart.
// It needs a person to decide which link is right.
type ConflictError struct {
	GoogleCase, CompanyCaseID string
	Reason                    string
}

func (e *ConflictError) Error() string { return "link conflict: " + e.Reason }
func (e *ConflictError) Unwrap() error { return ErrConflict }

func (r *reconciliation) newGoogleCase(preface string) NewGoogleCase {
	c := r.c
	subject := strings.TrimSpace(c.Subject)
	if subject == "" {
		subject = "CRM case " + c.ID
	}
	desc := strings.TrimSpace(c.Description)
	if desc == "" {
		desc = "(The CRM case has no description.)"
	}
	if preface != "" {
		desc = preface + "\n\n" + desc
	}
	p, ok := r.cfg.Priorities.Google(c.Priority)
	if !ok {
		p = P3
	}
	return NewGoogleCase{DisplayName: subject, Description: desc + "\n\n" + LinkLine(c.ID), Priority: p}
}

// findLinkedGoogleCase searches Google for an open case carrying the link
// line for this CRM case where casebridge wrote it (the description of a case
// casebridge created, or a comment by its identity), skipping the names in
// exclude. The oldest match wins. Lines written by anyone else are ignored.
func (r *reconciliation) findLinkedGoogleCase(ctx context.Context, companyID string, exclude []string) (string, error) {
	cands, err := r.e.Google.SearchText(ctx, LinkLine(companyID))
	if err != nil {
		return "", err
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].CreateTime.Before(cands[j].CreateTime) })
	for _, g := range cands {
		if slices.Contains(exclude, g.Name) {
			continue
		}
		if g.Closed() && !r.ownCrashedCreation(g) {
			// A closed case from an earlier life of this CRM case (its
			// mapping cleaned up) cannot sync again.
			continue
		}
		if !ValidGoogleCaseName(g.Name) {
			continue
		}
		if id, ok := descriptionLink(g); ok && id == companyID {
			return g.Name, nil
		}
		coms, err := r.e.Google.ListComments(ctx, g.Name)
		if err != nil {
			return "", err
		}
		if linksTo(GoogleCase{}, coms, companyID) {
			return g.Name, nil
		}
	}
	return "", nil
}

// drop deletes a mapping that never got its counterpart and no longer
// should: nothing was ever synced for it. If the case asks again later it
// gets a new mapping.
func (r *reconciliation) drop(ctx context.Context, why string) error {
	if err := r.keepLease(ctx); err != nil {
		return err
	}
	if err := r.e.Store.DeleteMapping(ctx, r.m.ID); err != nil {
		return err
	}
	r.merged = true
	r.actions = append(r.actions, "dropped the mapping: "+why)
	return errDropped
}

// errDropped ends a reconciliation whose mapping was dropped.
var errDropped = errors.New("mapping dropped")

// findOwnCreation looks among casebridge's own Google cases for one whose
// description ends with the link line for this CRM case: one an earlier
// attempt created before it failed, which search may not show yet. The open
// cases are read first; only if none is it are the closed ones read too (a
// person may have closed it before this retry), of which only one created
// since the attempt counts.
func (r *reconciliation) findOwnCreation(ctx context.Context, companyID string, exclude []string) (string, error) {
	for _, closed := range []bool{false, true} {
		cases, err := r.e.Google.ListOwnCases(ctx, closed)
		if err != nil {
			return "", err
		}
		sort.Slice(cases, func(i, j int) bool { return cases[i].CreateTime.Before(cases[j].CreateTime) })
		for _, g := range cases {
			if !ValidGoogleCaseName(g.Name) || slices.Contains(exclude, g.Name) {
				continue
			}
			if g.Closed() && !r.ownCrashedCreation(g) {
				continue
			}
			if id, ok := descriptionLink(g); ok && id == companyID {
				return g.Name, nil
			}
		}
	}
	return "", nil
}

// ownCrashedCreation reports whether g may be the Google case an earlier
// attempt of this mapping created before it crashed: one created since the
// attempt recorded its intent (less a margin for the two clocks). A person
// may have closed it before the retry; it is still this case's counterpart.
func (r *reconciliation) ownCrashedCreation(g GoogleCase) bool {
	m := r.m
	return m.CreateIntentSide == SideGoogle && !m.CreateIntentAt.IsZero() && !g.CreateTime.Before(m.CreateIntentAt.Add(-clockMargin))
}

// clockMargin is how far apart casebridge's clock and an API's may be.
const clockMargin = 5 * time.Minute

func (r *reconciliation) recordIntent(ctx context.Context, side Side) error {
	if err := r.keepLease(ctx); err != nil {
		return err
	}
	now := r.e.now()
	_, err := r.e.Store.UpdateMapping(ctx, r.m.ID, func(m *Mapping) error {
		if err := r.lease.owns(m); err != nil {
			return err
		}
		// Every attempt moves the intent's time: a retry waits for the
		// search to show what the latest attempt may have created.
		m.CreateIntentAt, m.CreateIntentSide = now, side
		return nil
	})
	if err == nil {
		r.m.CreateIntentAt, r.m.CreateIntentSide = now, side
	}
	return err
}

func orDefault(p Priority) Priority {
	if p < P0 || p > P4 {
		return P3
	}
	return p
}
