package casesync

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// APIUsage is how much of the CRM's API request limit is used, as the CRM
// itself reported it in the headers of an answer (Salesforce's
// Sforce-Limit-Info, Freshdesk's X-RateLimit-Total and
// X-RateLimit-Remaining). It costs no call of its own.
type APIUsage struct {
	// Used is the requests made in the current window; Max is how many
	// the window allows. Used may exceed Max where the CRM lets a limit be
	// overrun for a while (Salesforce does).
	Used, Max int64
	// Window is the span the limit applies to: APIUsageDay,
	// APIUsageHour or APIUsageMinute.
	Window string
	// At is when the answer carrying it arrived. An adapter gives its wall
	// clock; the poll state holds the engine's clock at the poll that
	// recorded it.
	At time.Time
}

// The windows an API request limit applies to.
const (
	// APIUsageDay: a limit over 24 hours (Salesforce's daily API
	// requests, a rolling 24 hours).
	APIUsageDay = "day"
	// APIUsageHour: a limit per hour.
	APIUsageHour = "hour"
	// APIUsageMinute: a limit per minute (Freshdesk, Zendesk).
	APIUsageMinute = "minute"
)

// MaxAPIUsageCount bounds APIUsage.Used and APIUsage.Max: far above any
// CRM's real limit, low enough that percentages never overflow.
const MaxAPIUsageCount = 1 << 40

// APIUsageWarnPercent is the share of the limit above which the usage
// needs an operator's attention.
const APIUsageWarnPercent = 80

// IsZero reports whether u says nothing.
func (u APIUsage) IsZero() bool { return u == APIUsage{} }

// Check reports why u is not a usage to keep, or nil: Used from 0 to
// MaxAPIUsageCount, Max from 1 to MaxAPIUsageCount, a known Window and a
// time.
func (u APIUsage) Check() error {
	switch {
	case u.Used < 0 || u.Used > MaxAPIUsageCount:
		return fmt.Errorf("API usage: %d requests used, outside 0 to %d", u.Used, int64(MaxAPIUsageCount))
	case u.Max <= 0 || u.Max > MaxAPIUsageCount:
		return fmt.Errorf("API usage: a limit of %d requests, outside 1 to %d", u.Max, int64(MaxAPIUsageCount))
	case u.Window != APIUsageDay && u.Window != APIUsageHour && u.Window != APIUsageMinute:
		return fmt.Errorf("API usage: unknown window %s", Quote(u.Window))
	case u.At.IsZero():
		return errors.New("API usage: no time")
	}
	return nil
}

// Percent is Used as a share of Max, in percent (0 when Max is not set).
func (u APIUsage) Percent() float64 {
	if u.Max <= 0 {
		return 0
	}
	return float64(u.Used) * 100 / float64(u.Max)
}

// High reports whether more than APIUsageWarnPercent of the limit is used.
func (u APIUsage) High() bool {
	return u.Check() == nil && u.Used*100 > u.Max*APIUsageWarnPercent
}

// APIUsageReporter is implemented by a CRM adapter that reads its API usage
// from the answers to its own calls.
type APIUsageReporter interface {
	// APIUsage returns the usage the latest answer that carried one
	// reported, with At the adapter's wall clock when that answer arrived;
	// ok is false before any did. It makes no call.
	APIUsage() (u APIUsage, ok bool)
}

// APIUsageStore is implemented by a store that keeps
// PollState.CompanyAPIUsage.
type APIUsageStore interface {
	// RecordCompanyPollWithAPIUsage does what RecordPoll does for the CRM's
	// side and, in the same write, replaces PollState.CompanyAPIUsage with
	// u. It refuses a u that Check refuses.
	RecordCompanyPollWithAPIUsage(ctx context.Context, lastPolledAt, heartbeat time.Time, u APIUsage) error
	// SaveCompanyAPIUsage replaces PollState.CompanyAPIUsage with one
	// write, leaving the rest of the poll state alone. It refuses a u that
	// Check refuses.
	SaveCompanyAPIUsage(ctx context.Context, u APIUsage) error
}

// crmUsage returns the CRM's API usage as the calls of a poll that started
// at wallStart (wall clock) reported it, stamped with at: ok is false when
// the CRM or the store cannot report or keep one, or no answer of this
// poll carried one (an older report is not this poll's to record).
func (e *Engine) crmUsage(ctx context.Context, wallStart, at time.Time) (APIUsage, APIUsageStore, bool) {
	r, ok := e.CRM.(APIUsageReporter)
	if !ok {
		return APIUsage{}, nil, false
	}
	store, ok := e.Store.(APIUsageStore)
	if !ok {
		return APIUsage{}, nil, false
	}
	u, ok := r.APIUsage()
	if !ok || u.At.Before(wallStart) {
		return APIUsage{}, nil, false
	}
	u.At = at
	if err := u.Check(); err != nil {
		e.log().WarnContext(ctx, "the CRM reported an API usage that cannot be kept", "reason", err.Error())
		return APIUsage{}, nil, false
	}
	return u, store, true
}

// saveCRMUsage keeps the API usage the calls of a CRM poll that did not
// complete reported. Failing to keep it costs only the status line, so it
// is logged, not returned.
func (e *Engine) saveCRMUsage(ctx context.Context, wallStart, at time.Time) {
	u, store, ok := e.crmUsage(ctx, wallStart, at)
	if !ok {
		return
	}
	if err := store.SaveCompanyAPIUsage(ctx, u); err != nil {
		e.log().WarnContext(ctx, "could not keep the CRM's API usage", "error", err)
	}
}
