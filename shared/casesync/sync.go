package casesync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// SyncCase reconciles the mapping of one case, both ways: it links or creates
// the counterpart, mirrors new comments and attachments each way exactly
// once, carries priority changes, and closes. It is safe to run twice and
// safe to crash at any line: before writing anything to a side it checks that
// side for casebridge's marker of the same item, and no two reconciliations of
// one mapping run at once (a lease on the mapping).
func (e *Engine) SyncCase(ctx context.Context, ref CaseRef) (SyncResult, error) {
	if err := ref.Validate(); err != nil {
		return SyncResult{}, err
	}
	// The caller's logger already names the case (the function's handler
	// adds caseSide and caseId).
	r := &reconciliation{e: e, cfg: e.cfg(), start: e.now()}
	r.log = e.log()

	m, skip, err := r.resolve(ctx, ref)
	if err != nil || skip != "" {
		return SyncResult{MappingID: m.ID, Skipped: skip}, err
	}
	if !ref.UpdateTime.IsZero() && !changedSince(ref.UpdateTime, m.seenUpdateTime(ref.Side)) && m.Linked() {
		return SyncResult{MappingID: m.ID, Skipped: "unchanged since its last reconciliation"}, e.clearCoveredPending(ctx, m, ref)
	}

	r.holder = newHolder()
	m, err = e.Store.AcquireLease(ctx, m.ID, r.holder, r.start, r.start.Add(r.cfg.LeaseDuration))
	if err != nil {
		return SyncResult{MappingID: m.ID}, err
	}
	r.m = m
	r.log = r.log.With(mappingKey, m.ID)
	defer func() {
		// Release even if the caller's context is gone.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := e.Store.ReleaseLease(rctx, m.ID, r.holder); err != nil && !(r.merged && IsNotFound(err)) {
			r.log.WarnContext(ctx, "release lease", "error", err)
		}
	}()
	// A second look under the lease: another worker may have just finished.
	if !ref.UpdateTime.IsZero() && !changedSince(ref.UpdateTime, r.m.seenUpdateTime(ref.Side)) && r.m.Linked() {
		return SyncResult{MappingID: m.ID, Skipped: "unchanged since its last reconciliation"}, e.clearCoveredPending(ctx, r.m, ref)
	}

	err = r.run(ctx)
	if serr := r.save(ctx, err == nil); serr != nil && err == nil {
		err = serr
	}
	res := SyncResult{MappingID: m.ID, Actions: r.actions}
	if err != nil {
		// The caller logs the error itself (eventing.Settle); this adds
		// how far the run got, for debugging.
		r.log.DebugContext(ctx, "reconciliation failed", "error", err, "transient", IsTransient(err), "actions", len(r.actions))
		return res, err
	}
	// The function logs the run's summary at INFO.
	r.log.DebugContext(ctx, "reconciliation finished", "actions", len(r.actions))
	return res, nil
}

// clearCoveredPending clears the side's pending mark when the change the
// event reports is already covered by a completed reconciliation. The
// reconciliation itself clears only marks set before it started; with clocks
// that differ between instances (or a poll that ran while it did) a mark can
// outlive the change it was for, and outage detection would then see the
// mapping stuck. It writes only when a mark is set.
func (e *Engine) clearCoveredPending(ctx context.Context, m Mapping, ref CaseRef) error {
	if m.pendingSince(ref.Side).IsZero() {
		return nil
	}
	_, err := e.Store.UpdateMapping(ctx, m.ID, func(x *Mapping) error {
		if changedSince(ref.UpdateTime, x.seenUpdateTime(ref.Side)) {
			return nil
		}
		if ref.Side == SideGoogle {
			x.GooglePendingSince = time.Time{}
		} else {
			x.CompanyPendingSince = time.Time{}
		}
		return nil
	})
	return err
}

func (m Mapping) pendingSince(side Side) time.Time {
	if side == SideGoogle {
		return m.GooglePendingSince
	}
	return m.CompanyPendingSince
}

// InputError is a permanent error about a malformed request.
type InputError struct{ Reason string }

func (e *InputError) Error() string { return e.Reason }

func newHolder() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// reconciliation is the state of one SyncCase run.
type reconciliation struct {
	e      *Engine
	cfg    Config
	log    *slog.Logger
	start  time.Time
	holder string
	m      Mapping

	g                              *GoogleCase
	c                              *CompanyCase
	gAt                            time.Time // when g was read
	cAt                            time.Time
	gCom, cCom                     []Comment    // nil until listed
	gAtt, cAtt                     []Attachment // nil until listed
	gComOK, cComOK, gAttOK, cAttOK bool

	// What this run learnt, saved at the end (also after a failure).
	doneG, doneC map[string]bool
	newContent   bool
	actions      []string
	priority     *Priority
	closedG      *bool
	closedC      *bool
	resolvedAt   *time.Time
	reopenNotice *bool
	merged       bool // this mapping was merged into another and deleted
}

func (r *reconciliation) act(format string, args ...any) {
	r.actions = append(r.actions, fmt.Sprintf(format, args...))
}

