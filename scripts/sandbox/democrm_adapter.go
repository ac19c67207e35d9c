package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
)

// adapterReadEvery is how long the demo reuses what it read of a ticket
// through an adapter: the checks look every 150 ms, several at once, and
// the simulator serves the functions process too.
const adapterReadEvery = 300 * time.Millisecond

// adapterReader reads a vendor's simulator as its sync user, through
// casebridge's adapter for it (the vendor's text formats, such as Jira's
// Atlassian Documents, read back as casebridge reads them), straight to
// the simulator's own address, so that the outage switch in front of it
// does not blind the demo. Its calls are the demo's own: they are not
// counted with the functions process's.
type adapterReader struct {
	// what names the CRM in errors ("Jira issue").
	what string
	crm  casesync.CRM
	// since is how far back Synced searches: before the demo began.
	since time.Time

	mu      sync.Mutex
	tickets map[string]*cachedRead[crmTicket]
	synced  cachedRead[[]crmTicket]
	files   map[string][]byte // attachment id -> bytes; files never change
}

func newAdapterReader(what string, crm casesync.CRM) *adapterReader {
	return &adapterReader{what: what, crm: crm, since: time.Now().Add(-time.Hour),
		tickets: map[string]*cachedRead[crmTicket]{}, files: map[string][]byte{}}
}

// cachedRead is one read, reused for a while (get's every); its lock is
// held while it is refreshed, so that checks looking at once share one
// read.
type cachedRead[T any] struct {
	mu  sync.Mutex
	at  time.Time
	val T
}

// forget makes the next get read afresh.
func (r *cachedRead[T]) forget() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.at = time.Time{}
}

func (r *cachedRead[T]) get(every time.Duration, refresh func() (T, error)) (T, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.at.IsZero() && time.Since(r.at) < every {
		return r.val, nil
	}
	v, err := refresh()
	if err != nil {
		return v, err
	}
	r.val, r.at = v, time.Now()
	return v, nil
}

// entry is the cached read of one ticket.
func (a *adapterReader) entry(id string) *cachedRead[crmTicket] {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.tickets[id]
	if !ok {
		e = &cachedRead[crmTicket]{}
		a.tickets[id] = e
	}
	return e
}

// changed makes the next reads of a ticket, and of the synced list, read
// afresh: the demo has just acted on it.
func (a *adapterReader) changed(id string) {
	if id != "" {
		a.entry(id).forget()
	}
	a.synced.forget()
}

// Ticket reads a ticket, its comments and its files (each file's bytes
// once).
func (a *adapterReader) Ticket(ctx context.Context, id string) (crmTicket, error) {
	return a.entry(id).get(adapterReadEvery, func() (crmTicket, error) {
		c, err := a.crm.GetCase(ctx, id)
		if err != nil {
			return crmTicket{}, fmt.Errorf("reading %s %s: %w", a.what, id, err)
		}
		t := crmTicket{ID: c.ID, Subject: c.Subject, Priority: c.Priority, GoogleCase: c.GoogleCase, Closed: c.Closed}
		comments, err := a.crm.ListComments(ctx, id)
		if err != nil {
			return crmTicket{}, fmt.Errorf("reading the comments of %s %s: %w", a.what, id, err)
		}
		for _, cm := range comments {
			t.Comments = append(t.Comments, crmComment{ID: cm.ID, Author: cm.AuthorName, Body: cm.Body, Public: cm.Public})
		}
		files, err := a.crm.ListAttachments(ctx, id)
		if err != nil {
			return crmTicket{}, fmt.Errorf("listing the files of %s %s: %w", a.what, id, err)
		}
		for _, f := range files {
			data, err := a.file(ctx, id, f.ID)
			if err != nil {
				return crmTicket{}, err
			}
			t.Files = append(t.Files, crmFile{Filename: f.Filename, Data: data})
		}
		return t, nil
	})
}

func (a *adapterReader) file(ctx context.Context, ticketID, attachmentID string) ([]byte, error) {
	a.mu.Lock()
	data, ok := a.files[attachmentID]
	a.mu.Unlock()
	if ok {
		return data, nil
	}
	body, err := a.crm.DownloadAttachment(ctx, ticketID, attachmentID)
	if err != nil {
		return nil, fmt.Errorf("downloading file %s of %s %s: %w", attachmentID, a.what, ticketID, err)
	}
	defer body.Close()
	if data, err = io.ReadAll(body); err != nil {
		return nil, fmt.Errorf("downloading file %s of %s %s: %w", attachmentID, a.what, ticketID, err)
	}
	a.mu.Lock()
	a.files[attachmentID] = data
	a.mu.Unlock()
	return data, nil
}

// Synced searches for the flagged or linked tickets changed since before
// the demo began.
func (a *adapterReader) Synced(ctx context.Context) ([]crmTicket, error) {
	return a.synced.get(adapterReadEvery, func() ([]crmTicket, error) {
		cases, err := a.crm.SearchUpdated(ctx, a.since)
		if err != nil {
			return nil, fmt.Errorf("searching the %ss: %w", a.what, err)
		}
		out := make([]crmTicket, 0, len(cases))
		for _, c := range cases {
			out = append(out, crmTicket{ID: c.ID, Subject: c.Subject, Priority: c.Priority, GoogleCase: c.GoogleCase, Closed: c.Closed})
		}
		return out, nil
	})
}
