// Command functions serves every casebridge function in one local process,
// the way the sandbox and the local-stack tests run them.
//
// Each function is served at /<Name> (functions-framework's default when
// FUNCTION_TARGET is unset) and, for Pub/Sub push subscriptions, under
// /<Name>/projects/<project>/topics/<topic>: functions-framework takes the
// topic of a raw push body from that path. /Metrics answers with this
// process's Firestore read and write counts and, when the CRM adapter counts
// them, its CRM calls by operation.
//
// Usage: functions --port 8080 [--host 127.0.0.1]
//
// The functions read their configuration from the environment (see
// shared/appconfig); a missing variable stops the process at start with a
// CRITICAL log line naming it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	"github.com/casebridge/casebridge/functions/cleanup"
	// CRMWebhook, an HTTP function, registers itself at /CRMWebhook.
	_ "github.com/casebridge/casebridge/functions/crmwebhook"
	"github.com/casebridge/casebridge/functions/detectoutages"
	"github.com/casebridge/casebridge/functions/googleevents"
	"github.com/casebridge/casebridge/functions/pollcrm"
	"github.com/casebridge/casebridge/functions/pollgoogle"
	"github.com/casebridge/casebridge/functions/synccase"
	"github.com/casebridge/casebridge/shared/appconfig"
	"github.com/cloudevents/sdk-go/v2/event"
)

// MetricsPath is where this process reports its counts.
const MetricsPath = "/Metrics"

// Metrics is the body served at MetricsPath.
type Metrics struct {
	FirestoreReads  int64 `json:"firestoreReads"`
	FirestoreWrites int64 `json:"firestoreWrites"`
	// CRMCalls are the CRM adapter's calls by operation, retries included;
	// absent when the adapter does not count them.
	CRMCalls map[string]int64 `json:"crmCalls,omitempty"`
}

// callCounter is a CRM adapter that counts its calls (every adapter built
// on shared/crmhttp).
type callCounter interface {
	Calls() map[string]int64
}

func main() {
	port := flag.String("port", "8080", "port to listen on")
	host := flag.String("host", "127.0.0.1", "address to listen on")
	flag.Parse()
	if err := run(*host, *port); err != nil {
		fmt.Fprintln(os.Stderr, "functions:", err)
		os.Exit(1)
	}
}

func run(host, port string) error {
	if t := os.Getenv("FUNCTION_TARGET"); t != "" {
		return fmt.Errorf("FUNCTION_TARGET is %q: unset it, this process serves every function", t)
	}
	ctx := context.Background()
	pushed := map[string]func(context.Context, event.Event) error{
		pollgoogle.Name:    pollgoogle.Handle,
		googleevents.Name:  googleevents.Handle,
		pollcrm.Name:       pollcrm.Handle,
		synccase.Name:      synccase.Handle,
		cleanup.Name:       cleanup.Handle,
		detectoutages.Name: detectoutages.Handle,
	}
	for name, h := range pushed {
		// The function packages register /<Name>; this adds the subtree
		// that push endpoints ending in /projects/P/topics/T fall in.
		if err := funcframework.RegisterCloudEventFunctionContext(ctx, "/"+name+"/", h); err != nil {
			return fmt.Errorf("serving %s for push: %w", name, err)
		}
	}
	if err := funcframework.RegisterHTTPFunctionContext(ctx, MetricsPath, serveMetrics); err != nil {
		return fmt.Errorf("serving metrics: %w", err)
	}
	return funcframework.StartHostPort(host, port)
}

func serveMetrics(w http.ResponseWriter, r *http.Request) {
	app, err := appconfig.Load()
	if err != nil {
		http.Error(w, "casebridge is not configured", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	m := Metrics{FirestoreReads: app.Store.Reads(), FirestoreWrites: app.Store.Writes()}
	if c, ok := app.Engine.CRM.(callCounter); ok {
		m.CRMCalls = c.Calls()
	}
	json.NewEncoder(w).Encode(m)
}
