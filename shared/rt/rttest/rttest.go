// Package rttest runs throw-away Request Tracker 5 instances for casebridge's
// tests and sandbox, and acts as the helpdesk's human agents in them.
//
// An instance is a real RT (Debian's request-tracker5 packages) made and
// served by scripts/rt.sh: its own SQLite database, config and mailbox in
// one directory, rt-server with two workers on a free port of 127.0.0.1.
// It holds the custom fields "GCP Case" and "GCP Sync" on queue General,
// and those of Google's case state and escalation requests (StateField and
// the others below), the sync user "gcp-sync" (with only the rights the
// connector needs, a password and an auth token), root, a group "Human
// Agents" whose members the Human API creates on first use, and
// casebridge's webhook scrip, which POSTs a signed notice of each
// transaction to Options.WebhookURL when one is set.
//
// Start, Stop and Human do not depend on package testing, so the sandbox
// uses them too; NewInstance is the test helper.
package rttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// SyncUser is the login of the connector's user in every instance.
const SyncUser = "gcp-sync"

// Custom field names the instance defines on queue General.
const (
	GoogleCaseField = "GCP Case"
	SyncFlagField   = "GCP Sync"
	SyncFlagYes     = "yes"
	Queue           = "General"
	// StateField shows the Google case's state; EscalationField, set to
	// EscalationYes, asks for an escalation, with the reason (one of
	// EscalationReasons) and justification fields.
	StateField                   = "Google Case State"
	EscalationField              = "Escalate to Google"
	EscalationYes                = "yes"
	EscalationReasonField        = "Google Escalation Reason"
	EscalationJustificationField = "Google Escalation Justification"
)

// EscalationReasons are the values of EscalationReasonField.
var EscalationReasons = []string{"Resolution time", "Technical expertise", "Business impact"}

// Options configure Start.
type Options struct {
	// Dir holds the instance (database, config, logs). Empty: a new temporary
	// directory, removed by Stop. A Dir that already holds an instance's
	// database is reused as it is.
	Dir string
	// Port to serve on; 0 picks a free one.
	Port int
	// Script is the path of scripts/rt.sh; empty finds it from the module
	// root above the working directory.
	Script string
	// WebhookURL and WebhookSecret configure the instance's casebridge
	// webhook scrip (see scripts/rt/initialdata.pl): on every transaction
	// of a ticket that is not the sync user's, RT POSTs a signed
	// notification to WebhookURL. Empty: the scrip sends nothing. They are
	// written into the instance's site config at every Start.
	WebhookURL, WebhookSecret string
}

// Instance is a running Request Tracker.
type Instance struct {
	// URL is the web root, e.g. "http://127.0.0.1:41234"; REST2 is under
	// URL + "/REST/2.0".
	URL string
	// Dir is the instance's directory.
	Dir string
	// SyncToken is the sync user's auth token ("Authorization: token …").
	SyncToken string
	// SyncPassword is the sync user's password, for HTTP Basic auth.
	SyncPassword string
	// Human acts as the helpdesk's human agents.
	Human *Human

	script  string
	tempDir bool

	stopOnce sync.Once
	stopErr  error
}

// ErrNotInstalled says Request Tracker is not installed on this machine.
var ErrNotInstalled = errors.New("Request Tracker is not installed: run scripts/rt.sh install (as root, on Debian 12 or later)")

// Start creates (or reuses) an instance and returns once REST2 answers.
func Start(ctx context.Context, opts Options) (*Instance, error) {
	script := opts.Script
	if script == "" {
		var err error
		if script, err = findScript(); err != nil {
			return nil, err
		}
	}
	if out, err := exec.CommandContext(ctx, script, "check").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%w (%s)", ErrNotInstalled, strings.TrimSpace(string(out)))
	}
	inst := &Instance{Dir: opts.Dir, script: script}
	if inst.Dir == "" {
		dir, err := os.MkdirTemp("", "casebridge-rt-")
		if err != nil {
			return nil, err
		}
		inst.Dir, inst.tempDir = dir, true
	}
	port := opts.Port
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		if opts.Port == 0 {
			p, err := freePort()
			if err != nil {
				return nil, inst.fail(err)
			}
			port = p
		}
		var out bytes.Buffer
		cmd := exec.CommandContext(ctx, script, "start", inst.Dir, strconv.Itoa(port))
		cmd.Env = append(os.Environ(), "CB_RT_WEBHOOK_URL="+opts.WebhookURL, "CB_RT_WEBHOOK_SECRET="+opts.WebhookSecret)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			lastErr = fmt.Errorf("starting Request Tracker: %v: %s", err, strings.TrimSpace(out.String()))
			if opts.Port != 0 || ctx.Err() != nil {
				break
			}
			continue // perhaps another process took the port
		}
		lastErr = nil
		break
	}
	if lastErr != nil {
		return nil, inst.fail(lastErr)
	}
	inst.URL = "http://127.0.0.1:" + strconv.Itoa(port)
	secrets := map[string]*string{"sync-token": &inst.SyncToken, "sync-password": &inst.SyncPassword}
	var rootPW, agentPW string
	secrets["root-password"], secrets["agent-password"] = &rootPW, &agentPW
	for name, dst := range secrets {
		b, err := os.ReadFile(filepath.Join(inst.Dir, name))
		if err != nil {
			inst.Stop()
			return nil, fmt.Errorf("reading the instance's %s: %w", name, err)
		}
		*dst = strings.TrimSpace(string(b))
	}
	inst.Human = newHuman(inst.URL, rootPW, agentPW)
	return inst, nil
}

func (i *Instance) fail(err error) error {
	if i.tempDir {
		os.RemoveAll(i.Dir)
	}
	return err
}

// RESTURL is the REST2 base URL, e.g. "http://127.0.0.1:41234/REST/2.0".
func (i *Instance) RESTURL() string { return i.URL + "/REST/2.0" }

// Stop stops the server and everything it started; a temporary directory
// is removed. It is safe to call more than once.
func (i *Instance) Stop() error {
	i.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, i.script, "stop", i.Dir).CombinedOutput(); err != nil {
			i.stopErr = fmt.Errorf("stopping Request Tracker: %v: %s", err, strings.TrimSpace(string(out)))
			return
		}
		if i.tempDir {
			i.stopErr = os.RemoveAll(i.Dir)
		}
	})
	return i.stopErr
}

// NewInstance starts an instance for a test and stops it when the test
// ends. It fails the test, never skips it, when RT cannot run, saying what
// is missing.
func NewInstance(t testing.TB) *Instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	inst, err := Start(ctx, Options{})
	if err != nil {
		t.Fatalf("cannot start Request Tracker, which this test needs: %v", err)
	}
	t.Cleanup(func() {
		if err := inst.Stop(); err != nil {
			t.Errorf("%v", err)
		}
	})
	return inst
}

// findScript looks for scripts/rt.sh in the directories above the working
// directory, up to the one holding go.mod.
func findScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			script := filepath.Join(dir, "scripts", "rt.sh")
			if _, err := os.Stat(script); err != nil {
				return "", fmt.Errorf("scripts/rt.sh not found at the module root %s", dir)
			}
			return script, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("scripts/rt.sh not found: no go.mod above the working directory; set Options.Script")
		}
		dir = parent
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
