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
	cfg := e.cfg()
	r := &reconciliation{e: e, cfg: cfg, start: e.now(), log: e.log()}

	m, skip, err := r.resolve(ctx, ref)
	if err != nil || skip != "" {
		return SyncResult{MappingID: m.ID, Skipped: skip}, err
	}
	if !ref.UpdateTime.IsZero() && !changedSince(ref.UpdateTime, m.seenUpdateTime(ref.Side)) && m.Linked() && !m.RerunRequested {
		return SyncResult{MappingID: m.ID, Skipped: "unchanged since its last reconciliation"}, e.clearCoveredPending(ctx, m, ref)
	}

	holder := newHolder()
	leased, err := e.Store.AcquireLease(ctx, m.ID, holder, r.start, r.start.Add(cfg.LeaseDuration))
	if errors.Is(err, ErrLeaseHeld) {
		// The holder looks again before it lets go (the store recorded the
		// request); answering with an error would only make Pub/Sub retry.
		return SyncResult{MappingID: m.ID, Skipped: "another worker is reconciling this case and will look again"}, nil
	}
	if err != nil {
		return SyncResult{MappingID: m.ID}, err
	}
	m = leased
	log := r.log.With(mappingKey, m.ID)
	l, wctx := e.hold(ctx, m, holder, cfg.LeaseDuration)
	merged := false
	defer func() {
		if err := l.release(ctx); err != nil && !(merged && IsNotFound(err)) {
			log.WarnContext(ctx, "release lease", "error", err)
		}
	}()

	res := SyncResult{MappingID: m.ID}
	for pass := 1; ; pass++ {
		if pass > 1 {
			r = &reconciliation{e: e, cfg: cfg, start: e.now()}
		}
		r.log, r.lease, r.m, r.last = log, l, m, pass == maxPasses
		if pass == 1 && !ref.UpdateTime.IsZero() && !changedSince(ref.UpdateTime, m.seenUpdateTime(ref.Side)) && m.Linked() && !m.RerunRequested {
			// A second look under the lease: another worker just finished.
			res.Skipped = "unchanged since its last reconciliation"
			_, err := r.finishUnchanged(ctx, ref)
			return res, lostIsDone(err)
		}
		err := r.run(wctx)
		if l.lostErr() != nil {
			err = l.lostErr()
		}
		next, again, serr := r.save(ctx, err)
		merged = merged || r.merged
		if r.gaveUp && serr == nil {
			log.ErrorContext(ctx, GaveUpMessage, "failingSince", next.FailingSince, "attempts", next.Attempts, "error", next.LastError)
		}
		res.Actions = append(res.Actions, r.actions...)
		if errors.Is(err, errDropped) {
			res.Skipped = r.actions[len(r.actions)-1]
			log.InfoContext(ctx, "mapping dropped", "reason", res.Skipped)
			return res, nil
		}
		if errors.Is(err, ErrLeaseLost) || errors.Is(serr, ErrLeaseLost) {
			log.WarnContext(ctx, "lease taken by another worker; it carries on", "actions", len(res.Actions))
			return res, nil
		}
		if err == nil {
			err = serr
		}
		if err != nil {
			// The caller logs the error itself (eventing.Settle); this
			// adds how far the run got, for debugging.
			log.DebugContext(ctx, "reconciliation failed", "error", err, "transient", IsTransient(err), "actions", len(res.Actions))
			return res, err
		}
		if !again || r.last {
			break
		}
		m = next
		// The next pass reads the CRM after the tick of its last change
		// (this pass's own writes included) has passed, so that what it
		// reads is final for that tick.
		wait := r.companyTickWait()
		if r.wroteCompany {
			wait = max(wait, 2*cfg.CompanyTimeGranularity+10*time.Millisecond)
		}
		if wait > 0 {
			if err := e.sleep(wctx, wait); err != nil {
				break
			}
		}
	}
	// The function logs the run's summary at INFO.
	log.DebugContext(ctx, "reconciliation finished", "actions", len(res.Actions))
	return res, nil
}