// resolve finds (or creates) the mapping for ref. skip is non-empty when the
// case needs no mapping.
func (r *reconciliation) resolve(ctx context.Context, ref CaseRef) (Mapping, string, error) {
	e := r.e
	if ref.MappingID != "" {
		m, err := e.Store.GetMapping(ctx, ref.MappingID)
		if IsNotFound(err) {
			return Mapping{}, "mapping no longer exists", nil
		}
		return m, "", err
	}
	init := func(origin Side, p Priority) func(*Mapping) {
		return func(m *Mapping) {
			m.Origin = origin
			m.CreatedAt = r.start
			m.NewContentAt = r.start
			m.Priority = p
			// The origin side is fully read by the first reconciliation; the
			// other side has nothing yet.
			m.GoogleUpdatesSyncedAt = r.start
			m.CompanyUpdatesSyncedAt = r.start
		}
	}
	if ref.Side == SideGoogle {
		m, _, err := e.Store.ResolveMapping(ctx, ref.ID, "", false, nil)
		if err == nil {
			return m, "", nil
		}
		if !IsNotFound(err) {
			return Mapping{}, "", err
		}
		g, err := r.getGoogle(ctx, ref.ID)
		if IsNotFound(err) {
			return Mapping{}, "Google case does not exist", nil
		}
		if err != nil {
			return Mapping{}, "", err
		}
		if g.Closed() {
			return Mapping{}, "closed Google case without a counterpart", nil
		}
		if r.start.Sub(g.CreateTime) >= r.cfg.MaxCaseAge {
			return Mapping{}, "Google case is older than the age limit", nil
		}
		m, created, err := e.Store.ResolveMapping(ctx, g.Name, "", true, init(SideGoogle, g.Priority))
		if created {
			r.log.InfoContext(ctx, "mapping created", mappingKey, m.ID, "origin", "google")
		}
		return m, "", err
	}

	c, err := r.getCompany(ctx, ref.ID)
	if IsNotFound(err) {
		return Mapping{}, "CRM case does not exist", nil
	}
	if err != nil {
		return Mapping{}, "", err
	}
	if !ValidID(c.ID) {
		return Mapping{}, "", &APIError{Side: SideCompany, Op: "get case", Err: fmt.Errorf("the CRM returned a malformed case id %s", Quote(c.ID))}
	}
	if c.GoogleCase != "" {
		// A CRM case already linked keeps its link: reconciling it writes
		// the linked name back into the field. Otherwise the field is a
		// request to link, and only a well-formed, in-scope, readable case
		// name is honoured.
		m, _, err := e.Store.ResolveMapping(ctx, "", c.ID, false, nil)
		switch {
		case err == nil && m.GoogleCase != "":
			return m, "", nil
		case err != nil && !IsNotFound(err):
			return Mapping{}, "", err
		}
		if skip, err := r.checkGoogleCaseField(ctx, c); skip != "" || err != nil {
			return Mapping{}, skip, err
		}
	}
	eligible := !c.Closed && (c.SyncFlag || c.GoogleCase != "")
	p, ok := r.cfg.Priorities.Google(c.Priority)
	if !ok {
		p = P3
	}
	m, created, err := e.Store.ResolveMapping(ctx, c.GoogleCase, c.ID, false, nil)
	if IsNotFound(err) && eligible && c.GoogleCase != "" {
		// A CRM case naming a Google case it has no mapping with: linked by
		// hand, or its mapping was cleaned up after both closed and the CRM
		// case reopened since. A closed Google case cannot sync again, and
		// a new mapping would close the live CRM case to match it.
		g, gerr := r.g, error(nil)
		if g == nil || g.Name != c.GoogleCase {
			// Not read yet by the field check.
			g, gerr = r.getGoogle(ctx, c.GoogleCase)
		}
		switch {
		case gerr == nil && g.Closed():
			return Mapping{}, "CRM case names a closed Google case it has no mapping with", nil
		case gerr != nil && !IsNotFound(gerr):
			return Mapping{}, "", gerr
		}
	}
	if IsNotFound(err) && eligible {
		m, created, err = e.Store.ResolveMapping(ctx, c.GoogleCase, c.ID, true, init(SideCompany, p))
	}
	if IsNotFound(err) {
		return Mapping{}, "CRM case is not flagged for sync", nil
	}
	if errors.Is(err, ErrConflict) {
		// The CRM case names a Google case that another CRM case syncs with.
		return Mapping{}, "", r.conflict(ctx, SideCompany, c.ID, &ConflictError{GoogleCase: c.GoogleCase, CompanyCaseID: c.ID,
			Reason: fmt.Sprintf("CRM case %s names Google case %s, which already syncs with another CRM case", c.ID, c.GoogleCase)})
	}
	if created {
		r.log.InfoContext(ctx, "mapping created", mappingKey, m.ID, "origin", "company")
	}
	return m, "", err
}

func (r *reconciliation) getGoogle(ctx context.Context, name string) (*GoogleCase, error) {
	at := r.e.now()
	g, err := r.e.Google.GetCase(ctx, name)
	if err != nil {
		return nil, err
	}
	r.g, r.gAt = &g, at
	return r.g, nil
}

