// Package zendesk is casebridge's adapter for Zendesk Support: it
// implements casesync.CRM over the REST API at {CRM_URL}/api/v2, through
// the shared crmhttp client (rate limiter, Retry-After, typed errors).
//
// Tickets are the cases. Two custom ticket fields, named by numeric id,
// carry the sync state: a checkbox that flags a ticket for sync and a text
// field holding the linked Google case name. CreateCase and SetGoogleCase
// also put the Google case name in the ticket's external_id (when it is
// free), so that FindByGoogleCase can look a ticket up with GET
// /tickets?external_id=, which reads the database rather than the search
// index and so finds a ticket the moment it is made: a retried creation
// finds the ticket it made before. Tickets linked by hand whose external id
// another integration holds are found through the Search API.
//
// Why SearchUpdated uses the incremental ticket export: "every flagged or
// linked ticket updated after since, following all pages" needs a complete
// and consistent answer. Zendesk offers three ways:
//   - The Search API (GET /search.json) pages by offset and returns at most
//     1000 results per query; past them it answers 422. Its index also lags
//     by "up to a few minutes", with no bound given. It cannot promise every
//     page.
//   - The search export (GET /search/export) pages by cursor without the
//     1000 cap, but reads the same lagging index, its cursor lives an hour,
//     and "flagged OR linked" across two fields takes two queries.
//   - The cursor-based incremental ticket export (GET
//     /incremental/tickets/cursor?start_time=) is made for exactly this:
//     "give me every ticket that changed since", complete, ordered by the
//     ticket's generated_timestamp, paged by a cursor until end_of_stream.
//     Its documented lag is fixed and short: changes of the last minute are
//     held back until the minute has passed.
//
// So the adapter uses the incremental export and filters the flag, the link
// and the exact since on its side. Its costs: the sync user must be an
// admin (the export is admin-only); every changed ticket of the account is
// read, not just the synced ones (1000 a page, so an hour of a busy
// account is still a handful of requests); the export allows 10 requests a
// minute, and past them answers a Retry-After of up to a minute, which is
// waited out (MaxRetryWait defaults to 65 s); and the engine's CRM polling
// window (COMPANY_POLLING_WINDOW, default 5 minutes) must stay above the
// one-minute hold-back. start_time
// is kept at least two minutes old because Zendesk refuses a more recent
// one. The export compares start_time with generated_timestamp, which is
// never before updated_at, so no ticket updated after since is missed;
// deleted tickets are excluded and a ticket seen twice keeps its later copy.
//
// The first poll is the expensive one: the engine reaches back 30 days, so
// it reads every ticket of the account changed in that time, at most 10,000
// a minute (10 pages of 1000, the export's limit). So the adapter also
// implements casesync.ResumableSearchCRM: SearchUpdatedStep reads the
// export for as long as the poll run allows (casesync.PollReadBudget) or
// Config.MaxPages pages, and answers the export's after_cursor; the engine
// hands on what was read, saves the cursor in its poll state, and the next
// run goes on from it, so the first poll of any account completes over as
// many runs as it needs. The cursor is checked (printable ASCII, at most
// casesync.MaxPollCursor bytes) before it is saved and before it is sent;
// a cursor Zendesk refuses (400 or 422) is reported as
// casesync.ErrPollCursorRefused, and the poll starts its export again.
// Later polls read a few minutes of changes.
//
// Google's case state and escalation requests: see state.go.
//
// Descriptions: Zendesk keeps a ticket's description as its first comment,
// and its description field answers that comment's text whatever the
// comment's visibility. An agent may open a ticket with an internal note
// (a private first comment) or make the first comment private later (Make
// Comment Private; there is no way back). So the description is the first
// comment's text only when that comment is public, and otherwise there is
// none: GetCase and FindByGoogleCase read the first comment to check (one
// small extra call, skipped when the ticket's is_public says no comment is
// public), and SearchUpdated's cases carry no description at all (the
// engine reads a case with GetCase before it copies anything). A later
// public reply never becomes the description: it is a comment.
//
// Comments: ListComments leaves out a public first comment (it is the
// description) and lists a private one as the internal note it is.
// Authors' names come from the users sideload and are cached; the sync user
// is looked up once with GET /users/me.
//
// Attachments belong to comments: Zendesk keeps the files of internal notes
// on those private comments (comments[].attachments of a comment with
// public false), so a file is Public only when its comment is public, and
// a comment that does not say so reads as private. UploadAttachment
// streams the file to POST /uploads and attaches the token in an internal
// note naming the file. DownloadAttachment reads a file from CRM_URL's host
// only (credentials go nowhere else): from mapped_content_url when CRM_URL
// is the account's host-mapped domain, else from content_url on
// {subdomain}.zendesk.com; when neither is on CRM_URL's host the error says
// to set CRM_URL to https://{subdomain}.zendesk.com. A download is a
// stream, never read into memory, and reads at most Config.MaxDownloadBytes
// (default Config.MaxAttachmentBytes, 50 MB): a file listed larger is not
// asked for, and one served larger than listed fails with a permanent
// TooLarge error once the bound is passed.
//
// Comments and files in one listing: since every comment comes with its
// files, ListAttachments reads the same comment listing as ListComments,
// and ListItems (casesync.ItemLister) returns both lists from one reading
// of it. A reconciliation that needs both pays for one listing instead of
// two.
//
// Paging: every paged listing (comments, the incremental export, the
// search) goes through crmhttp's Pager: at most Config.MaxPages pages
// (default crmhttp.DefaultMaxPages), no cursor, page or start_time twice,
// and no empty page that claims more. A listing that breaks a bound ends
// with a permanent error naming it (comments.list, attachments.list,
// attachments.download, tickets.export, tickets.search) for which
// errors.Is(err, crmhttp.ErrPaging) holds. SearchUpdated, which reads the
// export whole, is bounded so too; SearchUpdatedStep stops at MaxPages
// pages and answers where to go on instead.
//
// Closing: CloseCase sets the close status (default solved). Zendesk
// refuses to solve a ticket without an assignee ("Assignee: is required
// when solving a ticket") unless the account auto-assigns on solve, and the
// tickets CreateCase makes have none; so an unassigned ticket is assigned
// to the sync user in the same update. An assigned ticket keeps its
// assignee.
//
// Closed tickets: Zendesk refuses updates to a ticket in status "closed"
// (422), except to its subject, tags and priority. CloseCase leaves a ticket
// already in a closed status alone; comments, links and uploads to a closed
// ticket fail with a permanent error; a priority change goes through, as
// Zendesk allows.
package zendesk
