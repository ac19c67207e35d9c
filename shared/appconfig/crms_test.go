package appconfig

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/casebridge/casebridge/shared/casesync"
)

// repoRoot is the repository's root, seen from this package.
var repoRoot = filepath.Join("..", "..")

// credentialName matches the variables Terraform refuses in crm_settings
// (terraform/variables.tf): they can only come from Secret Manager.
var credentialName = regexp.MustCompile(`TOKEN|PASSWORD|SECRET|API_KEY|PRIVATE_KEY`)

func TestEveryCRMKindIsRegisteredWhole(t *testing.T) {
	var names []string
	for _, k := range crmKinds {
		if k.Name == "" || slices.Contains(names, k.Name) {
			t.Errorf("crmKinds has an entry named %q: every entry needs a CRM_KIND value of its own", k.Name)
		}
		names = append(names, k.Name)
		if k.Title == "" || k.ExampleURL == "" || k.ContractTest == "" || k.adapter == nil {
			t.Errorf("%s: Title, ExampleURL, ContractTest and adapter must be set", k.Name)
		}
		if len(k.Variables) > 0 && k.DocsPage == "" {
			t.Errorf("%s reads variables but has no DocsPage under docs/crms", k.Name)
		}
		prefix := strings.ToUpper(k.Name) + "_"
		for _, v := range k.Variables {
			if !strings.HasPrefix(v, prefix) {
				t.Errorf("%s reads %s: its variables must start with %s, which Terraform's checks of crm_settings and crm_credential_variables rely on", k.Name, v, prefix)
			}
			if credentialName.MatchString(v) && !slices.Contains(k.Secrets, v) {
				t.Errorf("%s: %s names a credential but is not in Secrets: Terraform refuses it in crm_settings, so it must come from Secret Manager", k.Name, v)
			}
		}
		if stray := without(k.Secrets, k.Variables); len(stray) > 0 {
			t.Errorf("%s lists secrets %q that are not among its Variables", k.Name, stray)
		}
		if stray := without(k.DefaultSecrets, k.Secrets); len(stray) > 0 {
			t.Errorf("%s lists default secrets %q that are not among its Secrets", k.Name, stray)
		}
		if k.DefaultPriorities != "" {
			if _, err := casesync.ParsePriorityTable(k.DefaultPriorities); err != nil {
				t.Errorf("%s: DefaultPriorities is invalid: %v", k.Name, err)
			}
		}
		if (k.MinCompanyPollingWindow > 0) != (k.MinCompanyPollingWindowReason != "") {
			t.Errorf("%s: set MinCompanyPollingWindow and MinCompanyPollingWindowReason together", k.Name)
		}
	}
	if !slices.Equal(KnownCRMKinds, names) {
		t.Errorf("KnownCRMKinds = %q, want the registry's %q", KnownCRMKinds, names)
	}
}

// readRepoFile reads a file given from the repository's root.
func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(name)))
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	return string(b)
}

// terraformList returns what the first {...} or [...] after header in src
// holds, brackets excluded; it fails the test when there is none. It is
// enough for the few literals of terraform/ this package checks, whose
// strings hold only balanced brackets.
func terraformList(t *testing.T, src, header string) string {
	t.Helper()
	i := strings.Index(src, header)
	if i < 0 {
		t.Fatalf("terraform/ no longer has %q: update this test to where it went", header)
	}
	rest := src[i+len(header):]
	open := strings.IndexAny(rest, "{[")
	if open < 0 {
		t.Fatalf("nothing in brackets after %q in terraform/", header)
	}
	opener, closer := rest[open], map[byte]byte{'{': '}', '[': ']'}[rest[open]]
	depth := 0
	for j := open; j < len(rest); j++ {
		switch rest[j] {
		case opener:
			depth++
		case closer:
			depth--
			if depth == 0 {
				return rest[open+1 : j]
			}
		}
	}
	t.Fatalf("the brackets after %q in terraform/ are not closed", header)
	return ""
}

var quoted = regexp.MustCompile(`"([^"]*)"`)

// quotedStrings returns the double-quoted strings of src, sorted.
func quotedStrings(src string) []string {
	var out []string
	for _, m := range quoted.FindAllStringSubmatch(src, -1) {
		out = append(out, m[1])
	}
	slices.Sort(out)
	return out
}

// sorted returns a sorted copy of names.
func sorted(names []string) []string {
	out := slices.Clone(names)
	slices.Sort(out)
	return out
}