// maxPasses bounds how often one reconciliation looks again at a case it
// has just written to, or that changed while it ran.
const maxPasses = 3

// lostIsDone turns a lost lease into success: the worker that took the
// mapping carries on from what is stored.
func lostIsDone(err error) error {
	if errors.Is(err, ErrLeaseLost) {
		return nil
	}
	return err
}

// finishUnchanged ends a run that found the event already covered: it
// clears the covered pending mark and, with nothing else outstanding, the
// mapping's due time.
func (r *reconciliation) finishUnchanged(ctx context.Context, ref CaseRef) (Mapping, error) {
	return r.e.Store.UpdateMapping(ctx, r.m.ID, func(x *Mapping) error {
		if err := r.lease.owns(x); err != nil {
			return err
		}
		if !changedSince(ref.UpdateTime, x.seenUpdateTime(ref.Side)) {
			if ref.Side == SideGoogle {
				x.GooglePendingSince = time.Time{}
			} else {
				x.CompanyPendingSince = time.Time{}
			}
		}
		if x.GooglePendingSince.IsZero() && x.CompanyPendingSince.IsZero() && !x.RerunRequested && x.Attempts == 0 && x.Linked() {
			x.DueAt = time.Time{}
		}
		return nil
	})
}

// sleeper is implemented by a clock that can be waited on (a test clock
// moves itself forward); the engine otherwise waits in real time.
type sleeper interface {
	Sleep(ctx context.Context, d time.Duration) error
}

