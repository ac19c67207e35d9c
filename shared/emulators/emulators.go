// Package emulators starts and stops Google's official Firestore and Pub/Sub
// emulators as local processes, for casebridge's tests and its local sandbox.
//
// Each emulator runs in its own process group on a free port of 127.0.0.1,
// writes its log to a file in a fresh temporary directory, and is stopped
// with everything it started: the Firestore launcher is a shell script that
// does not exec java, so stopping only the script would leave java running.
package emulators

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// StartTimeout bounds how long a Start call waits for an emulator to answer
// when the caller's context has no earlier deadline.
const StartTimeout = 60 * time.Second

// stopTimeout bounds each stage of Stop (graceful, then forced).
const stopTimeout = 10 * time.Second

// Kind names one of the emulators this package runs.
type Kind string

const (
	// Firestore is the Cloud Firestore emulator in native mode.
	Firestore Kind = "firestore"
	// PubSub is the Cloud Pub/Sub emulator.
	PubSub Kind = "pubsub"
)

// installHint says how to install each emulator.
var installHint = map[Kind]string{
	Firestore: "install it with `gcloud components install cloud-firestore-emulator`, " +
		"or on Debian/Ubuntu with `apt-get install google-cloud-cli-firestore-emulator` from Google's Cloud SDK repository",
	PubSub: "install it with `gcloud components install pubsub-emulator`, " +
		"or on Debian/Ubuntu with `apt-get install google-cloud-cli-pubsub-emulator` from Google's Cloud SDK repository",
}

// launcher is each emulator's launcher path relative to the SDK root.
var launcher = map[Kind]string{
	Firestore: filepath.Join("platform", "cloud-firestore-emulator", "cloud_firestore_emulator"),
	PubSub:    filepath.Join("platform", "pubsub-emulator", "bin", "cloud-pubsub-emulator"),
}

// ErrNotInstalled is returned (wrapped in a *SetupError) when an emulator, the
// Cloud SDK or Java is missing.
var ErrNotInstalled = errors.New("not installed")

// SetupError explains why an emulator could not be started and, where it
// applies, what to install and where its log is.
type SetupError struct {
	Kind Kind
	// Hint is an actionable instruction, e.g. which package to install.
	Hint string
	// LogPath is the emulator's log file, when it got as far as starting.
	LogPath string
	Err     error
}

func (e *SetupError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s emulator: %v", e.Kind, e.Err)
	if e.Hint != "" {
		fmt.Fprintf(&b, "; %s", e.Hint)
	}
	if e.LogPath != "" {
		fmt.Fprintf(&b, " (emulator log: %s)", e.LogPath)
	}
	return b.String()
}

func (e *SetupError) Unwrap() error { return e.Err }

// Emulator is one running emulator process group.
type Emulator struct {
	// Kind says which emulator this is.
	Kind Kind
	// Host is "127.0.0.1:port", the value for FIRESTORE_EMULATOR_HOST or
	// PUBSUB_EMULATOR_HOST.
	Host string
	// LogPath is the file the emulator's stdout and stderr go to.
	LogPath string

	cmd    *exec.Cmd
	pgid   int
	dir    string
	logf   *os.File
	exited chan struct{} // closed when the launcher process has been reaped

	stopOnce sync.Once
	stopErr  error
}

// StartFirestore starts the Firestore emulator in native mode on a free port
// and returns once it answers GET / with "Ok".
func StartFirestore(ctx context.Context) (*Emulator, error) {
	return start(ctx, Firestore)
}

// StartPubSub starts the Pub/Sub emulator on a free port and returns once it
// answers GET / with "Ok".
func StartPubSub(ctx context.Context) (*Emulator, error) {
	return start(ctx, PubSub)
}

// Start starts the emulator of the given kind.
func Start(ctx context.Context, kind Kind) (*Emulator, error) {
	return start(ctx, kind)
}

