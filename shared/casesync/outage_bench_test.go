package casesync_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/casesync/casesynctest"
	"github.com/casebridge/casebridge/shared/emulators"
	"github.com/casebridge/casebridge/shared/store"
)

// slowPorts stands in for CSAPI and the CRM where outage detection is
// measured at scale: comments are kept in memory and every call takes
// delay, as a remote API does. hang, if set, makes a call wait until its
// context ends, as a hung connection does.
type slowPorts struct {
	delay time.Duration
	hang  func(side casesync.Side, op string) bool

	calls       atomic.Int64
	inFlight    atomic.Int64
	maxInFlight atomic.Int64

	mu       sync.Mutex
	comments map[string][]casesync.Comment // side + ":" + case
	next     int
}

func newSlowPorts(delay time.Duration) *slowPorts {
	return &slowPorts{delay: delay, comments: map[string][]casesync.Comment{}}
}

func (p *slowPorts) call(ctx context.Context, side casesync.Side, op string) error {
	p.calls.Add(1)
	n := p.inFlight.Add(1)
	defer p.inFlight.Add(-1)
	for {
		m := p.maxInFlight.Load()
		if n <= m || p.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	wait := make(<-chan time.Time)
	if p.hang == nil || !p.hang(side, op) {
		t := time.NewTimer(p.delay)
		defer t.Stop()
		wait = t.C
	}
	select {
	case <-wait:
		return nil
	case <-ctx.Done():
		return &casesync.APIError{Side: side, Op: op, Transient: true, Err: ctx.Err()}
	}
}

func (p *slowPorts) list(ctx context.Context, side casesync.Side, id string) ([]casesync.Comment, error) {
	if err := p.call(ctx, side, "comments.list"); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]casesync.Comment(nil), p.comments[string(side)+":"+id]...), nil
}

