// Package salesforce is casebridge's adapter for Salesforce Service Cloud:
// it implements casesync.CRM and casesync.CaseStateCRM over the REST API
// at {CRM_URL}/services/data/{version} (SALESFORCE_API_VERSION, default
// v66.0), through the shared crmhttp client (rate limiter, retries, typed
// errors).
//
// Sign-in: OAuth 2.0 on the org's My Domain token endpoint
// (/services/oauth2/token), with the client credentials flow (consumer key
// and secret; calls run as the app's Run As user, the sync user) or the
// JWT bearer flow (an RS256 assertion signed with SALESFORCE_PRIVATE_KEY,
// for SALESFORCE_USERNAME). Neither gives a refresh token: when a call
// answers 401 INVALID_SESSION_ID the token is dropped, a new one asked
// for the same way, and the call made once more (a streamed upload is not
// sent twice: it ends in a transient error and is tried again later).
// The answer's instance_url must be CRM_URL's host: the token is sent
// nowhere else. Tokens and secrets are never logged or put in errors. The
// token answer's identity URL ends in the sync user's id, which tells
// casebridge's own comments and files from people's.
//
// Cases are Case records. Two custom fields carry the sync state: a
// checkbox that flags a case for sync (SALESFORCE_SYNC_FLAG_FIELD) and a
// text field holding the linked Google case name
// (SALESFORCE_GOOGLE_CASE_FIELD). Every read of a case is one SOQL query
// (GET /query), which also reads the newest case comment's
// SystemModstamp through a subquery: a case's update time is the later of
// its own SystemModstamp and that, so a comment counts as a change of the
// case whether or not Salesforce stamps the case for it. Calls:
//   - SearchUpdated: the flagged or linked cases with SystemModstamp after
//     since, plus those with a case comment or a file link changed since:
//     SELECT ParentId FROM CaseComment WHERE SystemModstamp > since AND
//     (Parent.<flag> = true OR Parent.<google case> != null), and SELECT
//     LinkedEntityId FROM ContentDocumentLink WHERE LinkedEntityId IN
//     (SELECT Id FROM Case WHERE <flagged or linked>) AND SystemModstamp >
//     since, then Id IN (...). Only synced cases' comments and files are
//     read, so the org's other case traffic costs no query. (A
//     ContentVersion query without an id would not do for files: it
//     returns only the sync user's own files, not those shared with a
//     case.)
//     SOQL datetimes are written in whole seconds, the documented literal
//     form, rounded down, and the exact since is applied here. Every
//     nextRecordsUrl is followed, bounded by crmhttp's Pager
//     (Config.MaxPages); the batch size asked is SALESFORCE_BATCH_SIZE
//     (Sforce-Query-Options), which Salesforce may shrink.
//   - GetCase, FindByGoogleCase: the same query by Id, or by the
//     Google-case field (oldest first).
//   - CreateCase: POST /sobjects/Case, then the case is read back. A
//     subject over 255 characters is cut with an ellipsis and a description
//     over 32,000 characters with a note that the whole text is on the
//     Google case (Salesforce's field lengths).
//   - SetGoogleCase, SetPriority: PATCH /sobjects/Case/{id} when the value
//     differs. Priority is the Priority picklist: a value outside it is
//     refused by Salesforce (INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST), a
//     permanent error.
//   - CloseCase: PATCH Status to SALESFORCE_CLOSE_STATUS unless IsClosed
//     (which Salesforce derives from the status) is already true; a close
//     status the org does not count as closed is a permanent error.
//
// Comments are CaseComment records: IsPublished true is a public comment
// (the customer sees it in the portal, Experience Cloud or Email-to-Case
// replies), false an internal one. Chatter posts of the Lightning case feed
// (FeedItem) are not read or written: see docs/crms/salesforce.md for
// why. CommentBody holds at most 4,000 bytes, so a longer body (a Google
// comment holds 12,800 characters) is posted as several case comments, in
// order, each ending in a label line "(continued in the next comment: part
// i of n)" or "(part n of n)"; a body that fits in one but itself ends like
// a label is posted with the label "(part 1 of 1)". ListComments joins casebridge's own parts
// back into one comment with the first part's id, and leaves out a long
// comment whose parts are not all there, so that the engine writes it
// again, and AddComment then posts only the missing parts. Nothing is cut.
//
// Files are Salesforce Files: ContentVersion records linked to the case by
// ContentDocumentLink. ListAttachments reads the case's links with their
// documents (one query); an attachment's id is the document's latest
// version id. A file is Public only when its link's Visibility is
// AllUsers (customers see it) and its owner has not made it private on
// records (ContentDocument.SharingPrivacy P); InternalUsers, SharedUsers
// or a link that says nothing read as not public, so such files stay in
// Salesforce. A case with more links than one batch of the subquery is
// read again from ContentDocumentLink WHERE LinkedEntityId = the case.
// Case comments carry no files, so there is no "file of an internal note":
// a file's visibility is its link's. UploadAttachment streams a multipart
// POST /sobjects/ContentVersion (entity_content with Title, PathOnClient
// and FirstPublishLocationId = the case, and VersionData), bounded by
// MaxAttachmentBytes. DownloadAttachment streams GET
// /sobjects/ContentVersion/{id}/VersionData of a file linked to the case,
// at most MaxDownloadBytes. A file linked to a synced case is seen by
// the next poll through its link's SystemModstamp.
// Legacy Attachment records and files of Email-to-Case messages (linked to
// the EmailMessage, not the case) are not read.
//
// Google's case state and escalation requests: SetGoogleState writes the
// state to SALESFORCE_STATE_FIELD and, when SALESFORCE_STATE_STATUSES maps
// it, sets that Status, in one PATCH, after reading the case (no write when
// both already show it); a closed case keeps its status. A mapped status
// the org counts as closed (CaseStatus.IsClosed, read once) is refused. The escalation request is
// the SALESFORCE_ESCALATION_FIELD checkbox, with the text of the reason
// and justification fields; ClearEscalationRequest unticks the checkbox.
//
// API limits: every answer's Sforce-Limit-Info (api-usage=used/max) is
// kept (APIUsage, which operator status shows). 403 REQUEST_LIMIT_EXCEEDED has no Retry-After: the call
// ends in a transient error asking to wait Config.LimitBackoff (one
// minute), and the adapter makes no call until then. 429 and 503 are
// retried with backoff by crmhttp. Error answers are Salesforce's array
// [{"errorCode","message","fields"}]: errors carry the codes and fields,
// never the messages, which may quote values.
package salesforce
