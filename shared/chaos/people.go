package chaos

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/api/cloudsupport/v2"

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
	// hot, when set, are the only cases people work on (Google case names
	// and ticket ids), besides the cases they open: a few busy cases.
	hot map[string]bool
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
	v := p.look()
	var open []string
	for _, c := range v.cases {
		if c.State != "CLOSED" && !v.counterpartClosed(c.Name, "") && (len(p.hot) == 0 || p.hot[c.Name]) {
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
	v := p.look()
	var open []string
	for _, t := range v.tickets {
		if !t.Closed && !v.counterpartClosed(t.GoogleCase, t.ID) && (len(p.hot) == 0 || p.hot[t.ID]) {
			open = append(open, t.ID)
		}
	}
	if len(open) == 0 {
		return ""
	}
	return open[p.w.intn(len(open))]
}

// view is what people see of both sides at one moment: each side is read
// once (a read of the CRM copies every file).
type view struct {
	cases   []cloudsupport.Case
	tickets []crmsim.TicketState
	// closedTicket: Google case names a closed ticket names; closedCase:
	// Google case names that are closed, and ticket ids a closed Google
	// case's link line names.
	closedTicket, closedCase map[string]bool
}

func (p *people) look() view {
	v := view{cases: p.w.google.Cases(), tickets: p.w.crm.Tickets(), closedTicket: map[string]bool{}, closedCase: map[string]bool{}}
	for _, t := range v.tickets {
		if t.Closed && t.GoogleCase != "" {
			v.closedTicket[t.GoogleCase] = true
		}
	}
	for _, c := range v.cases {
		if c.State != "CLOSED" {
			continue
		}
		v.closedCase[c.Name] = true
		desc := strings.TrimSpace(c.Description)
		if i := strings.LastIndex(desc, "Company Case: "); i >= 0 {
			v.closedCase["ticket "+desc[i+len("Company Case: "):]] = true
		}
	}
	return v
}

// counterpartClosed reports whether the other side of a Google case or a
// ticket is already closed: people stop working on a case once either side
// is closed (what they would say then is not expected to sync).
func (v view) counterpartClosed(googleCase, ticket string) bool {
	if googleCase != "" && (v.closedTicket[googleCase] || v.closedCase[googleCase]) {
		return true
	}
	return ticket != "" && v.closedCase["ticket "+ticket]
}

// act makes one random change, and sends the event of it when the side
// sends events. It returns what it did, for the log.
func (p *people) act(ctx context.Context) string {
	w := p.w
	priorities := []string{"P0", "P1", "P2", "P3", "P4"}
	crmPriorities := crmsim.DefaultPriorities
	// The events of a change, once it is made.
	google := func(what, notificationType, resource string, err error) string {
		if err == nil {
			w.googleChange(ctx, w.dice, kindPerson, notificationType, resource)
		}
		return report(what, err)
	}
	googleItem := func(what, notificationType, caseName, kind, id string, err error) string {
		return google(what, notificationType, caseName+"/"+kind+"/"+lastSegment(id), err)
	}
	crm := func(what, ticket, item string, err error) string {
		if err == nil {
			// The CRM sends webhooks for tickets flagged for sync or linked.
			if t, ok := w.crm.Ticket(ticket); ok && (t.SyncFlag || t.GoogleCase != "") {
				w.crmChange(ctx, w.dice, kindPerson, ticket, item)
			}
		}
		return report(what, err)
	}
	switch n := w.intn(100); {
	case n < 8:
		name, err := w.google.CreateCase("projects/"+project, "Case "+p.text(10), p.text(200), priorities[w.intn(5)], customerEmail)
		return google("new Google case "+name, csapitest.NotificationCaseCreated, name, err)
	case n < 14:
		id := w.crm.CreateTicket(crmsim.Ticket{Subject: "Ticket " + p.text(10), Description: p.text(200), Priority: crmPriorities[w.intn(len(crmPriorities))], SyncFlag: true, Requester: "bob@customer.example"})
		p.tickets[id] = true
		return crm("new flagged ticket "+id, id, "", nil)
	case n < 16:
		id := w.crm.CreateTicket(crmsim.Ticket{Subject: "Private " + p.text(10), Description: p.text(100), Priority: "normal"})
		p.tickets[id] = true
		return crm("new unflagged ticket "+id, id, "", nil)
	case n < 34:
		g := p.openGoogle()
		if g == "" {
			return "nothing to comment on"
		}
		if w.intn(5) == 0 {
			cn, err := w.google.AddAgentComment(g, p.text(300))
			return googleItem("Google Support comment on "+g, csapitest.NotificationCommentCreated, g, "comments", cn, err)
		}
		cn, err := w.google.AddComment(g, p.text(300), alice)
		return googleItem("customer comment on "+g, csapitest.NotificationCommentCreated, g, "comments", cn, err)
	case n < 50:
		t := p.openTicket()
		if t == "" {
			return "nothing to reply to"
		}
		id, err := w.crm.AddHumanComment(t, "Bob Agent", p.text(300), true)
		return crm("public reply on "+t, t, id, err)
	case n < 58:
		t := p.openTicket()
		if t == "" {
			return "nothing to note"
		}
		id, err := w.crm.AddHumanComment(t, "Bob Agent", "INTERNAL-"+p.text(200), false)
		return crm("internal note on "+t, t, id, err)
	case n < 62:
		t := p.openTicket()
		if t == "" {
			return "nothing to reply to"
		}
		id, err := w.crm.AddHumanComment(t, "Bob Agent", p.text(13000+w.intn(17000)), true)
		return crm("long reply on "+t, t, id, err)
	case n < 68:
		g := p.openGoogle()
		if g == "" {
			return "nothing to attach to"
		}
		p.seq++
		an, err := w.google.AddAttachment(g, fmt.Sprintf("google-%d.bin", p.seq), "application/octet-stream", p.file(p.fileSize()), alice)
		return googleItem("Google file on "+g, csapitest.NotificationAttachmentCreated, g, "attachments", an, err)
	case n < 74:
		t := p.openTicket()
		if t == "" {
			return "nothing to attach to"
		}
		p.seq++
		name := fmt.Sprintf("crm-%d.bin", p.seq)
		if w.intn(2) == 0 {
			id, err := w.crm.AddHumanAttachment(t, "Bob Agent", name, "application/octet-stream", p.file(p.fileSize()))
			return crm("file on ticket "+t, t, id, err)
		}
		cid, _, err := w.crm.AddHumanCommentWithFile(t, "Bob Agent", p.text(50), true, name, "application/octet-stream", p.file(p.fileSize()))
		return crm("file on a reply on "+t, t, cid, err)
	case n < 78:
		t := p.openTicket()
		if t == "" {
			return "nothing to attach to"
		}
		p.seq++
		_, aid, err := w.crm.AddHumanCommentWithFile(t, "Bob Agent", "INTERNAL-"+p.text(50), false, fmt.Sprintf("internal-%d.bin", p.seq), "application/octet-stream", p.file(p.fileSize()))
		return crm("file on an internal note on "+t, t, aid, err)
	case n < 86:
		g := p.openGoogle()
		if g == "" {
			return "no priority to change"
		}
		if w.intn(3) == 0 {
			// Google Support moves the case on: casebridge shows the
			// state on the CRM case.
			states := []string{"IN_PROGRESS_GOOGLE_SUPPORT", "ACTION_REQUIRED", "SOLUTION_PROVIDED"}
			return google("Google state on "+g, csapitest.NotificationCaseUpdated, g, w.google.SetState(g, states[w.intn(len(states))]))
		}
		return google("Google priority on "+g, csapitest.NotificationCaseUpdated, g, w.google.SetPriority(g, priorities[w.intn(5)]))
	case n < 94:
		t := p.openTicket()
		if t == "" {
			return "no priority to change"
		}
		return crm("CRM priority on "+t, t, "", w.crm.SetHumanPriority(t, crmPriorities[w.intn(len(crmPriorities))]))
	case n < 97:
		g := p.openGoogle()
		if g == "" {
			return "nothing to close"
		}
		p.closedAt[g] = w.clock.Now()
		return google("closed Google case "+g, csapitest.NotificationCaseUpdated, g, w.google.CloseCase(g))
	default:
		t := p.openTicket()
		if t == "" {
			return "nothing to close"
		}
		return crm("closed ticket "+t, t, "", w.crm.HumanClose(t))
	}
}

func report(what string, err error) string {
	if err != nil {
		return what + ": " + err.Error()
	}
	return what
}