func (r *reconciliation) getCompany(ctx context.Context, id string) (*CompanyCase, error) {
	at := r.e.now()
	c, err := r.e.CRM.GetCase(ctx, id)
	if err != nil {
		return nil, err
	}
	r.c, r.cAt = &c, at
	return r.c, nil
}

func (r *reconciliation) run(ctx context.Context) error {
	r.doneG = map[string]bool{}
	r.doneC = map[string]bool{}
	m := &r.m
	// Read each known side once (a case read while resolving is reused).
	if m.GoogleCase != "" && (r.g == nil || r.g.Name != m.GoogleCase) {
		if _, err := r.getGoogle(ctx, m.GoogleCase); err != nil {
			return err
		}
	}
	if m.CompanyCaseID != "" && (r.c == nil || r.c.ID != m.CompanyCaseID) {
		if _, err := r.getCompany(ctx, m.CompanyCaseID); err != nil {
			return err
		}
	}
	if err := r.link(ctx); err != nil {
		return err
	}
	if err := r.reopen(ctx); err != nil {
		return err
	}
	if err := r.comments(ctx); err != nil {
		return err
	}
	if err := r.attachments(ctx); err != nil {
		return err
	}
	if err := r.syncPriority(ctx); err != nil {
		return err
	}
	return r.close(ctx)
}

// keepLease renews the lease before a side effect if it is running out, so a
// long reconciliation (large attachments) does not lose it.
func (r *reconciliation) keepLease(ctx context.Context) error {
	now := r.e.now()
	if r.m.LeaseUntil.Sub(now) > r.cfg.LeaseDuration/2 {
		return nil
	}
	m, err := r.e.Store.AcquireLease(ctx, r.m.ID, r.holder, now, now.Add(r.cfg.LeaseDuration))
	if err != nil {
		return fmt.Errorf("renew lease: %w", err)
	}
	r.m.LeaseUntil = m.LeaseUntil
	return nil
}

