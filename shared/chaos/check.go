package chaos

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/api/cloudsupport/v2"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmsim"
)

// findings is what a check of the simulators' state found wrong.
type findings struct {
	Lost       int
	Duplicated int
	Leaked     int
	Problems   []string
}

func (f *findings) add(format string, args ...any) {
	if len(f.Problems) < 50 {
		f.Problems = append(f.Problems, fmt.Sprintf(format, args...))
	}
}

func (f *findings) ok() bool { return len(f.Problems) == 0 }

// copies counts a want-exactly-once item.
func (f *findings) copies(n int, format string, args ...any) {
	switch {
	case n == 0:
		f.Lost++
		f.add("lost: "+format, args...)
	case n > 1:
		f.Duplicated++
		f.add(fmt.Sprintf("%d copies: ", n)+format, args...)
	}
}

var (
	partRE   = regexp.MustCompile(`^\[Company Comment (\S+) by [^\n]*?\](?: \(part (\d+)/(\d+)\))?\n\n`)
	googleRE = regexp.MustCompile(`^\[Google Comment (\S+) by [^\n]*?\]\n\n`)
)

func lastSegment(name string) string { return name[strings.LastIndex(name, "/")+1:] }

// check compares the two simulators' state with what people did.
func (w *world) check() findings {
	var f findings
	cases := w.google.Cases()
	tickets := w.crm.Tickets()
	table := w.cfg.WithDefaults().Priorities

	byTicket := map[string][]cloudsupport.Case{} // ticket id -> Google cases casebridge created for it
	for _, c := range cases {
		if c.Creator != nil && c.Creator.Email == connectorEmail {
			lines := strings.Split(strings.TrimSpace(c.Description), "\n")
			last := lines[len(lines)-1]
			if id, ok := strings.CutPrefix(last, "This case is now syncing with Company Case: "); ok {
				byTicket[id] = append(byTicket[id], c)
			} else {
				f.add("Google case %s was created by casebridge without a link line", c.Name)
			}
		}
	}
	byGoogle := map[string][]crmsim.TicketState{}
	for _, t := range tickets {
		if t.GoogleCase != "" {
			byGoogle[casesync.CaseNumber(t.GoogleCase)] = append(byGoogle[casesync.CaseNumber(t.GoogleCase)], t)
		}
	}

	// One counterpart per case.
	for _, c := range cases {
		if c.Creator != nil && c.Creator.Email == connectorEmail {
			continue
		}
		n := len(byGoogle[casesync.CaseNumber(c.Name)])
		if n == 0 && c.State == "CLOSED" {
			continue // closed before its counterpart was made
		}
		f.copies(n, "CRM case for Google case %s", c.Name)
	}
	for _, t := range tickets {
		if !w.people.tickets[t.ID] {
			if t.GoogleCase == "" {
				f.add("ticket %s was created by casebridge but names no Google case", t.ID)
			}
			continue
		}
		if !t.SyncFlag {
			if len(byTicket[t.ID]) > 0 || t.GoogleCase != "" {
				f.Leaked++
				f.add("unflagged ticket %s got a Google case", t.ID)
			}
			continue
		}
		n := len(byTicket[t.ID])
		if n == 0 && t.Closed {
			continue
		}
		f.copies(n, "Google case for ticket %s", t.ID)
		if n == 1 && casesync.CaseNumber(t.GoogleCase) != casesync.CaseNumber(byTicket[t.ID][0].Name) {
			f.add("ticket %s names %q, but its Google case is %s", t.ID, t.GoogleCase, byTicket[t.ID][0].Name)
		}
	}

	// Nothing internal on Google.
	for _, c := range cases {
		for _, cm := range w.google.Comments(c.Name) {
			if strings.Contains(cm.Body, "INTERNAL-") {
				f.Leaked++
				f.add("an internal note reached Google case %s", c.Name)
			}
		}
		for _, a := range w.google.Attachments(c.Name) {
			if strings.HasPrefix(a.Filename, "internal-") {
				f.Leaked++
				f.add("file %s of an internal note reached Google case %s", a.Filename, c.Name)
			}
		}
	}

	// Each linked pair.
	for _, t := range tickets {
		if t.GoogleCase == "" || !t.SyncFlag && w.people.tickets[t.ID] {
			continue
		}
		g, ok := w.google.Case(t.GoogleCase)
		if !ok {
			f.add("ticket %s names Google case %s, which does not exist", t.ID, t.GoogleCase)
			continue
		}
		w.checkPair(&f, g, t, table)
	}

	// No change left marked: a mark that outlived its reconciliation holds
	// the case's next change back until it goes stale.
	marked, err := w.store.ListOutageCandidates(context.Background(), w.clock.Now().Add(time.Hour), false)
	if err != nil {
		f.add("listing the mappings still marked pending: %v", err)
	}
	for _, m := range marked {
		if !m.Google.PendingSince.IsZero() || !m.Company.PendingSince.IsZero() {
			f.add("mapping %s is still marked pending (Google since %v, CRM since %v) although the sides agree",
				m.ID, m.Google.PendingSince, m.Company.PendingSince)
		}
	}
	return f
}

