// Command package stages every casebridge function the way the Cloud
// Functions (2nd gen) Go buildpack expects its source, zips each one
// deterministically and writes the zips' paths and SHA-256 hashes where
// Terraform reads them.
//
// Usage:
//
//	go run ./scripts/package -out terraform/build [-function synccase]...
//
// For each directory functions/<dir> the staged source holds:
//
//   - the function's package files at the root (package name unchanged), so
//     the root package's import path is the module path,
//     github.com/casebridge/casebridge;
//   - the packages under shared/ that the function imports, directly or
//     through other shared packages, at their usual paths;
//   - go.mod and go.sum, unchanged.
//
// Test files (*_test.go), testdata and every package the function does not
// import are left out. The zip lists its files in sorted order with a fixed
// time and mode, so the same source always gives the same bytes and hash,
// and any change to what a function is built from gives a new hash.
//
// It writes DIR/<dir>.zip for each function and DIR/functions.auto.tfvars.json:
//
//	{"function_sources": {"<dir>": {"path": "<absolute path of the zip>", "sha256": "<hex>"}}}
//
// With -function, only the named functions are packaged; the entries of the
// other functions already in functions.auto.tfvars.json are kept.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "package:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("package", flag.ContinueOnError)
	out := fs.String("out", "", "directory the zips and functions.auto.tfvars.json are written to (required)")
	root := fs.String("root", "", "root of the casebridge module (default: the nearest directory above the current one holding go.mod)")
	var names []string
	fs.Func("function", "package only this function (a directory name under functions/); repeatable", func(s string) error {
		names = append(names, s)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *out == "" {
		return errors.New("-out is required: the directory to write the zips to, e.g. -out terraform/build")
	}
	if *root == "" {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		r, err := findModuleRoot(wd)
		if err != nil {
			return err
		}
		*root = r
	}
	sources, err := Package(*root, *out, names)
	if err != nil {
		return err
	}
	for _, s := range sources {
		fmt.Fprintf(stdout, "%s\t%s\t%s\n", s.Function, s.SHA256, s.Path)
	}
	return nil
}
