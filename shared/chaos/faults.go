package chaos

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
)

// run is one worker's run of a function. Once it "crashes", every port call
// it makes fails without doing anything, as if the process were gone: the
// run records nothing more and its lease stays held.
type run struct {
	w    *world
	dead atomic.Bool
	// dice draws the run's faults.
	dice *dice
	// trigger is the kind of message that started a sync-case run; ""
	// for a poll or outage detection.
	trigger string
	// deadline, when set, runs out at the run's deadlineAt-th API call.
	deadline   *expiringContext
	deadlineAt int
	calls      atomic.Int32
	// dieAfter, when set, makes the run die right after its first call of
	// that API operation did its work; failStore makes the failStoreN-th
	// call of that store method fail (for tests of one fault).
	dieAfter   string
	failStore  string
	failStoreN int
}

// newRun starts a worker's run, with dice of its own drawn from d.
func (w *world) newRun(d *dice, trigger string) *run {
	return &run{w: w, dice: d.child(), trigger: trigger}
}

// roll draws from the run's dice.
func (r *run) roll(p float64) bool { return r.dice.roll(p) }

// expiringContext is a context whose deadline runs out when told: at a
// given API call of the run, rather than at a time of the real clock, so
// that a seed runs the same however fast the machine is.
type expiringContext struct {
	context.Context
	done chan struct{}
	once sync.Once
}

func newExpiringContext(parent context.Context) *expiringContext {
	return &expiringContext{Context: parent, done: make(chan struct{})}
}

func (c *expiringContext) expire() { c.once.Do(func() { close(c.done) }) }

func (c *expiringContext) Done() <-chan struct{} { return c.done }

func (c *expiringContext) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

var errCrashed = errors.New("chaos: the worker died")

// Fault kinds, as counted in Report.Faults.
const (
	faultBefore    = "API error before the work"
	faultLost      = "API answer lost after the work"
	faultCrash     = "worker died after a side effect"
	faultStore     = "store error"
	faultJump      = "clock jumped past the lease"
	faultDeadline  = "deadline ran out"
	faultDrop      = "delivery dropped"
	faultDuplicate = "delivery duplicated"
	faultConcur    = "deliveries run concurrently"
	faultEarly     = "delivered before its publish returned"
	faultPublish   = "publish failed"
	faultLag       = "search lagging"
	faultHeld      = "message held back, delivered late"
	faultNotSent   = "event never sent by its side"
	faultSentLate  = "event sent late by its side"
)

// before decides the faults that strike before a call: the call fails
// without reaching the API. A dead run fails everything.
func (r *run) before(side casesync.Side, op string) error {
	if r.dead.Load() {
		return errCrashed
	}
	if r.deadline != nil && int(r.calls.Add(1)) >= r.deadlineAt {
		// The call fails without going out: a request cancelled in flight
		// could still land at the API after the retry's check for it,
		// which in this world comes at once rather than seconds later.
		r.deadline.expire()
		return &casesync.APIError{Side: side, Op: op, Transient: true, Err: context.DeadlineExceeded}
	}
	w := r.w
	if !w.faults {
		return nil
	}
	if r.roll(w.opts.FaultRate / 3) {
		w.count(faultBefore)
		return &casesync.APIError{Side: side, Op: op, Status: 503, Transient: true, Err: errors.New("chaos: unavailable")}
	}
	if r.roll(w.opts.FaultRate / 40) {
		// A stall longer than the lease, in the middle of the work.
		w.count(faultJump)
		w.clock.Advance(45 * time.Second)
	}
	return nil
}

// after decides the faults that strike after a call that did its work:
// the answer is lost, or the worker dies.
func (r *run) after(side casesync.Side, op string, err error) error {
	w := r.w
	if err == nil && r.dieAfter != "" && op == r.dieAfter {
		r.dead.Store(true)
		return errCrashed
	}
	if err != nil || !w.faults {
		return err
	}
	switch {
	case r.roll(w.opts.FaultRate / 5):
		w.count(faultLost)
		return &casesync.APIError{Side: side, Op: op, Transient: true, Err: context.DeadlineExceeded}
	case r.roll(w.opts.FaultRate / 10):
		w.count(faultCrash)
		r.dead.Store(true)
		return errCrashed
	}
	return nil
}