// TestTerraformKnowsEveryCRMAndItsSecrets checks terraform/ against the
// registry: the crm_kind values, the credential variables that may each
// be a Secret Manager secret, the secrets created by default for each
// kind, the adapters' variable prefixes allowed in crm_settings and the
// logins refused there.
func TestTerraformKnowsEveryCRMAndItsSecrets(t *testing.T) {
	variables := readRepoFile(t, "terraform/variables.tf")
	secrets := readRepoFile(t, "terraform/secrets.tf")

	var secretVars, logins, prefixes []string
	for _, k := range crmKinds {
		secretVars = append(secretVars, k.Secrets...)
		for _, v := range k.Secrets {
			if !credentialName.MatchString(v) {
				logins = append(logins, v)
			}
		}
		if len(k.Variables) > 0 {
			prefixes = append(prefixes, strings.ToUpper(k.Name))
		}
	}

	kindVar := terraformList(t, variables, `variable "crm_kind"`)
	if got := quotedStrings(terraformList(t, kindVar, "contains(")); !slices.Equal(got, sorted(KnownCRMKinds)) {
		t.Errorf("terraform/variables.tf: crm_kind accepts %q, want the registry's kinds %q", got, sorted(KnownCRMKinds))
	}

	credVar := terraformList(t, variables, `variable "crm_credential_variables"`)
	if got := quotedStrings(terraformList(t, credVar, "contains(")); !slices.Equal(got, sorted(secretVars)) {
		t.Errorf("terraform/variables.tf: crm_credential_variables accepts %q, want every CRM's Secrets %q", got, sorted(secretVars))
	}

	defaults := map[string][]string{}
	entry := regexp.MustCompile(`(?m)^\s*([a-z0-9_]+)\s*=\s*\[([^\]]*)\]`)
	for _, m := range entry.FindAllStringSubmatch(terraformList(t, secrets, "default_crm_credentials ="), -1) {
		defaults[m[1]] = quotedStrings(m[2])
	}
	for _, k := range crmKinds {
		got, ok := defaults[k.Name]
		if !ok {
			t.Errorf("terraform/secrets.tf: default_crm_credentials has no entry for %s: add %s = %q", k.Name, k.Name, k.DefaultSecrets)
			continue
		}
		if want := sorted(k.DefaultSecrets); !slices.Equal(got, want) {
			t.Errorf("terraform/secrets.tf: default_crm_credentials.%s = %q, want its DefaultSecrets %q", k.Name, got, want)
		}
		delete(defaults, k.Name)
	}
	for name := range defaults {
		t.Errorf("terraform/secrets.tf: default_crm_credentials has an entry for %s, which the registry does not know", name)
	}

	settingsVar := terraformList(t, variables, `variable "crm_settings"`)
	m := regexp.MustCompile(`\^\(([A-Z0-9|]+)\)_`).FindStringSubmatch(settingsVar)
	if m == nil {
		t.Fatalf("terraform/variables.tf: crm_settings no longer checks its keys with ^(PREFIX|...)_: update this test")
	}
	if got := sorted(strings.Split(m[1], "|")); !slices.Equal(got, sorted(prefixes)) {
		t.Errorf("terraform/variables.tf: crm_settings accepts the prefixes %q, want one per CRM with variables %q", got, sorted(prefixes))
	}
	if got := quotedStrings(terraformList(t, settingsVar, "setintersection(keys(var.crm_settings),")); !slices.Equal(got, sorted(logins)) {
		t.Errorf("terraform/variables.tf: crm_settings refuses the logins %q, want every secret whose name does not say it is one %q", got, sorted(logins))
	}
}

// runsContract and runsEngine match a statement calling each suite of
// shared/crmcontract.
var (
	runsContract = regexp.MustCompile(`(?m)^\s*crmcontract\.Run\(`)
	runsEngine   = regexp.MustCompile(`(?m)^\s*crmcontract\.RunEngine\(`)
)

// TestEveryCRMKindHasAContractTest checks that each registered kind's
// ContractTest runs both suites of shared/crmcontract, in the package of
// the adapter the kind builds, and that every package running them is
// registered.
func TestEveryCRMKindHasAContractTest(t *testing.T) {
	for _, k := range crmKinds {
		src := readRepoFile(t, k.ContractTest)
		for suite, call := range map[string]*regexp.Regexp{"crmcontract.Run": runsContract, "crmcontract.RunEngine": runsEngine} {
			if !call.MatchString(src) {
				t.Errorf("%s: its ContractTest %s does not call %s", k.Name, k.ContractTest, suite)
			}
		}
		env := minimal()
		if k.Name != CRMSimulator {
			kindEnv, ok := crmEnvs[k.Name]
			if !ok {
				t.Errorf("crmEnvs (config_test.go) has no complete environment for %s: add one", k.Name)
				continue
			}
			env = with(env, kindEnv...)
		}
		c, err := Parse(getenv(env))
		if err != nil {
			t.Errorf("%s: Parse: %v", k.Name, err)
			continue
		}
		crm, err := buildCRM(c)
		if err != nil {
			t.Errorf("%s: buildCRM: %v", k.Name, err)
			continue
		}
		typ := reflect.TypeOf(crm)
		if typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		if dir := path.Dir(k.ContractTest); !strings.HasSuffix(typ.PkgPath(), "/"+dir) {
			t.Errorf("%s builds a %s from %s, but its ContractTest is in %s", k.Name, typ.Name(), typ.PkgPath(), dir)
		}
	}

	err := filepath.WalkDir(filepath.Join(repoRoot, "shared"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil || !runsContract.Match(b) {
			return err
		}
		rel, err := filepath.Rel(repoRoot, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !slices.ContainsFunc(crmKinds, func(k CRMKind) bool { return k.ContractTest == rel }) {
			t.Errorf("%s runs the CRM contract suite, but no entry of crmKinds (crms.go) names it as its ContractTest: register the adapter", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking shared/: %v", err)
	}
}
