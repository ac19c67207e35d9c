package envconf_test

import (
	"math"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/envconf"
)

// FuzzReader reads one value through every reader. Whatever the value, a
// reader gives either a usable value or its default with a problem naming
// the variable; it never panics.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"https://crm.example.com/", "http://localhost:8080", "crm.example.com", "http://", "https:///x",
		"http://a b", "http://[::1", "true", "maybe", "-3", "42", "9223372036854775808", "2.5", "NaN", "+Inf",
		"1e400", "5m", "5", "-1s", " a, b ,,c ", " , ", "", " \t\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		r := envconf.NewReader(func(string) string { return value })
		problems := func() int { return len(r.Problems()) }
		check := func(what string, before int, ok bool) {
			t.Helper()
			if !ok && problems() == before {
				t.Fatalf("%s of %q gave an unusable value without a problem", what, value)
			}
			for _, p := range r.Problems()[before:] {
				if p.Var != "V" || p.Message == "" {
					t.Fatalf("%s of %q recorded the problem %+v, want one naming V", what, value, p)
				}
			}
		}
		trimmed := strings.TrimSpace(value)

		n := problems()
		if s := r.Str("V", "def"); s != trimmed && !(trimmed == "" && s == "def") {
			t.Fatalf("Str of %q = %q", value, s)
		}
		check("Str", n, true)

		n = problems()
		i := r.Int("V", 7)
		check("Int", n, i > 0)

		n = problems()
		fl := r.Float("V", 2.5)
		check("Float", n, fl > 0 && !math.IsInf(fl, 0) && !math.IsNaN(fl))

		n = problems()
		d := r.Duration("V", time.Minute)
		check("Duration", n, d > 0)

		n = problems()
		items := r.List("V", []string{"x"})
		ok := len(items) > 0
		for _, it := range items {
			if it == "" || it != strings.TrimSpace(it) || strings.Contains(it, ",") {
				ok = false
			}
		}
		check("List", n, ok)

		n = problems()
		u := r.URL("V", true, "set it")
		if problems() == n {
			pu, err := url.Parse(u)
			if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || strings.HasSuffix(u, "/") {
				t.Fatalf("URL of %q = %q was accepted, but it is no http(s) URL with a host (err %v)", value, u, err)
			}
		}
		check("URL", n, true)
	})
}
