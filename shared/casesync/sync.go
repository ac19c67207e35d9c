package casesync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
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
	if why := ref.coveredBy(m); why != "" {
		if why != unchangedSinceLast {
			return SyncResult{MappingID: m.ID, Skipped: why}, nil
		}
		return SyncResult{MappingID: m.ID, Skipped: why}, e.clearCoveredPending(ctx, m, ref)
	}

	if ref.Item != "" && m.LeaseHolder != "" && m.LeaseUntil.After(r.start) {
		// An event naming an item while a reconciliation runs is most
		// likely that run's own write coming back: asked for again once
		// the run has recorded what it wrote, it is then recognised without
		// a pass (asking the holder to look again would cost one).
		return SyncResult{MappingID: m.ID}, fmt.Errorf("mapping %s (event naming item %s): %w", m.ID, ref.Item, ErrWaitForHolder)
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
	r.recorded = leased.WritesRecorded
	log := r.log.With(mappingKey, m.ID)
	l, wctx := e.hold(ctx, m, holder, cfg.LeaseDuration)
	merged := false
	defer func() {
		if err := l.release(ctx); err != nil && !(merged && IsNotFound(err)) {
			log.WarnContext(ctx, "release lease", "error", err)
		}
	}()

	res := SyncResult{MappingID: m.ID}
	if ref.ID != "" && ref.Side.Valid() {
		r.from = ref.Side
	}
	for pass := 1; ; pass++ {
		if pass > 1 {
			prev := r
			r = &reconciliation{e: e, cfg: cfg, start: e.now(), recorded: prev.recorded}
			r.carry(prev, m)
		}
		r.log, r.lease, r.m, r.last = log, l, m, pass == maxPasses
		if why := ref.coveredBy(m); pass == 1 && why != "" {
			// A second look under the lease: another worker just finished.
			res.Skipped = why
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

// EventClockMargin is how much later than a message's publish time a
// reconciliation must have read the case to have seen what the message
// announces: Pub/Sub's clock and the functions' may differ by this much.
// The dead-letter tool judges support events by it too.
const EventClockMargin = 2 * time.Second

// coveredBy returns why the change ref announces needs no reconciliation of
// m, or "" when it may: the case has not changed since the last completed
// reconciliation (the poller's update time), the event names a comment or
// file casebridge wrote itself, or a completed reconciliation read the case
// after the message was published. A message naming only the mapping (a
// command) is never covered, nor one for a mapping not yet linked or asked
// for again.
func (ref CaseRef) coveredBy(m Mapping) string {
	if ref.ID == "" || !ref.Side.Valid() || !m.Linked() || m.RerunRequested {
		return ""
	}
	sd := m.Side(ref.Side)
	switch {
	case !ref.UpdateTime.IsZero() && !changedSince(ref.UpdateTime, sd.SeenUpdateTime):
		return unchangedSinceLast
	case ref.Item != "" && slices.Contains(sd.OwnWrites, ref.Item):
		return "the event names casebridge's own write"
	case !ref.EventTime.IsZero() && sd.ReadAt.After(ref.EventTime.Add(EventClockMargin)):
		return "a reconciliation read the case after the event was published"
	}
	return ""
}

const unchangedSinceLast = "unchanged since its last reconciliation"

// maxPasses bounds how often one reconciliation looks again at a case it
// has just written to, or that changed while it ran.
const maxPasses = 3

// carry starts a pass with what the previous pass read of a side it did not
// write to, when nothing says that side changed since: the next pass then
// reads again only the side it wrote to (to see its own writes there, and
// anything a person did meanwhile). A change to the carried side after the
// previous pass read it moves that case's update time past what the mapping
// has seen, so the next poll asks for it. saved is the mapping as the
// previous pass saved it.
func (r *reconciliation) carry(prev *reconciliation, saved Mapping) {
	if prev.rerunAsked {
		// Another delivery asked while the pass ran: read everything.
		return
	}
	if g := prev.g; g != nil && !prev.wrote[SideGoogle] && g.Name == saved.GoogleCase &&
		!saved.Google.PendingSince.After(prev.start) {
		r.g, r.gAt = g, prev.gAt
	}
	if c := prev.c; c != nil && !prev.wrote[SideCompany] && prev.assumed != SideCompany && c.ID == saved.CompanyCaseID &&
		!saved.Company.PendingSince.After(prev.start) && prev.companyTickWait() == 0 {
		r.c, r.cAt = c, prev.cAt
	}
}

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
	m, err := r.e.Store.UpdateMapping(ctx, r.m.ID, func(x *Mapping) error {
		if err := r.lease.owns(x); err != nil {
			return err
		}
		if !ref.UpdateTime.IsZero() && !changedSince(ref.UpdateTime, x.Side(ref.Side).SeenUpdateTime) && !markedAfter(*x, ref) {
			x.Side(ref.Side).PendingSince = time.Time{}
		}
		if x.Google.PendingSince.IsZero() && x.Company.PendingSince.IsZero() && !x.RerunRequested && x.Attempts == 0 && x.Linked() {
			x.DueAt = time.Time{}
		}
		// The run ends here: this write lets the lease go.
		r.lease.endIn(x)
		return nil
	})
	if err == nil {
		r.lease.endedInWrite()
	}
	return m, err
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
	if m.Side(ref.Side).PendingSince.IsZero() || markedAfter(m, ref) {
		return nil
	}
	_, err := e.Store.UpdateMapping(ctx, m.ID, func(x *Mapping) error {
		if changedSince(ref.UpdateTime, x.Side(ref.Side).SeenUpdateTime) || markedAfter(*x, ref) {
			return nil
		}
		x.Side(ref.Side).PendingSince = time.Time{}
		leased := x.LeaseHolder != "" && x.LeaseUntil.After(e.now())
		if !leased && x.Google.PendingSince.IsZero() && x.Company.PendingSince.IsZero() && !x.RerunRequested && x.Attempts == 0 && x.Linked() {
			x.DueAt = time.Time{}
		}
		return nil
	})
	return err
}

// markedAfter reports whether the pending mark on ref's side was set after
// ref's message was published: a later poll's, for a later change, which a
// late or repeated older message must not clear.
func markedAfter(m Mapping, ref CaseRef) bool {
	return !ref.EventTime.IsZero() && m.Side(ref.Side).PendingSince.After(ref.EventTime)
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

	g   *GoogleCase
	c   *CompanyCase
	gAt time.Time // when g was read
	cAt time.Time
	// gRead, cRead: what the pass has read of each side (see read).
	gRead, cRead sideRead

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
	// stateShown: the Google state this run wrote to the CRM case;
	// escalation: the escalation request's progress as this run left it.
	stateShown     *string
	escalation     *EscalationProgress
	lastEscalation *EscalationProgress
	// newCaseNoticed: the CRM case has the notice naming its new Google
	// case.
	newCaseNoticed bool
	// refused names the last item the other side was proven in this pass
	// to refuse for what it is; skipped the items this pass skipped.
	refused string
	skipped []string
	// mirrored counts, per target side and kind, the items this pass
	// copied there (a refused item is skipped only once the side took
	// another).
	mirrored map[logKey]int
	merged   bool // this mapping was merged into another and deleted
	gaveUp   bool // this pass gave up on creating the counterpart
	// writes lists what this pass wrote to either side; wroteCompany is set
	// when it wrote to the CRM, wrote[side] when it called an API that
	// writes to side (whether or not the call succeeded).
	writes       []string
	wroteCompany bool
	wrote        map[Side]bool
	// own lists, per side, the comments and files this pass wrote there.
	own map[Side][]string
	// rerunAsked: the save found a reconciliation asked for while the pass
	// ran.
	rerunAsked bool
	// endsLease: the save let the lease go (the run ends with it).
	endsLease bool
	// recorded: the mapping showed, when this run took the lease, that
	// every comment casebridge mirrored is recorded (Mapping.WritesRecorded).
	recorded bool
	// from is the side whose change the message announced, on the first
	// pass only; assumed is the side the pass took to be as the mapping
	// last saw it instead of reading it (see canAssumeCompany).
	from, assumed Side
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
		switch {
		case ref.ID == "" && IsNotFound(err):
			return Mapping{}, "mapping no longer exists", nil
		case ref.ID == "" || (err == nil && m.Holds(ref.Side, ref.ID)):
			return m, "", err
		case err != nil && !IsNotFound(err):
			return Mapping{}, "", err
		}
		// The mapping a poll named no longer holds the case (deleted, or a
		// reopen moved it to a new Google case): found by the case.
		ref.MappingID = ""
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
	if err := r.readSides(ctx); err != nil {
		return err
	}
	if err := r.link(ctx); err != nil {
		return err
	}
	if err := r.reopen(ctx); err != nil {
		return err
	}
	if err := r.syncComments(ctx); err != nil {
		return err
	}
	if err := r.syncAttachments(ctx); err != nil {
		return err
	}
	if err := r.syncPriority(ctx); err != nil {
		return err
	}
	if err := r.syncState(ctx); err != nil {
		return err
	}
	if err := r.syncEscalation(ctx); err != nil {
		return err
	}
	return r.close(ctx)
}

// crmWrite is the CRM, for a call that writes to it: the next pass then
// waits for the CRM's clock to leave the tick of the write.
func (r *reconciliation) crmWrite() CRM {
	r.wroteCompany = true
	r.wroteTo(SideCompany)
	return r.e.CRM
}

// googleWrite is the Google side, for a call that writes to it.
func (r *reconciliation) googleWrite() Google {
	r.wroteTo(SideGoogle)
	return r.e.Google
}

// wroteItem records the id of a comment or file the pass wrote to side.
func (r *reconciliation) wroteItem(side Side, id string) {
	if id == "" {
		return
	}
	if r.own == nil {
		r.own = map[Side][]string{}
	}
	r.own[side] = append(r.own[side], id)
}

// wroteTo records that the pass called an API that writes to side.
func (r *reconciliation) wroteTo(side Side) {
	if r.wrote == nil {
		r.wrote = map[Side]bool{}
	}
	r.wrote[side] = true
}

// keepLease is called before every side effect: it fails once the lease is
// lost, and renews it when it is running out.
func (r *reconciliation) keepLease(ctx context.Context) error {
	return r.lease.keep(ctx)
}
