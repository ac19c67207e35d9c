package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestEachZipHoldsTheFunctionAndExactlyTheSharedPackagesItImports(t *testing.T) {
	root := moduleRoot(t)
	modPath, err := modulePath(root)
	if err != nil {
		t.Fatal(err)
	}
	sources, err := Package(root, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range sources {
		t.Run(src.Function+".zip holds what go list says "+src.Function+" is built from, tests left out", func(t *testing.T) {
			want := []string{"go.mod", "go.sum"}
			for _, p := range goListDeps(t, root, "./"+FunctionsDir+"/"+src.Function) {
				rel, ok := strings.CutPrefix(p.ImportPath, modPath+"/")
				if !ok {
					continue
				}
				dest := rel
				if rel == FunctionsDir+"/"+src.Function {
					dest = ""
				}
				for _, f := range slices.Concat(p.GoFiles, p.IgnoredGoFiles) {
					if !strings.HasSuffix(f, "_test.go") {
						want = append(want, path.Join(dest, f))
					}
				}
			}
			slices.Sort(want)
			if diff := cmp.Diff(want, zipNames(t, src.Path)); diff != "" {
				t.Errorf("zip entries (-go list +zip):\n%s", diff)
			}
		})
	}
}

func TestZipEntriesAreSortedWithAFixedTimeAndMode(t *testing.T) {
	root := moduleRoot(t)
	sources, err := Package(root, t.TempDir(), []string{"synccase"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := zip.OpenReader(sources[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	type entry struct {
		Modified time.Time
		Mode     fs.FileMode
		Method   uint16
	}
	var names []string
	for _, f := range r.File {
		names = append(names, f.Name)
		got := entry{f.Modified.UTC(), f.Mode(), f.Method}
		want := entry{zipTime, zipMode, zip.Deflate}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", f.Name, diff)
		}
	}
	if !slices.IsSorted(names) {
		t.Errorf("entries are not sorted: %v", names)
	}
}

func TestPackagingTheSameSourceTwiceGivesTheSameBytes(t *testing.T) {
	root := moduleRoot(t)
	first, err := Package(root, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The second run reads a copy of the source with other modification
	// times and at another path: neither may change a byte.
	copied := copyModule(t, root)
	later := time.Now().Add(time.Hour)
	filepath.WalkDir(copied, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			os.Chtimes(p, later, later)
		}
		return err
	})
	second, err := Package(copied, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != len(second) {
		t.Fatalf("%d functions the first time, %d the second", len(first), len(second))
	}
	for i := range first {
		t.Run(first[i].Function+" has the same zip and hash both times", func(t *testing.T) {
			a, b := readFile(t, first[i].Path), readFile(t, second[i].Path)
			if !bytes.Equal(a, b) {
				t.Errorf("the zips differ: %d and %d bytes", len(a), len(b))
			}
			sum := sha256.Sum256(a)
			want := []string{hex.EncodeToString(sum[:]), hex.EncodeToString(sum[:])}
			if diff := cmp.Diff(want, []string{first[i].SHA256, second[i].SHA256}); diff != "" {
				t.Errorf("hashes (-sha256 of the zip +reported):\n%s", diff)
			}
		})
	}
}

func TestAChangeToWhatAFunctionIsBuiltFromChangesItsHash(t *testing.T) {
	root := moduleRoot(t)
	base, err := Package(root, t.TempDir(), []string{"synccase"})
	if err != nil {
		t.Fatal(err)
	}
	appendTo := func(file, text string) func(t *testing.T, root string) {
		return func(t *testing.T, root string) {
			t.Helper()
			p := filepath.Join(root, filepath.FromSlash(file))
			if err := os.WriteFile(p, append(readFile(t, p), text...), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	create := func(file, text string) func(t *testing.T, root string) {
		return func(t *testing.T, root string) {
			t.Helper()
			p := filepath.Join(root, filepath.FromSlash(file))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name    string
		change  func(t *testing.T, root string)
		changes bool
	}{
		{"an edit to the function's own file changes it", appendTo("functions/synccase/function.go", "\n// edited\n"), true},
		{"an edit to a shared package the function imports changes it", appendTo("shared/casesync/engine.go", "\n// edited\n"), true},
		{"an edit to a shared package imported only through another changes it", appendTo("shared/clock/clock.go", "\n// edited\n"), true},
		{"a new file in the function's package changes it", create("functions/synccase/more.go", "package synccase\n"), true},
		{"an edit to go.mod changes it", appendTo("go.mod", "\n// edited\n"), true},
		{"an edit to go.sum changes it", appendTo("go.sum", "example.com/edited v1.0.0 h1:AAAA=\n"), true},
		{"a new test file in the function's package leaves it alone", create("functions/synccase/more_test.go", "package synccase\n"), false},
		{"testdata in a shared package leaves it alone", create("shared/casesync/testdata/case.json", "{}\n"), false},
		{"an edit to a shared package the function does not import leaves it alone", appendTo("shared/emulators/emulators.go", "\n// edited\n"), false},
		{"an edit to another function leaves it alone", appendTo("functions/cleanup/function.go", "\n// edited\n"), false},
		{"a file that is not Go next to the function leaves it alone", create("functions/synccase/NOTES.md", "notes\n"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			copied := copyModule(t, root)
			tt.change(t, copied)
			got, err := Package(copied, t.TempDir(), []string{"synccase"})
			if err != nil {
				t.Fatal(err)
			}
			if changed := got[0].SHA256 != base[0].SHA256; changed != tt.changes {
				t.Errorf("hash changed = %v, want %v", changed, tt.changes)
			}
		})
	}
}

func TestTheTFVarsFileListsEveryFunctionAndKeepsOthersWhenOneIsRepackaged(t *testing.T) {
	root := moduleRoot(t)
	out := t.TempDir()
	var stdout bytes.Buffer
	if err := run([]string{"-out", out, "-root", root}, &stdout); err != nil {
		t.Fatal(err)
	}
	all := readTFVarsFile(t, out)
	functions, err := Functions(root)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Source{}
	for _, fn := range functions {
		zipPath := filepath.Join(out, fn+".zip")
		sum := sha256.Sum256(readFile(t, zipPath))
		want[fn] = Source{Path: zipPath, SHA256: hex.EncodeToString(sum[:])}
	}
	if diff := cmp.Diff(want, all.FunctionSources); diff != "" {
		t.Fatalf("after packaging every function (-want +got):\n%s", diff)
	}
	if got := len(strings.Split(strings.TrimSpace(stdout.String()), "\n")); got != len(functions) {
		t.Errorf("printed %d lines, want one per function (%d):\n%s", got, len(functions), stdout.String())
	}

	// Repackage one function from an edited copy, after a function that
	// no longer exists was recorded: the others keep their entries and the
	// gone one is dropped.
	all.FunctionSources["retired"] = Source{Path: filepath.Join(out, "retired.zip"), SHA256: strings.Repeat("0", 64)}
	b, err := json.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, TFVarsFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	copied := copyModule(t, root)
	fn := filepath.Join(copied, "functions", "pollcrm", "function.go")
	if err := os.WriteFile(fn, append(readFile(t, fn), "\n// edited\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-out", out, "-root", copied, "-function", "pollcrm"}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(readFile(t, filepath.Join(out, "pollcrm.zip")))
	want["pollcrm"] = Source{Path: filepath.Join(out, "pollcrm.zip"), SHA256: hex.EncodeToString(sum[:])}
	if want["pollcrm"] == all.FunctionSources["pollcrm"] {
		t.Fatal("the edited pollcrm kept its hash")
	}
	if diff := cmp.Diff(want, readTFVarsFile(t, out).FunctionSources); diff != "" {
		t.Errorf("after repackaging pollcrm (-want +got):\n%s", diff)
	}
}

func TestPackagingRefusesWhatWouldNotBuildOrDeploy(t *testing.T) {
	const goMod = "module example.com/m\n\ngo 1.26\n"
	tests := []struct {
		name    string
		files   map[string]string
		args    []string
		wantErr string
	}{
		{
			name:    "an unknown function name is refused, naming the functions there are",
			files:   map[string]string{"go.mod": goMod, "go.sum": "", "functions/a/a.go": "package a\n"},
			args:    []string{"-function", "b"},
			wantErr: `no function "b": the functions are [a]`,
		},
		{
			name:    "a function importing a package outside shared/ is refused",
			files:   map[string]string{"go.mod": goMod, "go.sum": "", "functions/a/a.go": "package a\n\nimport _ \"example.com/m/functions/b\"\n", "functions/b/b.go": "package b\n"},
			wantErr: "may import only packages under shared/",
		},
		{
			name:    "a shared package importing one outside shared/ is refused",
			files:   map[string]string{"go.mod": goMod, "go.sum": "", "functions/a/a.go": "package a\n\nimport _ \"example.com/m/shared/s\"\n", "shared/s/s.go": "package s\n\nimport _ \"example.com/m/internal/x\"\n", "internal/x/x.go": "package x\n"},
			wantErr: "example.com/m/internal/x: a function's source may import only packages under shared/",
		},
		{
			name:    "an imported shared package holding only tests is refused",
			files:   map[string]string{"go.mod": goMod, "go.sum": "", "functions/a/a.go": "package a\n\nimport _ \"example.com/m/shared/s\"\n", "shared/s/s_test.go": "package s\n"},
			wantErr: "holds no Go files other than tests",
		},
		{
			name:    "a package embedding files is refused",
			files:   map[string]string{"go.mod": goMod, "go.sum": "", "functions/a/a.go": "package a\n\nimport _ \"embed\"\n"},
			wantErr: "embeds files",
		},
		{
			name:    "a module without go.sum is refused",
			files:   map[string]string{"go.mod": goMod, "functions/a/a.go": "package a\n"},
			wantErr: "go.sum is missing",
		},
		{
			name:    "running without -out is refused",
			files:   map[string]string{"go.mod": goMod, "go.sum": "", "functions/a/a.go": "package a\n"},
			args:    []string{"-out", ""},
			wantErr: "-out is required",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for name, text := range tt.files {
				p := filepath.Join(root, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out := filepath.Join(t.TempDir(), "build")
			args := append([]string{"-root", root, "-out", out}, tt.args...)
			err := run(args, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
			if _, err := os.Stat(filepath.Join(out, TFVarsFile)); err == nil {
				t.Errorf("%s was written although packaging failed", TFVarsFile)
			}
		})
	}
}

// listedPackage is what this test reads of `go list -json`.
type listedPackage struct {
	ImportPath     string
	GoFiles        []string
	IgnoredGoFiles []string
}

// goListDeps lists pkg and the packages it depends on, tests excluded.
func goListDeps(t *testing.T, root, pkg string) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,GoFiles,IgnoredGoFiles", pkg)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, stderrOf(err))
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p listedPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

func zipNames(t *testing.T, file string) []string {
	t.Helper()
	r, err := zip.OpenReader(file)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var names []string
	for _, f := range r.File {
		names = append(names, f.Name)
	}
	return names
}

func readFile(t *testing.T, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readTFVarsFile(t *testing.T, out string) tfvars {
	t.Helper()
	var v tfvars
	if err := json.Unmarshal(readFile(t, filepath.Join(out, TFVarsFile)), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// copyModule copies what packaging reads of the module at root (go.mod,
// go.sum, functions/ and shared/) to a new directory and returns it.
func copyModule(t *testing.T, root string) string {
	t.Helper()
	dst := t.TempDir()
	for _, name := range []string{"go.mod", "go.sum", FunctionsDir, SharedDir} {
		src := filepath.Join(root, name)
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			target := filepath.Join(dst, rel)
			if d.IsDir() {
				return os.MkdirAll(target, 0o755)
			}
			if !d.Type().IsRegular() {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(target, b, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return dst
}
