package main

import (
	"archive/zip"
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/appconfig"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/google/go-cmp/cmp"
)

// This file reproduces what the Cloud Functions Go buildpack
// (GoogleCloudPlatform/buildpacks, cmd/go/functions_framework and
// cmd/go/build) does with an uploaded source that has a go.mod:
//
//  1. it moves the whole source into serverless_function_source_code/;
//  2. it reads the package name and imports of the .go files at the root;
//  3. `go list -m` gives the module path; the function package's import
//     path is the module path (the package-name subdirectory it also looks
//     for is looked up in the application root, which now holds only
//     serverless_function_source_code/);
//  4. the functions framework version comes from go.mod (`go list -m`); it
//     is injected only when go.mod lacks it;
//  5. because the package imports functions-framework-go/functions, it
//     writes the "declarative" main into
//     serverless_function_source_code/functions.local/app/main.go: a blank
//     import of the function package (its init registers the function) and
//     funcframework.Start on $PORT (8080 by default), which serves the
//     function named by FUNCTION_TARGET;
//  6. it runs `go mod tidy` in the source, then `go build` of
//     ./functions.local/app from there, and runs the binary with
//     FUNCTION_TARGET and PORT set.

const (
	buildpackSourceDir = "serverless_function_source_code"
	buildpackMainDir   = "functions.local/app"
	frameworkModule    = "github.com/GoogleCloudPlatform/functions-framework-go"
	frameworkFunctions = frameworkModule + "/functions"
)

// declarativeMain is the main the buildpack generates for a function
// package that registers itself with functions.CloudEvent or functions.HTTP
// in its init, with the package's import path filled in.
const declarativeMain = `// Command app serves the function named by FUNCTION_TARGET, as the Cloud
// Functions Go buildpack generates it for declaratively registered functions.
package main

import (
	"log"
	"net/http"
	"os"

	_ %q

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
)

func main() {
	http.HandleFunc("/robots.txt", http.NotFound)
	http.HandleFunc("/favicon.ico", http.NotFound)
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if err := funcframework.Start(port); err != nil {
		log.Fatalf("Function failed to start: %%v\n", err)
	}
}
`

// functionTargets are the entry points (FUNCTION_TARGET) of the functions
// by directory: the names their init registers.
var functionTargets = map[string]string{
	"cleanup":       eventing.FunctionCleanup,
	"detectoutages": eventing.FunctionDetectOutages,
	"googleevents":  eventing.FunctionGoogleEvents,
	"pollcrm":       eventing.FunctionPollCRM,
	"pollgoogle":    eventing.FunctionPollGoogle,
	"synccase":      eventing.FunctionSyncCase,
	"crmwebhook":    eventing.FunctionCRMWebhook,
}