func (w *world) checkPair(f *findings, g cloudsupport.Case, t crmsim.TicketState, table casesync.PriorityTable) {
	gComs := w.google.Comments(g.Name)
	gAtts := w.google.Attachments(g.Name)
	closedAt, closedByPerson := w.people.closedAt[g.Name]

	// Google comments by people, each once on the CRM case.
	onCRM := map[string]int{}
	for _, c := range t.Comments {
		if !c.ByConnector {
			continue
		}
		if m := googleRE.FindStringSubmatch(c.Body); m != nil {
			onCRM[m[1]+"\x00"+c.Body[len(m[0]):]]++
		}
	}
	for _, c := range gComs {
		if c.Creator != nil && c.Creator.Email == connectorEmail {
			continue
		}
		f.copies(onCRM[lastSegment(c.Name)+"\x00"+c.Body], "Google comment %s on CRM case %s", c.Name, t.ID)
	}

	// CRM public comments by people, each once on Google (in parts when
	// long); internal notes never.
	type parts struct {
		n    int
		got  map[int][]string
		tail int
	}
	onGoogle := map[string]*parts{}
	for _, c := range gComs {
		if c.Creator == nil || c.Creator.Email != connectorEmail {
			continue
		}
		m := partRE.FindStringSubmatch(c.Body)
		if m == nil {
			continue
		}
		p := onGoogle[m[1]]
		if p == nil {
			p = &parts{got: map[int][]string{}}
			onGoogle[m[1]] = p
		}
		i, n := 1, 1
		if m[2] != "" {
			i, _ = strconv.Atoi(m[2])
			n, _ = strconv.Atoi(m[3])
		}
		p.n = n
		p.got[i] = append(p.got[i], c.Body[len(m[0]):])
	}
	for _, c := range t.Comments {
		if c.ByConnector {
			continue
		}
		if !c.Public {
			if onGoogle[c.ID] != nil {
				f.Leaked++
				f.add("internal note %s of ticket %s reached Google", c.ID, t.ID)
			}
			continue
		}
		if closedByPerson && !c.CreateTime.Before(closedAt.Truncate(time.Second)) {
			continue // said after the Google case closed: stays in the CRM
		}
		p := onGoogle[c.ID]
		if p == nil {
			if closedByPerson {
				// A person closed the Google case before casebridge got to
				// this reply; a closed case takes no comments.
				continue
			}
			f.copies(0, "CRM comment %s of ticket %s on Google", c.ID, t.ID)
			continue
		}
		if closedByPerson && len(p.got) < p.n {
			// Closed by a person between two parts of a long reply.
			continue
		}
		var whole strings.Builder
		dup := false
		for i := 1; i <= p.n; i++ {
			if len(p.got[i]) != 1 {
				dup = dup || len(p.got[i]) > 1
				if len(p.got[i]) == 0 {
					f.copies(0, "part %d/%d of CRM comment %s of ticket %s on Google", i, p.n, c.ID, t.ID)
				}
			}
			if len(p.got[i]) > 0 {
				whole.WriteString(p.got[i][0])
			}
		}
		if dup {
			f.copies(2, "a part of CRM comment %s of ticket %s on Google", c.ID, t.ID)
		}
		if whole.String() != c.Body {
			f.add("CRM comment %s of ticket %s reads differently on Google (%d characters, want %d)", c.ID, t.ID, len(whole.String()), len(c.Body))
		}
	}

	// Files, each once with the same bytes, or a notice when over the limit.
	crmFiles := map[string][]crmsim.AttachmentState{}
	for _, a := range t.Attachments {
		crmFiles[a.Filename] = append(crmFiles[a.Filename], a)
	}
	googleFiles := map[string][]cloudsupport.Attachment{}
	for _, a := range gAtts {
		googleFiles[a.Filename] = append(googleFiles[a.Filename], a)
	}
	notices := func(bodies []string, prefix string) int {
		n := 0
		for _, b := range bodies {
			if strings.HasPrefix(b, prefix) {
				n++
			}
		}
		return n
	}
	var crmBodies, googleBodies []string
	for _, c := range t.Comments {
		if c.ByConnector {
			crmBodies = append(crmBodies, c.Body)
		}
	}
	for _, c := range gComs {
		if c.Creator != nil && c.Creator.Email == connectorEmail {
			googleBodies = append(googleBodies, c.Body)
		}
	}
	for _, a := range gAtts {
		if a.Creator != nil && a.Creator.Email == connectorEmail {
			continue
		}
		if a.SizeBytes > maxFile {
			f.copies(notices(crmBodies, "[Google Attachment "+lastSegment(a.Name)+" by "), "notice of Google file %s on ticket %s", a.Filename, t.ID)
			if len(crmFiles[a.Filename]) > 0 {
				f.add("Google file %s over the limit was copied to ticket %s", a.Filename, t.ID)
			}
			continue
		}
		copies := crmFiles[a.Filename]
		f.copies(len(copies), "Google file %s on ticket %s", a.Filename, t.ID)
		data, _ := w.google.AttachmentData(a.Name)
		for _, c := range copies {
			if !bytes.Equal(c.Data, data) {
				f.add("Google file %s reads differently on ticket %s", a.Filename, t.ID)
			}
		}
	}
	for _, a := range t.Attachments {
		if a.ByConnector || strings.HasPrefix(a.Filename, "internal-") || !strings.HasPrefix(a.Filename, "crm-") {
			continue
		}
		if closedByPerson && !a.CreateTime.Before(closedAt.Truncate(time.Second)) {
			continue
		}
		if a.Size > maxFile {
			if n := notices(googleBodies, "[Company Attachment "+a.ID+" by "); n != 0 || !closedByPerson {
				f.copies(n, "notice of CRM file %s on Google case %s (closed %v)", a.Filename, g.Name, g.State == "CLOSED")
			}
			continue
		}
		copies := googleFiles[a.Filename]
		if len(copies) == 0 && closedByPerson {
			continue
		}
		f.copies(len(copies), "CRM file %s on Google case %s", a.Filename, g.Name)
		for _, c := range copies {
			if data, _ := w.google.AttachmentData(c.Name); !bytes.Equal(data, a.Data) {
				f.add("CRM file %s reads differently on Google case %s", a.Filename, g.Name)
			}
		}
	}

	w.checkEchoes(f, g, t, gComs, gAtts)

	// Priority and close.
	gClosed := g.State == "CLOSED"
	if gClosed != t.Closed {
		f.add("Google case %s closed %v, ticket %s closed %v (%s)", g.Name, gClosed, t.ID, t.Closed, w.describe(g.Name, t.ID))
	}
	if !gClosed && !t.Closed {
		cp, ok := table.Google(t.Priority)
		if gp := casesync.ParsePriority(g.Priority); !ok || table.Bucket(gp) != cp {
			f.add("Google case %s is %s, ticket %s is %q", g.Name, g.Priority, t.ID, t.Priority)
		}
		// The ticket shows Google's state (nobody edits the field here).
		if got := t.CustomFields[crmsim.DefaultStateField]; got != g.State {
			f.add("Google case %s is in state %s, ticket %s shows %q", g.Name, g.State, t.ID, got)
		}
	}

	// Outage notices alternate and end with "Syncing has resumed.".
	for side, bodies := range map[string][]string{"Google case " + g.Name: googleBodies, "ticket " + t.ID: crmBodies} {
		var seq []string
		for _, b := range bodies {
			switch {
			case strings.HasPrefix(b, "This case has not synced properly"):
				seq = append(seq, "outage")
			case strings.HasPrefix(b, "Syncing has resumed."):
				seq = append(seq, "resumed")
			}
		}
		for i, k := range seq {
			want := "outage"
			if i%2 == 1 {
				want = "resumed"
			}
			if k != want {
				f.add("notices on %s do not alternate: %v", side, seq)
				break
			}
		}
		if len(seq)%2 == 1 && !(side == "Google case "+g.Name && gClosed) {
			// A closed Google case takes no comment: "Syncing has resumed."
			// is not posted there (docs/design.md, Outage detection).
			f.add("notices on %s end with an outage notice: %v", side, seq)
		}
	}
}

