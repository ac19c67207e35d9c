package csapitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// APIError is an error the simulator answers with, in Google's JSON error
// envelope. The Go test hooks return it too, so callers can use errors.As.
type APIError struct {
	// Code is the HTTP status code.
	Code int
	// Status is the canonical gRPC status name, e.g. "INVALID_ARGUMENT".
	Status string
	// Message is the human-readable message.
	Message string
	// RetryAfter, when positive, is sent as a Retry-After header.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	return fmt.Sprintf("csapitest: %d %s: %s", e.Code, e.Status, e.Message)
}

func errInvalid(format string, args ...any) *APIError {
	return &APIError{Code: http.StatusBadRequest, Status: "INVALID_ARGUMENT", Message: fmt.Sprintf(format, args...)}
}

func errPrecondition(format string, args ...any) *APIError {
	return &APIError{Code: http.StatusBadRequest, Status: "FAILED_PRECONDITION", Message: fmt.Sprintf(format, args...)}
}

func errNotFound(msg string) *APIError {
	return &APIError{Code: http.StatusNotFound, Status: "NOT_FOUND", Message: msg}
}

func errPermissionDenied(msg string) *APIError {
	return &APIError{Code: http.StatusForbidden, Status: "PERMISSION_DENIED", Message: msg}
}

// statusName maps an HTTP status to the canonical status Google pairs it with.
func statusName(code int) string {
	switch code {
	case 400:
		return "INVALID_ARGUMENT"
	case 401:
		return "UNAUTHENTICATED"
	case 403:
		return "PERMISSION_DENIED"
	case 404:
		return "NOT_FOUND"
	case 409:
		return "ABORTED"
	case 412:
		return "FAILED_PRECONDITION"
	case 413:
		return "OUT_OF_RANGE"
	case 429:
		return "RESOURCE_EXHAUSTED"
	case 499:
		return "CANCELLED"
	case 500:
		return "INTERNAL"
	case 501:
		return "UNIMPLEMENTED"
	case 503:
		return "UNAVAILABLE"
	case 504:
		return "DEADLINE_EXCEEDED"
	default:
		if code >= 500 {
			return "UNKNOWN"
		}
		return "FAILED_PRECONDITION"
	}
}

// faultMessage is the message Google's front end uses for injected statuses.
func faultMessage(code int) string {
	switch code {
	case 429:
		return "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute' of service 'cloudsupport.googleapis.com'."
	case 503:
		return "The service is currently unavailable."
	case 500:
		return "Internal error encountered."
	case 504:
		return "The request timed out."
	default:
		return http.StatusText(code)
	}
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
}

func writeError(w http.ResponseWriter, e *APIError) {
	if e.RetryAfter > 0 {
		secs := int((e.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	writeJSON(w, e.Code, errorBody{Error: errorDetail{Code: e.Code, Message: e.Message, Status: e.Status}})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b = []byte(`{"error":{"code":500,"message":"Internal error encountered.","status":"INTERNAL"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