// read applies the before-faults to a read.
func (r *run) read(side casesync.Side, op string) error { return r.before(side, op) }

type faultyGoogle struct {
	casesync.Google
	r *run
}

func (g faultyGoogle) SearchUpdated(ctx context.Context, since time.Time) ([]casesync.GoogleCase, error) {
	if err := g.r.read(casesync.SideGoogle, "cases.search"); err != nil {
		return nil, err
	}
	return g.Google.SearchUpdated(ctx, since)
}

func (g faultyGoogle) SearchText(ctx context.Context, phrase string) ([]casesync.GoogleCase, error) {
	if err := g.r.read(casesync.SideGoogle, "cases.search"); err != nil {
		return nil, err
	}
	return g.Google.SearchText(ctx, phrase)
}

func (g faultyGoogle) GetCase(ctx context.Context, name string) (casesync.GoogleCase, error) {
	if err := g.r.read(casesync.SideGoogle, "cases.get"); err != nil {
		return casesync.GoogleCase{}, err
	}
	return g.Google.GetCase(ctx, name)
}

func (g faultyGoogle) ListOwnCases(ctx context.Context, closed bool) ([]casesync.GoogleCase, error) {
	if err := g.r.read(casesync.SideGoogle, "cases.list"); err != nil {
		return nil, err
	}
	return g.Google.ListOwnCases(ctx, closed)
}

func (g faultyGoogle) ListComments(ctx context.Context, name string) ([]casesync.Comment, error) {
	if err := g.r.read(casesync.SideGoogle, "comments.list"); err != nil {
		return nil, err
	}
	return g.Google.ListComments(ctx, name)
}

func (g faultyGoogle) ListAttachments(ctx context.Context, name string) ([]casesync.Attachment, error) {
	if err := g.r.read(casesync.SideGoogle, "attachments.list"); err != nil {
		return nil, err
	}
	return g.Google.ListAttachments(ctx, name)
}

func (g faultyGoogle) DownloadAttachment(ctx context.Context, name, id string) (io.ReadCloser, error) {
	if err := g.r.read(casesync.SideGoogle, "media.download"); err != nil {
		return nil, err
	}
	return g.Google.DownloadAttachment(ctx, name, id)
}

func (g faultyGoogle) CreateCase(ctx context.Context, c casesync.NewGoogleCase) (casesync.GoogleCase, error) {
	if err := g.r.before(casesync.SideGoogle, "cases.create"); err != nil {
		return casesync.GoogleCase{}, err
	}
	got, err := g.Google.CreateCase(ctx, c)
	if err == nil {
		g.r.w.ownGoogleChange(ctx, g.r, csapitest.NotificationCaseCreated, got.Name)
	}
	return got, g.r.after(casesync.SideGoogle, "cases.create", err)
}

func (g faultyGoogle) SetPriority(ctx context.Context, name string, p casesync.Priority) error {
	if err := g.r.before(casesync.SideGoogle, "cases.patch"); err != nil {
		return err
	}
	err := g.Google.SetPriority(ctx, name, p)
	if err == nil {
		g.r.w.ownGoogleChange(ctx, g.r, csapitest.NotificationCaseUpdated, name)
	}
	return g.r.after(casesync.SideGoogle, "cases.patch", err)
}

func (g faultyGoogle) CloseCase(ctx context.Context, name string) error {
	if err := g.r.before(casesync.SideGoogle, "cases.close"); err != nil {
		return err
	}
	err := g.Google.CloseCase(ctx, name)
	if err == nil {
		g.r.w.ownGoogleChange(ctx, g.r, csapitest.NotificationCaseUpdated, name)
	}
	return g.r.after(casesync.SideGoogle, "cases.close", err)
}

