package crmsim

import (
	"errors"
	"net/http"

	"github.com/casebridge/casebridge/shared/casesync"
)

// The operations the simulator meters, as Calls reports them and as
// APIError.Op names them.
const (
	OpSearch             = "search"
	OpGet                = "get"
	OpFind               = "find"
	OpCreate             = "create"
	OpSetGoogleCase      = "setGoogleCase"
	OpSetPriority        = "setPriority"
	OpClose              = "close"
	OpListComments       = "comments.list"
	OpAddComment         = "comments.add"
	OpListAttachments    = "attachments.list"
	OpDownloadAttachment = "attachments.download"
	OpUploadAttachment   = "attachments.upload"
	// OpListConversation reads a ticket's replies and notes, each with its
	// files, and the files on the ticket itself, in one call.
	OpListConversation = "conversation.list"
	// OpUpdate changes a ticket's status and custom fields in one call.
	OpUpdate = "update"
)

// Reasons the simulator gives for a failed call. They are wrapped in the
// *casesync.APIError it returns, so callers can tell them apart with
// errors.Is; the HTTP Client restores them from the error code the server
// sends.
var (
	ErrInvalidPriority   = errors.New("priority is not one of the CRM's values")
	ErrInvalidUTF8       = errors.New("text is not valid UTF-8")
	ErrEmptyComment      = errors.New("comment body is empty")
	ErrNoFilename        = errors.New("attachment has no file name")
	ErrTooLarge          = errors.New("content exceeds the CRM's size limit")
	ErrUploadInterrupted = errors.New("upload body could not be read")
	ErrUnavailable       = errors.New("CRM is unavailable")
	ErrRateLimited       = errors.New("rate limit exceeded")
	ErrInjected          = errors.New("injected fault")
	ErrBadRequest        = errors.New("malformed request")
	ErrInvalidStatus     = errors.New("status is not one of the CRM's open statuses")
	ErrClosedTicket      = errors.New("a closed ticket's status is changed only by reopening it")
	ErrUnknownField      = errors.New("custom field is not defined in the CRM")
	ErrInvalidFieldValue = errors.New("value is not one the custom field's type takes")
	// ErrInvalidState is the adapter's answer to a Google case state that
	// is not one of CSAPI's; it makes no call.
	ErrInvalidState = errors.New("not a Google case state")
)

// codes names each reason on the wire.
var codes = map[error]string{
	casesync.ErrNotFound: "not_found",
	ErrInvalidPriority:   "invalid_priority",
	ErrInvalidUTF8:       "invalid_utf8",
	ErrEmptyComment:      "empty_comment",
	ErrNoFilename:        "no_filename",
	ErrTooLarge:          "too_large",
	ErrUploadInterrupted: "upload_interrupted",
	ErrUnavailable:       "unavailable",
	ErrRateLimited:       "rate_limited",
	ErrInjected:          "injected",
	ErrBadRequest:        "bad_request",
	ErrInvalidStatus:     "invalid_status",
	ErrUnknownField:      "unknown_field",
	ErrInvalidFieldValue: "invalid_field_value",
	ErrInvalidState:      "invalid_state",
	ErrClosedTicket:      "closed_ticket",
}

// codeOf returns the wire code of the reason err wraps, or "".
func codeOf(err error) string {
	for reason, code := range codes {
		if errors.Is(err, reason) {
			return code
		}
	}
	return ""
}

// reasonOf returns the reason a wire code names, or nil.
func reasonOf(code string) error {
	for reason, c := range codes {
		if c == code {
			return reason
		}
	}
	return nil
}

// transientStatus reports whether an HTTP status is worth retrying.
func transientStatus(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// newError returns the typed error of a failed call.
func newError(op string, status int, reason error) *casesync.APIError {
	return &casesync.APIError{Side: casesync.SideCompany, Op: op, Status: status, Transient: transientStatus(status), Err: reason}
}

// notFoundError says which kind of thing was missing without naming it:
// ids are not customer data, but keeping messages fixed keeps them safe to
// log whatever a caller passes.
type notFoundError struct{ what string }

func (e *notFoundError) Error() string        { return e.what + " not found" }
func (e *notFoundError) Is(target error) bool { return target == casesync.ErrNotFound }

func notFound(op, what string) *casesync.APIError {
	return newError(op, http.StatusNotFound, &notFoundError{what: what})
}

// faultErr is the reason an injected fault of the given status reports.
func faultErr(status int) error {
	switch status {
	case http.StatusTooManyRequests:
		return ErrRateLimited
	case http.StatusServiceUnavailable:
		return ErrUnavailable
	}
	return ErrInjected
}
