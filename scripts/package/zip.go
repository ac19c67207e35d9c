package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// TFVarsFile is the file, in the output directory, that Terraform reads the
// zips' paths and hashes from.
const TFVarsFile = "functions.auto.tfvars.json"

// zipTime is the modification time of every zip entry: the earliest time a
// zip's MS-DOS date can hold, so no entry depends on when it was checked
// out or edited.
var zipTime = time.Date(1980, time.January, 1, 0, 0, 0, 0, time.UTC)

// zipMode is the mode of every zip entry: a plain file readable by all and
// writable by its owner (the buildpack needs go.mod writable).
const zipMode os.FileMode = 0o644

// Source is one packaged function: its directory name under functions/,
// the absolute path of its zip and the zip's SHA-256 in hex.
type Source struct {
	Function string `json:"-"`
	Path     string `json:"path"`
	SHA256   string `json:"sha256"`
}

type tfvars struct {
	FunctionSources map[string]Source `json:"function_sources"`
}

// writeZip writes files to w as a zip, in the given order, each with
// zipTime and zipMode, deflated.
func writeZip(w io.Writer, files []stagedFile) error {
	zw := zip.NewWriter(w)
	for _, f := range files {
		h := &zip.FileHeader{Name: f.Name, Method: zip.Deflate, Modified: zipTime}
		h.SetMode(zipMode)
		dst, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		src, err := os.Open(f.Src)
		if err != nil {
			return err
		}
		_, err = io.Copy(dst, src)
		src.Close()
		if err != nil {
			return fmt.Errorf("zipping %s: %w", f.Src, err)
		}
	}
	return zw.Close()
}

// Package stages and zips the functions named (every function of the
// module at root when names is empty) into out, and records them in
// out/functions.auto.tfvars.json, keeping the entries already there for the
// module's other functions. It returns the packaged functions in name order.
func Package(root, out string, names []string) ([]Source, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	out, err = filepath.Abs(out)
	if err != nil {
		return nil, err
	}
	modPath, err := modulePath(root)
	if err != nil {
		return nil, err
	}
	all, err := Functions(root)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		names = all
	}
	names = slices.Clone(names)
	slices.Sort(names)
	names = slices.Compact(names)
	for _, n := range names {
		if !slices.Contains(all, n) {
			return nil, fmt.Errorf("no function %q: the functions are %v", n, all)
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}

	vars, err := readTFVars(filepath.Join(out, TFVarsFile))
	if err != nil {
		return nil, err
	}
	for fn := range vars.FunctionSources {
		if !slices.Contains(all, fn) {
			delete(vars.FunctionSources, fn) // a function that no longer exists
		}
	}

	var sources []Source
	for _, fn := range names {
		files, err := Stage(root, modPath, fn)
		if err != nil {
			return nil, fmt.Errorf("staging %s: %w", fn, err)
		}
		var buf bytes.Buffer
		if err := writeZip(&buf, files); err != nil {
			return nil, fmt.Errorf("zipping %s: %w", fn, err)
		}
		sum := sha256.Sum256(buf.Bytes())
		s := Source{Function: fn, Path: filepath.Join(out, fn+".zip"), SHA256: hex.EncodeToString(sum[:])}
		if err := writeFileAtomic(s.Path, buf.Bytes()); err != nil {
			return nil, err
		}
		vars.FunctionSources[fn] = s
		sources = append(sources, s)
	}

	b, err := json.MarshalIndent(vars, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(out, TFVarsFile), append(b, '\n')); err != nil {
		return nil, err
	}
	return sources, nil
}

// readTFVars reads a functions.auto.tfvars.json written earlier, or returns
// an empty one if there is none.
func readTFVars(file string) (tfvars, error) {
	v := tfvars{FunctionSources: map[string]Source{}}
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return v, nil
	}
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("%s is not what this command writes (%v): delete it and package every function", file, err)
	}
	if v.FunctionSources == nil {
		v.FunctionSources = map[string]Source{}
	}
	return v, nil
}

// writeFileAtomic writes b to file through a temporary file in the same
// directory, so a reader never sees half a zip.
func writeFileAtomic(file string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}
