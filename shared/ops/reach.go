package ops

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"google.golang.org/api/googleapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The services the operator tools talk to, as errors name them.
const (
	ServicePubSub     = "Pub/Sub"
	ServiceFirestore  = "Firestore"
	ServiceMonitoring = "Cloud Monitoring"
)

// DefaultTimeout is how long an operator command waits, in all, for the
// services it talks to.
const DefaultTimeout = 30 * time.Second

// emulatorVars are the variables that point the Google clients at a local
// emulator instead of Google Cloud.
var emulatorVars = map[string]string{
	ServicePubSub:    "PUBSUB_EMULATOR_HOST",
	ServiceFirestore: "FIRESTORE_EMULATOR_HOST",
}

var endpoints = map[string]string{
	ServicePubSub:     "pubsub.googleapis.com",
	ServiceFirestore:  "firestore.googleapis.com",
	ServiceMonitoring: "monitoring.googleapis.com",
}

// Where says where the tools reach service for project: the emulator's
// address and the variable that set it, or Google's endpoint and the
// project.
func Where(service, project string) string {
	if v := emulatorVars[service]; v != "" {
		if h := os.Getenv(v); h != "" {
			return h + " (" + v + ")"
		}
	}
	return endpoints[service] + " for project " + project
}

// UnreachableError says that a service could not be reached, or did not
// answer before the command's time ran out.
type UnreachableError struct {
	Service string
	// Where is the address (Where).
	Where string
	// Within is how long the command allowed (zero when not known).
	Within time.Duration
	Err    error
}

func (e *UnreachableError) Error() string {
	within := ""
	if e.Within > 0 {
		within = " within " + e.Within.String()
	}
	return fmt.Sprintf("could not reach %s at %s%s: %v", e.Service, e.Where, within, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

type boundKey struct{}

// WithTimeout returns a context that ends after timeout, and remembers
// timeout so that the errors of services that did not answer in time can
// say how long was waited. Every call to a Google client must carry it:
// on a context without a deadline the clients retry an unreachable
// service for ever.
func WithTimeout(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithValue(ctx, boundKey{}, timeout), timeout)
}

// Reach returns err as an *UnreachableError naming service and where it
// was looked for when err means the service could not be reached or did
// not answer in time (connection refused or lost, Unavailable, a deadline
// passed); any other error is returned as it is, nil stays nil.
func Reach(ctx context.Context, service, project string, err error) error {
	if err == nil {
		return nil
	}
	var ue *UnreachableError
	if errors.As(err, &ue) || !notAnswered(ctx, err) {
		return err
	}
	within, _ := ctx.Value(boundKey{}).(time.Duration)
	if hint := probe(service); hint != "" {
		err = fmt.Errorf("%w (%s)", err, hint)
	}
	return &UnreachableError{Service: service, Where: Where(service, project), Within: within, Err: err}
}

// notAnswered reports whether err means that the service never answered.
func notAnswered(ctx context.Context, err error) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	}
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		return gerr.Code == 502 || gerr.Code == 503 || gerr.Code == 504
	}
	var nerr net.Error
	var operr *net.OpError
	return errors.As(err, &operr) || (errors.As(err, &nerr) && nerr.Timeout())
}

// probe says, for a service on a local emulator, whether anything accepts
// connections at its address: the Google clients report an emulator that
// is down and one that hangs alike, as a deadline that passed.
func probe(service string) string {
	v := emulatorVars[service]
	host := os.Getenv(v)
	if v == "" || host == "" {
		return ""
	}
	conn, err := net.DialTimeout("tcp", host, time.Second)
	if err != nil {
		return "nothing accepts connections there: " + err.Error()
	}
	conn.Close()
	return "it accepts connections but did not answer"
}
