package main

import (
	"bufio"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// FunctionsDir is where each function's package lives, one directory per
// function.
const FunctionsDir = "functions"

// SharedDir is the part of the module a function's staged source may
// import from.
const SharedDir = "shared"

// stagedFile is one file of a function's staged source: Name is its
// slash-separated path in the staged tree (and the zip), Src the file it is
// copied from.
type stagedFile struct {
	Name string
	Src  string
}

// findModuleRoot returns dir or the nearest directory above it that holds a
// go.mod file.
func findModuleRoot(dir string) (string, error) {
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no go.mod in %s or above it: run from the casebridge repository or pass -root", dir)
		}
		d = parent
	}
}

// modulePath reads the module path from root/go.mod.
func modulePath(root string) (string, error) {
	f, err := os.Open(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) != 2 || fields[0] != "module" {
			continue
		}
		p := fields[1]
		if strings.HasPrefix(p, `"`) || strings.HasPrefix(p, "`") {
			if p, err = strconv.Unquote(p); err != nil {
				return "", fmt.Errorf("%s: module path %s: %w", f.Name(), fields[1], err)
			}
		}
		return p, nil
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("%s has no module line", f.Name())
}

// Functions lists the functions of the module at root: the directories
// under functions/ that hold a Go package, sorted.
func Functions(root string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(root, FunctionsDir))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() || ignoredName(e.Name()) {
			continue
		}
		files, err := packageFiles(filepath.Join(root, FunctionsDir, e.Name()))
		if err != nil {
			return nil, err
		}
		if len(files) > 0 {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no function packages under %s", filepath.Join(root, FunctionsDir))
	}
	return names, nil
}

// ignoredName reports whether the go command ignores a file or directory of
// this name: hidden ones, those starting with an underscore, and testdata.
func ignoredName(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata"
}

// packageFiles returns the names of the files of the package in dir that a
// build uses: its .go files other than tests. Subdirectories are other
// packages (or testdata) and are not part of it.
func packageFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if !e.Type().IsRegular() || ignoredName(n) || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		names = append(names, n)
	}
	return names, nil
}

// packageImports returns the import paths of the files named in dir.
func packageImports(dir string, files []string) ([]string, error) {
	fset := token.NewFileSet()
	seen := map[string]bool{}
	var imports []string
	for _, name := range files {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ImportsOnly)
		if err != nil {
			return nil, err
		}
		for _, spec := range f.Imports {
			p, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				return nil, fmt.Errorf("%s: import %s: %w", fset.Position(spec.Pos()), spec.Path.Value, err)
			}
			if !seen[p] {
				seen[p] = true
				imports = append(imports, p)
			}
		}
	}
	slices.Sort(imports)
	return imports, nil
}

// Stage lists the files of function fn's staged source, sorted by name: the
// function's package files at the root, the shared packages it imports
// (directly or through other shared packages) at their paths in the module,
// and go.mod and go.sum.
func Stage(root, modPath, fn string) ([]stagedFile, error) {
	var files []stagedFile
	for _, name := range []string{"go.mod", "go.sum"} {
		src := filepath.Join(root, name)
		if _, err := os.Stat(src); err != nil {
			if errors.Is(err, os.ErrNotExist) && name == "go.sum" {
				return nil, fmt.Errorf("%s is missing: the build needs every dependency's checksum in it (run go mod tidy)", src)
			}
			return nil, err
		}
		files = append(files, stagedFile{Name: name, Src: src})
	}

	// Walk the imports breadth first from the function's package. rel is a
	// package's directory relative to the module root, slash-separated; the
	// function's own package goes to the staged root.
	fnRel := FunctionsDir + "/" + fn
	queue := []string{fnRel}
	queued := map[string]bool{fnRel: true}
	for len(queue) > 0 {
		rel := queue[0]
		queue = queue[1:]
		dir := filepath.Join(root, filepath.FromSlash(rel))
		names, err := packageFiles(dir)
		if err != nil {
			return nil, err
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("%s holds no Go files other than tests", dir)
		}
		dest := rel
		if rel == fnRel {
			dest = ""
		}
		for _, n := range names {
			files = append(files, stagedFile{Name: path.Join(dest, n), Src: filepath.Join(dir, n)})
		}
		imports, err := packageImports(dir, names)
		if err != nil {
			return nil, err
		}
		for _, imp := range imports {
			if imp == "embed" {
				return nil, fmt.Errorf("%s embeds files: packaging stages Go files only, so the build would miss them", dir)
			}
			if imp != modPath && !strings.HasPrefix(imp, modPath+"/") {
				continue // the standard library or another module: go.mod covers it
			}
			dep := strings.TrimPrefix(imp, modPath+"/")
			if !strings.HasPrefix(dep, SharedDir+"/") {
				return nil, fmt.Errorf("%s imports %s: a function's source may import only packages under %s/, which are staged with it", dir, imp, SharedDir)
			}
			if !queued[dep] {
				queued[dep] = true
				queue = append(queue, dep)
			}
		}
	}
	slices.SortFunc(files, func(a, b stagedFile) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(files); i++ {
		if files[i].Name == files[i-1].Name {
			return nil, fmt.Errorf("two files would be staged as %s: %s and %s", files[i].Name, files[i-1].Src, files[i].Src)
		}
	}
	return files, nil
}
