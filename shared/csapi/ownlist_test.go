package csapi_test

import (
	"context"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/casebridge/casebridge/shared/casesync"
)

// casebridge's own cases are listed from the cases themselves (cases.list
// on the create parent, by its identity), across pages, and not through
// the search index, which may lag.
func TestListOwnCasesReadsCasebridgesCasesNotTheSearchIndex(t *testing.T) {
	sim, _ := newSim(t)
	c := newClient(t, sim.URL(), testConfig())
	ctx := context.Background()
	var own []string
	for i := range 3 {
		g, err := c.CreateCase(ctx, casesync.NewGoogleCase{DisplayName: "ours", Description: "d", Priority: casesync.Priority(i)})
		if err != nil {
			t.Fatal(err)
		}
		own = append(own, g.Name)
	}
	mustCase(t, sim, "projects/sandbox-project", "a customer's", "P3")
	if err := sim.CloseCase(own[2]); err != nil {
		t.Fatal(err)
	}
	sim.SetSearchLag(1 << 40)
	names := func(closed bool) []string {
		cs, err := c.ListOwnCases(ctx, closed)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, g := range cs {
			if !g.ByConnector {
				t.Errorf("%s is listed as casebridge's but is not by its identity", g.Name)
			}
			out = append(out, g.Name)
		}
		sort.Strings(out)
		return out
	}
	if diff := cmp.Diff(own[:2], names(false)); diff != "" {
		t.Errorf("open own cases (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(own, names(true)); diff != "" {
		t.Errorf("all own cases (-want +got):\n%s", diff)
	}
}