// ---- linking and creation ----

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
		if err := r.e.CRM.SetGoogleCase(ctx, r.c.ID, m.GoogleCase); err != nil {
			return err
		}
		r.c.GoogleCase = m.GoogleCase
		r.act("set the CRM case's Google case field")
	}
	// A Google case that got its CRM case says so, once.
	// Checked until the first complete run has recorded the CRM side.
	if m.Origin == SideGoogle && m.CompanySeenUpdateTime.IsZero() {
		coms, err := r.googleComments(ctx)
		if err != nil {
			return err
		}
		if !linksTo(*r.g, coms, m.CompanyCaseID) {
			if err := r.keepLease(ctx); err != nil {
				return err
			}
			c, err := r.e.Google.AddComment(ctx, m.GoogleCase, LinkLine(m.CompanyCaseID))
			if err != nil {
				return err
			}
			r.gCom = append(r.gCom, c)
			r.doneG["c:"+c.ID] = true
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
		if err := r.recordIntent(ctx, SideCompany); err != nil {
			return err
		}
		p, _ := r.cfg.Priorities.Company(orDefault(r.g.Priority))
		found, err = e.CRM.CreateCase(ctx, NewCompanyCase{
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
	coms, err := r.googleComments(ctx)
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
	if err != nil {
		return err
	}
	if name == "" {
		if m.CreateIntentSide == SideGoogle && r.start.Sub(m.CreateIntentAt) < r.cfg.CreateRecheckDelay {
			// An earlier attempt may have created the case without the
			// search index showing it yet. Wait rather than duplicate.
			return &TransientError{Err: fmt.Errorf("a Google case for CRM case %s may have been created at %s; waiting for search to show it", m.CompanyCaseID, m.CreateIntentAt.Format(time.RFC3339))}
		}
		if err := r.recordIntent(ctx, SideGoogle); err != nil {
			return err
		}
		g, err := e.Google.CreateCase(ctx, r.newGoogleCase(""))
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
		// We are the CRM side's mapping, with no Google key of our own.
		if err := e.Store.DeleteMapping(ctx, r.m.ID); err != nil {
			return Mapping{}, err
		}
		if _, err := e.Store.LinkKey(ctx, other.ID, SideCompany, r.m.CompanyCaseID); err != nil {
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
		if g.Closed() || slices.Contains(exclude, g.Name) {
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

func (r *reconciliation) recordIntent(ctx context.Context, side Side) error {
	if err := r.keepLease(ctx); err != nil {
		return err
	}
	now := r.e.now()
	_, err := r.e.Store.UpdateMapping(ctx, r.m.ID, func(m *Mapping) error {
		if m.CreateIntentSide != side {
			m.CreateIntentAt, m.CreateIntentSide = now, side
		}
		return nil
	})
	if err == nil && r.m.CreateIntentSide != side {
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

// ---- reopen ----

// reopen handles a CRM case that is open again after both cases closed.
func (r *reconciliation) reopen(ctx context.Context) error {
	m := &r.m
	if r.g == nil || r.c == nil || !r.g.Closed() || r.c.Closed || !m.CompanyClosed {
		return nil
	}
	if m.ReopenNoticeSent {
		return nil
	}
	if r.cfg.ReopenPolicy == ReopenNewCase {
		return r.reopenWithNewCase(ctx)
	}
	coms, err := r.companyComments(ctx)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(coms, func(c Comment) bool { return c.ByConnector && strings.HasPrefix(c.Body, reopenPrefix+m.GoogleCase+" ") }) {
		if err := r.keepLease(ctx); err != nil {
			return err
		}
		c, err := r.e.CRM.AddComment(ctx, m.CompanyCaseID, reopenText(m.GoogleCase, ReopenComment, ""), true)
		if err != nil {
			return err
		}
		r.doneC["c:"+c.ID] = true
		r.act("told the reopened CRM case that the Google case stays closed")
	}
	t := true
	r.reopenNotice = &t
	return nil
}

func (r *reconciliation) reopenWithNewCase(ctx context.Context) error {
	e, m := r.e, &r.m
	old := m.GoogleCase
	exclude := append(slices.Clone(m.PreviousGoogleCases), old)
	name, err := r.findLinkedGoogleCase(ctx, m.CompanyCaseID, exclude)
	if err != nil {
		return err
	}
	if name == "" {
		if m.CreateIntentSide == SideGoogle && r.start.Sub(m.CreateIntentAt) < r.cfg.CreateRecheckDelay {
			return &TransientError{Err: fmt.Errorf("a new Google case for reopened CRM case %s may have been created at %s; waiting for search to show it", m.CompanyCaseID, m.CreateIntentAt.Format(time.RFC3339))}
		}
		if err := r.recordIntent(ctx, SideGoogle); err != nil {
			return err
		}
		g, err := e.Google.CreateCase(ctx, r.newGoogleCase("This case continues closed Google Cloud support case "+old+", whose CRM case was reopened."))
		if err != nil {
			return err
		}
		name = g.Name
		r.act("created Google case %s for the reopened CRM case", name)
	}
	// LinkKey moves the old case to PreviousGoogleCases (its key still
	// leads here, so late events about it find this mapping) and starts the
	// Google side over.
	lm, err := r.linkKey(ctx, SideGoogle, name)
	if err != nil {
		return err
	}
	// The store started the Google side over and reopened the mapping in
	// the same transaction (StartOverOnNewGoogleCase).
	m.PreviousGoogleCases = lm.PreviousGoogleCases
	m.GoogleCase = lm.GoogleCase
	StartOverOnNewGoogleCase(m)
	r.gCom, r.gComOK, r.gAtt, r.gAttOK = nil, false, nil, false
	if _, err := r.getGoogle(ctx, name); err != nil {
		return err
	}
	coms, err := r.companyComments(ctx)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(coms, func(c Comment) bool { return c.ByConnector && strings.HasPrefix(c.Body, reopenPrefix+old+" ") }) {
		c, err := e.CRM.AddComment(ctx, m.CompanyCaseID, reopenText(old, ReopenNewCase, name), true)
		if err != nil {
			return err
		}
		r.doneC["c:"+c.ID] = true
	}
	// Everything said on the CRM case so far was for the old case.
	for _, c := range coms {
		r.doneC["c:"+c.ID] = true
	}
	atts, err := r.companyAttachments(ctx)
	if err != nil {
		return err
	}
	for _, a := range atts {
		r.doneC["a:"+a.ID] = true
	}
	return nil
}

// ---- listing, lazily ----

func (r *reconciliation) googleChanged() bool {
	return r.g != nil && changedSince(r.g.UpdateTime, r.m.GoogleSeenUpdateTime)
}

func (r *reconciliation) companyChanged() bool {
	return r.c != nil && changedSince(r.c.UpdateTime, r.m.CompanySeenUpdateTime)
}

func (r *reconciliation) googleComments(ctx context.Context) ([]Comment, error) {
	if !r.gComOK {
		cs, err := r.e.Google.ListComments(ctx, r.m.GoogleCase)
		if err != nil {
			return nil, err
		}
		r.gCom, r.gComOK = append(cs, r.gCom...), true
	}
	return r.gCom, nil
}

func (r *reconciliation) companyComments(ctx context.Context) ([]Comment, error) {
	if !r.cComOK {
		cs, err := r.e.CRM.ListComments(ctx, r.m.CompanyCaseID)
		if err != nil {
			return nil, err
		}
		r.cCom, r.cComOK = append(cs, r.cCom...), true
	}
	return r.cCom, nil
}

func (r *reconciliation) googleAttachments(ctx context.Context) ([]Attachment, error) {
	if !r.gAttOK {
		as, err := r.e.Google.ListAttachments(ctx, r.m.GoogleCase)
		if err != nil {
			return nil, err
		}
		r.gAtt, r.gAttOK = append(as, r.gAtt...), true
	}
	return r.gAtt, nil
}

func (r *reconciliation) companyAttachments(ctx context.Context) ([]Attachment, error) {
	if !r.cAttOK {
		as, err := r.e.CRM.ListAttachments(ctx, r.m.CompanyCaseID)
		if err != nil {
			return nil, err
		}
		r.cAtt, r.cAttOK = append(as, r.cAtt...), true
	}
	return r.cAtt, nil
}

func (r *reconciliation) isDone(side Side, key string) bool {
	if side == SideGoogle {
		return r.doneG[key] || slices.Contains(r.m.GoogleItemsDone, key)
	}
	return r.doneC[key] || slices.Contains(r.m.CompanyItemsDone, key)
}

func (r *reconciliation) markDone(side Side, key string) {
	if side == SideGoogle {
		r.doneG[key] = true
	} else {
		r.doneC[key] = true
	}
}

// ---- comments ----

func (r *reconciliation) comments(ctx context.Context) error {
	if !r.m.Linked() {
		return nil
	}
	googleOpen := !r.g.Closed()
	var newG, newC []Comment
	if r.googleChanged() {
		cs, err := r.googleComments(ctx)
		if err != nil {
			return err
		}
		newG = r.newComments(ctx, SideGoogle, cs)
	}
	if r.companyChanged() {
		cs, err := r.companyComments(ctx)
		if err != nil {
			return err
		}
		newC = r.newComments(ctx, SideCompany, cs)
	}
	// Pair what casebridge already wrote (possibly just before a crash) with
	// its source, so it is neither written again nor mirrored back.
	if len(newC) > 0 && googleOpen {
		if _, err := r.googleComments(ctx); err != nil {
			return err
		}
	}
	if len(newG) > 0 {
		if _, err := r.companyComments(ctx); err != nil {
			return err
		}
	}
	written := map[string]map[int]bool{} // "<from>:<id>" -> parts already on the target
	// Only casebridge's own comments count: a marker typed by a person
	// proves nothing was written.
	pair := func(side Side, cs []Comment) {
		for _, c := range cs {
			if !c.ByConnector {
				continue
			}
			mk, ok := parseMarker(c.Body)
			if !ok || mk.Kind != "Comment" || mk.From == side {
				continue
			}
			k := string(mk.From) + ":" + mk.ID
			if written[k] == nil {
				written[k] = map[int]bool{}
			}
			written[k][max(mk.Part, 1)] = true
		}
	}
	if r.gComOK {
		pair(SideGoogle, r.gCom)
	}
	if r.cComOK {
		pair(SideCompany, r.cCom)
	}

	for _, c := range newG {
		if err := r.mirrorComment(ctx, SideGoogle, c, written[string(SideGoogle)+":"+c.ID]); err != nil {
			return err
		}
	}
	for _, c := range newC {
		if !googleOpen {
			// A closed Google case takes no more comments; the reopen
			// notice (or the new case) tells the CRM side.
			r.markDone(SideCompany, "c:"+c.ID)
			continue
		}
		if err := r.mirrorComment(ctx, SideCompany, c, written[string(SideCompany)+":"+c.ID]); err != nil {
			return err
		}
	}
	return nil
}

// newComments returns the comments of one side that still need a decision,
// marking casebridge's own and, for the CRM, internal notes as done.
func (r *reconciliation) newComments(ctx context.Context, side Side, cs []Comment) []Comment {
	var out []Comment
	for _, c := range cs {
		if !r.validItem(ctx, side, "comment", c.ID) {
			continue
		}
		key := "c:" + c.ID
		if r.isDone(side, key) {
			continue
		}
		if c.ByConnector {
			// casebridge's own (a mirrored item or a notice). Text that
			// merely looks like it, such as an answer quoting a mirrored
			// comment, is a person's and is mirrored.
			r.markDone(side, key)
			continue
		}
		if side == SideCompany && !c.Public && !r.cfg.SyncInternalNotes {
			// Internal notes never leave the CRM.
			r.markDone(side, key)
			continue
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreateTime.Before(out[j].CreateTime) })
	return out
}

// validItem reports whether an item id from an adapter is well-formed. A
// malformed one cannot be keyed or named in a marker: the item is left alone
// and logged (its id cut, never its content).
func (r *reconciliation) validItem(ctx context.Context, side Side, kind, id string) bool {
	if ValidID(id) {
		return true
	}
	r.log.WarnContext(ctx, "skipped an item with a malformed id", "side", string(side), "item", kind, "id", Quote(id))
	return false
}

func authorOf(c Comment) string {
	if c.GoogleSupport {
		if c.AuthorName == "" {
			return "Google Support"
		}
		return c.AuthorName + " (Google Support)"
	}
	return c.AuthorName
}

// mirrorComment writes c to the other side, skipping the parts that side
// already has.
func (r *reconciliation) mirrorComment(ctx context.Context, from Side, c Comment, have map[int]bool) error {
	header := commentHeader(from, c.ID, authorOf(c))
	if from == SideGoogle {
		if !have[1] {
			if err := r.keepLease(ctx); err != nil {
				return err
			}
			w, err := r.e.CRM.AddComment(ctx, r.m.CompanyCaseID, header+"\n\n"+c.Body, *r.cfg.GoogleCommentsPublic)
			if err != nil {
				return err
			}
			r.markDone(SideCompany, "c:"+w.ID)
			r.act("mirrored Google comment %s to the CRM", c.ID)
		}
		r.markDone(SideGoogle, "c:"+c.ID)
		r.newContent = true
		return nil
	}
	parts := r.commentParts(header, c.Body)
	for i, p := range parts {
		if have[i+1] || (len(parts) == 1 && have[1]) {
			continue
		}
		body := header + "\n\n" + p
		if len(parts) > 1 {
			body = fmt.Sprintf("%s (part %d/%d)\n\n%s", header, i+1, len(parts), p)
		}
		if err := r.keepLease(ctx); err != nil {
			return err
		}
		w, err := r.e.Google.AddComment(ctx, r.m.GoogleCase, body)
		if err != nil {
			return err
		}
		r.markDone(SideGoogle, "c:"+w.ID)
	}
	if len(parts) > 1 {
		r.act("mirrored CRM comment %s to Google in %d parts", c.ID, len(parts))
	} else {
		r.act("mirrored CRM comment %s to Google", c.ID)
	}
	r.markDone(SideCompany, "c:"+c.ID)
	r.newContent = true
	return nil
}

// commentParts splits a CRM comment's body into the parts posted on
// Google, each of which fits one Google comment with its header and part
// label. At most MaxSplitParts parts are posted: past that, the last part
// says how much more there is and that it is in the CRM case.
func (r *reconciliation) commentParts(header, body string) []string {
	limit := r.cfg.MaxSplitParts
	// The widest label any part can carry, with the blank line after it.
	label := len(fmt.Sprintf(" (part %d/%d)\n\n", limit, limit))
	room := MaxGoogleCommentLen - utf8.RuneCountInString(header) - label
	parts := splitComment(body, room)
	if len(parts) <= limit {
		return parts
	}
	rest := 0
	for _, p := range parts[limit-1:] {
		rest += utf8.RuneCountInString(p)
	}
	parts = parts[:limit]
	parts[limit-1] = fmt.Sprintf("[The remaining %d characters of this comment are not copied: it is longer than %d Google comments. Read it whole on the CRM case.]", rest, limit-1)
	return parts
}

// ---- attachments ----

func (r *reconciliation) attachments(ctx context.Context) error {
	if !r.m.Linked() {
		return nil
	}
	googleOpen := !r.g.Closed()
	var newG, newC []Attachment
	if r.googleChanged() {
		as, err := r.googleAttachments(ctx)
		if err != nil {
			return err
		}
		newG = r.newAttachments(ctx, SideGoogle, as)
	}
	if r.companyChanged() {
		as, err := r.companyAttachments(ctx)
		if err != nil {
			return err
		}
		newC = r.newAttachments(ctx, SideCompany, as)
	}
	for _, a := range newG {
		if r.isDone(SideGoogle, "a:"+a.ID) {
			continue // paired while handling an earlier one
		}
		if err := r.mirrorAttachment(ctx, SideGoogle, a); err != nil {
			return err
		}
	}
	for _, a := range newC {
		if r.isDone(SideCompany, "a:"+a.ID) {
			continue
		}
		if !googleOpen {
			r.markDone(SideCompany, "a:"+a.ID)
			continue
		}
		if err := r.mirrorAttachment(ctx, SideCompany, a); err != nil {
			return err
		}
	}
	return nil
}

func (r *reconciliation) newAttachments(ctx context.Context, side Side, as []Attachment) []Attachment {
	var out []Attachment
	for _, a := range as {
		if !r.validItem(ctx, side, "attachment", a.ID) {
			continue
		}
		if r.isDone(side, "a:"+a.ID) {
			continue
		}
		if side == SideCompany && !a.Public && !a.ByConnector && !r.cfg.SyncInternalNotes {
			// Files of internal notes, and files whose visibility the
			// adapter cannot tell, stay in the CRM like the notes' text.
			// casebridge's own uploads go on to be paired with their source.
			r.markDone(side, "a:"+a.ID)
			continue
		}
		out = append(out, a)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreateTime.Before(out[j].CreateTime) })
	return out
}

// mirrorAttachment copies a to the other side unless that side already has
// an unpaired file of the same name and size (written by an earlier attempt
// that crashed before recording it, or uploaded there too), in which case the
// two are paired. A file casebridge uploaded itself is paired the same way
// and never copied back.
func (r *reconciliation) mirrorAttachment(ctx context.Context, from Side, a Attachment) error {
	to := from.Other()
	var others []Attachment
	var err error
	if to == SideGoogle {
		others, err = r.googleAttachments(ctx)
	} else {
		others, err = r.companyAttachments(ctx)
	}
	if err != nil {
		return err
	}
	for _, o := range others {
		if o.Filename == a.Filename && o.Size == a.Size && !r.isDone(to, "a:"+o.ID) {
			r.markDone(to, "a:"+o.ID)
			r.markDone(from, "a:"+a.ID)
			return nil
		}
	}
	if a.ByConnector {
		// Ours, but its counterpart is gone: never copy it back.
		r.markDone(from, "a:"+a.ID)
		return nil
	}
	r.newContent = true
	if a.Size > r.cfg.MaxAttachmentBytes {
		return r.attachmentNotice(ctx, from, a, false)
	}
	if err := r.keepLease(ctx); err != nil {
		return err
	}
	var rc io.ReadCloser
	if from == SideGoogle {
		rc, err = r.e.Google.DownloadAttachment(ctx, r.m.GoogleCase, a.ID)
	} else {
		rc, err = r.e.CRM.DownloadAttachment(ctx, r.m.CompanyCaseID, a.ID)
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	body := &limitedReader{r: rc, left: r.cfg.MaxAttachmentBytes}
	mime := a.MimeType
	if mime == "" {
		mime = "application/octet-stream"
	}
	var w Attachment
	if to == SideGoogle {
		w, err = r.e.Google.UploadAttachment(ctx, r.m.GoogleCase, a.Filename, mime, body)
	} else {
		w, err = r.e.CRM.UploadAttachment(ctx, r.m.CompanyCaseID, a.Filename, mime, body)
	}
	if errors.Is(err, errTooLarge) || body.over || refusedAsTooLarge(body.srcErr) {
		// Over casebridge's limit, or over the limit the source side's
		// adapter enforces on the bytes it actually reads.
		return r.attachmentNotice(ctx, from, a, false)
	}
	if refusedAsTooLarge(err) {
		// The other side's own limit is lower than casebridge's.
		return r.attachmentNotice(ctx, from, a, true)
	}
	if err != nil {
		return err
	}
	r.markDone(to, "a:"+w.ID)
	r.markDone(from, "a:"+a.ID)
	if to == SideGoogle {
		r.gAtt = append(r.gAtt, w)
	} else {
		r.cAtt = append(r.cAtt, w)
	}
	r.act("copied %s attachment %s (%d bytes) to the other side", from, a.ID, a.Size)
	return nil
}

// refusedAsTooLarge reports whether a side refused an upload as too large
// (HTTP 413): no retry can copy the file.
func refusedAsTooLarge(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusRequestEntityTooLarge && !ae.Transient
}

// attachmentNotice tells the other side that a file was not copied, once.
// refused says the receiving side refused it as too large, below
// casebridge's own limit.
func (r *reconciliation) attachmentNotice(ctx context.Context, from Side, a Attachment, refused bool) error {
	to := from.Other()
	header := attachmentHeader(from, a.ID, a.AuthorName)
	var coms []Comment
	var err error
	if to == SideGoogle {
		coms, err = r.googleComments(ctx)
	} else {
		coms, err = r.companyComments(ctx)
	}
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(coms, func(c Comment) bool { return c.ByConnector && strings.HasPrefix(c.Body, header) }) {
		why := fmt.Sprintf("it is larger than the %d-byte limit for copied attachments", r.cfg.MaxAttachmentBytes)
		if refused {
			why = "this side refused it as larger than it accepts"
		}
		text := fmt.Sprintf("%s\n\nThe file %q (%d bytes) was not copied from the %s case: %s. Find it on the %s case.",
			header, cutName(a.Filename), a.Size, strings.ToLower(sideLabel(from)), why, strings.ToLower(sideLabel(from)))
		if err := r.keepLease(ctx); err != nil {
			return err
		}
		var w Comment
		if to == SideGoogle {
			w, err = r.e.Google.AddComment(ctx, r.m.GoogleCase, text)
		} else {
			w, err = r.e.CRM.AddComment(ctx, r.m.CompanyCaseID, text, true)
		}
		if err != nil {
			return err
		}
		r.markDone(to, "c:"+w.ID)
		r.act("noted on the other side that %s attachment %s is over the size limit", from, a.ID)
	}
	r.markDone(from, "a:"+a.ID)
	return nil
}

// cutName bounds a file name quoted in a notice, so the notice always fits
// one Google comment.
func cutName(name string) string {
	name = strings.ToValidUTF8(name, "")
	if r := []rune(name); len(r) > maxFileNameLen {
		return string(r[:maxFileNameLen-1]) + "…"
	}
	return name
}

// maxFileNameLen bounds a file name in a notice.
const maxFileNameLen = 255

var errTooLarge = errors.New("attachment is larger than the configured limit")

// limitedReader fails once more than left bytes have been read, so a file
// whose listed size was wrong cannot exceed the limit.
type limitedReader struct {
	r    io.Reader
	left int64
	over bool
	// srcErr is the first error reading the source gave, other than EOF.
	srcErr error
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		l.over = true
		return 0, errTooLarge
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	if err != nil && err != io.EOF && l.srcErr == nil {
		l.srcErr = err
	}
	l.left -= int64(n)
	if l.left < 0 {
		l.over = true
		return n, errTooLarge
	}
	return n, err
}

// ---- priority ----

// syncPriority carries a priority change across. When both sides changed
// since they last agreed, the more urgent priority wins: casebridge never
// lowers the urgency someone asked for.
func (r *reconciliation) syncPriority(ctx context.Context) error {
	if !r.m.Linked() || r.g.Closed() || r.c.Closed {
		return nil
	}
	base := r.m.Priority
	gp := r.g.Priority
	cp, ok := r.cfg.Priorities.Google(r.c.Priority)
	if !ok {
		r.log.WarnContext(ctx, "CRM priority value is not in the priority table; leaving priorities alone", "value", r.c.Priority)
		return nil
	}
	if gp == PriorityUnspecified {
		gp = base
	}
	// The CRM may have fewer priorities than Google: compare in the CRM's
	// terms, so a Google P0 written as a CRM value that reads back as P1 is
	// not taken for a change on the CRM side.
	bucket := r.cfg.Priorities.Bucket
	googleChanged := gp != base
	companyChanged := cp != bucket(base)
	var want Priority
	switch {
	case !companyChanged:
		want = gp
	case !googleChanged:
		want = cp
	case bucket(gp) == cp:
		want = gp
	default:
		want = min(gp, cp)
	}
	if want != gp {
		if err := r.keepLease(ctx); err != nil {
			return err
		}
		if err := r.e.Google.SetPriority(ctx, r.m.GoogleCase, want); err != nil {
			return err
		}
		r.act("set Google priority to %s", want)
	}
	if bucket(want) != cp {
		v, _ := r.cfg.Priorities.Company(want)
		if err := r.keepLease(ctx); err != nil {
			return err
		}
		if err := r.e.CRM.SetPriority(ctx, r.m.CompanyCaseID, v); err != nil {
			return err
		}
		r.act("set CRM priority to %s", v)
	}
	r.priority = &want
	return nil
}

// ---- close ----

func (r *reconciliation) close(ctx context.Context) error {
	if !r.m.Linked() {
		return nil
	}
	gClosed, cClosed := r.g.Closed(), r.c.Closed
	// A CRM case open again after both closed is a reopen (see reopen),
	// not a close to carry over.
	reopened := r.m.CompanyClosed || r.m.ReopenNoticeSent || (r.reopenNotice != nil && *r.reopenNotice)
	switch {
	case gClosed && !cClosed && !reopened:
		if err := r.keepLease(ctx); err != nil {
			return err
		}
		if err := r.e.CRM.CloseCase(ctx, r.m.CompanyCaseID); err != nil {
			return err
		}
		r.act("closed the CRM case")
		cClosed = true
	case cClosed && !gClosed:
		if err := r.keepLease(ctx); err != nil {
			return err
		}
		if err := r.e.Google.CloseCase(ctx, r.m.GoogleCase); err != nil {
			return err
		}
		r.act("closed the Google case")
		gClosed = true
	}
	r.closedG, r.closedC = &gClosed, &cClosed
	if gClosed && cClosed && r.m.ResolvedAt.IsZero() {
		t := r.e.now()
		r.resolvedAt = &t
	}
	if cClosed {
		// A later reopen gets its own notice.
		f := false
		r.reopenNotice = &f
	}
	return nil
}

// ---- saving ----

// save records what this run did. After a failure it still records the
// items written, so a retry does not look for them again; only a complete run
// moves the seen update times and the synced-at times.
func (r *reconciliation) save(ctx context.Context, complete bool) error {
	if r.doneG == nil || r.merged {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	now := r.e.now()
	seenG, seenC := time.Time{}, time.Time{}
	if r.g != nil {
		seenG = r.g.UpdateTime
	}
	if r.c != nil {
		seenC = r.c.UpdateTime
		// The CRM's update time is coarse: a change in the same tick as our
		// read would carry the same update time, so leave such a read
		// unseen and look once more.
		if r.cAt.Sub(r.c.UpdateTime) < r.cfg.CompanyTimeGranularity {
			seenC = seenC.Add(-time.Nanosecond)
		}
	}
	googleName, companyID := r.m.GoogleCase, r.m.CompanyCaseID
	_, err := r.e.Store.UpdateMapping(ctx, r.m.ID, func(m *Mapping) error {
		if m.GoogleCase != googleName {
			// A reopen swapped the Google case mid-run.
			return nil
		}
		m.GoogleItemsDone = mergeKeys(m.GoogleItemsDone, r.doneG)
		m.CompanyItemsDone = mergeKeys(m.CompanyItemsDone, r.doneC)
		if r.newContent {
			m.NewContentAt = now
		}
		if !complete {
			return nil
		}
		if googleName != "" && seenG.After(m.GoogleSeenUpdateTime) {
			m.GoogleSeenUpdateTime = seenG
		}
		if companyID != "" && seenC.After(m.CompanySeenUpdateTime) {
			m.CompanySeenUpdateTime = seenC
		}
		if m.Linked() {
			m.GoogleUpdatesSyncedAt, m.CompanyUpdatesSyncedAt = now, now
			if !m.GooglePendingSince.After(r.start) {
				m.GooglePendingSince = time.Time{}
			}
			if !m.CompanyPendingSince.After(r.start) {
				m.CompanyPendingSince = time.Time{}
			}
		}
		if r.priority != nil {
			m.Priority = *r.priority
		}
		if r.closedG != nil {
			m.GoogleClosed, m.CompanyClosed = *r.closedG, *r.closedC
		}
		if r.resolvedAt != nil && m.ResolvedAt.IsZero() {
			m.ResolvedAt = *r.resolvedAt
		}
		if r.reopenNotice != nil {
			m.ReopenNoticeSent = *r.reopenNotice
		}
		return nil
	})
	return err
}

func mergeKeys(have []string, add map[string]bool) []string {
	if len(add) == 0 {
		return have
	}
	out := slices.Clone(have)
	for k := range add {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
