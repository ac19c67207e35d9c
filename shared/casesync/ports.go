package casesync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Google is the engine's view of the Cloud Support API. The CSAPI adapter
// (shared/csapi) implements it.
type Google interface {
	// SearchUpdated returns every case under the configured parent (an
	// organization covers its projects) whose update time is after since,
	// following every page.
	SearchUpdated(ctx context.Context, since time.Time) ([]GoogleCase, error)
	// SearchText returns cases whose display name, description or comments
	// contain the quoted phrase (CSAPI full-text search).
	SearchText(ctx context.Context, phrase string) ([]GoogleCase, error)
	GetCase(ctx context.Context, name string) (GoogleCase, error)
	// ListOwnCases returns the cases casebridge created where it creates
	// cases (CSAPI_CREATE_PARENT), the open ones only unless closed is set,
	// read from the cases themselves rather than a search index, so a case
	// just created is in it.
	ListOwnCases(ctx context.Context, closed bool) ([]GoogleCase, error)
	// InScope reports whether a well-formed case name lies inside the
	// configured parents (the organization, or the project allowlist). It
	// does not say the case exists or is readable.
	InScope(name string) bool
	CreateCase(ctx context.Context, c NewGoogleCase) (GoogleCase, error)
	// SetPriority patches the priority alone (updateMask=priority).
	SetPriority(ctx context.Context, name string, p Priority) error
	CloseCase(ctx context.Context, name string) error
	// Escalate escalates the case (cases.escalate) with a CSAPI escalation
	// reason (RESOLUTION_TIME, TECHNICAL_EXPERTISE or BUSINESS_IMPACT) and
	// a justification.
	Escalate(ctx context.Context, name, reason, justification string) error
	// ListComments returns all comments of the case, oldest first.
	ListComments(ctx context.Context, name string) ([]Comment, error)
	// AddComment posts a comment; body must be at most MaxGoogleCommentLen.
	AddComment(ctx context.Context, name, body string) (Comment, error)
	// ListAttachments returns all attachments of the case, oldest first.
	ListAttachments(ctx context.Context, name string) ([]Attachment, error)
	// DownloadAttachment streams an attachment's bytes. The caller closes it.
	DownloadAttachment(ctx context.Context, caseName, attachmentID string) (io.ReadCloser, error)
	// UploadAttachment streams r to the case as one attachment.
	UploadAttachment(ctx context.Context, caseName, filename, mimeType string, r io.Reader) (Attachment, error)
}

// MaxGoogleCommentLen is CSAPI's limit on a comment body, in characters.
const MaxGoogleCommentLen = 12800

// CRM is the engine's view of a company's helpdesk. Every CRM adapter
// (Request Tracker, Zendesk, Jira Service Management, ServiceNow,
// Freshdesk, Salesforce, the simulator) implements it.
type CRM interface {
	// SearchUpdated returns the cases flagged for sync (SyncFlag) or linked to
	// a Google case (GoogleCase set) whose update time is after since,
	// following every page.
	SearchUpdated(ctx context.Context, since time.Time) ([]CompanyCase, error)
	GetCase(ctx context.Context, id string) (CompanyCase, error)
	// FindByGoogleCase returns the case whose Google-case field holds name;
	// ok is false when there is none.
	FindByGoogleCase(ctx context.Context, googleCaseName string) (c CompanyCase, ok bool, err error)
	CreateCase(ctx context.Context, c NewCompanyCase) (CompanyCase, error)
	// SetGoogleCase writes the Google-case custom field (idempotent).
	SetGoogleCase(ctx context.Context, id, googleCaseName string) error
	// SetPriority sets the CRM's own priority value (idempotent).
	SetPriority(ctx context.Context, id, priority string) error
	// CloseCase closes the case (idempotent: closing a closed case is fine).
	CloseCase(ctx context.Context, id string) error
	// ListComments returns all comments, public and internal, oldest first.
	ListComments(ctx context.Context, id string) ([]Comment, error)
	// AddComment adds a public reply or an internal note.
	AddComment(ctx context.Context, id, body string, public bool) (Comment, error)
	ListAttachments(ctx context.Context, id string) ([]Attachment, error)
	DownloadAttachment(ctx context.Context, id, attachmentID string) (io.ReadCloser, error)
	UploadAttachment(ctx context.Context, id, filename, mimeType string, r io.Reader) (Attachment, error)
}

