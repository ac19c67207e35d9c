package main

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/casebridge/casebridge/shared/casesync"
)

// sideState is what one side of a pair holds, read from the simulator's
// own state rather than through casebridge's adapters.
type sideState struct {
	comments []string // bodies
	files    []file
	priority casesync.Priority
}

type file struct {
	name string
	data []byte
}

// state reads both sides of pair i.
func (w *world) state(i int) (google, crm sideState, err error) {
	p := w.pairs[i]
	g, ok := w.google.Case(p.google)
	if !ok {
		return google, crm, fmt.Errorf("pair %d: Google case %s is gone", i, p.google)
	}
	google.priority = casesync.ParsePriority(g.Priority)
	for _, c := range w.google.Comments(p.google) {
		google.comments = append(google.comments, c.Body)
	}
	for _, a := range w.google.Attachments(p.google) {
		data, _ := w.google.AttachmentData(a.Name)
		google.files = append(google.files, file{name: a.Filename, data: data})
	}
	t, ok := w.crm.Ticket(p.crm)
	if !ok {
		return google, crm, fmt.Errorf("pair %d: CRM ticket %s is gone", i, p.crm)
	}
	crm.priority, ok = w.table.Google(t.Priority)
	if !ok {
		crm.priority = casesync.PriorityUnspecified
	}
	for _, c := range t.Comments {
		crm.comments = append(crm.comments, c.Body)
	}
	for _, a := range t.Attachments {
		crm.files = append(crm.files, file{name: a.Filename, data: a.Data})
	}
	return google, crm, nil
}

// check verifies, on the simulators' own state, that every change of the
// trace is on its own side once and on the other side exactly once: each
// comment's token in exactly one comment on each side, each file once on
// each side with the same bytes, and each pair's priority on both sides
// the last one a person set. It returns every problem found.
func (w *world) check(tr Trace) []string {
	var problems []string
	type sides struct{ google, crm sideState }
	states := make([]*sides, len(w.pairs))
	for i := range w.pairs {
		g, c, err := w.state(i)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		states[i] = &sides{g, c}
	}
	for _, ch := range tr.Changes {
		s := states[ch.Pair]
		if s == nil {
			continue
		}
		own, other, otherName := s.google, s.crm, "the CRM"
		if ch.Side == casesync.SideCompany {
			own, other, otherName = s.crm, s.google, "Google"
		}
		switch ch.Kind {
		case KindComment:
			if n := countContaining(own.comments, ch.Mark()); n != 1 {
				problems = append(problems, fmt.Sprintf("%s comment %s (minute %d, pair %d) is %d times on its own side, want 1", ch.Side, ch.Token, ch.Minute, ch.Pair, n))
			}
			if n := countContaining(other.comments, ch.Mark()); n != 1 {
				problems = append(problems, fmt.Sprintf("%s comment %s (minute %d, pair %d) arrived %d times in %s, want exactly once", ch.Side, ch.Token, ch.Minute, ch.Pair, n, otherName))
			}
		case KindAttachment:
			want := ch.FileData()
			if n, same := countFiles(own.files, ch.Filename(), want); n != 1 || same != 1 {
				problems = append(problems, fmt.Sprintf("%s file %s (minute %d, pair %d) is %d times on its own side (%d with its bytes), want 1", ch.Side, ch.Filename(), ch.Minute, ch.Pair, n, same))
			}
			if n, same := countFiles(other.files, ch.Filename(), want); n != 1 || same != 1 {
				problems = append(problems, fmt.Sprintf("%s file %s (minute %d, pair %d) arrived %d times in %s (%d with the same bytes), want exactly once", ch.Side, ch.Filename(), ch.Minute, ch.Pair, n, otherName, same))
			}
		}
	}
	for i, s := range states {
		if s == nil {
			continue
		}
		want := tr.FinalPriority(i)
		if s.google.priority != want || s.crm.priority != want {
			problems = append(problems, fmt.Sprintf("pair %d: priority %s on Google and %s in the CRM, want %s on both (the last one a person set)", i, s.google.priority, s.crm.priority, want))
		}
	}
	return problems
}

func countContaining(bodies []string, token string) int {
	n := 0
	for _, b := range bodies {
		if strings.Contains(b, token) {
			n++
		}
	}
	return n
}

// countFiles counts the files named name, and those of them holding want.
func countFiles(files []file, name string, want []byte) (n, same int) {
	for _, f := range files {
		if f.name != name {
			continue
		}
		n++
		if bytes.Equal(f.data, want) {
			same++
		}
	}
	return n, same
}
