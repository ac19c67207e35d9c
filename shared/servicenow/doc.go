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
//	ListComments        GET /table/sys_journal_field?sysparm_query=element_id={sys_id}^elementINcomments,work_notes^ORDERBYsys_created_on (paged); GET /table/sys_user?sysparm_query=user_nameIN... (uncached authors); GET /table/{table}/{sys_id} only when the journal is empty (unknown case or none)
//	AddComment          GET /table/sys_journal_field (before); PATCH {comments|work_notes: body}; GET /table/sys_journal_field (after)
//	ListAttachments     GET /attachment?sysparm_query=table_name={table}^table_sys_id={sys_id} (paged); GET /table/sys_user; GET /table/{table}/{sys_id} only when there are none
//	DownloadAttachment  GET /attachment/{sys_id}; GET /attachment/{sys_id}/file
//	UploadAttachment    POST /attachment/file?table_name=&table_sys_id=&file_name= (raw body, Content-Type)
//	Check (who am I)    GET /table/sys_user?sysparm_query=user_name={SERVICENOW_USER}&sysparm_limit=1
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
// Comments: the PATCH that writes a journal entry answers with the record
// only. AddComment lists the sync user's entries of that element before and
// after the PATCH; the new entry holding the body is the one written, so two
// comments with the same text are told apart. Authors are user_names
// (sys_created_by), turned into display names through sys_user (cached);
// ByConnector compares them with the sync user's user_name.
package servicenow
