package appconfig

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docsDir is the repository's docs/ directory, seen from this package.
var docsDir = filepath.Join("..", "..", "docs")

// tableVariable is a variable name written as code in a table cell.
var tableVariable = regexp.MustCompile("`([A-Z][A-Z0-9_]*)`")

// tableVariables returns the variables named in the first column of every
// Markdown table whose first header is "variable", in order and with any
// repeats. Tables inside fenced code blocks are skipped.
func tableVariables(markdown string) []string {
	var (
		out       []string
		inFence   bool
		inTable   bool
		listsVars bool
	)
	sc := bufio.NewScanner(strings.NewReader(markdown))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
			continue
		}
		if inFence || !strings.HasPrefix(line, "|") {
			inTable = false
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		first := strings.TrimSpace(cells[0])
		if !inTable {
			// A table's first line is its header.
			inTable = true
			listsVars = first == "variable"
			continue
		}
		if !listsVars || strings.Trim(first, "-: ") == "" {
			continue
		}
		for _, m := range tableVariable.FindAllStringSubmatch(first, -1) {
			out = append(out, m[1])
		}
	}
	return out
}

// readTableVariables reads a docs page and returns its table variables.
func readTableVariables(t *testing.T, page string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(docsDir, page))
	if err != nil {
		t.Fatalf("reading the documentation page: %v", err)
	}
	vars := tableVariables(string(b))
	if len(vars) == 0 {
		t.Fatalf("docs/%s has no table whose first column is \"variable\"", page)
	}
	return vars
}

