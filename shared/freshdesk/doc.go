// Package freshdesk is casebridge's adapter for Freshdesk: it implements
// casesync.CRM and casesync.CaseStateCRM over the REST API v2 at
// {CRM_URL}/api/v2, through the shared crmhttp client (rate limiter,
// Retry-After, typed errors), authenticated as the sync agent with HTTP
// Basic "{api_key}:X" (FRESHDESK_API_KEY).
//
// Tickets are the cases; custom ticket fields, named by their API names
// (cf_...), carry the sync state: a checkbox that flags a ticket for sync
// (FRESHDESK_SYNC_FLAG_FIELD, default cf_sync_with_google) and a
// single-line text field holding the linked Google case name
// (FRESHDESK_GOOGLE_CASE_FIELD, default cf_google_case). Priorities are
// Freshdesk's numbers, "1" (Low) to "4" (Urgent). A ticket counts as closed
// in a status of FRESHDESK_CLOSED_STATUSES (default 4 Resolved and 5
// Closed); CloseCase sets FRESHDESK_CLOSE_STATUS, default 5 Closed: the
// Google case it follows is closed for good (CSAPI cannot reopen one), so
// the ticket goes to Freshdesk's final status rather than to Resolved,
// which is the agents' "solved, awaiting the requester". Either reopens
// when the requester replies, as Freshdesk does.
//
// Calls per port method:
//   - SearchUpdated: GET /tickets?updated_since=&order_by=updated_at&
//     order_type=asc&per_page=100&page=N, filtered here (flagged or linked,
//     updated strictly after since). Freshdesk caps how deep the list
//     pages, so a full page does not lead to a deeper page: the listing
//     starts again from page 1 with updated_since moved to the last
//     updated_at seen, less one second (whether updated_since is inclusive
//     is not documented), and tickets read twice are kept once, by id (the
//     later copy). updated_at has one-second granularity: a burst of more
//     tickets changed within one second than a page holds leaves nothing
//     to move updated_since to, so the next page of the same updated_since
//     is read instead, page after page until the burst is read (bounded by
//     MaxPages and by Freshdesk's own cap on the page number). The list
//     carries no description (include=description costs extra credits):
//     the engine reads a case with GetCase before it copies anything.
//   - SearchUpdatedStep (casesync.ResumableSearchCRM): the same list, read
//     in steps. Freshdesk caps the ticket list per minute well below the
//     account's limit (20 a minute on Growth, 100 on Pro, 200 on
//     Enterprise) and answers 429 with a Retry-After of up to a minute,
//     longer than the client waits in process: a backlog (the first poll
//     reaches back MaxCaseAge) may need more list calls than a minute
//     allows. A step stops after MaxPages pages, at the poll's deadline, or
//     at such a 429 once it has read a page, and answers what it read and
//     a cursor: "u{updated_since, Unix seconds}p{page}", where the next
//     poll goes on. A cursor given back is checked (its form, a page of 1
//     to 1000, a position not before the poll's since nor a day in the
//     future) and one that fails is refused as
//     casesync.ErrPollCursorRefused, before any call.
//   - GetCase: GET /tickets/{id}, whose description_text is the ticket's
//     first message. A deleted ticket (in the trash) is not found.
//   - FindByGoogleCase: GET /search/tickets?query="cf_google_case:'name'"
//     (30 a page, 10 pages at most), then GET /tickets/{id} of the oldest
//     exact match. The search index lags "a few minutes":
//     CreationLookupLag reports FRESHDESK_SEARCH_LAG (default 5m), which
//     the engine waits out before it creates a CRM case again after a
//     crash.
//   - CreateCase: POST /tickets, the description as HTML, the sync agent
//     (GET /agents/me) as the requester: Freshdesk needs one, and nothing
//     casebridge writes emails it.
//   - SetGoogleCase, SetPriority, CloseCase: GET then PUT /tickets/{id}
//     only when something changes.
//   - ListComments: GET /tickets/{id}/conversations, following the link
//     rel="next" header. Every conversation is listed; it is public only
//     when it says "private": false (a reply, a public note, a reply from
//     the requester); a private note, or a conversation that does not say,
//     is internal. The ticket's description is never a conversation.
//     Conversations by the sync agent (user_id, the id GET /agents/me
//     gives) are ByConnector. Authors are named through GET /agents/{id},
//     else GET /contacts/{id}, each asked once.
//   - AddComment: POST /tickets/{id}/notes, a public note (private false)
//     for a public comment and a private note otherwise. Never POST
//     /tickets/{id}/reply: a reply emails the requester, a public note
//     does not.
//   - ListAttachments: the files of GET /tickets/{id} (those the ticket was
//     opened with: public, as the description is) and of each
//     conversation (public only when the conversation is; Freshdesk keeps
//     the files of private notes on those notes). ListItems
//     (casesync.ItemLister) returns comments and files from one reading of
//     both: two listings instead of three.
//   - DownloadAttachment: the same listing, then a GET of the file's
//     attachment_url. That URL is pre-signed, on a storage host, and
//     expires (its lifetime is not documented): it is fetched with no
//     credentials at all (the API key goes to CRM_URL's origin only),
//     over https (http only when CRM_URL is http, as for a local
//     simulator), and one that answers 403 is listed again for a fresh URL
//     and tried once more. The address comes from Freshdesk's answer and
//     casebridge runs in Google Cloud, so unless its host is CRM_URL's own
//     it must be a DNS name (no IP address in any spelling, no localhost,
//     no single-label name, nothing under .internal, such as
//     metadata.google.internal), and the dialer refuses to connect to a
//     loopback, link-local (the metadata server's 169.254.169.254),
//     private, shared or multicast address, whatever the name resolved to
//     and after any redirect (a net.Dialer Control function; a caller's
//     transport has its addresses resolved and checked before its own
//     dialer gets them). Downloads use no proxy, so that the check sees
//     the address connected to. A refused address is a permanent error.
//     Freshdesk does not document its storage hosts, so no list of them is
//     enforced. A download is a stream, never read into memory,
//     and reads at most Config.MaxDownloadBytes (default the upload
//     limit): a file listed larger is not asked for, and one served larger
//     fails with a permanent TooLarge error once the bound is passed.
//   - UploadAttachment: a multipart POST /tickets/{id}/notes (attachments[]
//     streamed, private true: a private note naming the file, which agents
//     see and the requester does not, as the other adapters keep Google's
//     files internal; no email is sent). The file is reported Public only
//     if Freshdesk answers the note as public. Freshdesk takes at most 20 MB of files in one request
//     (FRESHDESK_MAX_ATTACHMENT_BYTES): a larger file is refused before
//     anything is posted.
//   - SetGoogleState: GET /tickets/{id}, then one PUT with the state field
//     (FRESHDESK_STATE_FIELD, default cf_google_case_state) and, when
//     FRESHDESK_STATE_STATUSES maps the state, the status; only what
//     differs is sent. A mapped status may not count as closed (refused
//     when the configuration is read), and a ticket already in a closed
//     status keeps it: setting Google's state never closes or reopens.
//   - ClearEscalationRequest: GET, then PUT unticking the escalation
//     checkbox (FRESHDESK_ESCALATION_FIELD, default
//     cf_escalate_to_google); no call when the field is "none". Every read that returns a case reads the
//     request, with its reason and justification text
//     (cf_google_escalation_reason, cf_google_escalation_justification);
//     text over casesync.MaxEscalationText bytes is dropped.
//
// Rate limits: Freshdesk limits an account's calls per minute (by plan,
// with lower caps on some endpoints, the ticket list among them) and
// answers 429 with Retry-After, which crmhttp waits out up to
// MaxRetryWait; a longer wait ends the call (SearchUpdatedStep hands on
// what it read instead). Each answer's X-RateLimit-Remaining is kept
// (RateLimitRemaining) and, with X-RateLimit-Total, the minute's usage
// (APIUsage, which operator status shows); FRESHDESK_RATE_LIMIT spaces
// the adapter's own calls (default 200 a minute, the smallest paid plan's
// limit).
//
// Errors: Freshdesk's validation errors ({"description":"Validation
// failed","errors":[{"field","message","code"}]}) are reported by field
// and code only, never with their messages, which may quote values.
//
// Paging: every listing goes through crmhttp's Pager: at most
// Config.MaxPages pages, no page asked twice, no empty page that claims
// more; a next page on another origin, or on CRM_URL's origin but another
// path than the listing's, is not followed.
package freshdesk