func (g faultyGoogle) Escalate(ctx context.Context, name, reason, justification string) error {
	if err := g.r.before(casesync.SideGoogle, "cases.escalate"); err != nil {
		return err
	}
	err := g.Google.Escalate(ctx, name, reason, justification)
	if err == nil {
		g.r.w.ownGoogleChange(ctx, g.r, csapitest.NotificationCaseUpdated, name)
	}
	return g.r.after(casesync.SideGoogle, "cases.escalate", err)
}

func (g faultyGoogle) AddComment(ctx context.Context, name, body string) (casesync.Comment, error) {
	if err := g.r.before(casesync.SideGoogle, "comments.create"); err != nil {
		return casesync.Comment{}, err
	}
	g.r.w.checkWrite(g.r, casesync.SideGoogle, name, "comment", body)
	got, err := g.Google.AddComment(ctx, name, body)
	if err == nil {
		g.r.w.ownGoogleChange(ctx, g.r, csapitest.NotificationCommentCreated, name+"/comments/"+got.ID)
	}
	return got, g.r.after(casesync.SideGoogle, "comments.create", err)
}

func (g faultyGoogle) UploadAttachment(ctx context.Context, name, filename, mime string, rd io.Reader) (casesync.Attachment, error) {
	if err := g.r.before(casesync.SideGoogle, "media.upload"); err != nil {
		return casesync.Attachment{}, err
	}
	g.r.w.checkWrite(g.r, casesync.SideGoogle, name, "file", filename)
	got, err := g.Google.UploadAttachment(ctx, name, filename, mime, rd)
	if err == nil {
		g.r.w.ownGoogleChange(ctx, g.r, csapitest.NotificationAttachmentCreated, name+"/attachments/"+got.ID)
	}
	return got, g.r.after(casesync.SideGoogle, "media.upload", err)
}

type faultyCRM struct {
	casesync.CRM
	r *run
}

func (c faultyCRM) SearchUpdated(ctx context.Context, since time.Time) ([]casesync.CompanyCase, error) {
	if err := c.r.read(casesync.SideCompany, "search"); err != nil {
		return nil, err
	}
	return c.CRM.SearchUpdated(ctx, since)
}

func (c faultyCRM) GetCase(ctx context.Context, id string) (casesync.CompanyCase, error) {
	if err := c.r.read(casesync.SideCompany, "get"); err != nil {
		return casesync.CompanyCase{}, err
	}
	return c.CRM.GetCase(ctx, id)
}

func (c faultyCRM) FindByGoogleCase(ctx context.Context, name string) (casesync.CompanyCase, bool, error) {
	if err := c.r.read(casesync.SideCompany, "find"); err != nil {
		return casesync.CompanyCase{}, false, err
	}
	return c.CRM.FindByGoogleCase(ctx, name)
}

func (c faultyCRM) ListComments(ctx context.Context, id string) ([]casesync.Comment, error) {
	if err := c.r.read(casesync.SideCompany, "comments.list"); err != nil {
		return nil, err
	}
	return c.CRM.ListComments(ctx, id)
}

func (c faultyCRM) ListAttachments(ctx context.Context, id string) ([]casesync.Attachment, error) {
	if err := c.r.read(casesync.SideCompany, "attachments.list"); err != nil {
		return nil, err
	}
	return c.CRM.ListAttachments(ctx, id)
}

func (c faultyCRM) DownloadAttachment(ctx context.Context, id, aid string) (io.ReadCloser, error) {
	if err := c.r.read(casesync.SideCompany, "attachments.download"); err != nil {
		return nil, err
	}
	return c.CRM.DownloadAttachment(ctx, id, aid)
}

func (c faultyCRM) CreateCase(ctx context.Context, n casesync.NewCompanyCase) (casesync.CompanyCase, error) {
	if err := c.r.before(casesync.SideCompany, "create"); err != nil {
		return casesync.CompanyCase{}, err
	}
	got, err := c.CRM.CreateCase(ctx, n)
	if err == nil {
		c.r.w.ownCRMChange(ctx, c.r, got.ID, "")
	}
	return got, c.r.after(casesync.SideCompany, "create", err)
}