func TestEveryFunctionBuildsAndStartsFromItsZipAsTheBuildpackWould(t *testing.T) {
	root := moduleRoot(t)
	modPath, err := modulePath(root)
	if err != nil {
		t.Fatal(err)
	}
	all, err := Functions(root)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(slices.Sorted(mapKeys(functionTargets)), all); diff != "" {
		t.Fatalf("the functions under functions/ are not the ones this test knows the entry points of (-known +found):\n%s", diff)
	}
	sources, err := Package(root, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range sources {
		target := functionTargets[src.Function]
		t.Run(fmt.Sprintf("%s builds from %s.zip and serves %s", src.Function, src.Function, target), func(t *testing.T) {
			start := time.Now()
			workspace := t.TempDir()
			source := filepath.Join(workspace, buildpackSourceDir)
			unzip(t, src.Path, source)

			// 2. The package at the root: one package, no tests, and it
			// registers itself (so the buildpack picks the declarative main).
			pkgName, imports := rootPackage(t, source)
			if !slices.Contains(imports, frameworkFunctions) {
				t.Fatalf("package %s does not import %s: the buildpack would generate a main that calls %s.%s directly, which this repository does not provide", pkgName, frameworkFunctions, pkgName, target)
			}

			// 3. The module path, and so the function package's import path.
			gotMod := strings.TrimSpace(runGo(t, source, "", "list", "-m"))
			if gotMod != modPath {
				t.Fatalf("go list -m in the staged source = %q, want %q", gotMod, modPath)
			}
			if first, _, _ := strings.Cut(gotMod, "/"); !strings.Contains(first, ".") {
				t.Fatalf("module path %q: the buildpack needs a dot in its first element", gotMod)
			}
			importPath := gotMod
			if _, err := os.Stat(filepath.Join(workspace, pkgName)); err == nil {
				importPath = gotMod + "/" + pkgName
			}

			// 4. The framework version is pinned by go.mod, not injected.
			version := strings.TrimSpace(runGo(t, source, "", "list", "-m", "-f", "{{.Version}}", frameworkModule))
			if version == "" {
				t.Fatalf("go.mod does not require %s: the buildpack would inject its own version", frameworkModule)
			}

			// 5. The generated main.
			mainDir := filepath.Join(source, filepath.FromSlash(buildpackMainDir))
			if err := os.MkdirAll(mainDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(mainDir, "main.go"), fmt.Appendf(nil, declarativeMain, importPath), 0o644); err != nil {
				t.Fatal(err)
			}

			// The source as uploaded must build and vet without changing
			// go.mod or go.sum: -mod=readonly fails on any missing
			// requirement or checksum.
			shipped := filepath.Join(workspace, "shipped")
			runGo(t, source, "-mod=readonly", "build", "-o", shipped, "./"+buildpackMainDir)
			runGo(t, source, "-mod=readonly", "vet", "./...")

			// 6. go mod tidy, then the build the buildpack runs.
			if out, err := goCommand(source, "", "mod", "tidy").CombinedOutput(); err != nil {
				t.Fatalf("go mod tidy, which the buildpack runs before building, failed: %v\n%s\nIt needs the module proxy (GOPROXY=%s) or the modules it names in the module cache (%s).",
					err, out, goEnvValue(t, "GOPROXY"), goEnvValue(t, "GOMODCACHE"))
			}
			binary := filepath.Join(workspace, "main")
			runGo(t, source, "-mod=readonly", "build", "-o", binary, "./"+buildpackMainDir)

			// What tidy did to go.mod must not change what is linked: the
			// deployed binary holds exactly the module versions tested here.
			if diff := cmp.Diff(linkedModules(t, shipped), linkedModules(t, binary)); diff != "" {
				t.Fatalf("go mod tidy changed the modules linked into the function (-shipped +tidied):\n%s", diff)
			}
			t.Logf("%s: framework %s, built in %s", src.Function, version, time.Since(start).Round(time.Second))

			t.Run("with a complete configuration it answers every path as the function", func(t *testing.T) {
				port := freePort(t)
				p := startBinary(t, binary, configuredEnv(target, port))
				status := postUntilAnswered(t, p, "http://127.0.0.1:"+port+"/")
				// An empty body is not an event: the framework's CloudEvent
				// handler, mounted at every path, rejects it with 400. The
				// webhook receiver, an HTTP function, refuses it unsigned.
				want, what := http.StatusBadRequest, "the event function rejecting an empty event"
				if target == eventing.FunctionCRMWebhook {
					want, what = http.StatusUnauthorized, "the webhook receiver refusing an unsigned request"
				}
				if status != want {
					t.Errorf("POST / answered %d, want %d (%s)\n%s", status, want, what, p.output())
				}
			})

			t.Run("with another FUNCTION_TARGET it exits saying no function has that name", func(t *testing.T) {
				p := startBinary(t, binary, configuredEnv(target+"Missing", freePort(t)))
				code := waitExit(t, p)
				want := fmt.Sprintf("no matching function found with name: %q", target+"Missing")
				if code != 1 || !strings.Contains(p.stderr.String(), want) {
					t.Errorf("exit %d, want 1 with %q on stderr\n%s", code, want, p.output())
				}
			})

			t.Run("without configuration its init stops it with a CRITICAL line naming the variables", func(t *testing.T) {
				p := startBinary(t, binary, []string{"FUNCTION_TARGET=" + target, "PORT=" + freePort(t)})
				if code := waitExit(t, p); code != 1 {
					t.Fatalf("exit %d, want 1\n%s", code, p.output())
				}
				line := criticalLine(t, p.stdout.String())
				got := map[string]any{"function": line["function"], "names GOOGLE_CLOUD_PROJECT": strings.Contains(fmt.Sprint(line["error"]), appconfig.EnvProject)}
				want := map[string]any{"function": target, "names GOOGLE_CLOUD_PROJECT": true}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("CRITICAL line (-want +got):\n%s\nline: %v", diff, line)
				}
			})
		})
	}
}

// moduleRoot is the root of the casebridge module this test runs in.
func moduleRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := findModuleRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// unzip extracts the zip at file into dir.
func unzip(t *testing.T, file, dir string) {
	t.Helper()
	r, err := zip.OpenReader(file)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, f := range r.File {
		if !filepath.IsLocal(f.Name) {
			t.Fatalf("%s: entry %q is outside the archive's root", file, f.Name)
		}
		dst := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %s: %v", file, f.Name, err)
		}
		if err := os.WriteFile(dst, b, f.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

// rootPackage parses the .go files at dir, all of them as the buildpack
// does, and returns their one package name and their imports.
func rootPackage(t *testing.T, dir string) (string, []string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var name string
	var imports []string
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		if strings.HasSuffix(e.Name(), "_test.go") {
			t.Errorf("the staged root holds the test file %s", e.Name())
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		if name != "" && f.Name.Name != name {
			t.Fatalf("the staged root holds packages %s and %s: the buildpack needs exactly one", name, f.Name.Name)
		}
		name = f.Name.Name
		for _, s := range f.Imports {
			imports = append(imports, strings.Trim(s.Path.Value, "\"`"))
		}
	}
	if name == "" {
		t.Fatalf("no Go package at the root of the staged source %s", dir)
	}
	return name, imports
}

// goCommand is the go command run in dir. The build flags in GOFLAGS keep
// everything but any -mod setting, which is replaced by mod when set; GOWORK
// is off so no workspace above dir takes part.
func goCommand(dir, mod string, args ...string) *exec.Cmd {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var flags []string
	var env []string
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "GOFLAGS":
			for _, f := range strings.Fields(v) {
				if !strings.HasPrefix(f, "-mod=") {
					flags = append(flags, f)
				}
			}
		case "GOWORK":
		default:
			env = append(env, kv)
		}
	}
	if mod != "" {
		flags = append(flags, mod)
	}
	cmd.Env = append(env, "GOFLAGS="+strings.Join(flags, " "), "GOWORK=off")
	return cmd
}