func (p *slowPorts) add(ctx context.Context, side casesync.Side, id, body string, public bool) (casesync.Comment, error) {
	if err := p.call(ctx, side, "comments.create"); err != nil {
		return casesync.Comment{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next++
	c := casesync.Comment{ID: strconv.Itoa(p.next), Body: body, ByConnector: true, Public: public, CreateTime: time.Now().UTC()}
	p.comments[string(side)+":"+id] = append(p.comments[string(side)+":"+id], c)
	return c, nil
}

// bodies returns the comments on one side of a case.
func (p *slowPorts) bodies(side casesync.Side, id string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, c := range p.comments[string(side)+":"+id] {
		out = append(out, c.Body)
	}
	return out
}

func (p *slowPorts) reset() {
	p.mu.Lock()
	p.comments = map[string][]casesync.Comment{}
	p.mu.Unlock()
	p.calls.Store(0)
	p.maxInFlight.Store(0)
}

// slowGoogle and slowCRM are the two sides of slowPorts; any other call
// panics (outage detection makes none).
type slowGoogle struct {
	casesync.Google
	p *slowPorts
}

func (g slowGoogle) ListComments(ctx context.Context, name string) ([]casesync.Comment, error) {
	return g.p.list(ctx, casesync.SideGoogle, name)
}

func (g slowGoogle) AddComment(ctx context.Context, name, body string) (casesync.Comment, error) {
	return g.p.add(ctx, casesync.SideGoogle, name, body, true)
}

type slowCRM struct {
	casesync.CRM
	p *slowPorts
}

func (c slowCRM) ListComments(ctx context.Context, id string) ([]casesync.Comment, error) {
	return c.p.list(ctx, casesync.SideCompany, id)
}

func (c slowCRM) AddComment(ctx context.Context, id, body string, public bool) (casesync.Comment, error) {
	return c.p.add(ctx, casesync.SideCompany, id, body, public)
}

// countingPublisher counts sync-requested messages.
type countingPublisher struct{ n atomic.Int64 }

func (p *countingPublisher) PublishCaseUpdated(context.Context, []casesync.CaseRef) error { return nil }
func (p *countingPublisher) PublishSyncRequested(context.Context, casesync.CaseRef) error {
	p.n.Add(1)
	return nil
}

// readCounter counts the documents a store reads. The Firestore store
// counts its own; countingStore counts the in-memory store's as Firestore
// would bill them.
type readCounter interface{ Reads() int64 }

type countingStore struct {
	casesync.Store
	reads atomic.Int64
}

func (s *countingStore) Reads() int64 { return s.reads.Load() }

func (s *countingStore) GetPollState(ctx context.Context) (casesync.PollState, error) {
	s.reads.Add(1)
	return s.Store.GetPollState(ctx)
}

func (s *countingStore) GetMapping(ctx context.Context, id string) (casesync.Mapping, error) {
	s.reads.Add(1)
	return s.Store.GetMapping(ctx, id)
}

func (s *countingStore) UpdateMapping(ctx context.Context, id string, fn func(*casesync.Mapping) error) (casesync.Mapping, error) {
	s.reads.Add(1)
	return s.Store.UpdateMapping(ctx, id, fn)
}

func (s *countingStore) ListMappings(ctx context.Context, fn func(casesync.Mapping) error) error {
	return s.Store.ListMappings(ctx, func(m casesync.Mapping) error {
		s.reads.Add(1)
		return fn(m)
	})
}

func (s *countingStore) ListOutageCandidates(ctx context.Context, before time.Time, allOpen bool) ([]casesync.Mapping, error) {
	ms, err := s.Store.ListOutageCandidates(ctx, before, allOpen)
	s.reads.Add(int64(len(ms)))
	return ms, err
}

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// seedOutage stores total linked, open mappings, the first late of which
// have a Google change pending for 30 minutes (out of sync); the others
// were reconciled a minute ago. Both pollers are healthy. It returns the
// late mappings' ids.
func seedOutage(ctx context.Context, tb testing.TB, s casesync.Store, now time.Time, total, late int) []string {
	tb.Helper()
	ids := make([]string, total)
	var (
		wg    sync.WaitGroup
		next  atomic.Int64
		first atomic.Value
	)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				m, _, err := s.ResolveMapping(ctx, fmt.Sprintf("projects/p/cases/%d", 100000+i), fmt.Sprintf("C-%d", i), true, func(m *casesync.Mapping) {
					m.Origin, m.Priority = casesync.SideGoogle, casesync.P2
					m.CreatedAt, m.NewContentAt = now.Add(-48*time.Hour), now.Add(-2*time.Hour)
					m.Google.UpdatesSyncedAt, m.Company.UpdatesSyncedAt = now.Add(-time.Minute), now.Add(-time.Minute)
					if i < late {
						m.Google.PendingSince, m.DueAt = now.Add(-30*time.Minute), now.Add(-25*time.Minute)
					}
				})
				if err != nil {
					first.CompareAndSwap(nil, err)
					return
				}
				ids[i] = m.ID
			}
		}()
	}
	wg.Wait()
	if err, _ := first.Load().(error); err != nil {
		tb.Fatalf("seed mappings: %v", err)
	}
	for _, side := range []casesync.Side{casesync.SideGoogle, casesync.SideCompany} {
		if err := s.RecordPoll(ctx, side, now, now); err != nil {
			tb.Fatal(err)
		}
	}
	return ids[:late]
}

// clearOutage undoes what a detection run recorded on the given mappings.
func clearOutage(ctx context.Context, tb testing.TB, s casesync.Store, ids []string) {
	tb.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	var failed atomic.Value
	for _, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, err := s.UpdateMapping(ctx, id, func(m *casesync.Mapping) error {
				m.Google.OutageNoticeSent, m.Company.OutageNoticeSent = false, false
				m.Google.OutageNoticeIntent, m.Company.OutageNoticeIntent = false, false
				m.Google.Items, m.Company.Items = casesync.SideItems{}, casesync.SideItems{}
				return nil
			})
			if err != nil {
				failed.CompareAndSwap(nil, err)
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		tb.Fatalf("reset mappings: %v", err)
	}
}

