package casesync

import (
	"fmt"
	"strings"
	"time"
)

// Side names one of the two systems a case lives in.
type Side string

const (
	SideGoogle  Side = "google"
	SideCompany Side = "company"
)

// Other returns the opposite side.
func (s Side) Other() Side {
	if s == SideGoogle {
		return SideCompany
	}
	return SideGoogle
}

// Valid reports whether s is one of the two known sides.
func (s Side) Valid() bool { return s == SideGoogle || s == SideCompany }

// Priority is a Google priority, P0 (most urgent) to P4. PriorityUnspecified
// means none is known.
type Priority int

const (
	PriorityUnspecified Priority = -1
	P0                  Priority = 0
	P1                  Priority = 1
	P2                  Priority = 2
	P3                  Priority = 3
	P4                  Priority = 4
)

// String renders the priority the way CSAPI spells it ("P0".."P4").
func (p Priority) String() string {
	if p < P0 || p > P4 {
		return "PRIORITY_UNSPECIFIED"
	}
	return fmt.Sprintf("P%d", int(p))
}

// ParsePriority reads "P0".."P4"; anything else is PriorityUnspecified.
func ParsePriority(s string) Priority {
	s = strings.TrimSpace(strings.ToUpper(s))
	if len(s) == 2 && s[0] == 'P' && s[1] >= '0' && s[1] <= '4' {
		return Priority(s[1] - '0')
	}
	return PriorityUnspecified
}

// GoogleCase is what the engine needs of a Cloud Support case.
type GoogleCase struct {
	// Name is the full resource name, e.g. "projects/p/cases/43595344".
	Name        string
	DisplayName string
	Description string
	Priority    Priority
	// State is the CSAPI state (NEW, IN_PROGRESS_GOOGLE_SUPPORT, ... CLOSED).
	State      string
	CreateTime time.Time
	UpdateTime time.Time
	// ByConnector is true when the case's creator is casebridge's own
	// identity, so its description is text casebridge wrote.
	ByConnector bool
	// Escalated is true once the case has been escalated.
	Escalated bool
}

// Closed reports whether the Google case is closed.
func (c GoogleCase) Closed() bool { return c.State == "CLOSED" }

// NewGoogleCase is the input for creating a Google case.
type NewGoogleCase struct {
	DisplayName string
	Description string
	Priority    Priority
}

// CompanyCase is what the engine needs of a CRM case.
type CompanyCase struct {
	// ID is the CRM's stable identifier for the case (ticket id, key, sys_id).
	ID          string
	Subject     string
	Description string
	// Priority is the CRM's own priority value; the engine maps it through
	// its PriorityTable.
	Priority string
	Closed   bool
	// SyncFlag is the "sync with Google Cloud Support" custom field.
	SyncFlag bool
	// GoogleCase is the custom field holding the linked Google case name.
	GoogleCase string
	CreateTime time.Time
	UpdateTime time.Time
	// Escalation is the case's request to escalate its Google case, read
	// from the fields the adapter is configured with; zero when none.
	Escalation EscalationRequest
	// ReadAt is the CRM's own clock when it answered the read that returned
	// the case (the answer's Date header), zero when unknown. The engine
	// compares it with UpdateTime, never its own clock, to tell whether a
	// change in the same tick as the read could have been missed.
	ReadAt time.Time
}

// EscalationRequest is a request, made by a person in the CRM, that
// casebridge escalate the linked Google case (cases.escalate).
type EscalationRequest struct {
	Requested bool
	// Reason and Justification are the text of the CRM case's reason and
	// justification fields when the adapter has them ("" otherwise), at
	// most MaxEscalationText bytes of valid UTF-8 each (an adapter drops a
	// value that is not). The engine maps Reason to a CSAPI escalation
	// reason and uses its configured defaults for what is missing.
	Reason, Justification string
}

// MaxEscalationText bounds an escalation request's reason and
// justification text.
const MaxEscalationText = 4096

