// Package crmwebhook is the CRMWebhook Cloud Function: the receiver of the
// CRM's webhooks, and the one casebridge function reachable from the
// internet. It verifies each webhook with the scheme of the deployment's
// CRM (shared/webhook), publishes case-updated for the case it names, and
// answers 204; sync-case then reads the truth from the CRM's API. It never
// calls the CRM and holds none of its credentials.
//
// It is thin wiring: when deployed on its own (FUNCTION_TARGET=CRMWebhook)
// the configuration is read once at cold start and an invalid one stops
// the start with a CRITICAL log line naming the variables to set. In the
// local process that serves every function, a missing configuration only
// makes this function answer 503.
//
// Answers: 405 for anything but POST, 413 for a body over 256 KiB, 401 for
// a missing, wrong or stale signature, 400 for a body naming no valid
// case, 204 once published (or for the sync user's own change, which is
// not published), 503 when publishing fails, so the CRM retries.
package crmwebhook

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/casebridge/casebridge/shared/appconfig"
	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/casebridge/casebridge/shared/logging"
	"github.com/casebridge/casebridge/shared/webhook"
)

// Name is the function's entry point (FUNCTION_TARGET).
const Name = eventing.FunctionCRMWebhook

// DefaultPublishTimeout bounds one publish: past it the CRM is answered
// 503 and retries, and polling catches up in any case.
const DefaultPublishTimeout = 10 * time.Second

var handler http.Handler

func init() {
	if os.Getenv("FUNCTION_TARGET") == Name {
		// Deployed on its own: a bad configuration stops the start.
		handler = serve(appconfig.MustLoadWebhook(Name), nil)
	} else {
		handler = serve(appconfig.LoadWebhook())
	}
	functions.HTTP(Name, Handle)
}

// Handle serves one webhook. The local functions process serves it at
// /CRMWebhook.
func Handle(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }

// serve returns the handler of a loaded receiver, or, when the
// configuration could not be loaded, one that answers 503 and logs why.
func serve(app *appconfig.WebhookApp, err error) http.Handler {
	if err != nil {
		return notConfigured{err: err, log: logging.WithFunction(logging.New(os.Stdout, slog.LevelInfo), Name)}
	}
	return &Handler{
		Verifier:  app.Verifier,
		Publisher: app.Publisher,
		SyncUser:  app.Config.SyncUser,
		Log:       logging.WithFunction(app.Log, Name),
	}
}

// notConfigured is the receiver in a process whose environment lacks its
// configuration: every webhook is answered 503 (the CRM retries later).
type notConfigured struct {
	err error
	log *slog.Logger
}

func (n notConfigured) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n.log.Error("the webhook receiver is not configured", logging.Err(n.err))
	http.Error(w, "the webhook receiver is not configured", http.StatusServiceUnavailable)
}

// Publisher publishes case-updated facts; eventing.Publisher is one.
type Publisher interface {
	PublishCaseUpdated(ctx context.Context, refs []casesync.CaseRef) error
}

// Handler verifies webhooks and publishes the cases they name.
type Handler struct {
	Verifier  *webhook.Verifier
	Publisher Publisher
	// SyncUser, when set, is the sync user as the webhooks name the actor
	// of a change: its own changes are acknowledged and not published.
	SyncUser string
	Log      *slog.Logger
	// PublishTimeout bounds a publish; 0 means DefaultPublishTimeout.
	PublishTimeout time.Duration
}

// ServeHTTP answers one webhook. It logs the CRM kind, case id, event id
// and body size, never the body or the signature.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kind := h.Verifier.Kind()
	ev, err := h.Verifier.Verify(r)
	if err != nil {
		status, reason := webhook.Status(err), err.Error()
		if e, ok := err.(*webhook.Error); ok {
			reason = e.Reason
		}
		h.Log.Warn("webhook refused", "crm", kind, "status", status, "reason", reason, "contentLength", r.ContentLength)
		if status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", http.MethodPost)
		}
		http.Error(w, reason, status)
		return
	}
	log := h.Log.With("crm", kind, logging.KeyCaseSide, casesync.SideCompany, logging.KeyCaseID, strings.Join(ev.CaseIDs, ","),
		logging.KeyEventID, ev.EventID, "type", ev.Type, "size", ev.Size)
	if h.SyncUser != "" && ev.Actor != "" && strings.EqualFold(ev.Actor, h.SyncUser) {
		log.Info("webhook of the sync user's own change acknowledged, not published")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	refs := make([]casesync.CaseRef, 0, len(ev.CaseIDs))
	for _, id := range ev.CaseIDs {
		refs = append(refs, casesync.CaseRef{Side: casesync.SideCompany, ID: id})
	}
	timeout := h.PublishTimeout
	if timeout <= 0 {
		timeout = DefaultPublishTimeout
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	if err := h.Publisher.PublishCaseUpdated(ctx, refs); err != nil {
		log.Error("publishing case-updated for a webhook failed; the CRM is asked to retry", logging.Err(err))
		http.Error(w, "the change could not be queued; retry later", http.StatusServiceUnavailable)
		return
	}
	log.Info("webhook verified, case-updated published")
	w.WriteHeader(http.StatusNoContent)
}