func (c faultyCRM) SetGoogleCase(ctx context.Context, id, name string) error {
	if err := c.r.before(casesync.SideCompany, "setGoogleCase"); err != nil {
		return err
	}
	err := c.CRM.SetGoogleCase(ctx, id, name)
	if err == nil {
		c.r.w.ownCRMChange(ctx, c.r, id, "")
	}
	return c.r.after(casesync.SideCompany, "setGoogleCase", err)
}

func (c faultyCRM) SetPriority(ctx context.Context, id, p string) error {
	if err := c.r.before(casesync.SideCompany, "setPriority"); err != nil {
		return err
	}
	err := c.CRM.SetPriority(ctx, id, p)
	if err == nil {
		c.r.w.ownCRMChange(ctx, c.r, id, "")
	}
	return c.r.after(casesync.SideCompany, "setPriority", err)
}

// SetGoogleState and ClearEscalationRequest pass the CRM's
// casesync.CaseStateCRM on, with the same faults as its other writes.
func (c faultyCRM) SetGoogleState(ctx context.Context, id, state string) error {
	sc, ok := c.CRM.(casesync.CaseStateCRM)
	if !ok {
		return nil
	}
	if err := c.r.before(casesync.SideCompany, "setGoogleState"); err != nil {
		return err
	}
	err := sc.SetGoogleState(ctx, id, state)
	if err == nil {
		c.r.w.ownCRMChange(ctx, c.r, id, "")
	}
	return c.r.after(casesync.SideCompany, "setGoogleState", err)
}

func (c faultyCRM) ClearEscalationRequest(ctx context.Context, id string) error {
	sc, ok := c.CRM.(casesync.CaseStateCRM)
	if !ok {
		return nil
	}
	if err := c.r.before(casesync.SideCompany, "clearEscalation"); err != nil {
		return err
	}
	err := sc.ClearEscalationRequest(ctx, id)
	if err == nil {
		c.r.w.ownCRMChange(ctx, c.r, id, "")
	}
	return c.r.after(casesync.SideCompany, "clearEscalation", err)
}

func (c faultyCRM) CloseCase(ctx context.Context, id string) error {
	if err := c.r.before(casesync.SideCompany, "close"); err != nil {
		return err
	}
	err := c.CRM.CloseCase(ctx, id)
	if err == nil {
		c.r.w.ownCRMChange(ctx, c.r, id, "")
	}
	return c.r.after(casesync.SideCompany, "close", err)
}

func (c faultyCRM) AddComment(ctx context.Context, id, body string, public bool) (casesync.Comment, error) {
	if err := c.r.before(casesync.SideCompany, "comments.add"); err != nil {
		return casesync.Comment{}, err
	}
	c.r.w.checkWrite(c.r, casesync.SideCompany, id, "comment", body)
	got, err := c.CRM.AddComment(ctx, id, body, public)
	if err == nil {
		c.r.w.ownCRMChange(ctx, c.r, id, got.ID)
	}
	return got, c.r.after(casesync.SideCompany, "comments.add", err)
}

func (c faultyCRM) UploadAttachment(ctx context.Context, id, filename, mime string, rd io.Reader) (casesync.Attachment, error) {
	if err := c.r.before(casesync.SideCompany, "attachments.upload"); err != nil {
		return casesync.Attachment{}, err
	}
	c.r.w.checkWrite(c.r, casesync.SideCompany, id, "file", filename)
	got, err := c.CRM.UploadAttachment(ctx, id, filename, mime, rd)
	if err == nil {
		c.r.w.ownCRMChange(ctx, c.r, id, got.ID)
	}
	return got, c.r.after(casesync.SideCompany, "attachments.upload", err)
}

// faultyStore fails every call of a dead run, and sometimes a write with a
// transient error (Firestore's Aborted or Unavailable).
type faultyStore struct {
	casesync.Store
	r *run
}