// NewCompanyCase is the input for creating a CRM case.
type NewCompanyCase struct {
	Subject     string
	Description string
	Priority    string
	// GoogleCase is written to the CRM's Google-case custom field at creation,
	// which is how a retried creation finds the case it made before.
	GoogleCase string
}

// Comment is a comment on either side.
type Comment struct {
	// ID is unique within its case (CSAPI: the last segment of the name).
	ID         string
	Body       string
	AuthorName string
	// GoogleSupport is true for comments written by Google Support agents.
	GoogleSupport bool
	// ByConnector is true when the adapter knows the comment was written by
	// casebridge's own identity (service account or CRM sync user).
	ByConnector bool
	// Public is false for CRM internal notes. Google comments are public.
	Public     bool
	CreateTime time.Time
}

// Attachment is a file on either side. Google attachments belong to the case.
type Attachment struct {
	// ID is unique within its case (CSAPI: the last segment of the name).
	ID       string
	Filename string
	MimeType string
	Size     int64
	// AuthorName is who uploaded it, when known.
	AuthorName  string
	ByConnector bool
	// Public is true only for files everyone on the case may see: every
	// Google attachment, and CRM files the adapter knows are on a public
	// reply or the case itself. Files on CRM internal notes, and files whose
	// visibility the adapter cannot tell, are not public and stay in the CRM
	// unless internal notes are synced.
	Public     bool
	CreateTime time.Time
}

// MappingSide is a mapping's state of one side. The store keeps each
// field under its own name per side (googlePendingSince,
// companyPendingSince, ...).
type MappingSide struct {
	// UpdatesSyncedAt: when a reconciliation last finished with every
	// change of this side applied to the other.
	UpdatesSyncedAt time.Time
	// PendingSince: set by a poller when it sees a change on this side not
	// yet reconciled; cleared by the reconciliation.
	PendingSince time.Time
	// SeenUpdateTime: the case update time the last completed
	// reconciliation was based on. A poll result whose update time is not
	// after it needs no work.
	SeenUpdateTime time.Time
	// OutageNoticeSent: the outage notice is known to be on this side.
	OutageNoticeSent bool
	// OutageNoticeIntent: outage detection was about to post the outage
	// notice on this side and has not yet recorded it as sent. Recorded
	// before posting, so that a run whose answer was lost, or that died
	// after posting, still leads to "Syncing has resumed." once the case
	// syncs again.
	OutageNoticeIntent bool
	// Closed: the close state last seen on this side.
	Closed bool
	// Items: which comments and attachments of this side need no more
	// work (mirrored, skipped, or written by casebridge), in bounded space
	// whatever the case's length (see ItemLog).
	Items SideItems
	// ReadAt: when the last completed reconciliation read this side's case
	// (the engine's clock). A change announced by a message published
	// before it was seen by that reconciliation.
	ReadAt time.Time
	// OwnWrites: the ids of the last comments and files casebridge wrote to
	// this side, newest last, at most MaxOwnWrites. An event naming one of
	// them is casebridge's own write coming back.
	OwnWrites []string
}

// MaxOwnWrites bounds MappingSide.OwnWrites.
const MaxOwnWrites = 20

// Holds reports whether the mapping's case on side is id (a Google case
// whether named by project id or number).
func (m Mapping) Holds(side Side, id string) bool {
	if side == SideGoogle {
		return m.GoogleCase != "" && (m.GoogleCase == id || CaseNumber(m.GoogleCase) != "" && CaseNumber(m.GoogleCase) == CaseNumber(id))
	}
	return side == SideCompany && m.CompanyCaseID != "" && m.CompanyCaseID == id
}

// Side returns the mapping's state of side s.
func (m *Mapping) Side(s Side) *MappingSide {
	if s == SideGoogle {
		return &m.Google
	}
	return &m.Company
}

