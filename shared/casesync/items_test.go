package casesync

import (
	"fmt"
	"testing"
	"time"
)

func TestItemLogSettle(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

	t.Run("Through stays a margin behind the newest item, so a late item is still handled", func(t *testing.T) {
		listed := []listedItem{{ID: "1", At: at(0)}, {ID: "2", At: at(30)}, {ID: "3", At: at(120)}}
		l, _ := ItemLog{}.settle(map[string]time.Time{"1": at(0), "2": at(30), "3": at(120)}, listed)
		if !l.Through.Equal(at(30)) {
			t.Errorf("Through = %v, want %v (the newest item at least an hour older than the newest)", l.Through, at(30))
		}
		if len(l.Done) != 1 || l.Done[0].ID != "3" {
			t.Errorf("Done = %v, want only item 3", l.Done)
		}
		// An item listed late, created between the two, is not covered.
		if l.Has("late", at(100)) {
			t.Errorf("an item created after Through counts as done")
		}
		if !l.Has("old", at(10)) {
			t.Errorf("an item created before Through does not count as done")
		}
	})
	t.Run("Through stops below the first item not yet handled", func(t *testing.T) {
		listed := []listedItem{{ID: "1", At: at(0)}, {ID: "2", At: at(10)}, {ID: "3", At: at(200)}}
		l, _ := ItemLog{}.settle(map[string]time.Time{"1": at(0), "3": at(200)}, listed)
		if !l.Through.Equal(at(0)) {
			t.Errorf("Through = %v, want %v", l.Through, at(0))
		}
		if l.Has("2", at(10)) {
			t.Errorf("the unhandled item counts as done")
		}
	})
	t.Run("a full log drops its oldest entries but never splits items of one time", func(t *testing.T) {
		add := map[string]time.Time{}
		for i := range MaxDoneItems + 5 {
			add[fmt.Sprint(i)] = at(0)
		}
		l, _ := ItemLog{}.settle(add, nil)
		if len(l.Done) != MaxDoneItems+5 || !l.Through.IsZero() {
			t.Errorf("one time for every entry: kept %d, Through %v; want all kept and no Through", len(l.Done), l.Through)
		}
		for i := range 10 {
			add[fmt.Sprint("later", i)] = at(1)
		}
		l, behind := ItemLog{}.settle(add, []listedItem{{ID: "waiting", At: at(0)}})
		if len(l.Done) != 10 || !l.Through.Equal(at(0)) {
			t.Errorf("kept %d entries with Through %v; want the 10 newer ones and Through at the dropped time", len(l.Done), l.Through)
		}
		if len(behind) != 1 || behind[0] != "waiting" {
			t.Errorf("left behind %v, want the item not yet handled", behind)
		}
	})
	t.Run("entries recorded without a time take it from the listing", func(t *testing.T) {
		old := ItemLog{Done: []DoneItem{{ID: "1"}, {ID: "2"}}}
		listed := []listedItem{{ID: "1", At: at(0)}, {ID: "2", At: at(5)}, {ID: "3", At: at(300)}}
		l, _ := old.settle(map[string]time.Time{"3": at(300)}, listed)
		if !l.Through.Equal(at(5)) || len(l.Done) != 1 {
			t.Errorf("Through %v, Done %v; want Through at item 2 and only item 3 kept", l.Through, l.Done)
		}
	})
	t.Run("times are kept to the microsecond, as stores keep them", func(t *testing.T) {
		ns := at(0).Add(999)
		l, _ := ItemLog{}.settle(map[string]time.Time{"1": ns, "2": at(200)}, []listedItem{{ID: "1", At: ns}, {ID: "2", At: at(200)}})
		if !l.Has("1", ns) || l.Through.Nanosecond()%1000 != 0 {
			t.Errorf("Through %v does not cover the item at %v as stored", l.Through, ns)
		}
	})
}
