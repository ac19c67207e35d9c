// Package rt is casebridge's adapter for Request Tracker 5 (REST2, under
// /REST/2.0). It implements casesync.CRM as a dedicated RT user (the sync
// user), authenticated by an auth token (RT_TOKEN) or a login and password
// (RT_USER, RT_PASSWORD), through shared/crmhttp.
//
// How the port maps onto RT:
//
//   - A case is a ticket. The sync flag is a select custom field ("GCP Sync",
//     value "yes") and the linked Google case a free-form one ("GCP Case").
//     The description is the text of the ticket's Create transaction.
//   - Priorities are RT's PriorityAsString names (Low, Medium, High by
//     default). REST2 returns the number; the adapter reads it as the name
//     with the largest value not above it, as RT displays it, and always
//     writes numbers: REST2 stores a name given at creation literally, and
//     an unknown name given to an update as 0, so unknown names are refused
//     before any call.
//   - Comments are the Correspond (public reply) and Comment (internal)
//     transactions with a text body; the author is the creator's RealName,
//     and ByConnector means the creator is the sync user. A body written in
//     RT's rich-text editor (text/html only) is read as plain text.
//   - Files are the MIME parts with a file name: RT stores every part of
//     every message as an "attachment", bodies included. An upload is an
//     internal comment of the sync user carrying only the file; having no
//     text, that comment is not listed by ListComments.
//   - A file belongs to the transaction of the message it came with: the
//     files of an internal note are parts of its Comment transaction, and
//     only agents with ShowTicketComments see them. A file is public only
//     when its transaction is the ticket's Create or a public reply
//     (Correspond); any other, or one whose type is not known, is internal
//     and stays in RT. REST2 cannot give a part's transaction type with the
//     part, so ListAttachments reads the ticket's Create and Correspond
//     transactions beside its parts.
//   - ListItems (casesync.ItemLister) gives both lists with one history
//     listing (Create, Comment and Correspond) where ListComments and
//     ListAttachments make one each; the text bodies and the file parts
//     stay two listings, since REST2 gives a part's content for every part
//     of a listing or for none, and file contents are not read to list them.
//   - Downloads stream. GET /attachment/{id} gives the file in base64 inside
//     a JSON object; the adapter reads that object field by field, decodes
//     the content as it arrives, and converts a text file RT stored in UTF-8
//     back on the fly. More than MaxDownloadBytes read (default 25 MiB)
//     fails with the permanent TooLarge error, whatever size RT listed; the
//     answer itself is bounded at three times that plus 1 MiB.
//   - Every listing (ticket search, history, a ticket's or transaction's
//     parts) reads at most MaxPages pages (default crmhttp.DefaultMaxPages)
//     and stops when a page holds the same records as an earlier one: a
//     permanent error for which errors.Is(err, crmhttp.ErrPaging) holds,
//     naming the listing.
//   - A public reply to a resolved ticket makes RT reopen it (a default
//     scrip). The adapter sends such a reply with the ticket's closed status,
//     so the ticket ends closed: RT records a reopen and a close by the sync
//     user beside the reply.
//   - Google's case state and escalation requests (casesync.CaseStateCRM,
//     state.go) are custom fields addressed by name: the state is written
//     to a free-form one, with the status RT_STATE_STATUSES maps it to in
//     the same PUT, sent only while the ticket is open and with If-Match
//     on the ETag of the read before it, so no ticket is reopened; the
//     request is a select set to "yes", cleared by sending it null (only
//     when set: REST2 adds an empty value to an empty field).
//
// REST2 quirks the adapter encodes: collection pages of a non-superuser
// carry no total, and RT removes the records the user may not see (the
// parts of outgoing mail, say) after cutting a page, so a short page is not
// the last and paging stops only at an empty one; TicketSQL reads a date as
// wall time in the sync user's zone (RT_TIME_ZONE; unknown: the search
// reaches back 14 hours more) and drops the time of day from ISO forms, so
// the bound is written "2006-01-02 15:04:05" and the results are filtered
// strictly after since here; GET /attachment/{id} gives base64 content and answers
// 500 for an unknown id, so a download first checks the id among the
// ticket's files; sub-resources of a missing ticket answer an empty list or
// 400 "Permission Denied", so the adapter then reads the ticket to report
// 404; RT 5.0 has no "who am I" call, so the sync user is read by the login
// (RT_USER) or the user id inside the token ("1-<user id>-<secret>").
//
// The sync user needs, on its queues: SeeQueue, ShowTicket, CreateTicket,
// ReplyToTicket, CommentOnTicket, ModifyTicket, ShowTicketComments,
// SeeCustomField and ModifyCustomField. Its rights decide which queues a
// search covers; CreateCase opens tickets in RT_QUEUE.
//
// Package rttest runs a real RT for the tests and the sandbox.
package rt
