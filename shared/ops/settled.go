package ops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/eventing"
)

// MappingReader reads what List needs to tell whether a dead-lettered
// message is settled: the mappings and the pollers' heartbeats
// (shared/store.Store).
type MappingReader interface {
	GetMapping(ctx context.Context, id string) (casesync.Mapping, error)
	// LookupMappings takes Google case names for the Google side and CRM
	// case ids for the company side, and keys its answer by the key given.
	LookupMappings(ctx context.Context, side casesync.Side, keys []string) (map[string]casesync.Mapping, error)
	GetPollState(ctx context.Context) (casesync.PollState, error)
}

// lookupChunk is how many case keys one LookupMappings call reads.
const lookupChunk = 100

// settledTime is how the settled reasons write a time.
func settledTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// settle judges whether each message is settled: whether what it asked for
// has been done since by other means (the sweep, a later message, a later
// poll), so that it no longer matters and may be purged. The judgement is
// conservative: a message is settled only when the mapping or poll state
// read now proves it; anything unclear leaves it not settled.
//
//   - A case-updated message with an update time is settled when its
//     case's mapping is linked, has no failure outstanding (no failed
//     attempts, not given up) and has seen the case at that update time or
//     later: a replay would find nothing to do.
//   - Any other case message (a sync-requested command, or no update time)
//     is settled when its mapping is linked, has no failure outstanding,
//     and last reconciled completely (both sides) after the message was
//     first published (after it was dead-lettered when its first
//     publication is unknown).
//   - A poll tick is settled when its poller succeeded after the tick was
//     dead-lettered. The other functions' ticks are not judged.
//   - A support event (judgeSupportEvent) is settled when every case it
//     names is settled: a case with a mapping when that mapping is linked,
//     has no failure outstanding and a completed reconciliation read its
//     Google case after the event was first published; a case without a
//     mapping, and an event naming no case or read incompletely, when the
//     Google poller succeeded in a poll started after that.
//
// A mapping is found by its id when the message names one, else by its
// case. Each mapping, case and the poll state is read once. After a read
// fails, the rest are not tried (the cause, e.g. a missing role, is the
// same) and each message left says why in SettledProblem. It returns the
// failure only when Firestore could not be reached or did not answer in
// time (an *UnreachableError), as lastErrors does.
func (q *DeadLetterQueues) settle(ctx context.Context, dls []DeadLetter) error {
	if q.Mappings == nil {
		return nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, lookupTimeout)
		defer cancel()
	}

	// What to read.
	var mappingIDs []string
	caseKeys := map[casesync.Side][]string{}
	needPolls := false
	for i := range dls {
		d := &dls[i]
		d.Settled, d.SettledBy, d.NotSettledBecause, d.SettledProblem = false, "", "", ""
		switch {
		case d.Kind == KindTick && pollSide(d.Function) != "":
			needPolls = true
		case d.Kind == KindTick:
			d.SettledProblem = fmt.Sprintf("not judged for function %s: only case messages, support events and the pollers' ticks are", d.Function)
		case d.Kind == KindSupportEvent:
			// Whether a poll is needed is known only once the mappings
			// are read; the poll state is one read for every message.
			needPolls = true
			for _, name := range d.SupportCases {
				if !slices.Contains(caseKeys[casesync.SideGoogle], name) {
					caseKeys[casesync.SideGoogle] = append(caseKeys[casesync.SideGoogle], name)
				}
			}
		case d.Kind == KindCase && d.Case != nil && d.Case.Side.Valid() && d.Case.ID != "":
			// A message naming its mapping too is judged by the case, as
			// sync-case resolves it when the mapping no longer holds it.
			if !slices.Contains(caseKeys[d.Case.Side], d.Case.ID) {
				caseKeys[d.Case.Side] = append(caseKeys[d.Case.Side], d.Case.ID)
			}
		case d.Kind == KindCase && d.Case != nil && d.Case.MappingID != "":
			if !slices.Contains(mappingIDs, d.Case.MappingID) {
				mappingIDs = append(mappingIDs, d.Case.MappingID)
			}
		default:
			d.SettledProblem = "not judged: the message is not a case reference"
		}
	}

	// Read it, each once.
	var readErr error
	var polls *casesync.PollState
	byID := map[string]*casesync.Mapping{} // nil: no such mapping
	byCase := map[casesync.Side]map[string]*casesync.Mapping{}
	if needPolls {
		ps, err := q.Mappings.GetPollState(ctx)
		if err != nil {
			readErr = Reach(ctx, ServiceFirestore, q.Project, fmt.Errorf("reading the poll state: %w", err))
		} else {
			polls = &ps
		}
	}
	for _, id := range mappingIDs {
		if readErr != nil {
			break
		}
		m, err := q.Mappings.GetMapping(ctx, id)
		switch {
		case err == nil:
			byID[id] = &m
		case casesync.IsNotFound(err):
			byID[id] = nil
		default:
			readErr = Reach(ctx, ServiceFirestore, q.Project, fmt.Errorf("reading mapping %s: %w", id, err))
		}
	}
	for _, side := range []casesync.Side{casesync.SideGoogle, casesync.SideCompany} {
		for keys := range slices.Chunk(caseKeys[side], lookupChunk) {
			if readErr != nil {
				break
			}
			found, err := q.Mappings.LookupMappings(ctx, side, keys)
			if err != nil {
				readErr = Reach(ctx, ServiceFirestore, q.Project, fmt.Errorf("looking up the mappings of %d %s case(s): %w", len(keys), side, err))
				break
			}
			if byCase[side] == nil {
				byCase[side] = map[string]*casesync.Mapping{}
			}
			for _, k := range keys {
				if m, ok := found[k]; ok {
					byCase[side][k] = &m
				} else {
					byCase[side][k] = nil
				}
			}
		}
	}

	// Judge.
	for i := range dls {
		d := &dls[i]
		if d.SettledProblem != "" {
			continue
		}
		var m *casesync.Mapping
		var read bool
		switch {
		case d.Kind == KindTick:
			if polls == nil {
				d.SettledProblem = "the poll state could not be read: " + readErr.Error()
				continue
			}
			judgeTick(d, *polls)
			continue
		case d.Kind == KindSupportEvent:
			judgeSupportEvent(d, byCase[casesync.SideGoogle], polls, readErr)
			continue
		case d.Case.Side.Valid() && d.Case.ID != "":
			m, read = byCase[d.Case.Side][d.Case.ID]
			if read && m == nil {
				d.SettledProblem = fmt.Sprintf("no mapping holds %s case %s", d.Case.Side, d.Case.ID)
				continue
			}
		default:
			m, read = byID[d.Case.MappingID]
			if read && m == nil {
				d.SettledProblem = fmt.Sprintf("mapping %s does not exist (cleaned up, or never created)", d.Case.MappingID)
				continue
			}
		}
		if !read {
			d.SettledProblem = "the mapping could not be read: " + readErr.Error()
			continue
		}
		judgeCase(d, *m)
	}
	var ue *UnreachableError
	if errors.As(readErr, &ue) {
		return readErr
	}
	return nil
}