func start(ctx context.Context, kind Kind) (*Emulator, error) {
	rel, ok := launcher[kind]
	if !ok {
		return nil, fmt.Errorf("emulators: unknown emulator kind %q", kind)
	}
	if err := checkJava(); err != nil {
		return nil, &SetupError{Kind: kind, Hint: javaHint, Err: err}
	}
	root, err := SDKRoot()
	if err != nil {
		return nil, &SetupError{Kind: kind, Hint: installHint[kind], Err: err}
	}
	path := filepath.Join(root, rel)
	if _, err := os.Stat(path); err != nil {
		return nil, &SetupError{Kind: kind, Hint: installHint[kind],
			Err: fmt.Errorf("launcher %s: %w", path, ErrNotInstalled)}
	}

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, StartTimeout)
		defer cancel()
	}

	// Another process may take the free port between our probe and the
	// emulator's bind; a second attempt on a new port settles that.
	var lastErr error
	for attempt := range 3 {
		e, err := launch(ctx, kind, path)
		if err == nil {
			return e, nil
		}
		var pe *portError
		if !errors.As(err, &pe) || ctx.Err() != nil || attempt == 2 {
			lastErr = err
			break
		}
		// Only the last attempt's log is kept for the error message.
		var se *SetupError
		if errors.As(err, &se) && se.LogPath != "" {
			os.RemoveAll(filepath.Dir(se.LogPath))
		}
	}
	return nil, lastErr
}

// portError marks a launch that failed because the process exited early,
// which is what a lost port race looks like.
type portError struct{ err error }

func (e *portError) Error() string { return e.err.Error() }
func (e *portError) Unwrap() error { return e.err }

func launch(ctx context.Context, kind Kind, path string) (*Emulator, error) {
	port, err := freePort()
	if err != nil {
		return nil, &SetupError{Kind: kind, Err: fmt.Errorf("finding a free port: %w", err)}
	}
	host := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	dir, err := os.MkdirTemp("", "casebridge-"+string(kind)+"-emulator-")
	if err != nil {
		return nil, &SetupError{Kind: kind, Err: err}
	}
	logPath := filepath.Join(dir, "emulator.log")
	logf, err := os.Create(logPath)
	if err != nil {
		os.RemoveAll(dir)
		return nil, &SetupError{Kind: kind, Err: err}
	}

	args := []string{"--host=127.0.0.1", "--port=" + strconv.Itoa(port)}
	if kind == Firestore {
		args = append(args, "--database-mode=firestore-native")
	}
	// The process is not tied to ctx: ctx bounds the startup only, and the
	// emulator lives until Stop.
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, &SetupError{Kind: kind, Hint: installHint[kind], LogPath: logPath,
			Err: fmt.Errorf("running %s: %w", path, err)}
	}
	e := &Emulator{
		Kind:    kind,
		Host:    host,
		LogPath: logPath,
		cmd:     cmd,
		pgid:    cmd.Process.Pid,
		dir:     dir,
		logf:    logf,
		exited:  make(chan struct{}),
	}
	go func() {
		cmd.Wait()
		close(e.exited)
	}()

	if err := e.waitReady(ctx); err != nil {
		e.kill()
		e.waitGroupGone(stopTimeout)
		e.logf.Close()
		serr := &SetupError{Kind: kind, LogPath: logPath, Err: err}
		var pe *portError
		if errors.As(err, &pe) {
			return nil, &portError{err: serr}
		}
		return nil, serr
	}
	return e, nil
}

// waitReady polls GET / until it answers "Ok", the launcher exits, or ctx ends.
func (e *Emulator) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if ok := e.answers(ctx, client); ok {
			return nil
		}
		select {
		case <-e.exited:
			return &portError{err: fmt.Errorf("exited before it answered on %s: %v", e.Host, e.cmd.ProcessState)}
		case <-ctx.Done():
			return fmt.Errorf("did not answer on %s in time: %w", e.Host, ctx.Err())
		case <-tick.C:
		}
	}
}

func (e *Emulator) answers(ctx context.Context, client *http.Client) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+e.Host+"/", nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
	return resp.StatusCode == http.StatusOK && strings.TrimSpace(string(body)) == "Ok"
}

// PID returns the launcher's process id, which is also the emulator's
// process group id.
func (e *Emulator) PID() int { return e.pgid }

// Stop shuts the emulator down and returns once no process of its group is
// left. It removes the log directory when the shutdown was clean. Stop may be
// called more than once.
func (e *Emulator) Stop() error {
	e.stopOnce.Do(func() { e.stopErr = e.stop() })
	return e.stopErr
}

func (e *Emulator) stop() error {
	if e.Kind == Firestore {
		// The graceful way: the launcher and its java child both exit.
		client := &http.Client{Timeout: 3 * time.Second}
		if resp, err := client.Post("http://"+e.Host+"/shutdown", "text/plain", nil); err == nil {
			resp.Body.Close()
		}
	} else {
		syscall.Kill(-e.pgid, syscall.SIGTERM)
	}
	if !e.waitGroupGone(stopTimeout) {
		e.kill()
		if !e.waitGroupGone(stopTimeout) {
			return fmt.Errorf("%s emulator: process group %d still running after SIGKILL (log: %s)", e.Kind, e.pgid, e.LogPath)
		}
	}
	e.logf.Close()
	return os.RemoveAll(e.dir)
}

