// Package jirasm is casebridge's adapter for Jira Service Management Cloud:
// it implements casesync.CRM over the Jira platform REST API v3 (issues,
// search, transitions, comments and attachments) with Basic authentication
// (account email + API token). It does not use the service desk API, which
// refuses issues that have no request type.
//
// A case is an issue of one project; its id is the issue key (e.g.
// "SUP-12"). The sync flag is a checkbox (or select) custom field holding
// one option, the Google case name a single-line text custom field.
// Issues are created with POST /rest/api/3/issue and an issue type, not
// through the service desk's request form: the form only takes the fields
// its request type shows customers. The Google-case field is set in the
// same call, so a retried creation can find the issue it made — but only
// once JQL search has indexed it, which Atlassian documents as taking
// seconds to minutes. The Client therefore declares a CreationLookupLag
// (JIRA_SEARCH_LAG, default 5 minutes) for which the engine waits after a
// creation that may have happened before creating again.
// An optional request type can be set on the issue through the "Request
// Type" custom field.
//
// Internal notes are comments carrying the property Jira Service
// Management reads for agent-only comments, "sd.public.comment" with
// value {"internal": true}. Visibility that is unclear is internal: a
// comment is public only when Jira's own reading (jsdPublic) does not say
// internal, the property reads {"internal": false} exactly (any other
// value, or one that cannot be read, makes the comment internal) or, when
// it is absent, jsdPublic says true, and the comment is not restricted to a
// role or group. Every
// comment casebridge adds carries the property; when Jira's answer gives a
// jsdPublic that differs from what was asked, AddComment fails for good
// with an error saying the comment's visibility differs from what was
// asked (the comment exists, not as asked: a human must look at it).
//
// Files of internal notes: Jira keeps every file as an attachment of the
// issue, whether an agent put it in a comment or attached it to the issue
// directly; the attachment field lists them all, with no word of
// where they belong. A file put in a comment (or in the description) is
// named in that document by a media node carrying the file's id on
// Atlassian's media host, a UUID distinct from the numeric attachment id.
// The adapter learns each attachment's media id from where
// GET /rest/api/3/attachment/content/{id} redirects (…/file/{media id}/
// binary), once per attachment (attachments never change), and marks a
// file Public only when a public reply or the description names it. A
// file only internal notes or restricted comments name, a file no comment
// names (attached to the issue directly: Jira Service Management shows
// those to agents only, casebridge's own uploads included), and a file
// whose media id cannot be learnt are not public, so the engine keeps them
// in Jira unless internal notes are synced. A file shared with the
// customer is thus one an agent put in a public reply; one the customer
// attached on the portal without it showing in a reply or the description
// stays in Jira too.
//
// Comments and files together: ListAttachments reads every comment to tell
// which files a public reply shows (when a file is not casebridge's own),
// so ListItems (casesync.ItemLister) reads the comments once for both
// lists: GET issue (fields=attachment,description) and the paged comment
// listing. It does not use the comment field (GET issue with
// fields=comment,attachment, one call): that field carries no comment
// properties, which only the comment endpoints give (expand=properties),
// so it cannot tell internal notes as ListComments does; and Jira caps how
// many comments it holds.
//
// Google's case state and escalation requests (casesync.CaseStateCRM):
// SetGoogleState writes the state to a single-line text custom field
// (JIRA_STATE_FIELD; no default, as custom fields are known by id only)
// and, for a state JIRA_STATE_STATUSES maps to a status name, moves the
// issue through the transition whose target status has that name (GET
// then POST /rest/api/3/issue/{key}/transitions). It reads the issue's
// status and field first and writes only what differs. It never closes or
// reopens: an issue already closed keeps its status, and a target in the
// Done category (or one JIRA_CLOSED_STATUSES names) is refused for good,
// as is a status no transition reaches. A person asks for an escalation
// with the label escalate-to-google (JIRA_ESCALATION_FIELD: a label, or a
// custom field id whose value asks); ClearEscalationRequest removes that
// label alone with the edit's update operation
// ({"update":{"labels":[{"remove":…}]}}), which leaves the other labels
// as they are. The reason and justification are read from optional text,
// select or paragraph fields.
//
// Bounds: every listing (searches, an issue's comments, which
// ListAttachments reads too) goes through a crmhttp.Pager and stops with a
// permanent error matching crmhttp.ErrPaging past Config.MaxPages pages
// (proposed variable CRM_MAX_PAGES, default crmhttp.DefaultMaxPages), on a
// page token seen before, or on an empty page that claims more. Downloads
// are streamed and bounded by the bytes read, Config.MaxDownloadBytes
// (proposed variable CRM_MAX_DOWNLOAD_BYTES; default the upload limit
// JIRA_MAX_ATTACHMENT_BYTES), whatever size Jira listed or declared.
package jirasm