// cannotJudge says on each message that would have been judged why it was
// not: Firestore failed before (reading the last errors).
func cannotJudge(dls []DeadLetter, err error) {
	for i := range dls {
		d := &dls[i]
		if d.Kind == KindCase || d.Kind == KindSupportEvent || (d.Kind == KindTick && pollSide(d.Function) != "") {
			d.Settled, d.SettledBy, d.NotSettledBecause = false, "", ""
			d.SettledProblem = "Firestore could not be read: " + err.Error()
		}
	}
}

// pollSide is the side the function polls; "" for any other function.
func pollSide(function string) casesync.Side {
	switch function {
	case eventing.FunctionPollGoogle:
		return casesync.SideGoogle
	case eventing.FunctionPollCRM:
		return casesync.SideCompany
	}
	return ""
}

// judgeTick judges a poller's tick: it is settled when the poller's
// heartbeat (the start of its last successful poll, which covered every
// change up to then) is after the tick's dead-lettering.
func judgeTick(d *DeadLetter, ps casesync.PollState) {
	side := pollSide(d.Function)
	if d.DeadLetteredAt.IsZero() {
		d.SettledProblem = "the time the tick was dead-lettered is unknown"
		return
	}
	hb, poller := ps.GoogleHeartbeat, "Google"
	if side == casesync.SideCompany {
		hb, poller = ps.CompanyHeartbeat, "CRM"
	}
	switch {
	case hb.After(d.DeadLetteredAt):
		d.Settled = true
		d.SettledBy = fmt.Sprintf("the %s poller succeeded in a poll started at %s, after the tick was dead-lettered at %s",
			poller, settledTime(hb), settledTime(d.DeadLetteredAt))
	case hb.IsZero():
		d.NotSettledBecause = fmt.Sprintf("the %s poller has never succeeded", poller)
	default:
		d.NotSettledBecause = fmt.Sprintf("the %s poller last succeeded in a poll started at %s, not after the tick was dead-lettered at %s",
			poller, settledTime(hb), settledTime(d.DeadLetteredAt))
	}
}

