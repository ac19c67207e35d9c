package envconf_test

import (
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/envconf"
	"github.com/google/go-cmp/cmp"
)

func TestReaderCollectsEveryProblem(t *testing.T) {
	env := map[string]string{
		"GOOD_URL":  "https://crm.example.com/",
		"BAD_URL":   "crm.example.com",
		"BAD_BOOL":  "maybe",
		"BAD_INT":   "-3",
		"BAD_FLOAT": "fast",
		"BAD_DUR":   "5",
		"LIST":      " a, b ,,c ",
		"EMPTYLIST": " , ",
	}
	r := envconf.NewReader(func(k string) string { return env[k] })
	got := map[string]any{
		"good url":   r.URL("GOOD_URL", true, "set it"),
		"bad url":    r.URL("BAD_URL", true, "set it to the CRM's address"),
		"missing":    r.Required("MISSING", "set it to the token"),
		"default":    r.Str("UNSET", "def"),
		"bad bool":   r.Bool("BAD_BOOL", true),
		"bad int":    r.Int("BAD_INT", 10),
		"bad float":  r.Float("BAD_FLOAT", 2.5),
		"bad dur":    r.Duration("BAD_DUR", time.Minute),
		"list":       r.List("LIST", nil),
		"empty list": r.List("EMPTYLIST", []string{"x"}),
	}
	want := map[string]any{
		"good url":   "https://crm.example.com",
		"bad url":    "crm.example.com",
		"missing":    "",
		"default":    "def",
		"bad bool":   true,
		"bad int":    int64(10),
		"bad float":  2.5,
		"bad dur":    time.Minute,
		"list":       []string{"a", "b", "c"},
		"empty list": []string{"x"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	wantProblems := []envconf.Problem{
		{Var: "BAD_URL", Message: `is "crm.example.com", not an http(s) URL: set it to the CRM's address`},
		{Var: "MISSING", Message: "is not set: set it to the token"},
		{Var: "BAD_BOOL", Message: `is "maybe": set it to true or false`},
		{Var: "BAD_INT", Message: `is "-3": set it to a positive whole number such as 10`},
		{Var: "BAD_FLOAT", Message: `is "fast": set it to a positive number such as 2.5`},
		{Var: "BAD_DUR", Message: `is "5": set it to a positive Go duration such as 1m0s`},
		{Var: "EMPTYLIST", Message: `is ",": set it to a comma-separated list`},
	}
	if diff := cmp.Diff(wantProblems, r.Problems()); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}
