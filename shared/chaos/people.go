package chaos

import (
	"fmt"
	"strings"
	"time"

	"github.com/casebridge/casebridge/shared/crmsim"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
)

// people make the changes casebridge must sync, directly in the
// simulators, as customers, Google Support and helpdesk agents would.
type people struct {
	w   *world
	seq int
	// closedAt is when a person closed a Google case: what the CRM case
	// says after that stays in the CRM.
	closedAt map[string]time.Time
	// tickets are the tickets people made (casebridge makes the others).
	tickets map[string]bool
}

var (
	alice = csapitest.Actor{DisplayName: "Alice Customer", Email: customerEmail}
	words = strings.Fields("the instance fails to start after the upgrade and the logs show a timeout near the load balancer while the disk is almost full")
)

// text is a unique comment body of about n characters.
func (p *people) text(n int) string {
	p.seq++
	var b strings.Builder
	fmt.Fprintf(&b, "note %d:", p.seq)
	for b.Len() < n {
		b.WriteByte(' ')
		b.WriteString(words[p.w.intn(len(words))])
	}
	return b.String()
}

// file is a file of n bytes with NUL bytes in it.
func (p *people) file(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		if p.w.intn(4) == 0 {
			b[i] = 0
		} else {
			b[i] = byte(p.w.intn(256))
		}
	}
	return b
}

// fileSize is a size near the attachment limit, on either side of it.
func (p *people) fileSize() int {
	switch p.w.intn(4) {
	case 0:
		return 1 + p.w.intn(100)
	case 1:
		return maxFile + 1 + p.w.intn(4096)
	default:
		return maxFile - p.w.intn(4096)
	}
}

// openGoogle returns an open Google case, or "" if there is none.
func (p *people) openGoogle() string {
	var open []string
	for _, c := range p.w.google.Cases() {
		if c.State != "CLOSED" && !p.counterpartClosed(c.Name, "") {
			open = append(open, c.Name)
		}
	}
	if len(open) == 0 {
		return ""
	}
	return open[p.w.intn(len(open))]
}

// openTicket returns an open ticket, or "" if there is none.
func (p *people) openTicket() string {
	var open []string
	for _, t := range p.w.crm.Tickets() {
		if !t.Closed && !p.counterpartClosed(t.GoogleCase, t.ID) {
			open = append(open, t.ID)
		}
	}
	if len(open) == 0 {
		return ""
	}
	return open[p.w.intn(len(open))]
}

// counterpartClosed reports whether the other side of a Google case or a
// ticket is already closed: people stop working on a case once either side
// is closed (what they would say then is not expected to sync).
func (p *people) counterpartClosed(googleCase, ticket string) bool {
	for _, t := range p.w.crm.Tickets() {
		if googleCase != "" && t.GoogleCase == googleCase && t.Closed {
			return true
		}
	}
	if googleCase != "" {
		if g, ok := p.w.google.Case(googleCase); ok && g.State == "CLOSED" {
			return true
		}
	}
	if ticket != "" {
		for _, c := range p.w.google.Cases() {
			if c.State == "CLOSED" && strings.HasSuffix(strings.TrimSpace(c.Description), "Company Case: "+ticket) {
				return true
			}
		}
	}
	return false
}

// act makes one random change. It returns what it did, for the log.
func (p *people) act() string {
	w := p.w
	priorities := []string{"P0", "P1", "P2", "P3", "P4"}
	crmPriorities := crmsim.DefaultPriorities
	switch n := w.intn(100); {
	case n < 8:
		name, err := w.google.CreateCase(project, "Case "+p.text(10), p.text(200), priorities[w.intn(5)], customerEmail)
		return report("new Google case "+name, err)
	case n < 14:
		id := w.crm.CreateTicket(crmsim.Ticket{Subject: "Ticket " + p.text(10), Description: p.text(200), Priority: crmPriorities[w.intn(len(crmPriorities))], SyncFlag: true, Requester: "bob@customer.example"})
		p.tickets[id] = true
		return "new flagged ticket " + id
	case n < 16:
		id := w.crm.CreateTicket(crmsim.Ticket{Subject: "Private " + p.text(10), Description: p.text(100), Priority: "normal"})
		p.tickets[id] = true
		return "new unflagged ticket " + id
	case n < 34:
		g := p.openGoogle()
		if g == "" {
			return "nothing to comment on"
		}
		if w.intn(5) == 0 {
			_, err := w.google.AddAgentComment(g, p.text(300))
			return report("Google Support comment on "+g, err)
		}
		_, err := w.google.AddComment(g, p.text(300), alice)
		return report("customer comment on "+g, err)
	case n < 50:
		t := p.openTicket()
		if t == "" {
			return "nothing to reply to"
		}
		_, err := w.crm.AddHumanComment(t, "Bob Agent", p.text(300), true)
		return report("public reply on "+t, err)
	case n < 58:
		t := p.openTicket()
		if t == "" {
			return "nothing to note"
		}
		_, err := w.crm.AddHumanComment(t, "Bob Agent", "INTERNAL-"+p.text(200), false)
		return report("internal note on "+t, err)
	case n < 62:
		t := p.openTicket()
		if t == "" {
			return "nothing to reply to"
		}
		_, err := w.crm.AddHumanComment(t, "Bob Agent", p.text(13000+w.intn(17000)), true)
		return report("long reply on "+t, err)
	case n < 68:
		g := p.openGoogle()
		if g == "" {
			return "nothing to attach to"
		}
		p.seq++
		_, err := w.google.AddAttachment(g, fmt.Sprintf("google-%d.bin", p.seq), "application/octet-stream", p.file(p.fileSize()), alice)
		return report("Google file on "+g, err)
	case n < 74:
		t := p.openTicket()
		if t == "" {
			return "nothing to attach to"
		}
		p.seq++
		name := fmt.Sprintf("crm-%d.bin", p.seq)
		if w.intn(2) == 0 {
			_, err := w.crm.AddHumanAttachment(t, "Bob Agent", name, "application/octet-stream", p.file(p.fileSize()))
			return report("file on ticket "+t, err)
		}
		_, _, err := w.crm.AddHumanCommentWithFile(t, "Bob Agent", p.text(50), true, name, "application/octet-stream", p.file(p.fileSize()))
		return report("file on a reply on "+t, err)
	case n < 78:
		t := p.openTicket()
		if t == "" {
			return "nothing to attach to"
		}
		p.seq++
		_, _, err := w.crm.AddHumanCommentWithFile(t, "Bob Agent", "INTERNAL-"+p.text(50), false, fmt.Sprintf("internal-%d.bin", p.seq), "application/octet-stream", p.file(p.fileSize()))
		return report("file on an internal note on "+t, err)
	case n < 86:
		g := p.openGoogle()
		if g == "" {
			return "no priority to change"
		}
		return report("Google priority on "+g, w.google.SetPriority(g, priorities[w.intn(5)]))
	case n < 94:
		t := p.openTicket()
		if t == "" {
			return "no priority to change"
		}
		return report("CRM priority on "+t, w.crm.SetHumanPriority(t, crmPriorities[w.intn(len(crmPriorities))]))
	case n < 97:
		g := p.openGoogle()
		if g == "" {
			return "nothing to close"
		}
		p.closedAt[g] = w.clock.Now()
		return report("closed Google case "+g, w.google.CloseCase(g))
	default:
		t := p.openTicket()
		if t == "" {
			return "nothing to close"
		}
		return report("closed ticket "+t, w.crm.HumanClose(t))
	}
}

func report(what string, err error) string {
	if err != nil {
		return what + ": " + err.Error()
	}
	return what
}
