// Package freshdesktest is an in-memory simulator of the parts of the
// Freshdesk REST API v2 (base {url}/api/v2) that casebridge's Freshdesk
// adapter uses, written from Freshdesk's public API reference
// (developers.freshdesk.com/api) and support articles. Tests start it with
// NewServer (an httptest server for the API and one for the files, closed
// on cleanup), or serve New(...).Handler() themselves, and act as the
// helpdesk's agents through the Server's methods.
//
// What it models, as Freshdesk documents it:
//   - Authentication: HTTP Basic with the API key as the user name and any
//     password ("X"). A wrong key answers 401 {"code":
//     "invalid_credentials", "message": ...}.
//   - Agents: GET /agents/me (the key's agent: id, contact.name,
//     contact.email), GET /agents/{id}; contacts: GET /contacts/{id}.
//   - Tickets: GET /tickets/{id} (description, description_text and the
//     ticket's own attachments), POST /tickets (subject, description,
//     a requester by email or requester_id, status, priority,
//     custom_fields; a new email becomes a contact), PUT /tickets/{id}.
//     Statuses 2 Open, 3 Pending, 4 Resolved, 5 Closed and
//     Options.CustomStatuses; priorities 1 to 4. Timestamps are whole
//     seconds, UTC; adding a conversation moves updated_at.
//   - Custom fields by API name (cf_...), every one listed in
//     custom_fields (null when unset, false for an unticked checkbox), and
//     checked as Freshdesk checks them: an unknown name answers
//     invalid_field, a checkbox given a non-boolean datatype_mismatch, a
//     single-line text over 255 characters or a dropdown value not among
//     its choices invalid_value.
//   - Validation errors: 400 {"description":"Validation failed","errors":
//     [{"field","message","code"}]} with codes missing_field,
//     invalid_value, datatype_mismatch, invalid_field, invalid_json.
//   - The ticket list: GET /tickets with updated_since, order_by
//     (created_at, due_by, updated_at, status), order_type (asc, desc),
//     per_page (at most 100, default 30), page, and a Link header with
//     rel="next" while more follow. Without updated_since only tickets
//     created in the last 30 days are listed; deleted tickets never are.
//     Pages past Options.MaxListPage answer 400.
//   - Conversations: GET /tickets/{id}/conversations (oldest first, paged
//     as the list), POST /tickets/{id}/notes (private by default; private
//     false is a public note; JSON or multipart/form-data with
//     attachments[]) and POST /tickets/{id}/reply (always public). Each
//     has body (HTML), body_text, private, incoming, user_id, source (0 a
//     reply, 2 a note) and attachments. The ticket's description is not a
//     conversation.
//   - Attachments: id, name, content_type, size, attachment_url. The URL
//     is pre-signed, on a storage host of its own (FilesHandler), and
//     valid for Options.URLLifetime from each listing; it answers 403 once
//     expired or when its signature does not match, and 400 to a request
//     that also carries an Authorization header, as a pre-signed S3 URL
//     does. The files of one request may total Options.MaxAttachmentBytes
//     (Freshdesk: 20 MB); more answers 400.
//   - Search: GET /search/tickets?query="..." with field:value and
//     field:'text' conditions on custom fields, status and priority, 30
//     results a page, pages 1 to 10, and the total; a ticket shows only
//     Options.SearchLag after its last change (Freshdesk: "a few minutes").
//   - Rate limits: with Options.RequestsPerMinute, X-RateLimit-Total,
//     X-RateLimit-Remaining and X-RateLimit-Used-CurrentRequest on every
//     answer and 429 with Retry-After past the limit; with
//     Options.EndpointLimits, the per-endpoint caps of Freshdesk's plans
//     (PlanLimits: the ticket list 20 a minute on Growth, 100 on Pro, 200
//     on Enterprise), 429 until the minute ends; and injected faults
//     (InjectFault, InjectRateLimit).
//   - Every answer carries a Date header from Options.Clock.
//
// What it simplifies, or takes from general knowledge rather than the
// documentation (marked unconfirmed there):
//   - A 404 has an empty body; a 429's body and the texts of some
//     messages are plausible, not copied from Freshdesk.
//   - updated_since is inclusive; the order of tickets with the same
//     updated_at is by id. The deepest page (300) is often cited and
//     unconfirmed. The lifetime of attachment URLs (5 minutes here) is
//     unconfirmed; ExpireAttachmentURLs expires the next downloads.
//   - The search takes AND only, compares text exactly (ignoring case) and
//     shows a ticket's current state once the lag has passed.
//   - No groups, companies, products, SLA timers, required-on-close
//     fields, spam, or archiving; no email is sent by a reply. Of the
//     automation rules only those whose action is "Trigger webhook" are
//     modelled, simplified as automations.go says (SimAutomationsPath).
//   - The limit on a request's files is in MiB. The minute of the rate
//     limits is a fixed window that starts with its first request, shared
//     by the account's limit and the endpoint caps.
package freshdesktest
