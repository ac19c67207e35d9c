package simhttp

import (
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCountsCountEachKeyAcrossGoroutinesAndReset(t *testing.T) {
	var c Counts[int64]
	if diff := cmp.Diff(map[string]int64{}, c.Snapshot()); diff != "" {
		t.Errorf("a new Counts (-want +got):\n%s", diff)
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(2)
		go func() { defer wg.Done(); c.Add("GET /a") }()
		go func() { defer wg.Done(); c.Add("POST /b") }()
	}
	wg.Wait()
	snap := c.Snapshot()
	if diff := cmp.Diff(map[string]int64{"GET /a": 50, "POST /b": 50}, snap); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	c.Add("GET /a")
	if snap["GET /a"] != 50 {
		t.Errorf("a snapshot changed after it was taken: %d", snap["GET /a"])
	}
	c.Reset()
	if diff := cmp.Diff(map[string]int64{}, c.Snapshot()); diff != "" {
		t.Errorf("after Reset (-want +got):\n%s", diff)
	}
}
