package main

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/casebridge/casebridge/shared/casesync"
)

// Kind is what a person changed on a case.
type Kind string

// The kinds of change a person makes, and the fixed mix of the trace:
// out of 100 changes, 80 comments, 10 attachments and 10 priority changes.
const (
	KindComment    Kind = "comment"
	KindAttachment Kind = "attachment"
	KindPriority   Kind = "priority"

	commentShare    = 80
	attachmentShare = 10
)

// initialPriority is every pair's priority when the trace starts.
const initialPriority = casesync.P3

// Change is one change a person makes on one side of a linked pair.
type Change struct {
	// Minute is the simulated minute the change is made in, counted from
	// the first warm-up minute.
	Minute int
	// Side is where the person made it: SideGoogle (a customer in the
	// console) or SideCompany (a helpdesk agent).
	Side casesync.Side
	// Pair is the index of the linked pair the change is on.
	Pair int
	Kind Kind
	// Token is unique in the trace: it is in the comment's body or the
	// file's name, so that its copies can be counted on both sides.
	Token string
	// Priority is the new priority of a priority change.
	Priority casesync.Priority
	// Size is the size in bytes of an attached file.
	Size int
}

// Filename is the name of the file an attachment change attaches.
func (c Change) Filename() string { return "bench-" + c.Token + ".bin" }

// Mark is how a comment change's body names it: its token in brackets,
// found in no other comment.
func (c Change) Mark() string { return "[" + c.Token + "]" }

// Body is the text of a comment change.
func (c Change) Body() string {
	if c.Side == casesync.SideGoogle {
		return "Customer update " + c.Mark() + ": the instance is still slow after the restart."
	}
	return "Agent reply " + c.Mark() + ": we are looking at the load balancer logs."
}

// FileData is the content of an attachment change: Size bytes, NUL bytes
// among them, the same every time for the same change.
func (c Change) FileData() []byte {
	h := fnv.New64a()
	h.Write([]byte(c.Token))
	rng := rand.New(rand.NewPCG(h.Sum64(), 0x62656e6368))
	b := make([]byte, c.Size)
	for i := range b {
		if rng.IntN(4) == 0 {
			continue // a NUL byte
		}
		b[i] = byte(rng.IntN(256))
	}
	return b
}

// Trace is the work people do: Pairs linked pairs, open on both sides at
// the start, then Warmup+Minutes simulated minutes of changes. Only the
// last Minutes are measured; the warm-up fills the polling windows first,
// so that the measured minutes see the steady state.
type Trace struct {
	Pairs   int
	Warmup  int
	Minutes int
	// Changes are in the order they are made: by minute, Google's before
	// the CRM's within a minute.
	Changes []Change
}

// Measured reports whether minute m is one of the measured minutes.
func (t Trace) Measured(m int) bool { return m >= t.Warmup && m < t.Warmup+t.Minutes }

// In returns the changes made in minute m.
func (t Trace) In(m int) []Change {
	var out []Change
	for _, c := range t.Changes {
		if c.Minute == m {
			out = append(out, c)
		}
	}
	return out
}

// MeasuredChanges counts the changes made in the measured minutes.
func (t Trace) MeasuredChanges() int {
	n := 0
	for _, c := range t.Changes {
		if t.Measured(c.Minute) {
			n++
		}
	}
	return n
}

// FinalPriority returns the priority pair i has once every change of the
// trace is carried over.
func (t Trace) FinalPriority(i int) casesync.Priority {
	p := initialPriority
	for _, c := range t.Changes {
		if c.Pair == i && c.Kind == KindPriority {
			p = c.Priority
		}
	}
	return p
}

// Origin is the side pair i was first opened on: even pairs on Google,
// odd ones in the CRM.
func Origin(i int) casesync.Side {
	if i%2 == 0 {
		return casesync.SideGoogle
	}
	return casesync.SideCompany
}

// Generate makes the trace: each minute, on each side, rate×pairs pairs
// (fractions carry over to the next minute) chosen at random get one change
// by a person, drawn from the fixed mix. A pair gets at most one priority
// change a minute over both sides, so that the expected outcome never
// depends on which side's change wins. The same arguments give the same
// trace.
func Generate(pairs int, rate float64, warmup, minutes int, seed uint64) Trace {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	t := Trace{Pairs: pairs, Warmup: warmup, Minutes: minutes}
	prio := make([]casesync.Priority, pairs)
	for i := range prio {
		prio[i] = initialPriority
	}
	var carry [2]float64
	seq := 0
	for m := 0; m < warmup+minutes; m++ {
		reprioritized := map[int]bool{}
		for s, side := range []casesync.Side{casesync.SideGoogle, casesync.SideCompany} {
			carry[s] += rate * float64(pairs)
			n := int(math.Floor(carry[s] + 1e-9))
			carry[s] -= float64(n)
			n = min(n, pairs)
			chosen := rng.Perm(pairs)[:n]
			slices.Sort(chosen)
			for _, i := range chosen {
				seq++
				c := Change{Minute: m, Side: side, Pair: i, Token: fmt.Sprintf("m%d-%s-%d", m, sideTag(side), seq)}
				switch r := rng.IntN(100); {
				case r < commentShare:
					c.Kind = KindComment
				case r < commentShare+attachmentShare:
					c.Kind = KindAttachment
					c.Size = 512 + rng.IntN(8192)
				default:
					c.Kind = KindPriority
				}
				if c.Kind == KindPriority && reprioritized[i] {
					c.Kind = KindComment
				}
				if c.Kind == KindPriority {
					// P1 to P4, never the current one.
					choices := slices.DeleteFunc([]casesync.Priority{casesync.P1, casesync.P2, casesync.P3, casesync.P4},
						func(p casesync.Priority) bool { return p == prio[i] })
					c.Priority = choices[rng.IntN(len(choices))]
					prio[i] = c.Priority
					reprioritized[i] = true
				}
				t.Changes = append(t.Changes, c)
			}
		}
	}
	return t
}

func sideTag(s casesync.Side) string {
	if s == casesync.SideGoogle {
		return "g"
	}
	return "c"
}