// outstanding says what keeps mapping m from settling any message: not
// linked on both sides, given up, or still failing; "" when nothing does.
func outstanding(m casesync.Mapping) string {
	switch {
	case !m.Linked():
		return fmt.Sprintf("its mapping %s is not linked to a case on both sides yet", m.ID)
	case !m.GaveUpAt.IsZero():
		return fmt.Sprintf("the sweep gave up on its mapping %s at %s", m.ID, settledTime(m.GaveUpAt))
	case m.Attempts > 0:
		since := ""
		if !m.FailingSince.IsZero() {
			since = " since " + settledTime(m.FailingSince)
		}
		return fmt.Sprintf("its mapping %s is still failing: %d failed reconciliation(s)%s", m.ID, m.Attempts, since)
	}
	return ""
}

// judgeCase judges a case message against its mapping m.
func judgeCase(d *DeadLetter, m casesync.Mapping) {
	if why := outstanding(m); why != "" {
		d.NotSettledBecause = why
		return
	}
	ref := d.Case
	if ref.ID != "" && !ref.UpdateTime.IsZero() && strings.HasSuffix(d.SourceTopic, eventing.TopicCaseUpdated) {
		// As the reconciliation itself compares them: to the microsecond,
		// which is what Firestore keeps.
		seen := m.Google.SeenUpdateTime
		if ref.Side == casesync.SideCompany {
			seen = m.Company.SeenUpdateTime
		}
		if !ref.UpdateTime.Truncate(time.Microsecond).After(seen.Truncate(time.Microsecond)) {
			d.Settled = true
			d.SettledBy = fmt.Sprintf("its mapping %s has reconciled the %s case as updated at %s, at or after this message's update time %s",
				m.ID, ref.Side, settledTime(seen), settledTime(ref.UpdateTime))
			return
		}
		if seen.IsZero() {
			d.NotSettledBecause = fmt.Sprintf("its mapping %s has not reconciled the %s case yet", m.ID, ref.Side)
		} else {
			d.NotSettledBecause = fmt.Sprintf("its mapping %s has reconciled the %s case as updated at %s only, before this message's update time %s",
				m.ID, ref.Side, settledTime(seen), settledTime(ref.UpdateTime))
		}
		return
	}
	since, what, ok := publishedSince(d, "message")
	if !ok {
		return
	}
	// Both sides' changes applied: the earlier of the two times.
	synced := m.Google.UpdatesSyncedAt
	if m.Company.UpdatesSyncedAt.Before(synced) {
		synced = m.Company.UpdatesSyncedAt
	}
	switch {
	case synced.After(since):
		d.Settled = true
		d.SettledBy = fmt.Sprintf("its mapping %s reconciled completely at %s, after %s at %s", m.ID, settledTime(synced), what, settledTime(since))
	case synced.IsZero():
		d.NotSettledBecause = fmt.Sprintf("its mapping %s has never reconciled completely", m.ID)
	default:
		d.NotSettledBecause = fmt.Sprintf("its mapping %s last reconciled completely at %s, not after %s at %s", m.ID, settledTime(synced), what, settledTime(since))
	}
}

