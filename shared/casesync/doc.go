// Package casesync is casebridge's sync engine: it keeps a Google Cloud support
// case and its counterpart in a company's CRM in step, both ways. It knows no
// cloud SDK; it works through the small interfaces declared in ports.go, which
// the CSAPI adapter, the CRM adapters and the Firestore store implement.
//
// # What is synced
//
// A mapping (model.go) pairs one Google case with one CRM case. The engine
// makes the counterpart of a new case on the other side (sync_link.go),
// mirrors each person's comment and file to the other side exactly once
// (sync_comments.go, sync_attachments.go), carries priority changes, the
// more urgent side winning a conflict (sync_priority.go), and closes
// (sync_close.go). A reopened CRM case either gets a note that the Google
// case stays closed or a new Google case (sync_reopen.go, REOPEN_POLICY).
// Internal CRM notes and their files never reach Google unless the operator
// syncs internal notes; visibility an adapter cannot tell counts as
// internal. A comment too long for Google goes in numbered parts; a file
// over the size limit is not copied and the other side gets a notice.
//
// # One reconciliation
//
// SyncCase (sync.go) reconciles one mapping from what both APIs say now,
// never from what an event said: it takes the mapping's lease, runs the
// steps of run() (link, reopen, comments, attachments, priority, close) and
// saves (sync_save.go). The steps are written once, from one side to the
// other; where the sides differ is in sync_sides.go. A pass that wrote to
// a side, or read the CRM in the tick of its last change, looks once more
// before it lets the lease go (at most maxPasses).
//
// # Exactly once
//
// Every handler may run twice, concurrently, or die at any line:
//
//   - Before writing an item, the engine looks on the target side for the
//     marker of that item written by casebridge's own identity
//     (markers.go): a write whose answer was lost is found, not repeated.
//     Creating a counterpart records its intent first, and a retry looks
//     for the case casebridge created before creating another.
//   - Which items of a side are handled is kept in bounded space: a
//     watermark and at most MaxDoneItems ids per side and kind (items.go).
//   - A mapping is worked on by one worker at a time: a fenced lease
//     (lease.go), renewed while the work runs; every write under it checks
//     holder and generation, so a worker that lost its lease records
//     nothing. Outage detection takes the same lease for its notices.
//   - A request that finds the lease held is recorded (RerunRequested) and
//     the holder looks again; it is not retried.
//
// # Nothing left behind
//
// The pollers (poll.go) mark a change pending before they publish it, and
// each poll sweeps: mappings whose work is overdue (a failed
// reconciliation's backoff, a crashed worker's lease, a lost message) are
// asked for again. A counterpart that cannot be created is retried with
// backoff until GiveUpAfter, then an ERROR entry (GaveUpMessage) alerts.
// Outage detection (outage.go) checks the mappings that may be late
// against the tolerance table, alerts (OutageMessage), posts one notice on
// each side of a late mapping and "Syncing has resumed." once it is back.
//
// # Trust
//
// The engine acts only on what it can prove (docs/trust.md): a link is
// made from the CRM's Google-case field, checked for form, scope and
// readability (ids.go, refusal.go), or from a link line casebridge's own
// identity wrote whole; a comment counts as casebridge's own by its author
// identity, never by text that looks like a marker. Ids, names and page
// tokens from the APIs are validated before use (ids.go), and errors
// stored or logged name ids, never case text.
package casesync
