// Package servicenowtest is an in-memory ServiceNow instance for tests: the
// Table API and the Attachment API over HTTP (httptest), written from
// ServiceNow's REST API documentation, plus methods that act as the humans
// working in the instance.
//
// What it models:
//   - Paths: GET/POST /api/now/table/{table}, GET/PATCH/PUT
//     /api/now/table/{table}/{sys_id}; GET /api/now/attachment (metadata
//     list), GET /api/now/attachment/{sys_id}, GET
//     /api/now/attachment/{sys_id}/file, POST /api/now/attachment/file
//     ?table_name=&table_sys_id=&file_name= with the raw bytes and their
//     Content-Type (mandatory).
//   - Tables: the case table (default incident) with its custom sync-flag
//     (boolean) and Google-case (string) columns, the columns for Google's
//     case state and escalation requests (String, True/False, String,
//     String; left out with Options.WithoutStateColumns) and hold_reason,
//     sys_journal_field (one row
//     per comments / work_notes entry: element_id, element, name, value,
//     sys_created_on, sys_created_by = the writer's user_name), sys_user and
//     sys_attachment.
//   - Encoded queries (sysparm_query) with ^ (AND), ^OR (binds tighter than
//     AND), ^NQ, ORDERBY / ORDERBYDESC and the operators = != > >= < <= IN
//     NOT IN LIKE NOTLIKE STARTSWITH ENDSWITH ISEMPTY ISNOTEMPTY; a condition
//     on an unknown column is dropped, as the platform does by default.
//   - Paging: sysparm_limit / sysparm_offset, X-Total-Count, and a Link
//     header with first, prev, next and last. sysparm_fields.
//   - Values on the wire are strings (sysparm_display_value=false); date-times
//     are "yyyy-MM-dd HH:mm:ss" in UTC (the API user's time zone), kept to the
//     second.
//   - Writes: journal fields (comments, work_notes) become journal entries and
//     read back empty; unknown and system columns are ignored; priority is
//     computed from impact and urgency by the default lookup rules
//     (impact + urgency - 1, 1 Critical .. 5 Planning); a write leaving state
//     6 (Resolved) or 7 (Closed) without close_code and close_notes, or
//     leaving incident in state 3 (On Hold) without a hold_reason, is
//     refused with 403 "Data Policy Exception", changing nothing (the form
//     makes On hold reason mandatory; the simulator enforces it on the API
//     too, as an instance with a data policy does). A write to a column
//     the table lacks is ignored, and sysparm_fields leaves it out of the
//     answer. A write that changes
//     nothing does not move sys_updated_on.
//   - Attachments do not update the case record (as on the platform: an
//     attachment is a sys_attachment row, not a change of the record), and
//     belong to the record, not to a journal entry. AttachWithNote adds a
//     file with a note naming it ("Attached file: <name>", in work_notes or
//     comments), as the Attachment Note workflow activity does. Files are
//     served from memory as stored, without copying.
//   - Journal fields read as display values (GET /table/{table}/{sys_id}
//     with sysparm_display_value=true): per field, newest entry first, each
//     "yyyy-MM-dd HH:mm:ss - Name (Additional comments|Work notes)", its
//     text and a blank line. Other columns read as values in either mode.
//   - Read ACLs the API user fails, on the Table API. RestrictRowReads
//     hides rows: as on the platform the ACL applies after the query, so a
//     page is picked by sysparm_query, sysparm_offset and sysparm_limit and
//     its hidden rows are then dropped (a page may come back short or
//     empty with a next link), X-Total-Count and the links count the hidden
//     rows, and reading a hidden row answers 404. RestrictJournalReads hides
//     every row of sys_journal_field; the record's journal fields still
//     read. RestrictFieldReads leaves a field out of every row answered, as
//     values or display values. RefuseTableReads refuses a whole table with
//     403 "User Not Authorized" ("N records constrained due to ACL
//     restrictions"), as some instances answer. sys_user has date_format
//     (empty: the system default yyyy-MM-dd).
//   - Auth: Basic (User/Password) or "Bearer <Token>"; anything else answers
//     401 {"error":{"message":"User Not Authenticated","detail":"Required to
//     provide Auth information"},"status":"failure"}.
//   - Errors use the platform's body {"error":{"message","detail"},
//     "status":"failure"}: 404 "No Record found", 400 "Invalid table",
//     403 "Operation Failed" for writes to other tables.
//   - Rate Limit Rules: an injected 429 carries Retry-After (seconds),
//     X-RateLimit-Limit, X-RateLimit-Reset (Unix time) and X-RateLimit-Rule,
//     with the documented "Rate limit exceeded" body.
//   - com.glide.attachment.max_size: an upload over MaxAttachmentBytes is
//     refused and nothing is stored. ServiceNow documents no status for this
//     case (POST /attachment/file lists 201, 400, 404, 500); the simulator
//     answers 400 "Failed to create the attachment", the status it documents
//     for a refused upload.
//   - The webhook business rule docs/webhooks.md sets up (ServiceNow has no
//     webhook API): SetWebhookRule, or PUT /_sim/webhook-rule, stands for an
//     async business rule after insert and update on the case table whose
//     condition is "flagged for sync or linked, and not changed by the
//     integration user", calling an outbound REST message that POSTs the
//     casebridge-signed {"table","sys_id","number","updated_by"} (see
//     webhook.go). It sends in the background with a short timeout and
//     never retries. UpdateRecord changes a record as a human does.
//
// What it simplifies: one API user (every API write is made as it); no ACLs
// but the read ACLs above (none on the Attachment API, nor on writes), roles, business rules other than the priority
// lookup and the resolution data policy, workflows, display values other
// than the journal's, sysparm_display_value=all, dot-walking, reference
// links, "^^" escapes or the versioned /api/now/v1 paths; the multipart
// /attachment/upload endpoint is not served; a Rate Limit Rule is only
// emulated by injection (InjectRateLimit), not counted per hour.
package servicenowtest