// BenchmarkDetectOutages measures one outage-detection run over 10,000
// linked, open mappings of which 1,000 are out of sync, with every Google
// and CRM call taking 200 ms: the first run, which posts 2,000 notices, and
// a later run of the same outage, which posts none. Besides ns/op it
// reports the API calls and store reads of one run. It runs on the
// in-memory store and on the Firestore emulator (started here if
// FIRESTORE_EMULATOR_HOST is not set). The deployed function's timeout is
// 240 s (terraform: function_timeout_seconds).
//
//	go test -run '^$' -bench DetectOutages -count 5 ./shared/casesync/
func BenchmarkDetectOutages(b *testing.B) {
	const total, late, delay = 10000, 1000, 200 * time.Millisecond
	stores := []struct {
		name string
		new  func(b *testing.B) (casesync.Store, readCounter)
	}{
		{"in memory", func(b *testing.B) (casesync.Store, readCounter) {
			s := &countingStore{Store: casesynctest.NewMemStore()}
			return s, s
		}},
		{"on Firestore", func(b *testing.B) (casesync.Store, readCounter) {
			if os.Getenv("FIRESTORE_EMULATOR_HOST") == "" {
				em, err := emulators.StartFirestore(context.Background())
				if err != nil {
					b.Fatalf("the Firestore variant needs the Firestore emulator: %v", err)
				}
				b.Cleanup(func() {
					if err := em.Stop(); err != nil {
						b.Errorf("stop the Firestore emulator: %v", err)
					}
				})
				b.Setenv("FIRESTORE_EMULATOR_HOST", em.Host)
			}
			s, err := store.New(context.Background(), fmt.Sprintf("outage-bench-%d-%d", os.Getpid(), projectSeq.Add(1)))
			if err != nil {
				b.Fatalf("Firestore store: %v", err)
			}
			b.Cleanup(func() { s.Close() })
			return s, s
		}},
	}
	for _, sk := range stores {
		b.Run(sk.name, func(b *testing.B) {
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Second)
			s, reads := sk.new(b)
			lateIDs := seedOutage(ctx, b, s, now, total, late)
			ports := newSlowPorts(delay)
			pub := &countingPublisher{}
			e := &casesync.Engine{Google: slowGoogle{p: ports}, CRM: slowCRM{p: ports}, Store: s, Publisher: pub, Clock: fixedClock{now}}

			run := func(b *testing.B) (calls, storeReads int64, d time.Duration) {
				ports.calls.Store(0)
				r0 := reads.Reads()
				start := time.Now()
				rep, err := e.DetectOutages(ctx)
				d = time.Since(start)
				if !errors.Is(err, casesync.ErrOutage) || len(rep.OutOfSync) != late {
					b.Fatalf("DetectOutages: %d out of sync, %v; want %d and ErrOutage", len(rep.OutOfSync), err, late)
				}
				return ports.calls.Load(), reads.Reads() - r0, d
			}
			report := func(b *testing.B, calls, storeReads int64, longest time.Duration) {
				b.ReportMetric(float64(calls)/float64(b.N), "api-calls/op")
				b.ReportMetric(float64(storeReads)/float64(b.N), "store-reads/op")
				b.ReportMetric(longest.Seconds(), "longest-run-s")
			}

			prepared := false // the store holds the outage as a first run leaves it
			b.Run("first run posts 2000 notices", func(b *testing.B) {
				var calls, storeReads int64
				var longest time.Duration
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					clearOutage(ctx, b, s, lateIDs)
					ports.reset()
					b.StartTimer()
					c, r, d := run(b)
					calls, storeReads, longest = calls+c, storeReads+r, max(longest, d)
				}
				b.StopTimer()
				prepared = true
				if got := ports.maxInFlight.Load(); got > int64(2*casesync.NoticeParallel()) {
					b.Errorf("%d calls in flight at once, want at most %d", got, 2*casesync.NoticeParallel())
				}
				report(b, calls, storeReads, longest)
			})
			b.Run("a later run of the same outage", func(b *testing.B) {
				if !prepared {
					b.StopTimer()
					clearOutage(ctx, b, s, lateIDs)
					ports.reset()
					run(b)
					prepared = true
					b.StartTimer()
				}
				var calls, storeReads int64
				var longest time.Duration
				for i := 0; i < b.N; i++ {
					c, r, d := run(b)
					calls, storeReads, longest = calls+c, storeReads+r, max(longest, d)
				}
				b.StopTimer()
				if calls != 0 {
					b.Errorf("%d API calls in later runs, want none", calls)
				}
				report(b, calls, storeReads, longest)
			})
		})
	}
}