// CaseStateCRM is implemented by a CRM adapter that shows Google's case
// state on the CRM case and takes requests, made in the CRM, to escalate the
// Google case. Every CRM adapter casebridge ships implements it; what each
// one writes and reads is configured per CRM (see its docs page).
type CaseStateCRM interface {
	// SetGoogleState writes a CSAPI case state (NEW,
	// IN_PROGRESS_GOOGLE_SUPPORT, ACTION_REQUIRED, SOLUTION_PROVIDED or
	// CLOSED) to the case's Google-state field and, when the adapter is
	// configured to map that state to a CRM status, sets that status. It
	// never closes or reopens the case: the adapter's configuration refuses
	// a closed status as a mapped one, and closing is CloseCase's. It is
	// idempotent. An adapter configured with neither a state field nor a
	// status for the state makes no call.
	SetGoogleState(ctx context.Context, id, state string) error
	// ClearEscalationRequest withdraws the case's escalation request (see
	// CompanyCase.Escalation). It is idempotent.
	ClearEscalationRequest(ctx context.Context, id string) error
}

// CreationLookupLag is implemented by a CRM adapter whose FindByGoogleCase
// reads a search index that lags behind writes (Jira's JQL search, say):
// FindByGoogleCase may miss a case created up to CreationLookupLag ago. After
// a reconciliation crashed while creating a CRM case, the engine then waits
// that long for the case to show before creating another. CRMs that find a
// new case at once do not implement it.
type CreationLookupLag interface {
	CreationLookupLag() time.Duration
}

// ItemLister is implemented by a side whose API returns a case's comments
// and files in one call (CSAPI's case feed, a helpdesk whose comments carry
// their attachments). A pass that needs both lists calls it once instead of
// ListComments and ListAttachments; the lists are what those two would
// return. The case is a Google case name or a CRM case id.
type ItemLister interface {
	ListItems(ctx context.Context, caseID string) ([]Comment, []Attachment, error)
}