func (s faultyStore) check(op string) error {
	if s.r.dead.Load() {
		return errCrashed
	}
	w := s.r.w
	if s.r.failStore == op {
		if s.r.failStoreN--; s.r.failStoreN == 0 {
			return &casesync.TransientError{Err: errors.New("chaos: the store is unavailable")}
		}
	}
	if w.faults && s.r.roll(w.opts.FaultRate/20) {
		w.count(faultStore)
		return &casesync.TransientError{Err: errors.New("chaos: the store is unavailable")}
	}
	return nil
}

func (s faultyStore) UpdateMapping(ctx context.Context, id string, fn func(*casesync.Mapping) error) (casesync.Mapping, error) {
	if err := s.check("UpdateMapping"); err != nil {
		return casesync.Mapping{}, err
	}
	return s.Store.UpdateMapping(ctx, id, fn)
}

func (s faultyStore) AcquireLease(ctx context.Context, id, holder string, now, until time.Time) (casesync.Mapping, error) {
	if err := s.check("AcquireLease"); err != nil {
		return casesync.Mapping{}, err
	}
	return s.Store.AcquireLease(ctx, id, holder, now, until)
}

func (s faultyStore) RenewLease(ctx context.Context, id, holder string, gen int64, until time.Time) (casesync.Mapping, error) {
	if s.r.dead.Load() {
		return casesync.Mapping{}, errCrashed
	}
	return s.Store.RenewLease(ctx, id, holder, gen, until)
}

func (s faultyStore) ReleaseLease(ctx context.Context, id, holder string) error {
	if s.r.dead.Load() {
		return errCrashed
	}
	return s.Store.ReleaseLease(ctx, id, holder)
}

func (s faultyStore) LinkKey(ctx context.Context, id string, side casesync.Side, key string) (casesync.Mapping, error) {
	if err := s.check("LinkKey"); err != nil {
		return casesync.Mapping{}, err
	}
	return s.Store.LinkKey(ctx, id, side, key)
}

func (s faultyStore) ResolveMapping(ctx context.Context, g, c string, create bool, init func(*casesync.Mapping)) (casesync.Mapping, bool, error) {
	if err := s.check("ResolveMapping"); err != nil {
		return casesync.Mapping{}, false, err
	}
	return s.Store.ResolveMapping(ctx, g, c, create, init)
}

func (s faultyStore) MarkPending(ctx context.Context, side casesync.Side, ids []string, at, due time.Time) error {
	if err := s.check("MarkPending"); err != nil {
		return err
	}
	return s.Store.MarkPending(ctx, side, ids, at, due)
}

func (s faultyStore) RecordPoll(ctx context.Context, side casesync.Side, last, heartbeat time.Time) error {
	if err := s.check("RecordPoll"); err != nil {
		return err
	}
	return s.Store.RecordPoll(ctx, side, last, heartbeat)
}

func (s faultyStore) GetPollMemo(ctx context.Context, side casesync.Side) (casesync.PollMemo, error) {
	if err := s.check("GetPollMemo"); err != nil {
		return casesync.PollMemo{}, err
	}
	return s.Store.GetPollMemo(ctx, side)
}

func (s faultyStore) SavePollMemo(ctx context.Context, side casesync.Side, memo casesync.PollMemo) error {
	if err := s.check("SavePollMemo"); err != nil {
		return err
	}
	return s.Store.SavePollMemo(ctx, side, memo)
}

func (s faultyStore) MergeMapping(ctx context.Context, fromID, intoID string) (casesync.Mapping, error) {
	if err := s.check("MergeMapping"); err != nil {
		return casesync.Mapping{}, err
	}
	return s.Store.MergeMapping(ctx, fromID, intoID)
}

func (s faultyStore) DeleteMapping(ctx context.Context, id string) error {
	if err := s.check("DeleteMapping"); err != nil {
		return err
	}
	return s.Store.DeleteMapping(ctx, id)
}

func (s faultyStore) GetMapping(ctx context.Context, id string) (casesync.Mapping, error) {
	if s.r.dead.Load() {
		return casesync.Mapping{}, errCrashed
	}
	return s.Store.GetMapping(ctx, id)
}
