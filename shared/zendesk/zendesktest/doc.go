// Package zendesktest is an in-memory simulator of the parts of the Zendesk
// Support REST API (base {url}/api/v2) that casebridge's Zendesk adapter
// uses, written from Zendesk's public API reference. Tests and the sandbox
// start it with NewServer (an httptest server closed on cleanup) or serve
// New(...).Handler() themselves, and act as the helpdesk's humans through
// the Server's methods.
//
// What it models, as Zendesk documents it:
//   - Authentication: Basic "{email}/token:{api_token}" or a Bearer OAuth
//     token. Wrong or missing credentials answer 401
//     {"error":"Couldn't authenticate you"}; GET /users/me without any
//     credentials answers the anonymous user (id null), as Zendesk does.
//   - Tickets: GET /tickets/{id}, GET /tickets?external_id=, POST /tickets
//     (the comment body becomes the description and the first comment),
//     PUT /tickets/{id} (status, priority, subject, custom_fields,
//     external_id, tags, and a comment with uploads; with safe_update and
//     updated_stamp it answers 409 UpdateConflict when the ticket's
//     updated_at is not the stamp). The description field
//     is the first comment's text whatever its visibility (a ticket may be
//     opened with a private first comment, Ticket.Private, and a comment
//     may be made private later, MakeCommentPrivate); is_public says
//     whether any comment is public. Custom fields are
//     listed by numeric id ({id, value}); the sync flag is a checkbox, the
//     Google case a text field; Options.Fields adds text and checkbox
//     fields (a checkbox takes only a boolean and reads false when unset;
//     every field is listed on every ticket). Timestamps are whole
//     seconds, UTC.
//   - Tags: kept in lower case, split at white space, each once. A ticket
//     update's tags replace them all. GET /tickets/{id}/tags shows them,
//     POST sets them, PUT adds and DELETE removes the given ones, each
//     with optional safe_update and updated_stamp (409 as above); these
//     endpoints do not change a closed ticket (422), whose tags a ticket
//     update still changes.
//   - Statuses new, open, pending, hold, solved, closed. Solving (or
//     closing) a ticket without an assignee answers 422 RecordInvalid with
//     details.base "Assignee: is required when solving a ticket"
//     (ticket_field_type FieldAssignee), unless the update sets assignee_id
//     too or Options.AutoAssignOnSolve (the account setting "auto-assign
//     tickets upon solve", off by default) is on, which assigns the acting
//     agent. SetHumanStatus assigns the human agent when it solves an
//     unassigned ticket, as an agent does in the workspace. A closed
//     ticket accepts changes to its subject, tags and priority only;
//     anything else (a comment, a status, a custom field) answers 422
//     RecordInvalid "Status: closed prevents ticket update". A priority,
//     once set, cannot be reset to none (422). Priorities are low, normal,
//     high, urgent.
//   - Comments: GET /tickets/{id}/comments with cursor pagination
//     (page[size] at most 100, page[after], meta.has_more, links.next),
//     oldest first, with the users sideload (include=users). PUT answers
//     the audit, whose Comment event carries the new comment's id.
//   - Attachments: POST /uploads?filename= with the raw bytes answers a
//     token; a comment's uploads:[token] attaches the files, and they share
//     its visibility: AddHumanAttachment puts a file on a public reply,
//     AddHumanInternalAttachment on an internal note. Attachments
//     are listed in comments[].attachments and downloaded from their
//     content_url (/attachments/token/{token}/?name=), which is always on
//     the account's Zendesk address (Server.URL) whatever host was asked.
//     mapped_content_url is the same URL on Options.MappedHost (the
//     account's host-mapped domain) when set, else equal to content_url.
//     The simulator serves every host alike; Server.HTTPClient connects to
//     it whatever host a URL names, so a test can use the mapped host as
//     the account's URL.
//     Uploads over Options.MaxAttachmentBytes (Zendesk: 50 MB) answer 413.
//     A download is written from the stored bytes as they are, never
//     copied, so a test can measure the adapter's memory on a large file.
//   - Users: GET /users/me, GET /users/{id}, GET /users/show_many?ids=.
//   - Changed tickets: GET /incremental/tickets/cursor (start_time or
//     cursor, per_page up to 1000, after_cursor, end_of_stream), ordered by
//     generated_timestamp, every ticket whatever its fields. With
//     Options.ExportExclusion set (Zendesk: one minute) tickets changed
//     within that span before the request are held back and a start_time
//     inside it answers 400.
//   - Search: GET /search?query= with type:ticket, custom_field_{id}:value
//     and external_id:value terms, offset pages of at most 100 and at most
//     1000 results (a page past them answers 422).
//   - Errors as Zendesk sends them: 404 {"error":"RecordNotFound",
//     "description":"Not found"}, 422 {"error":"RecordInvalid",
//     "description":"Record validation errors","details":{...}}, 429 with
//     Retry-After and {"error":"APIRateLimitExceeded",...}.
//   - Rate limits: an optional requests-per-minute cap (429 + Retry-After
//     with X-Rate-Limit headers) and injected faults (InjectFault).
//   - Webhooks: POST and GET /webhooks, GET and DELETE /webhooks/{id},
//     GET /webhooks/{id}/signing_secret and POST to reset it (201). A
//     webhook is subscribed either to events (zen:event-type:..., POST and
//     json only) or to "conditional_ticket_events" alone. Each ticket
//     change (created, comment added, status, priority, subject, tags, a
//     custom field, assignee, requester, external id changed), whether an
//     API call or a human action made it, is sent to every active webhook
//     subscribed to its event type: the documented fixed JSON payload
//     (type, account_id, id, time, zendesk_event_version, subject
//     "zen:ticket:{id}", detail with ids as strings and status and
//     priority in upper case, event), signed with
//     X-Zendesk-Webhook-Signature = base64(HMAC-SHA256(signing secret,
//     X-Zendesk-Webhook-Signature-Timestamp + body)), the timestamp in ISO
//     8601 UTC from Options.Clock. Requests are sent from goroutines of
//     their own, never under the simulator's lock, each within
//     Options.WebhookTimeout; a 409 is retried up to three times (a second
//     apart), a 429 or 503 with a Retry-After under 60 s after that wait;
//     nothing else is retried. WaitWebhooks waits for them.
//
// What it simplifies:
//   - Webhooks connected to triggers are stored but never sent: there are
//     no triggers (nor automations). Webhooks cannot be updated, cloned or
//     tested, and their invocations are not listed. The Webhooks API's
//     error bodies ({"errors":[{code, title, detail}]}) are plausible, not
//     copied from Zendesk. A ticket's creation sends ticket.created only,
//     not also comment_added for its first comment.
//   - No groups, organizations, forms, triggers, SLAs, custom statuses,
//     side conversations, or the end-user rule that reopens solved tickets;
//     so no field other than the assignee is required to solve a ticket
//     (Zendesk accounts may require a group or custom fields too).
//   - content_url is served directly (Zendesk redirects to a storage host)
//     and always needs authentication (as with private attachments on).
//   - The search is exact (case-insensitive) on whole values and has no
//     index lag; Zendesk tokenises text and indexes with a lag of minutes.
//   - generated_timestamp moves only with updated_at (Zendesk also moves it
//     on system updates).
//   - Making a comment private is a human action only (Zendesk's PUT
//     /tickets/{id}/comments/{id}/make_private is not served) and does not
//     move the ticket's update time.
//   - The texts of some error bodies (413, 400 on paging parameters and a
//     too recent start_time, 409 UpdateConflict, 422 from the tag
//     endpoints on a closed ticket) are plausible, not copied from Zendesk.
//   - Export and search rate limits (10 and 100 a minute) are not enforced
//     separately.
package zendesktest