// runGo runs the go command in dir and returns its standard output,
// failing the test with everything it printed if it fails.
func runGo(t *testing.T, dir, mod string, args ...string) string {
	t.Helper()
	cmd := goCommand(dir, mod, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go %s %s (in %s): %v\n%s%s", strings.Join(args, " "), mod, dir, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func goEnvValue(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		return "(go env " + name + " failed)"
	}
	return strings.TrimSpace(string(out))
}

// linkedModules lists the modules linked into binary, with their versions
// and checksums, from its build information.
func linkedModules(t *testing.T, binary string) []string {
	t.Helper()
	info, err := buildinfo.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	var mods []string
	for _, m := range info.Deps {
		s := m.Path + "@" + m.Version + " " + m.Sum
		if m.Replace != nil {
			s += " => " + m.Replace.Path + "@" + m.Replace.Version
		}
		mods = append(mods, s)
	}
	return mods
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

// configuredEnv is a complete configuration that needs nothing running to
// start: the Firestore and Pub/Sub clients point at emulator addresses and
// the CSAPI and CRM adapters at simulator URLs, none of which is dialled
// before an event arrives.
func configuredEnv(target, port string) []string {
	unreachable := "127.0.0.1:1"
	return []string{
		"FUNCTION_TARGET=" + target,
		"PORT=" + port,
		appconfig.EnvProject + "=casebridge-package-test",
		appconfig.EnvCSAPIParent + "=organizations/1",
		appconfig.EnvCSAPIClassification + "=package-test",
		appconfig.EnvCSAPIConnectorEmail + "=connector@casebridge-package-test.iam.gserviceaccount.com",
		appconfig.EnvCSAPIEndpoint + "=http://" + unreachable,
		appconfig.EnvCRMKind + "=simulator",
		appconfig.EnvCRMURL + "=http://" + unreachable,
		"FIRESTORE_EMULATOR_HOST=" + unreachable,
		"PUBSUB_EMULATOR_HOST=" + unreachable,
		appconfig.EnvWebhookSecret + "=package-test-webhook-secret",
	}
}

// lockedBuffer is a buffer a process writes to while the test reads it.
type lockedBuffer struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func newLockedBuffer() *lockedBuffer { return &lockedBuffer{mu: make(chan struct{}, 1)} }

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.String()
}

// process is a started function binary.
type process struct {
	cmd            *exec.Cmd
	done           chan struct{} // closed once it has exited and been waited for
	stdout, stderr *lockedBuffer
}

// output is what the process printed, for failure messages.
func (p *process) output() string {
	return fmt.Sprintf("stdout:\n%s\nstderr:\n%s", p.stdout, p.stderr)
}

// startBinary starts binary with exactly env (nothing inherited), and stops
// it when the test ends if it is still running.
func startBinary(t *testing.T, binary string, env []string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(binary), done: make(chan struct{}), stdout: newLockedBuffer(), stderr: newLockedBuffer()}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

const processTimeout = 30 * time.Second

// waitExit waits for the process to exit and returns its exit code.
func waitExit(t *testing.T, p *process) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(processTimeout):
		t.Fatalf("still running after %s\n%s", processTimeout, p.output())
		return -1
	}
}

// postUntilAnswered posts an empty JSON object to url until the process
// answers, and returns the status; it fails if the process exits first.
func postUntilAnswered(t *testing.T, p *process, url string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), processTimeout)
	defer cancel()
	for {
		select {
		case <-p.done:
			t.Fatalf("exited with %d before serving\n%s", p.cmd.ProcessState.ExitCode(), p.output())
		case <-ctx.Done():
			t.Fatalf("no answer from %s within %s\n%s", url, processTimeout, p.output())
		case <-time.After(50 * time.Millisecond):
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue // not listening yet
		}
		resp.Body.Close()
		return resp.StatusCode
	}
}

// criticalLine returns the JSON log line of severity CRITICAL in out.
func criticalLine(t *testing.T, out string) map[string]any {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["severity"] == "CRITICAL" {
			return m
		}
	}
	t.Fatalf("no CRITICAL JSON line in:\n%s", out)
	return nil
}
