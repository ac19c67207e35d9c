package casesync

import (
	"context"
	"log/slog"
	"time"
)

// Config is the engine's policy. Zero values are replaced by the defaults
// documented on each field (see WithDefaults).
type Config struct {
	// GooglePollingWindow: how far before the last poll the Google search
	// reaches back (search indexes lag). Default 30 min.
	GooglePollingWindow time.Duration
	// CompanyPollingWindow: the same for the CRM. Default 5 min.
	CompanyPollingWindow time.Duration
	// WidePollEvery: how often a side's poll reaches back its whole
	// polling window; the polls between reach back NarrowPollingWindow
	// only. A change a lagging search index shows later than that is found
	// by the next wide poll. Default 10 min.
	WidePollEvery time.Duration
	// NarrowPollingWindow: how far before the last poll a poll that is not
	// wide reaches back. Default 2 min; a side whose polling window is no
	// longer has only wide polls.
	NarrowPollingWindow time.Duration
	// MaxCaseAge: Google cases created longer ago than this get no CRM case.
	// Default 30 days.
	MaxCaseAge time.Duration
	// CleanupAfter: a mapping is deleted this long after resolution.
	// Default 30 days.
	CleanupAfter time.Duration
	// MaxAttachmentBytes: larger attachments are not mirrored; a comment on
	// the other side says so. Default 25 MiB.
	MaxAttachmentBytes int64
	// LeaseDuration: how long a reconciliation holds a mapping without
	// renewing it; it renews every third of it while it works, so a crashed
	// worker's mapping is free again this soon. Default 30 s.
	LeaseDuration time.Duration
	// Priorities maps CRM priority values to Google priorities and back.
	Priorities PriorityTable
	// GoogleCommentsPublic: whether Google comments land in the CRM as public
	// replies (true) or internal notes (false). Default true.
	GoogleCommentsPublic *bool
	// SyncInternalNotes: whether CRM internal notes go to Google. Default
	// false: internal notes never leave the CRM.
	SyncInternalNotes bool
	// ReopenPolicy says what happens when a CRM case is reopened after its
	// Google case closed: ReopenComment (default) or ReopenNewCase.
	ReopenPolicy ReopenPolicy
	// EscalationReason and EscalationJustification are what an escalation
	// asked for in the CRM is sent with when the CRM case gives no reason
	// CSAPI knows, or no justification. Defaults BUSINESS_IMPACT and a
	// sentence naming the CRM case.
	EscalationReason        string
	EscalationJustification string
	// CompanyTimeGranularity: the precision of the CRM's update times (RT:
	// one second). Default 1 s.
	CompanyTimeGranularity time.Duration
	// RepublishAfter: how long a change handed to sync-case may wait before
	// it counts as lost and is asked for again. Default 5 min.
	RepublishAfter time.Duration
	// RetryBackoff and RetryMaxBackoff: the first wait before the sweep asks
	// again for a mapping whose reconciliation failed, doubling each time up
	// to the maximum. Defaults 1 min and 1 h.
	RetryBackoff    time.Duration
	RetryMaxBackoff time.Duration
	// GiveUpAfter: how long the sweep keeps asking for a mapping whose
	// counterpart cannot be created before it gives up with an alert.
	// Default 24 h.
	GiveUpAfter time.Duration
	// PollInterval: how often the pollers run (the deployment's schedule).
	// Outage detection counts a poller's last successful poll as covering
	// every change until HeartbeatCredit(PollInterval) after it, so that a
	// period longer than the minute the tolerance table assumes does not
	// make quiet cases look late. Default 1 min.
	PollInterval time.Duration
	// MaxSplitParts: a CRM comment longer than one Google comment is split
	// into at most this many parts; past it, the last part says the rest is
	// in the CRM case. Default 10, at most MaxSplitPartsLimit.
	MaxSplitParts int
}

// retryDelay is the wait before the attempt after the n-th failure in a row.
func (c Config) retryDelay(n int) time.Duration {
	d := c.RetryBackoff
	for i := 1; i < n && d < c.RetryMaxBackoff; i++ {
		d *= 2
	}
	return min(d, c.RetryMaxBackoff)
}

// GaveUpMessage is the message of the ERROR entry logged when the sweep
// gives up on a mapping whose counterpart could not be created. Terraform's
// log-based metric and alert policy key on it.
const GaveUpMessage = "gave up creating the counterpart case"

// MaxSplitPartsLimit is the largest MaxSplitParts allowed.
const MaxSplitPartsLimit = 100

// ReopenPolicy is what to do when a CRM case reopens after its Google case
// closed (CSAPI cannot reopen a case).
type ReopenPolicy string

const (
	// ReopenComment posts a comment on the CRM case explaining that the
	// Google case stays closed; nothing more syncs to Google.
	ReopenComment ReopenPolicy = "comment"
	// ReopenNewCase also creates a new Google case linked to the CRM case.
	ReopenNewCase ReopenPolicy = "new-case"
)

// Engine runs the sync. One Engine serves every function; it holds no
// per-request state.
type Engine struct {
	Google    Google
	CRM       CRM
	Store     Store
	Publisher Publisher
	Clock     Clock
	Log       *slog.Logger
	Config    Config
}

// PollResult reports what a poll did.
type PollResult struct {
	Found     int // cases the search returned
	Published int // cases published as changed
	Skipped   int // cases unchanged since their last reconciliation
	Waiting   int // changed cases already asked for and not yet late
	Swept     int // mappings asked for again by the sweep
}

// SyncResult reports what one reconciliation did.
type SyncResult struct {
	MappingID string
	// Skipped is set with a reason when the case needed no work.
	Skipped string
	Actions []string
}

// OutageReport reports one outage-detection run.
type OutageReport struct {
	Checked   int
	OutOfSync []string // mapping ids out of sync now
	Notified  int      // outage comments posted
	Resumed   int      // "Syncing has resumed." comments posted
	Stuck     int      // open mappings with a change published but not reconciled
}

// ErrOutage is returned (wrapped) by DetectOutages while any mapping is out
// of sync, so monitoring sees a failing run.
var ErrOutage = outageError{}

type outageError struct{}

func (outageError) Error() string { return "cases are out of sync" }

// mappingKey is the log attribute naming a mapping; the same key as
// logging.KeyMappingID (logging imports this package, so it is repeated).
const mappingKey = "mappingId"

// PollGoogle searches CSAPI for cases updated since the last poll (less the
// polling window), publishes case-updated for those changed since their last
// reconciliation, and records the poll. An idle poll writes one document.
func (e *Engine) PollGoogle(ctx context.Context) (PollResult, error) {
	return e.poll(ctx, SideGoogle)
}

// PollCRM does the same for the CRM's flagged or linked cases.
func (e *Engine) PollCRM(ctx context.Context) (PollResult, error) {
	return e.poll(ctx, SideCompany)
}