// Store persists mappings and poll state. The Firestore store
// (shared/store) implements it; every read-modify-write is transactional and
// uniqueness is enforced by document IDs.
type Store interface {
	// ResolveMapping returns the mapping that holds either key (a key left
	// empty is not looked up). If none does and create is true, it creates one
	// with both keys, initialised by init, and reports created. If the keys
	// belong to two different mappings it returns ErrConflict. If a mapping
	// holds one key and the other key is free and non-empty, the mapping
	// gains it. ErrNotFound when there is none and create is false.
	ResolveMapping(ctx context.Context, googleCase, companyCaseID string, create bool, init func(*Mapping)) (m Mapping, created bool, err error)
	GetMapping(ctx context.Context, id string) (Mapping, error)
	// LookupMappings returns the mappings holding the given keys of one side,
	// keyed by the key given. Keys with no mapping are absent from the result.
	LookupMappings(ctx context.Context, side Side, keys []string) (map[string]Mapping, error)
	// UpdateMapping runs fn on the current mapping in a transaction and
	// stores the result. fn may run more than once. If fn returns an error
	// nothing is written and the error is returned.
	UpdateMapping(ctx context.Context, id string, fn func(*Mapping) error) (Mapping, error)
	// LinkKey gives mapping id the key of one side (a Google case name or a
	// CRM case id) and records it on the mapping. ErrConflict if another
	// mapping holds it.
	LinkKey(ctx context.Context, id string, side Side, key string) (Mapping, error)
	// AcquireLease gives holder the mapping until until, unless another
	// holder's lease is still running at now: then it records that a
	// reconciliation was asked for meanwhile (RerunRequested), makes the
	// mapping due by the end of that lease at the latest, and returns
	// ErrLeaseHeld. A new holder gets the next LeaseGeneration. DueAt is set
	// to until, so the mapping is asked for again if the holder dies.
	// WritesRecorded is cleared, and returned as it was.
	AcquireLease(ctx context.Context, id, holder string, now, until time.Time) (Mapping, error)
	// RenewLease extends the lease of holder, generation gen, to until (and
	// DueAt with it). ErrLeaseLost if the mapping's holder or generation is no
	// longer holder's: another worker took it meanwhile.
	RenewLease(ctx context.Context, id, holder string, gen int64, until time.Time) (Mapping, error)
	// ReleaseLease ends holder's lease; a lease held by another is left alone.
	ReleaseLease(ctx context.Context, id, holder string) error
	// MarkPending sets the side's PendingSince to at on each mapping where it
	// is not already set, and its DueAt to NextDue(DueAt, at, due): a due
	// time to come that is earlier stays. Ids with no mapping are ignored.
	MarkPending(ctx context.Context, side Side, ids []string, at, due time.Time) error
	// ListDue returns up to limit mappings whose DueAt is after after and
	// not after before (a zero after means any set DueAt), earliest first.
	ListDue(ctx context.Context, after, before time.Time, limit int) ([]Mapping, error)
	// ClaimDue moves to next the DueAt of each of ids whose DueAt is set and
	// not after before, and whose lease is not running at now, and returns
	// the ids it moved: the caller then asks for them. Two sweeps at once
	// never claim the same mapping.
	ClaimDue(ctx context.Context, ids []string, now, before, next time.Time) ([]string, error)
	// ListMappings calls fn for every mapping (open and resolved).
	ListMappings(ctx context.Context, fn func(Mapping) error) error
	// ListOutageCandidates returns, once each and in id order, the mappings
	// outage detection has to look at: every mapping, open or resolved, with
	// an outage notice sent or intended on either side; every open mapping
	// with a pending mark on either side set before pendingBefore; and, if
	// allOpen, every open mapping. Open mappings not yet linked may be among
	// them. It reads only those mappings (queries, not a scan).
	ListOutageCandidates(ctx context.Context, pendingBefore time.Time, allOpen bool) ([]Mapping, error)
	// ListResolvedBefore returns the ids of mappings resolved before t.
	ListResolvedBefore(ctx context.Context, t time.Time) ([]string, error)
	// DeleteMapping deletes the mapping and its key documents.
	DeleteMapping(ctx context.Context, id string) error
	// MergeMapping, in one transaction, deletes mapping fromID, which holds
	// a CRM case and no Google case, and gives that CRM case to mapping
	// intoID, which holds a Google case and no CRM case; it returns intoID
	// as merged. ErrConflict when either no longer holds just that;
	// ErrNotFound when either is gone.
	MergeMapping(ctx context.Context, fromID, intoID string) (Mapping, error)
	// DeleteResolvedBefore deletes the mapping and its key documents as
	// DeleteMapping does, but only if, in the same transaction, it is still
	// resolved before before, no lease on it is running at now and no change
	// is pending on either side; otherwise it leaves it alone (a case
	// reopened or being reconciled since the mapping was listed). deleted
	// reports whether it deleted; a missing mapping is not an error.
	DeleteResolvedBefore(ctx context.Context, id string, before, now time.Time) (deleted bool, err error)
	GetPollState(ctx context.Context) (PollState, error)
	// RecordPoll sets the side's last-polled time and heartbeat, and clears
	// its FailingSince.
	RecordPoll(ctx context.Context, side Side, lastPolledAt, heartbeat time.Time) error
	// RecordPollFailure sets the side's FailingSince to at unless it is set.
	RecordPollFailure(ctx context.Context, side Side, at time.Time) error
	// GetPollMemo returns the side's poll memo (empty before any).
	GetPollMemo(ctx context.Context, side Side) (PollMemo, error)
	// SavePollMemo replaces the side's poll memo. Its size is bounded by
	// the engine (MaxPollMemo entries).
	SavePollMemo(ctx context.Context, side Side, memo PollMemo) error
	RefusalStore
}

