// Package servicenow is casebridge's ServiceNow adapter: it implements the
// sync engine's CRM port over ServiceNow's Table API and Attachment API
// (https://{instance}.service-now.com/api/now/...), through the shared HTTP
// client crmhttp (rate limiter, Retry-After, typed errors, call counts).
//
// A case is a record of the case table (incident by default; with Customer
// Service Management, sn_customerservice_case), identified by its sys_id.
// Two custom columns must exist: a boolean sync flag (u_gcp_sync) and a
// string holding the linked Google case name (u_gcp_case).
//
// What each port method calls (paths under /api/now):
//
//	SearchUpdated       GET /table/{table}?sysparm_query=sys_updated_on>=T^{flag}=true^OR{case}ISNOTEMPTY^ORDERBYsys_created_on^ORDERBYsys_id (paged)
//	                    GET /attachment?sysparm_query=table_name={table}^sys_created_on>=T (paged)
//	                    GET /table/{table}?sysparm_query=sys_idIN...^{flag}=true^OR{case}ISNOTEMPTY (cases with new files only)
//	GetCase             GET /table/{table}/{sys_id}; GET /attachment?...^ORDERBYDESCsys_created_on&sysparm_limit=1
//	FindByGoogleCase    GET /table/{table}?sysparm_query={case}={name}&sysparm_limit=1; GET /attachment (newest)
//	CreateCase          POST /table/{table} {short_description, description, impact, urgency, {case}}
//	SetGoogleCase       PATCH /table/{table}/{sys_id} {{case}: name}
//	SetPriority         PATCH /table/{table}/{sys_id} {impact, urgency}
//	CloseCase           GET /table/{table}/{sys_id}; PATCH {state, close_code, close_notes} unless closed
//	ListComments        GET /table/sys_journal_field?sysparm_query=element_id={sys_id}^elementINcomments,work_notes^ORDERBYsys_created_on (paged); GET /table/sys_user?sysparm_query=user_nameIN... (uncached authors); GET /table/{table}/{sys_id}?sysparm_fields=comments,work_notes&sysparm_display_value=true only when sys_journal_field gives nothing (none, an ACL, or an unknown case)
//	AddComment          the sync user's entries of the element as ListComments reads them (before); PATCH {comments|work_notes: body}; the same read (after)
//	ListAttachments     GET /attachment?sysparm_query=table_name={table}^table_sys_id={sys_id} (paged); when there are files, the work notes from sys_journal_field, or through the record when it did not give them all, and GET /table/sys_user; GET /table/{table}/{sys_id} only when there are none
//	DownloadAttachment  GET /attachment/{sys_id}; GET /attachment/{sys_id}/file (streamed, bounded)
//	UploadAttachment    POST /attachment/file?table_name=&table_sys_id=&file_name= (raw body, Content-Type)
//	Check (who am I)    GET /table/sys_user?sysparm_query=user_name={SERVICENOW_USER}&sysparm_limit=1
//
// Google's case state and escalation requests (casesync.CaseStateCRM) use
// four more columns the administrator adds, by default u_google_case_state
// (String), u_escalate_to_google (True/False), u_google_escalation_reason
// and u_google_escalation_justification (String):
//
//	SetGoogleState          PATCH {state column, state, hold_reason} (with a mapped state: GET /table/{table}/{sys_id} first, and only what differs)
//	ClearEscalationRequest  PATCH {escalation column: false}
//
// SERVICENOW_STATE_STATUSES maps Google states to state values (none by
// default); a record in a closed state keeps it, and incident's On Hold
// (3) is written with SERVICENOW_HOLD_REASON (default 4, Awaiting Vendor).
// The platform ignores a write to a column the table lacks; the PATCH asks
// for the column back, and its absence is a permanent error naming the
// variable.
//
// Time zone: the Table API reads and writes date-times ("yyyy-MM-dd
// HH:mm:ss") in the API user's time zone. The sync user's sys_user record
// must have time zone UTC (or none, with the system default UTC); Check and
// every call needing the sync user refuse any other zone. Times are whole
// seconds, so searches ask from since's second and filter exactly.
//
// Priority: ServiceNow computes priority (1 Critical .. 5 Planning) from
// impact and urgency through its priority lookup rules, so SetPriority
// writes the pair that the default rules turn into the wanted priority:
// 1=(1,1) 2=(1,2) 3=(2,2) 4=(2,3) 5=(3,3).
//
// Update times: an attachment does not update its record on the platform,
// so the adapter counts the newest attachment's creation time as the case's
// update time (GetCase and SearchUpdated agree on it).
//
// Comments: comments (Additional comments) are public, work_notes
// internal. Entries are read from sys_journal_field. Instances often close
// that table to integration users with a read ACL, and the platform then
// leaves the rows out of its pages (X-Total-Count still counts them) or
// refuses the table with 403; so when it gives nothing the adapter reads
// the journal through the record itself (the comments and work_notes
// fields with sysparm_display_value=true: per field, newest first, each
// entry a line "yyyy-MM-dd HH:mm:ss - Name (Label)", its text and a blank
// line). Entries read that way have ids of the adapter's making (element,
// second, place within the second), stable since a journal only grows; the
// sync user must keep the default date format (Check refuses another), and
// its own entries are told by its display name. A header imitated inside an
// entry's text splits that entry, never moves text between the two fields.
//
// A comment is posted once. The PATCH that writes a journal entry answers
// with the record only; AddComment reads the sync user's entries of that
// element before and after it, and the new entry holding the body is the
// one written (so two comments with the same text are told apart). Before
// the PATCH it records the post as an intent in memory (bounded: 1000
// posts, 24 hours); when the answer is lost or the entry cannot be read
// back, the call fails and a retry of the same body on the same case looks
// for the entry first and returns it. A post the instance accepted is
// never sent again. Across restarts the engine's own markers in the
// comment text (read back through ListComments) keep it from posting twice.
// Authors are user_names (sys_created_by), turned into display names
// through sys_user (cached); ByConnector compares them with the sync user's
// user_name.
//
// Files: ServiceNow keeps every file on the record: a sys_attachment row
// names only table_name and table_sys_id, and no file belongs to a journal
// entry. The portal's standard ticket page shows the record's files to the
// caller (its Attachments tab is on by default), so a file on the record is
// public. A file "on a work note" is a file attached together with a work
// note that names it, as the Attachment Note workflow activity writes one
// (by default in Work notes) when it attaches a file. The rule: a file is
// not public when a work note names its sys_id (a link to it), or when its
// uploader wrote a work note naming its file name within two minutes of it;
// every other file is public. Files of internal notes stay on the record,
// where agents still download them.
//
// There is no ListItems (casesync.ItemLister): journal entries
// (sys_journal_field) and files (sys_attachment) are separate tables, and
// no call of the Table or Attachment API returns both.
//
// The rule needs every work note, so ListAttachments reads them whole:
// from sys_journal_field when each page held all the rows its X-Total-Count
// called for, else through the record's work_notes field. When the work
// notes cannot be established, no file of the case lists as public (the
// engine keeps it in the CRM): the table hid rows or was refused, and the
// record's answer left work_notes out (a field ACL), held it empty while
// the table counted work notes or could not count them, or held fewer
// entries than the table counted; or a read was refused (4xx) or stopped
// for good. Only a query of sys_journal_field that matched no work note at
// all (X-Total-Count 0) reads as "there are none". A transient error fails
// the call instead, since the engine keeps a file listed as not public in
// the CRM for good. Grant the sync user read on sys_journal_field, or at
// least on the case's work_notes field, or files stay in the CRM.
//
// Paging: every listing follows the Link header's rel="next" (its
// sysparm_offset; the path and query stay the adapter's), through a
// crmhttp.Pager: past MaxPages pages (crmhttp.DefaultMaxPages when 0), or
// on an offset seen twice or going back, the listing stops with a
// permanent error naming it (errors.Is(err, crmhttp.ErrPaging)). The Table
// API applies read ACLs after the query, its sysparm_limit and its
// sysparm_offset ("Number of rows removed from this list by Security
// constraints" in the UI), so a page may hold fewer rows than the limit,
// or none, while its link says more follow: Table API listings read on
// past an empty page (crmhttp.Pager.AllowEmptyPages), and an endless run
// of them stops at MaxPages. Attachment API listings stop on an empty page
// whose link says more follow, as no such filtering is documented there.
//
// Answers: every JSON answer, a page included, is read through the bound
// of MaxAnswerBytes (crmhttp.DefaultMaxAnswerBytes when 0); a larger one
// fails with the permanent error of its call (errors.Is(err,
// crmhttp.ErrAnswerTooLarge)).
//
// Downloads are streamed and bounded by the bytes read (MaxDownloadBytes,
// default MaxAttachmentBytes, since the instance stores no larger file),
// whatever size_bytes or Content-Length say: past it, reading fails with
// the permanent TooLarge error.
package servicenow