// Mapping links one Google case and one CRM case and records how far they are
// in step. It is persisted by a Store.
type Mapping struct {
	ID            string
	GoogleCase    string // full Google case name; "" until linked
	CompanyCaseID string // CRM case id; "" until linked
	// Origin is the side whose case came first.
	Origin Side

	CreatedAt    time.Time
	NewContentAt time.Time
	ResolvedAt   time.Time // zero while open

	// Google and Company are the mapping's state of each side.
	Google, Company MappingSide

	// Priority is the last priority both sides agreed on.
	Priority Priority
	// NewCaseNoticeOwed is set, in the write that moves the mapping to a
	// new Google case, until the CRM case has been told which case it now
	// syncs with (the last of PreviousGoogleCases is the one it replaces).
	NewCaseNoticeOwed bool
	// ReopenNoticeSent is set once the CRM has been told that its reopened
	// case cannot reopen the closed Google case.
	ReopenNoticeSent bool
	// PreviousGoogleCases lists Google cases this mapping was linked to before
	// a reopen created a new one.
	PreviousGoogleCases []string

	// CreateIntentAt records that a reconciliation started creating the
	// counterpart on CreateIntentSide; a retry looks for it before creating.
	CreateIntentAt   time.Time
	CreateIntentSide Side

	// Lease: which reconciliation holds the mapping and until when.
	// LeaseGeneration grows by one each time a new holder takes the lease;
	// a holder renews and writes only while holder and generation are still
	// its own, so a worker that lost its lease cannot record anything.
	LeaseHolder     string
	LeaseUntil      time.Time
	LeaseGeneration int64
	// RerunRequested is set when a reconciliation was asked for while
	// another held the lease; the holder looks again before it lets go.
	RerunRequested bool
	// WritesRecorded is set by the write that ends a reconciliation whose
	// last pass completed, and cleared when a reconciliation takes the
	// lease. While it is set, every comment casebridge mirrored to either
	// case is recorded here: none was written by an attempt that crashed,
	// lost its lease or lost the answer before recording it. A
	// reconciliation that starts with it set mirrors a comment without
	// first listing the other side's comments for such a copy.
	// AcquireLease returns it as it was before clearing it.
	WritesRecorded bool

	// DueAt is when the mapping is to be asked for again if its work is not
	// done by then (a lost message, a crashed worker, a counterpart not yet
	// created); zero when nothing is outstanding. The pollers' sweep
	// re-requests mappings that are due.
	DueAt time.Time
	// Attempts counts reconciliations in a row that failed; LastError is the
	// last one's error, cut and naming ids only. Both reset on success.
	Attempts  int
	LastError string
	// FailingSince is when the first of those failures happened.
	FailingSince time.Time
	// GaveUpAt is set when the sweep stopped asking for a mapping whose
	// counterpart could not be created; an operator resync starts it again.
	GaveUpAt time.Time
	// GoogleStateShown is the Google case state casebridge last wrote to
	// the CRM case (CaseStateCRM.SetGoogleState); "" before the first.
	GoogleStateShown string
	// Escalation is how far the CRM case's escalation request has been
	// handled; LastEscalation is the last request handled to the end for
	// the current Google case (its SeenAt and Outcome), so that a request
	// put back at once (by a CRM automation, say) is not answered again.
	Escalation     EscalationProgress
	LastEscalation EscalationProgress
	// RefusedItem names an item ("google/comment/123") the other side was
	// proven to refuse for what it is (it took the items after it) and
	// whose skip note is not yet posted: the next pass skips it.
	RefusedItem string
}