// kill sends SIGKILL to the whole process group.
func (e *Emulator) kill() {
	syscall.Kill(-e.pgid, syscall.SIGKILL)
}

// waitGroupGone waits until the launcher is reaped and no process of the
// group remains.
func (e *Emulator) waitGroupGone(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		select {
		case <-e.exited:
			if !GroupAlive(e.pgid) {
				return true
			}
		default:
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// GroupAlive reports whether any process of process group pgid is still
// running. Zombies do not count: a killed launcher's orphaned child is dead
// but stays visible until init reaps it, which some container inits do late.
func GroupAlive(pgid int) bool {
	err := syscall.Kill(-pgid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	live, ok := liveMembers(pgid)
	if !ok {
		return true // no /proc to look in: trust kill
	}
	return live > 0
}

// liveMembers counts the processes of group pgid that are not zombies, from
// /proc. ok is false when /proc cannot be read.
func liveMembers(pgid int) (n int, ok bool) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, false
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		// The command name is in parentheses and may hold spaces; the
		// fields after it are: state, ppid, pgrp, ...
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 3 {
			continue
		}
		if g, err := strconv.Atoi(f[2]); err == nil && g == pgid && f[0] != "Z" && f[0] != "X" {
			n++
		}
	}
	return n, true
}

// freePort asks the kernel for a port nobody is listening on.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

var (
	sdkRootMu  sync.Mutex
	sdkRootVal string
)

// SDKRoot returns the Google Cloud SDK's installation directory: the
// CLOUDSDK_ROOT_DIR environment variable if set, else what
// `gcloud info --format=value(installation.sdk_root)` reports (asked once and
// cached).
func SDKRoot() (string, error) {
	if dir := os.Getenv("CLOUDSDK_ROOT_DIR"); dir != "" {
		return dir, nil
	}
	sdkRootMu.Lock()
	defer sdkRootMu.Unlock()
	if sdkRootVal != "" {
		return sdkRootVal, nil
	}
	gcloud, err := exec.LookPath("gcloud")
	if err != nil {
		return "", fmt.Errorf("the Google Cloud CLI (gcloud) is %w: install it (https://cloud.google.com/sdk/docs/install) or set CLOUDSDK_ROOT_DIR to the SDK root", ErrNotInstalled)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(gcloud, "info", "--format=value(installation.sdk_root)")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("gcloud info: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	root := strings.TrimSpace(string(out))
	if root == "" {
		return "", errors.New("gcloud info reported no SDK root; set CLOUDSDK_ROOT_DIR")
	}
	sdkRootVal = root
	return root, nil
}

const javaHint = "the emulators need Java 17 or later: install it, e.g. `apt-get install openjdk-17-jre-headless`, or set JAVA to the java binary"

var (
	javaOnce sync.Once
	javaErr  error
)

// javaVersion matches the major version in `java -version` output, both the
// old "1.8.0" and the modern "17.0.15" forms.
var javaVersion = regexp.MustCompile(`version "(?:1\.)?(\d+)`)

// checkJava verifies once that java (or $JAVA, as the launchers honour) runs
// and is at least version 17.
func checkJava() error {
	javaOnce.Do(func() {
		bin := os.Getenv("JAVA")
		if bin == "" {
			if home := os.Getenv("JAVA_HOME"); home != "" {
				bin = filepath.Join(home, "bin", "java")
			} else {
				bin = "java"
			}
		}
		path, err := exec.LookPath(bin)
		if err != nil {
			javaErr = fmt.Errorf("java is %w", ErrNotInstalled)
			return
		}
		out, err := exec.Command(path, "-version").CombinedOutput()
		if err != nil {
			javaErr = fmt.Errorf("%s -version: %w", path, err)
			return
		}
		m := javaVersion.FindSubmatch(out)
		if m == nil {
			return // an unusual build; let the emulator decide
		}
		if major, _ := strconv.Atoi(string(m[1])); major < 17 {
			javaErr = fmt.Errorf("%s is Java %d, older than 17", path, major)
		}
	})
	return javaErr
}

// ResetFirestore deletes every document of project's default database in the
// Firestore emulator at host.
func ResetFirestore(host, project string) error {
	url := fmt.Sprintf("http://%s/emulator/v1/projects/%s/databases/(default)/documents", host, project)
	req, err := http.NewRequest(http.MethodDelete, url, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("resetting Firestore emulator: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("resetting Firestore emulator: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}