// without returns the names of a that are not in b, each once, in order.
func without(a, b []string) []string {
	var out []string
	for _, v := range a {
		if !slices.Contains(b, v) && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// repeated returns the names listed more than once, each once, in order.
func repeated(names []string) []string {
	var seen, out []string
	for _, v := range names {
		if slices.Contains(seen, v) && !slices.Contains(out, v) {
			out = append(out, v)
		}
		seen = append(seen, v)
	}
	return out
}

func TestTableVariablesReadsTheFirstColumnOfVariableTables(t *testing.T) {
	page := "# Page\n\n" +
		"| variable | default | meaning |\n" +
		"|---|---|---|\n" +
		"| `ALPHA` | `1` | not `BETA`, which is in another column |\n" +
		"| `GAMMA`, `DELTA` | | two in one row |\n" +
		"| `EPSILON` + `ZETA` or `ETA` | | |\n" +
		"\n" +
		"| name | meaning |\n" +
		"|---|---|\n" +
		"| `THETA` | a table of something else |\n" +
		"\n" +
		"```\n| variable | default |\n|---|---|\n| `IOTA` | in a code block |\n```\n" +
		"Text naming `KAPPA`.\n"
	want := []string{"ALPHA", "GAMMA", "DELTA", "EPSILON", "ZETA", "ETA"}
	if got := tableVariables(page); !slices.Equal(got, want) {
		t.Errorf("tableVariables = %q, want %q", got, want)
	}
}

// TestVariablesAreWhatParseReads keeps Variables honest: it records every
// variable Parse asks for, for every CRM_KIND and for none, with the
// environment empty and with every variable set, and compares.
func TestVariablesAreWhatParseReads(t *testing.T) {
	if r := repeated(Variables()); len(r) > 0 {
		t.Errorf("Variables lists %q more than once", r)
	}
	var everyRead []string
	for _, kind := range append(slices.Clone(KnownCRMKinds), "") {
		var read []string
		record := func(env map[string]string) func(string) string {
			return func(v string) string {
				if !slices.Contains(read, v) {
					read = append(read, v)
				}
				return env[v]
			}
		}
		empty := map[string]string{EnvCRMKind: kind}
		full := map[string]string{}
		for _, v := range Variables() {
			full[v] = "x"
		}
		full[EnvCRMKind] = kind
		if k, ok := lookupCRMKind(kind); ok {
			empty[EnvCRMURL], full[EnvCRMURL] = k.ExampleURL, k.ExampleURL
		} else {
			delete(full, EnvCRMURL)
		}
		// The configurations are invalid: only what is read matters here.
		_, _ = ParseFor(record(empty), kind != "")
		_, _ = ParseFor(record(full), kind != "")
		// The webhook receiver reads a few of casebridge's own, and its two.
		_, _ = ParseWebhook(record(empty))
		_, _ = ParseWebhook(record(full))

		if missing := without(read, Variables()); len(missing) > 0 {
			t.Errorf("with CRM_KIND=%q Parse reads %q, which Variables does not list: add them to ownVariables (variables.go) or the kind's Variables (crms.go) and to docs/configuration.md", kind, missing)
		}
		adapter, listed := without(read, ownVariables), CRMVariables(kind)
		if extra := without(adapter, listed); len(extra) > 0 {
			t.Errorf("with CRM_KIND=%q the adapter reads %q, which its Variables in crmKinds (crms.go) do not list", kind, extra)
		}
		if unread := without(listed, adapter); len(unread) > 0 {
			t.Errorf("with CRM_KIND=%q the adapter does not read %q, which its Variables in crmKinds (crms.go) list", kind, unread)
		}
		everyRead = append(everyRead, read...)
	}
	if unread := without(Variables(), everyRead); len(unread) > 0 {
		t.Errorf("Variables lists %q, which Parse never reads: remove them from variables.go or crms.go, and from docs/configuration.md", unread)
	}
}

// TestConfigurationPageListsEveryVariable checks docs/configuration.md
// against the variables the code reads, both ways.
func TestConfigurationPageListsEveryVariable(t *testing.T) {
	page := readTableVariables(t, "configuration.md")
	if missing := without(Variables(), page); len(missing) > 0 {
		t.Errorf("docs/configuration.md does not list %q, which casebridge reads: add a row for each", missing)
	}
	if stale := without(page, Variables()); len(stale) > 0 {
		t.Errorf("docs/configuration.md lists %q, which casebridge does not read: remove them, or read them in shared/appconfig and list them in variables.go or crms.go", stale)
	}
	if r := repeated(page); len(r) > 0 {
		t.Errorf("docs/configuration.md lists %q more than once: keep one row each", r)
	}
}

// TestCRMPagesListTheirAdaptersVariables checks that each helpdesk's page
// under docs/crms lists exactly its adapter's variables (besides
// casebridge's own, such as CRM_URL), and the common page only variables
// casebridge reads.
func TestCRMPagesListTheirAdaptersVariables(t *testing.T) {
	for _, k := range crmKinds {
		if k.DocsPage == "" {
			continue
		}
		kind, name := k.Name, k.DocsPage
		page := readTableVariables(t, filepath.Join("crms", name))
		adapter := without(page, ownVariables)
		if missing := without(CRMVariables(kind), adapter); len(missing) > 0 {
			t.Errorf("docs/crms/%s does not list %q, which the %s adapter reads", name, missing, kind)
		}
		if stale := without(adapter, CRMVariables(kind)); len(stale) > 0 {
			t.Errorf("docs/crms/%s lists %q, which the %s adapter does not read", name, stale, kind)
		}
	}
	common := readTableVariables(t, filepath.Join("crms", "README.md"))
	if stale := without(common, Variables()); len(stale) > 0 {
		t.Errorf("docs/crms/README.md lists %q, which casebridge does not read", stale)
	}
}

// TestTheDocsNameEveryCRMKind checks the two lists of CRMs in the docs
// against the registry: docs/crms/README.md has a row linking each kind's
// page, and docs/configuration.md's CRM_KIND row names every kind.
func TestTheDocsNameEveryCRMKind(t *testing.T) {
	rowOf := func(t *testing.T, page, cell string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(docsDir, page))
		if err != nil {
			t.Fatalf("reading the documentation page: %v", err)
		}
		for line := range strings.Lines(string(b)) {
			if strings.HasPrefix(line, "|") && strings.Contains(line, cell) {
				return line
			}
		}
		return ""
	}
	for _, k := range crmKinds {
		if k.DocsPage == "" {
			continue
		}
		row := rowOf(t, filepath.Join("crms", "README.md"), "| `"+k.Name+"` |")
		if !strings.Contains(row, "]("+k.DocsPage+")") {
			t.Errorf("docs/crms/README.md has no row for `%s` linking %s: add one to its table", k.Name, k.DocsPage)
		}
	}
	row := rowOf(t, "configuration.md", "| `"+EnvCRMKind+"` |")
	for _, k := range crmKinds {
		if !strings.Contains(row, "`"+k.Name+"`") {
			t.Errorf("docs/configuration.md: the %s row does not name `%s`", EnvCRMKind, k.Name)
		}
	}
}