// Publisher sends case-updated facts and sync-requested commands.
type Publisher interface {
	PublishCaseUpdated(ctx context.Context, refs []CaseRef) error
	PublishSyncRequested(ctx context.Context, ref CaseRef) error
}

// Clock tells the time. Production uses the system clock; the sandbox uses
// one it can move forward.
type Clock interface {
	Now() time.Time
}

// Errors the ports return, checked with errors.Is.
var (
	ErrNotFound  = errors.New("not found")
	ErrConflict  = errors.New("conflict")
	ErrLeaseHeld = errors.New("mapping is being reconciled by another worker")
	// ErrLeaseLost: the worker's lease was taken by another worker.
	ErrLeaseLost = errors.New("the lease on the mapping was taken by another worker")
	// ErrWaitForHolder: an event naming an item arrived while a
	// reconciliation holds the case; it is to be delivered again once that
	// run has recorded its own writes (a transient error, and an expected
	// one: not a failure to report).
	ErrWaitForHolder = errors.New("the case is being reconciled; the event is handled once that run ends")
)

// APIError is the typed error the Google and CRM adapters return for a failed
// call. Transient ones (429, 5xx, timeouts) are worth retrying; the rest are
// not.
type APIError struct {
	Side      Side
	Op        string // e.g. "cases.create", "tickets.get"
	Status    int    // HTTP status, 0 for transport errors
	Transient bool
	// RetryAfter is the server's advice, if it gave one.
	RetryAfter time.Duration
	Err        error
}

func (e *APIError) Error() string {
	kind := "permanent"
	if e.Transient {
		kind = "transient"
	}
	if e.Status != 0 {
		return fmt.Sprintf("%s %s: %s error, HTTP %d: %v", e.Side, e.Op, kind, e.Status, e.Err)
	}
	return fmt.Sprintf("%s %s: %s error: %v", e.Side, e.Op, kind, e.Err)
}

func (e *APIError) Unwrap() error { return e.Err }

// IsTransient reports whether err is worth retrying: a transient APIError,
// a held lease, or an error wrapped as Transient by the store.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Transient
	}
	var te *TransientError
	if errors.As(err, &te) {
		return true
	}
	return errors.Is(err, ErrLeaseHeld) || errors.Is(err, ErrWaitForHolder) || errors.Is(err, context.DeadlineExceeded)
}

// TransientError marks an error (e.g. Firestore Aborted or Unavailable) as
// worth retrying.
type TransientError struct{ Err error }

func (e *TransientError) Error() string { return e.Err.Error() }
func (e *TransientError) Unwrap() error { return e.Err }

// IsNotFound reports whether err means the thing does not exist (ErrNotFound,
// or an APIError with HTTP 404).
func IsNotFound(err error) bool {
	if errors.Is(err, ErrNotFound) {
		return true
	}
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == 404
}

// IsPermanent reports whether err is known to be one retrying cannot fix: a
// non-transient APIError (a 4xx), a malformed request, or a link conflict.
// An error that is neither known transient nor known permanent should be
// retried, so that a message is dead-lettered rather than lost.
func IsPermanent(err error) bool {
	if err == nil || IsTransient(err) {
		return false
	}
	var ae *APIError
	var ie *InputError
	var ce *ConflictError
	var re *RefusedError
	return errors.As(err, &ae) || errors.As(err, &ie) || errors.As(err, &ce) || errors.As(err, &re)
}