var (
	googleNoticeRE  = regexp.MustCompile(`^\[Google Attachment (\S+) by `)
	companyNoticeRE = regexp.MustCompile(`^\[Company Attachment (\S+) by `)
)

// checkEchoes checks that every comment and file casebridge wrote as the
// copy of an item names an item a person made on the other side: never one
// casebridge wrote itself (an echo, such as the event of its own write
// taken for news), nor one that does not exist.
func (w *world) checkEchoes(f *findings, g cloudsupport.Case, t crmsim.TicketState, gComs []cloudsupport.Comment, gAtts []cloudsupport.Attachment) {
	personGoogle := map[string]bool{} // ids of people's Google comments and files, names of their files
	for _, c := range gComs {
		if c.Creator == nil || c.Creator.Email != connectorEmail {
			personGoogle[lastSegment(c.Name)] = true
		}
	}
	for _, a := range gAtts {
		if a.Creator == nil || a.Creator.Email != connectorEmail {
			personGoogle[lastSegment(a.Name)], personGoogle["file "+a.Filename] = true, true
		}
	}
	personCRM := map[string]bool{}
	for _, c := range t.Comments {
		if !c.ByConnector {
			personCRM[c.ID] = true
		}
	}
	for _, a := range t.Attachments {
		if !a.ByConnector {
			personCRM[a.ID], personCRM["file "+a.Filename] = true, true
		}
	}
	echo := func(format string, args ...any) {
		f.Duplicated++
		f.add("echo: "+format, args...)
	}
	for _, c := range gComs {
		if c.Creator == nil || c.Creator.Email != connectorEmail {
			continue
		}
		for _, re := range []*regexp.Regexp{partRE, companyNoticeRE} {
			if m := re.FindStringSubmatch(c.Body); m != nil && !personCRM[m[1]] {
				echo("Google case %s has casebridge's copy of CRM item %s, which no person made on ticket %s", g.Name, m[1], t.ID)
			}
		}
	}
	for _, a := range gAtts {
		if a.Creator != nil && a.Creator.Email == connectorEmail && !personCRM["file "+a.Filename] {
			echo("Google case %s has casebridge's file %s, which no person attached to ticket %s", g.Name, a.Filename, t.ID)
		}
	}
	for _, c := range t.Comments {
		if !c.ByConnector {
			continue
		}
		for _, re := range []*regexp.Regexp{googleRE, googleNoticeRE} {
			if m := re.FindStringSubmatch(c.Body); m != nil && !personGoogle[m[1]] {
				echo("ticket %s has casebridge's copy of Google item %s, which no person made on %s", t.ID, m[1], g.Name)
			}
		}
	}
	for _, a := range t.Attachments {
		if a.ByConnector && !personGoogle["file "+a.Filename] {
			echo("ticket %s has casebridge's file %s, which no person attached to %s", t.ID, a.Filename, g.Name)
		}
	}
}

// sortedKeys returns a map's keys in order, for stable reports.
func sortedKeys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// describe tells what the store holds for a pair, for a problem report.
func (w *world) describe(googleCase, ticket string) string {
	m, _, err := w.store.ResolveMapping(context.Background(), googleCase, ticket, false, nil)
	if err != nil {
		return "no mapping: " + err.Error()
	}
	g, _ := w.google.Case(googleCase)
	return fmt.Sprintf("mapping %s: origin %s, closed %v/%v, resolved %v, reopen notice %v, attempts %d, last error %q, due %v, lease %q until %v, seen %v/%v, pending %v/%v; Google updated %s",
		m.ID, m.Origin, m.Google.Closed, m.Company.Closed, !m.ResolvedAt.IsZero(), m.ReopenNoticeSent, m.Attempts, m.LastError, m.DueAt, m.LeaseHolder, m.LeaseUntil,
		m.Google.SeenUpdateTime, m.Company.SeenUpdateTime, m.Google.PendingSince, m.Company.PendingSince, g.UpdateTime)
}