// EscalationProgress is how far a reconciliation got with the CRM case's
// request to escalate its Google case. Each step is recorded before the
// next is taken, so that a run that crashed or lost an answer neither
// escalates nor notes twice. It is zero when no request is being handled.
type EscalationProgress struct {
	// SeenAt is when a reconciliation first saw the request; the note
	// names the request by it.
	SeenAt time.Time
	// IntentAt is set before cases.escalate is called.
	IntentAt time.Time
	// Outcome is what came of the request, once known.
	Outcome EscalationOutcome
	// Detail is the Google Cloud Support API's message when it refused,
	// cut to MaxEscalationDetail bytes.
	Detail string
	// Noted is set once the outcome's internal note is on the CRM case.
	Noted bool
	// Clearing is set before the request is withdrawn in the CRM.
	Clearing bool
	// WithdrawRefused is set when the CRM refused for good to withdraw the
	// request (a sync user who may not edit the field): casebridge leaves
	// the answered request in place until a person withdraws it.
	WithdrawRefused bool
}

// EscalationOutcome is what came of an escalation request.
type EscalationOutcome string

const (
	// EscalationDone: casebridge escalated the Google case.
	EscalationDone EscalationOutcome = "escalated"
	// EscalationAlready: the Google case was escalated before the request
	// was handled.
	EscalationAlready EscalationOutcome = "already-escalated"
	// EscalationDenied: the support plan has no technical escalations
	// (403).
	EscalationDenied EscalationOutcome = "denied"
	// EscalationClosed: the Google case is closed.
	EscalationClosed EscalationOutcome = "closed"
	// EscalationRefused: the API refused the request for another reason.
	EscalationRefused EscalationOutcome = "refused"
)

// MaxEscalationDetail bounds EscalationProgress.Detail.
const MaxEscalationDetail = 500

// NextDue is a mapping's due time once something new is asked of it at
// now, to be done by due: a due time already passed (or none) becomes due;
// an earlier one still to come stays.
func NextDue(cur, now, due time.Time) time.Time {
	if cur.IsZero() || !cur.After(now) || due.Before(cur) {
		return due
	}
	return cur
}

// SideItems is what is done of one side's comments and attachments.
type SideItems struct {
	Comments    ItemLog
	Attachments ItemLog
}

// ItemLog records which items of one kind on one side need no more work,
// in bounded space: every item created at or before Through, and the items
// listed in Done, which were created after it. Through trails the newest
// done item by a margin (ItemLogMargin) so that an item a listing shows
// late, with an earlier creation time, is still handled; Done holds at
// most MaxDoneItems entries.
type ItemLog struct {
	Through time.Time
	Done    []DoneItem
}

// DoneItem is one done item: its id and creation time (zero if unknown).
type DoneItem struct {
	ID string
	At time.Time
}

// Has reports whether the item with this id, created at at, is done.
func (l ItemLog) Has(id string, at time.Time) bool {
	if !l.Through.IsZero() && !at.IsZero() && !micro(at).After(l.Through) {
		return true
	}
	for _, d := range l.Done {
		if d.ID == id {
			return true
		}
	}
	return false
}

// Linked reports whether both sides of the mapping are known.
func (m Mapping) Linked() bool { return m.GoogleCase != "" && m.CompanyCaseID != "" }

// Resolved reports whether the mapping's case has been resolved.
func (m Mapping) Resolved() bool { return !m.ResolvedAt.IsZero() }