func (e *Engine) sleep(ctx context.Context, d time.Duration) error {
	if s, ok := e.Clock.(sleeper); ok {
		return s.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
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
		leased := x.LeaseHolder != "" && x.LeaseUntil.After(e.now())
		if !leased && x.GooglePendingSince.IsZero() && x.CompanyPendingSince.IsZero() && !x.RerunRequested && x.Attempts == 0 && x.Linked() {
			x.DueAt = time.Time{}
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
	e     *Engine
	cfg   Config
	log   *slog.Logger
	start time.Time
	lease *lease
	m     Mapping
	// last is set on the last pass a reconciliation may make.
	last bool

	g                              *GoogleCase
	c                              *CompanyCase
	gAt                            time.Time // when g was read
	cAt                            time.Time
	gCom, cCom                     []Comment    // nil until listed
	gAtt, cAtt                     []Attachment // nil until listed
	gComOK, cComOK, gAttOK, cAttOK bool

	// What this run learnt, saved at the end (also after a failure).
	done map[doneKey]time.Time
	// listed: the side and kind listings this run read and worked through
	// as a source, so their item logs can be settled.
	listed       map[logKey]bool
	newContent   bool
	actions      []string
	priority     *Priority
	closedG      *bool
	closedC      *bool
	resolvedAt   *time.Time
	reopenNotice *bool
	merged       bool // this mapping was merged into another and deleted
	gaveUp       bool // this pass gave up on creating the counterpart
	// writes lists what this pass wrote to either side; wroteCompany is set
	// when it wrote to the CRM.
	writes       []string
	wroteCompany bool
}

func (r *reconciliation) act(format string, args ...any) {
	a := fmt.Sprintf(format, args...)
	r.actions = append(r.actions, a)
	r.writes = append(r.writes, a)
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
		return func(m *Mapping) { initMapping(m, origin, p, r.start) }
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
	r.done = map[doneKey]time.Time{}
	r.listed = map[logKey]bool{}
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

// crmWrite is the CRM, for a call that writes to it: the next pass then
// waits for the CRM's clock to leave the tick of the write.
func (r *reconciliation) crmWrite() CRM {
	r.wroteCompany = true
	return r.e.CRM
}

// keepLease is called before every side effect: it fails once the lease is
// lost, and renews it when it is running out.
func (r *reconciliation) keepLease(ctx context.Context) error {
	return r.lease.keep(ctx)
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
		if err := r.crmWrite().SetGoogleCase(ctx, r.c.ID, m.GoogleCase); err != nil {
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
		c, err := r.crmWrite().AddComment(ctx, m.CompanyCaseID, reopenText(m.GoogleCase, ReopenComment, ""), true)
		if err != nil {
			return err
		}
		r.commentDone(SideCompany, c)
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
	if err == nil && name == "" && m.CreateIntentSide == SideGoogle {
		name, err = r.findOwnCreation(ctx, m.CompanyCaseID, exclude)
	}
	if err != nil {
		return err
	}
	if name == "" {
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
		c, err := r.crmWrite().AddComment(ctx, m.CompanyCaseID, reopenText(old, ReopenNewCase, name), true)
		if err != nil {
			return err
		}
		r.commentDone(SideCompany, c)
	}
	// What the CRM case said while both were closed stays done; what came
	// since, such as the reply that reopened it, goes to the new case.
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

// doneKey names one item of one side.
type doneKey struct {
	side Side
	kind itemKind
	id   string
}

// logKey names the item log of one side and kind.
type logKey struct {
	side Side
	kind itemKind
}

func (r *reconciliation) isDone(side Side, kind itemKind, id string, at time.Time) bool {
	if _, ok := r.done[doneKey{side, kind, id}]; ok {
		return true
	}
	return r.m.items(side).log(kind).Has(id, at)
}

func (r *reconciliation) isCommentDone(side Side, c Comment) bool {
	return r.isDone(side, kindComment, c.ID, c.CreateTime)
}

func (r *reconciliation) isFileDone(side Side, a Attachment) bool {
	return r.isDone(side, kindAttachment, a.ID, a.CreateTime)
}

// commentDone records a person's comment as handled. casebridge's own
// comments are known by their author on every listing and are not recorded.
func (r *reconciliation) commentDone(side Side, c Comment) {
	r.done[doneKey{side, kindComment, c.ID}] = c.CreateTime
}

func (r *reconciliation) fileDone(side Side, a Attachment) {
	r.done[doneKey{side, kindAttachment, a.ID}] = a.CreateTime
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
		r.listed[logKey{SideGoogle, kindComment}] = true
	}
	if r.companyChanged() {
		cs, err := r.companyComments(ctx)
		if err != nil {
			return err
		}
		newC = r.newComments(ctx, SideCompany, cs)
		r.listed[logKey{SideCompany, kindComment}] = true
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
			r.commentDone(SideCompany, c)
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
		if r.isCommentDone(side, c) {
			continue
		}
		if c.ByConnector {
			// casebridge's own (a mirrored item or a notice), known by its
			// author. Text that merely looks like it, such as an answer
			// quoting a mirrored comment, is a person's and is mirrored.
			continue
		}
		if side == SideCompany && !c.Public && !r.cfg.SyncInternalNotes {
			// Internal notes never leave the CRM.
			r.commentDone(side, c)
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
			if _, err := r.crmWrite().AddComment(ctx, r.m.CompanyCaseID, header+"\n\n"+c.Body, *r.cfg.GoogleCommentsPublic); err != nil {
				return err
			}
			r.act("mirrored Google comment %s to the CRM", c.ID)
		}
		r.commentDone(SideGoogle, c)
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
		if _, err := r.e.Google.AddComment(ctx, r.m.GoogleCase, body); err != nil {
			return err
		}
	}
	if len(parts) > 1 {
		r.act("mirrored CRM comment %s to Google in %d parts", c.ID, len(parts))
	} else {
		r.act("mirrored CRM comment %s to Google", c.ID)
	}
	r.commentDone(SideCompany, c)
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
		r.listed[logKey{SideGoogle, kindAttachment}] = true
	}
	if r.companyChanged() {
		as, err := r.companyAttachments(ctx)
		if err != nil {
			return err
		}
		newC = r.newAttachments(ctx, SideCompany, as)
		r.listed[logKey{SideCompany, kindAttachment}] = true
	}
	for _, a := range newG {
		if r.isFileDone(SideGoogle, a) {
			continue // paired while handling an earlier one
		}
		if err := r.mirrorAttachment(ctx, SideGoogle, a); err != nil {
			return err
		}
	}
	for _, a := range newC {
		if r.isFileDone(SideCompany, a) {
			continue
		}
		if !googleOpen {
			r.fileDone(SideCompany, a)
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
		if r.isFileDone(side, a) {
			continue
		}
		if side == SideCompany && !a.Public && !a.ByConnector && !r.cfg.SyncInternalNotes {
			// Files of internal notes, and files whose visibility the
			// adapter cannot tell, stay in the CRM like the notes' text.
			// casebridge's own uploads go on to be paired with their source.
			r.fileDone(side, a)
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
		if o.Filename == a.Filename && o.Size == a.Size && !r.isFileDone(to, o) {
			r.fileDone(to, o)
			r.fileDone(from, a)
			return nil
		}
	}
	if a.ByConnector {
		// Ours, but its counterpart is gone: never copy it back.
		r.fileDone(from, a)
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
		w, err = r.crmWrite().UploadAttachment(ctx, r.m.CompanyCaseID, a.Filename, mime, body)
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
	r.fileDone(to, w)
	r.fileDone(from, a)
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
		if to == SideGoogle {
			_, err = r.e.Google.AddComment(ctx, r.m.GoogleCase, text)
		} else {
			_, err = r.crmWrite().AddComment(ctx, r.m.CompanyCaseID, text, true)
		}
		if err != nil {
			return err
		}
		r.act("noted on the other side that %s attachment %s is over the size limit", from, a.ID)
	}
	r.fileDone(from, a)
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
		if err := r.crmWrite().SetPriority(ctx, r.m.CompanyCaseID, v); err != nil {
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
		if err := r.crmWrite().CloseCase(ctx, r.m.CompanyCaseID); err != nil {
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

// save records what this pass did, if the lease is still this worker's.
// After a failure it still records the items written, so a retry does not
// look for them again, and schedules the next attempt; only a complete pass
// moves the seen update times and the synced-at times. again reports that
// the case should be looked at once more before the lease is let go: the
// pass wrote to a side, a reconciliation was asked for meanwhile, or the
// CRM's read came in the tick of its last change.
func (r *reconciliation) save(ctx context.Context, runErr error) (saved Mapping, again bool, err error) {
	if r.done == nil || r.merged {
		return Mapping{}, false, nil
	}
	complete := runErr == nil
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
		if r.companyTickWait() > 0 {
			seenC = seenC.Add(-time.Nanosecond)
		}
	}
	googleName, companyID := r.m.GoogleCase, r.m.CompanyCaseID
	var behind []string
	saved, err = r.e.Store.UpdateMapping(ctx, r.m.ID, func(m *Mapping) error {
		if err := r.lease.owns(m); err != nil {
			return err
		}
		again = false
		if m.GoogleCase != googleName {
			// A reopen swapped the Google case mid-run.
			return nil
		}
		behind = r.settleItems(m)
		if r.newContent {
			m.NewContentAt = now
		}
		if !complete {
			r.failed(m, runErr, now)
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
		m.Attempts, m.LastError, m.GaveUpAt = 0, "", time.Time{}
		outstanding := m.RerunRequested || !m.GooglePendingSince.IsZero() || !m.CompanyPendingSince.IsZero() ||
			len(r.writes) > 0 || r.companyTickWait() > 0 || !m.Linked()
		switch {
		case !outstanding:
			m.DueAt = time.Time{}
		case !m.Linked():
			// Nothing more to do now (a person's case not yet eligible, or
			// waiting on a search index); the sweep looks again later.
			m.DueAt = now.Add(r.cfg.RetryBackoff)
		case r.last:
			// Out of passes: the sweep asks again at the next poll.
			m.RerunRequested = false
			m.DueAt = now
		default:
			m.RerunRequested = false
			again = true
		}
		return nil
	})
	if len(behind) > 0 {
		r.log.WarnContext(ctx, "item log full: items left without being handled", "items", behind)
	}
	return saved, again, err
}

// failed records a failed pass on m and when to try again: with backoff,
// and for a mapping whose counterpart could not be created, until
// GiveUpAfter, when it gives up with an ERROR entry monitoring alerts on.
func (r *reconciliation) failed(m *Mapping, runErr error, now time.Time) {
	if m.Attempts == 0 {
		m.FailingSince = now
	}
	m.Attempts++
	m.LastError = cutError(runErr)
	m.RerunRequested = false
	m.DueAt = now.Add(r.cfg.retryDelay(m.Attempts))
	if !m.GaveUpAt.IsZero() {
		m.DueAt = time.Time{} // given up already: only a resync asks again
	}
	if !m.Linked() && m.GaveUpAt.IsZero() && !m.FailingSince.IsZero() && now.Sub(m.FailingSince) >= r.cfg.GiveUpAfter {
		m.DueAt, m.GaveUpAt = time.Time{}, now
		r.gaveUp = true
	}
}

// cutError is an error's text as stored on a mapping: it names ids, never
// case text, and is cut to a bounded length.
func cutError(err error) string {
	if err == nil {
		return ""
	}
	s := strings.ToValidUTF8(err.Error(), "?")
	if r := []rune(s); len(r) > maxStoredError {
		s = string(r[:maxStoredError-1]) + "…"
	}
	return s
}

const maxStoredError = 300

// companyTickWait is how long to wait before the CRM's clock leaves the
// tick of the case's last change, when the case was read in that tick (a
// change later in the same tick would carry the same update time). It uses
// the CRM's own clock from its answer when the adapter gives it, and the
// engine's otherwise; zero when the read was late enough.
func (r *reconciliation) companyTickWait() time.Duration {
	if r.c == nil || r.c.UpdateTime.IsZero() {
		return 0
	}
	gran := r.cfg.CompanyTimeGranularity
	readAt := r.c.ReadAt
	if readAt.IsZero() {
		readAt = r.cAt
	}
	// A read one tick after the change still counts as in it: a server may
	// date its answer when the request arrived, or the answer may cross into
	// the next tick after the read. Two ticks later is final.
	if d := readAt.Sub(r.c.UpdateTime); d <= gran {
		return 2*gran - d + 10*time.Millisecond
	}
	return 0
}

// settleItems records in m's item logs what this run did, and keeps them
// small. It returns the items a full log had to leave behind (see
// ItemLog.settle), as "side kind id".
func (r *reconciliation) settleItems(m *Mapping) []string {
	var behind []string
	for _, side := range []Side{SideGoogle, SideCompany} {
		for _, kind := range []itemKind{kindComment, kindAttachment} {
			add := map[string]time.Time{}
			for k, at := range r.done {
				if k.side == side && k.kind == kind {
					add[k.id] = at
				}
			}
			var listed []listedItem
			if r.listed[logKey{side, kind}] {
				listed = r.listing(side, kind)
			}
			if len(add) == 0 && listed == nil {
				continue
			}
			l := m.items(side).log(kind)
			var left []string
			*l, left = l.settle(add, listed)
			for _, id := range left {
				behind = append(behind, string(side)+" "+kind.String()+" "+id)
			}
		}
	}
	return behind
}

// listing returns what this run listed of one side and kind, each item
// settled or not.
func (r *reconciliation) listing(side Side, kind itemKind) []listedItem {
	var out []listedItem
	add := func(id string, at time.Time, own bool) {
		settled := own || !ValidID(id) || r.isDone(side, kind, id, at)
		out = append(out, listedItem{ID: id, At: at, Settled: settled})
	}
	switch {
	case kind == kindComment && side == SideGoogle:
		for _, c := range r.gCom {
			add(c.ID, c.CreateTime, c.ByConnector)
		}
	case kind == kindComment:
		for _, c := range r.cCom {
			add(c.ID, c.CreateTime, c.ByConnector)
		}
	case side == SideGoogle:
		for _, a := range r.gAtt {
			add(a.ID, a.CreateTime, false)
		}
	default:
		for _, a := range r.cAtt {
			add(a.ID, a.CreateTime, false)
		}
	}
	return out
}
