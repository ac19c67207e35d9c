// Package eventing is casebridge's Pub/Sub layer: the payload of a Pub/Sub
// CloudEvent and the case messages it carries, the publisher the engine
// uses, the handler wrappers that apply the retry contract for every
// function, and the topology (topics, push subscriptions, retry and
// dead-letter policies) as data, so the local stack and Terraform agree.
package eventing

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/cloudevents/sdk-go/v2/event"
)

// MessagePublishedData is the data of a google.cloud.pubsub.topic.v1.
// messagePublished CloudEvent: the Pub/Sub message and the subscription
// that delivered it (the subscription is empty when functions-framework
// converted a raw push body).
type MessagePublishedData struct {
	Message      PubsubMessage `json:"message"`
	Subscription string        `json:"subscription,omitempty"`
}

// PubsubMessage is one Pub/Sub message as a CloudEvent carries it.
type PubsubMessage struct {
	Data        []byte            `json:"data,omitempty"`
	Attributes  map[string]string `json:"attributes,omitempty"`
	MessageID   string            `json:"messageId,omitempty"`
	PublishTime time.Time         `json:"publishTime,omitzero"`
	OrderingKey string            `json:"orderingKey,omitempty"`
}

// PermanentError says a message can never be handled, whatever the number
// of retries (it is malformed or names nothing). Handlers log it and ack.
type PermanentError struct {
	Reason string
	Err    error
}

func (e *PermanentError) Error() string {
	if e.Err != nil {
		return e.Reason + ": " + e.Err.Error()
	}
	return e.Reason
}

func (e *PermanentError) Unwrap() error { return e.Err }

// IsPermanent reports whether err is, or wraps, a PermanentError.
func IsPermanent(err error) bool {
	var pe *PermanentError
	return errors.As(err, &pe)
}

// Decode reads the Pub/Sub message out of a CloudEvent. A CloudEvent whose
// data is not a Pub/Sub payload gives a PermanentError.
func Decode(e event.Event) (MessagePublishedData, error) {
	var d MessagePublishedData
	if len(e.Data()) == 0 {
		return d, &PermanentError{Reason: "event has no data"}
	}
	if err := json.Unmarshal(e.Data(), &d); err != nil {
		// The reason names where or which field, never the data itself.
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return d, &PermanentError{Reason: fmt.Sprintf("event data is not a Pub/Sub message (not JSON: syntax error at byte %d)", se.Offset)}
		case errors.As(err, &te):
			return d, &PermanentError{Reason: fmt.Sprintf("event data is not a Pub/Sub message (field %s has the wrong type)", casesync.Quote(te.Field))}
		default:
			return d, &PermanentError{Reason: "event data is not a Pub/Sub message (a field could not be read)"}
		}
	}
	if d.Message.MessageID == "" {
		d.Message.MessageID = e.ID()
	}
	if d.Message.PublishTime.IsZero() {
		d.Message.PublishTime = e.Time()
	}
	return d, nil
}

// EncodeCaseRef is the body of a case-updated or sync-requested message.
func EncodeCaseRef(ref casesync.CaseRef) ([]byte, error) {
	return json.Marshal(ref)
}

// DecodeCaseRef reads the body of a case-updated or sync-requested message.
// A body that is not a CaseRef, names no case (no id and no mapping id), or
// whose side, case id, Google case name or mapping id is malformed
// (casesync.CaseRef.Validate) gives a PermanentError. The error never quotes
// the body, and quotes an id or name only cut short.
func DecodeCaseRef(body []byte) (casesync.CaseRef, error) {
	var ref casesync.CaseRef
	if len(body) == 0 {
		return ref, &PermanentError{Reason: "message body is empty"}
	}
	if err := json.Unmarshal(body, &ref); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return ref, &PermanentError{Reason: fmt.Sprintf("message body is not JSON (syntax error at byte %d)", se.Offset)}
		case errors.As(err, &te):
			return ref, &PermanentError{Reason: fmt.Sprintf("message body field %q has the wrong type", te.Field)}
		default:
			return ref, &PermanentError{Reason: "message body is not a case reference"}
		}
	}
	if ref.ID == "" && ref.MappingID == "" {
		return ref, &PermanentError{Reason: "message names no case: id and mappingId are empty"}
	}
	if err := ref.Validate(); err != nil {
		// A malformed id or name can never be handled: it is refused here,
		// before it reaches a store key, a URL or a log tag, and the
		// message is acknowledged once instead of retried.
		return casesync.CaseRef{}, &PermanentError{Reason: "message names a malformed case reference", Err: err}
	}
	return ref, nil
}