// CaseNumber returns the trailing case number of a Google case name, which is
// unique across an organization whatever the parent form (project id, project
// number or organization).
func CaseNumber(name string) string {
	i := strings.LastIndex(name, "/cases/")
	if i < 0 {
		return ""
	}
	rest := name[i+len("/cases/"):]
	if j := strings.IndexByte(rest, '/'); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// PollMemo is what one side's recent polls handed on: each case key with
// the update time at which a poll found it and either saw it covered by a
// completed reconciliation or made sure one would run (published it, found
// it already asked for, or left it to the sweep). A later poll that finds a
// case at the same update time skips it without reading its mapping: what
// made the entry true stays true. A case seen while its reconciliation was
// running is never in it (that run's own writes may hide a person's
// change, which the next poll must look at).
type PollMemo struct {
	Cases map[string]time.Time
	// Recheck says the last poll found a case while its reconciliation
	// ran: the next poll is wide, so that it finds that case again even
	// when the change is older than the narrow window.
	Recheck bool
}

// PollState is the pollers' shared state: one small document.
type PollState struct {
	GoogleLastPolledAt  time.Time
	CompanyLastPolledAt time.Time
	// Heartbeats: when each poller last finished a poll successfully. The
	// poll covered every change up to the time it started, which is what is
	// stored.
	GoogleHeartbeat  time.Time
	CompanyHeartbeat time.Time
	// GoogleFailingSince / CompanyFailingSince: when that side's polls
	// started failing; zero while they succeed. The first successful poll
	// after a failure asks again for every mapping with work outstanding.
	GoogleFailingSince  time.Time
	CompanyFailingSince time.Time
	// CompanyResume is where the CRM poll that did not reach the end of its
	// search stopped (ResumableSearchCRM): the next run goes on from it.
	// Zero when no CRM poll is unfinished.
	CompanyResume PollResume
	// CompanyAPIUsage is the CRM's API usage as the answers to the latest
	// CRM poll that carried one reported it (APIUsageReporter), At being
	// when that poll recorded it; zero when none did.
	CompanyAPIUsage APIUsage
}

// CaseRef names a case on one side. It is the payload of case-updated and
// sync-requested messages.
type CaseRef struct {
	Side Side   `json:"side"`
	ID   string `json:"id"`
	// UpdateTime is the case's update time as the poller saw it (optional).
	UpdateTime time.Time `json:"updateTime,omitzero"`
	// MappingID may name the mapping directly (sync-requested).
	MappingID string `json:"mappingId,omitempty"`
	// Item is the id of the comment or file an event says changed on the
	// case, when it names one (optional). It is a hint: it can only make
	// a reconciliation unnecessary when the item is one casebridge wrote.
	Item string `json:"item,omitempty"`
	// EventTime is when the message carrying the reference was published,
	// as Pub/Sub recorded it (never taken from the payload); zero when
	// unknown. A reconciliation that read the case after it saw the change.
	EventTime time.Time `json:"-"`
}

// StartOverOnNewGoogleCase resets what a mapping knows of its Google side
// when LinkKey moves it to a new Google case (a reopened CRM case under the
// new-case policy): nothing of the new case is done or seen yet, and the
// mapping is open again. Stores apply it in the transaction that links the
// new case, so no crash can leave a live case on a resolved mapping.
func StartOverOnNewGoogleCase(m *Mapping) {
	m.Google.Items = SideItems{}
	m.Google.SeenUpdateTime = time.Time{}
	m.Google.ReadAt, m.Google.OwnWrites = time.Time{}, nil
	m.Google.Closed, m.Company.Closed = false, false
	m.ResolvedAt = time.Time{}
	m.CreateIntentAt, m.CreateIntentSide = time.Time{}, ""
	m.GoogleStateShown, m.LastEscalation = "", EscalationProgress{}
	if !m.Escalation.Noted {
		// A request answered on the old case keeps its answer: only its
		// withdrawal is left. One not yet answered is for the new case.
		m.Escalation = EscalationProgress{}
	}
	m.NewCaseNoticeOwed = true
}

// CheckMerge reports, for Store.MergeMapping, whether mapping from may merge
// into mapping into: from holds a CRM case and no Google case, into a
// Google case and no CRM case. The error wraps ErrConflict.
func CheckMerge(from, into Mapping) error {
	if from.CompanyCaseID == "" || from.GoogleCase != "" || len(from.PreviousGoogleCases) > 0 {
		return fmt.Errorf("mapping %s does not hold just a CRM case: %w", from.ID, ErrConflict)
	}
	if into.GoogleCase == "" || into.CompanyCaseID != "" {
		return fmt.Errorf("mapping %s does not hold just a Google case: %w", into.ID, ErrConflict)
	}
	return nil
}
