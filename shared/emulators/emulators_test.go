package emulators_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/emulators"
)

func TestEmulatorsStartAnswerAndStopWithoutLeftovers(t *testing.T) {
	tests := []struct {
		name  string
		start func(context.Context) (*emulators.Emulator, error)
	}{
		{"the Firestore emulator answers Ok and leaves no process behind", emulators.StartFirestore},
		{"the Pub/Sub emulator answers Ok and leaves no process behind", emulators.StartPubSub},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), emulators.StartTimeout)
			defer cancel()
			e, err := tc.start(ctx)
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			stopped := false
			t.Cleanup(func() {
				if !stopped {
					e.Stop()
				}
			})
			if got := getRoot(t, e.Host); got != "Ok" {
				t.Errorf("GET / = %q, want %q", got, "Ok")
			}
			if !emulators.GroupAlive(e.PID()) {
				t.Fatalf("process group %d is not running while the emulator answers", e.PID())
			}

			if err := e.Stop(); err != nil {
				t.Fatalf("stop: %v", err)
			}
			stopped = true
			// Independently of GroupAlive: kill(-pgid, 0) fails with ESRCH
			// only when no process of the group exists at all.
			deadline := time.Now().Add(5 * time.Second)
			for syscall.Kill(-e.PID(), 0) != syscall.ESRCH {
				if time.Now().After(deadline) {
					t.Errorf("process group %d still has processes after Stop", e.PID())
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if _, err := os.Stat(e.LogPath); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("log file %s still exists after a clean Stop (stat: %v)", e.LogPath, err)
			}
			client := &http.Client{Timeout: time.Second}
			if resp, err := client.Get("http://" + e.Host + "/"); err == nil {
				resp.Body.Close()
				t.Errorf("something still answers on %s after Stop", e.Host)
			}
			if err := e.Stop(); err != nil {
				t.Errorf("second Stop: %v", err)
			}
		})
	}
}

func TestResetFirestoreDeletesDocuments(t *testing.T) {
	e := emulators.StartFirestoreForTest(t)
	const project = "reset-test"
	base := "http://" + e.Host + "/v1/projects/" + project + "/databases/(default)/documents/things"

	resp, err := http.Post(base+"?documentId=one", "application/json", strings.NewReader(`{"fields":{"n":{"integerValue":"1"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("creating a document: HTTP %d", resp.StatusCode)
	}
	if got := status(t, base+"/one"); got != http.StatusOK {
		t.Fatalf("GET document before reset: HTTP %d, want 200", got)
	}

	if err := emulators.ResetFirestore(e.Host, project); err != nil {
		t.Fatalf("ResetFirestore: %v", err)
	}
	if got := status(t, base+"/one"); got != http.StatusNotFound {
		t.Errorf("GET document after reset: HTTP %d, want 404", got)
	}
}

func TestSDKRootHonoursCloudSDKRootDir(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("CLOUDSDK_ROOT_DIR", dir)
	got, err := emulators.SDKRoot()
	if err != nil {
		t.Fatal(err)
	}
	if got != dir {
		t.Errorf("SDKRoot() = %q, want %q", got, dir)
	}
}

func TestMissingEmulatorSaysHowToInstallIt(t *testing.T) {
	t.Setenv("CLOUDSDK_ROOT_DIR", t.TempDir()) // an SDK with no emulators
	tests := []struct {
		name string
		kind emulators.Kind
		want []string
	}{
		{"a missing Firestore emulator names its component and package", emulators.Firestore,
			[]string{"gcloud components install cloud-firestore-emulator", "google-cloud-cli-firestore-emulator"}},
		{"a missing Pub/Sub emulator names its component and package", emulators.PubSub,
			[]string{"gcloud components install pubsub-emulator", "google-cloud-cli-pubsub-emulator"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := emulators.Start(context.Background(), tc.kind)
			if err == nil {
				e.Stop()
				t.Fatal("Start succeeded with an empty SDK root")
			}
			if !errors.Is(err, emulators.ErrNotInstalled) {
				t.Errorf("error %v is not ErrNotInstalled", err)
			}
			var se *emulators.SetupError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *SetupError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(se.Hint, w) {
					t.Errorf("hint %q does not mention %q", se.Hint, w)
				}
			}
		})
	}
}

func getRoot(t *testing.T, host string) string {
	t.Helper()
	resp, err := http.Get("http://" + host + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func status(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// fakeSDK writes a Firestore launcher script into a fresh SDK root and
// points CLOUDSDK_ROOT_DIR at it.
func fakeSDK(t *testing.T, script string) {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "platform", "cloud-firestore-emulator")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cloud_firestore_emulator"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CLOUDSDK_ROOT_DIR", root)
}

func TestFailedStartupNamesTheLogAndLeavesNothingRunning(t *testing.T) {
	t.Run("an emulator that exits at once is reported with its log", func(t *testing.T) {
		fakeSDK(t, "#!/bin/sh\necho 'cannot bind' >&2\nexit 3\n")
		_, err := emulators.StartFirestore(context.Background())
		var se *emulators.SetupError
		if !errors.As(err, &se) {
			t.Fatalf("error %v is not a *SetupError", err)
		}
		if se.LogPath == "" || !strings.Contains(err.Error(), se.LogPath) {
			t.Fatalf("error %q does not name the log file", err)
		}
		log, readErr := os.ReadFile(se.LogPath)
		if readErr != nil {
			t.Fatalf("reading the log: %v", readErr)
		}
		if !strings.Contains(string(log), "cannot bind") {
			t.Errorf("log %q lacks the emulator's output", log)
		}
		os.RemoveAll(filepath.Dir(se.LogPath))
	})
	t.Run("an emulator that never answers is killed with its children when the start times out", func(t *testing.T) {
		pidFile := filepath.Join(t.TempDir(), "child.pid")
		// Like the real launcher, the script does not exec its long-running
		// child.
		fakeSDK(t, "#!/bin/sh\nsleep 300 &\necho $! > "+pidFile+"\nwait\n")
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel()
		_, err := emulators.StartFirestore(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error = %v, want a timeout", err)
		}
		var se *emulators.SetupError
		if errors.As(err, &se) {
			os.RemoveAll(filepath.Dir(se.LogPath))
		}
		b, readErr := os.ReadFile(pidFile)
		if readErr != nil {
			t.Fatalf("the fake launcher did not record its child: %v", readErr)
		}
		pid, convErr := strconv.Atoi(strings.TrimSpace(string(b)))
		if convErr != nil {
			t.Fatal(convErr)
		}
		deadline := time.Now().Add(5 * time.Second)
		for running(pid) {
			if time.Now().After(deadline) {
				syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("the launcher's child %d is still running after the failed start", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// running reports whether pid is a live process. A killed orphan stays a
// zombie until init reaps it; a zombie runs nothing and is not counted.
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}