// judgeSupportEvent judges a support event. GoogleEvents turned it into a
// case-updated for each case it names and, when it named none or may name
// more than were read, a Google poll; it is settled when each of those has
// been made good since the event was first published:
//
//   - a named case with a mapping, when the mapping is linked, has no
//     failure outstanding, and its Google side was read by a completed
//     reconciliation after the event's publication (MappingSide.ReadAt,
//     which sync-case itself compares with an event's publish time to skip
//     what it has seen). UpdatesSyncedAt would not prove as much: it is when
//     a reconciliation finished, and one that read the case before the
//     event and finished after it has not seen the event's change;
//   - a named case without a mapping (the Google poll creates one for a
//     case casebridge syncs), an event naming no case, and an event read
//     incompletely, when the Google poller succeeded in a poll started
//     after the event's publication: that poll covered every change up to
//     its start.
//
// byName holds the mappings of the named cases (nil: no mapping; missing:
// not read) and polls the poll state (nil: not read); readErr says why a
// read failed.
func judgeSupportEvent(d *DeadLetter, byName map[string]*casesync.Mapping, polls *casesync.PollState, readErr error) {
	since, what, ok := publishedSince(d, "event")
	if !ok {
		return
	}
	after := since.Add(casesync.EventClockMargin)
	var by []string
	var unmapped []string
	for _, name := range d.SupportCases {
		m, read := byName[name]
		if !read {
			d.SettledProblem = "the mappings could not be read: " + errText(readErr)
			return
		}
		if m == nil {
			unmapped = append(unmapped, name)
			continue
		}
		if why := outstanding(*m); why != "" {
			d.NotSettledBecause = fmt.Sprintf("Google case %s: %s", name, why)
			return
		}
		switch readAt := m.Google.ReadAt; {
		case readAt.After(after):
			by = append(by, fmt.Sprintf("its mapping %s read Google case %s at %s", m.ID, name, settledTime(readAt)))
		case readAt.IsZero():
			d.NotSettledBecause = fmt.Sprintf("Google case %s: its mapping %s has no completed reconciliation that read it", name, m.ID)
			return
		default:
			d.NotSettledBecause = fmt.Sprintf("Google case %s: its mapping %s last read it at %s, not more than %s after %s at %s",
				name, m.ID, settledTime(readAt), casesync.EventClockMargin, what, settledTime(since))
			return
		}
	}
	var needPoll []string
	switch {
	case len(d.SupportCases) == 0:
		needPoll = append(needPoll, "it names no case")
	case d.SupportCasesIncomplete != "":
		needPoll = append(needPoll, "it may name more cases than were read")
	}
	if len(unmapped) > 0 {
		needPoll = append(needPoll, fmt.Sprintf("no mapping holds Google case(s) %s", strings.Join(unmapped, ", ")))
	}
	if len(needPoll) > 0 {
		if polls == nil {
			d.SettledProblem = "the poll state could not be read: " + errText(readErr)
			return
		}
		why := strings.Join(needPoll, " and ")
		switch hb := polls.GoogleHeartbeat; {
		case hb.After(after):
			by = append(by, fmt.Sprintf("the Google poller succeeded in a poll started at %s, after %s at %s (needed as %s)",
				settledTime(hb), what, settledTime(since), why))
		case hb.IsZero():
			d.NotSettledBecause = fmt.Sprintf("%s, and the Google poller has never succeeded", why)
			return
		default:
			d.NotSettledBecause = fmt.Sprintf("%s, and the Google poller last succeeded in a poll started at %s, not more than %s after %s at %s",
				why, settledTime(hb), casesync.EventClockMargin, what, settledTime(since))
			return
		}
	}
	d.Settled = true
	d.SettledBy = strings.Join(by, "; ")
}

func errText(err error) string {
	if err == nil {
		return "not read"
	}
	return err.Error()
}

// publishedSince is when d was first published (or, unknown that, when it
// was dead-lettered), with those words for a reason naming d as noun
// ("message", "event"); false, with d's SettledProblem set, when neither
// time is known.
func publishedSince(d *DeadLetter, noun string) (time.Time, string, bool) {
	if !d.FirstPublishTime.IsZero() {
		return d.FirstPublishTime, "the " + noun + " was first published", true
	}
	if !d.DeadLetteredAt.IsZero() {
		return d.DeadLetteredAt, "the " + noun + " was dead-lettered", true
	}
	d.SettledProblem = "the times the " + noun + " was published and dead-lettered are unknown"
	return time.Time{}, "", false
}
