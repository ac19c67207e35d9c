// Package jirasmtest is an in-memory simulator of the parts of the Jira
// Cloud platform REST API (v3) that casebridge's Jira Service Management
// adapter (shared/jirasm) calls,
// written from Atlassian's public documentation. Tests start it with
// NewServer and act as the helpdesk's human agents through its methods.
//
// What it models:
//   - Basic authentication with one sync user (email + API token); a wrong
//     pair answers 401 with Jira Cloud's plain-text body. Humans are
//     accounts of their own, named by display name.
//   - GET /rest/api/3/myself with the sync user's accountId and time zone.
//   - POST /rest/api/3/issue (fields: project, issuetype, summary,
//     description as an Atlassian Document, priority by name or id, the
//     Google-case text field and the sync-flag checkbox field), with Jira's
//     400 body {"errorMessages":[...],"errors":{field:msg}} for a missing or
//     invalid field; GET and PUT /rest/api/3/issue/{issueIdOrKey} with the
//     fields parameter; an issue is reached by key or numeric id.
//   - Search: GET and POST /rest/api/3/search/jql with nextPageToken paging
//     (maxResults at most 100; only the issue id when no fields are asked
//     for, like Jira), and the removed GET/POST /rest/api/3/search answering
//     410 with Atlassian's message. JQL: AND, OR, NOT, parentheses,
//     project =, key =, updated/created with = != < <= > >=, cf[N] or
//     customfield_N with = (checkbox options), ~ (text contains), is
//     [not] EMPTY, and ORDER BY updated|created|key ASC|DESC. Dates in JQL
//     are read in the sync user's time zone at minute granularity, as Jira
//     does; timestamps in answers carry that zone's offset and milliseconds.
//   - A service-desk workflow: Waiting for support (To Do) → In Progress →
//     Resolved (Done), with Waiting for customer (In Progress category)
//     beside them, and GET/POST /rest/api/3/issue/{key}/transitions, each
//     transition listed with its target status and that status's category;
//     "Resolve this issue" resolves, "Reopen issue" reopens, "Respond to
//     customer" and "Respond to support" move between the waiting
//     statuses. A transition not available from the current status
//     answers 400.
//   - Labels (the labels field: strings without white space, at most 255
//     characters) and the other custom fields of Options.CustomFields:
//     single-line text (a string of at most 255 characters), paragraph (an
//     Atlassian Document in v3), select list ({"value"} or {"id"} of an
//     option) and checkboxes (an array of options), each refused with
//     Jira's 400 field error when the value does not fit, emptied by null.
//     Edits take "fields" and "update" operations: add, remove and set on
//     labels (removing an absent label is no error), set on other fields;
//     a field in both is refused.
//   - Comments through GET/POST /rest/api/3/issue/{key}/comment: bodies
//     must be Atlassian Documents (400 {"errors":{"comment":…}} for a
//     plain string or an empty document); entity properties sent with a
//     comment are stored and returned only with expand=properties; the
//     service desk's "sd.public.comment" {"internal": true} makes a comment
//     internal, which jsdPublic reflects; a role or group visibility is
//     stored and returned; startAt/maxResults/total paging (default and
//     largest page 5000), orderBy created|+created|-created (400 for any
//     other); author accountId/displayName; created in Jira's format.
//     Humans write internal notes with the property, public replies
//     without one. The service desk API (/rest/servicedeskapi) is not
//     served at all: the adapter must not depend on it.
//   - Search lag (Options.SearchLag, default 0): JQL search sees an issue
//     as it was SearchLag ago — a new one is missing, a changed one matches
//     and reads as before the change — while reads by key are current, as
//     Atlassian documents for /rest/api/3/search/jql.
//   - Attachments: the attachment field; POST
//     /rest/api/3/issue/{key}/attachments (multipart "file", refused with
//     403 without X-Atlassian-Token: no-check, 413 over the size limit,
//     nothing stored then); GET /rest/api/3/attachment/content/{id}
//     redirects (303) to a second server standing for Atlassian's media
//     host, at /file/{media id}/binary, which serves the bytes against a
//     token in the URL and needs no credentials (redirect=false serves
//     them directly). Bytes are served as stored, never copied.
//   - Where files belong: every file is an attachment of the issue, and
//     also has a media id (a UUID, not the numeric id). A human who drops
//     a file into a comment (AddHumanFileComment) makes an attachment and
//     a comment whose document holds a media node naming that media id
//     (mediaSingle for an image, mediaGroup otherwise): a public reply
//     shows the file to the customer, an internal note keeps it to agents.
//     A file attached to the issue directly (AddAttachment, or the upload
//     endpoint) is in no comment, which Jira Service Management shows to
//     agents only.
//   - Every change, a comment or attachment included, moves the issue's
//     updated time; a write that changes nothing does not.
//   - Admin webhooks: POST and GET /rest/webhooks/1.0/webhook, GET and
//     DELETE /rest/webhooks/1.0/webhook/{id}, with name, url, events,
//     filters["issue-related-events-section"] (a JQL filter, read by the
//     JQL support above and matched against the issue as it is after the
//     change), excludeBody and secret (never answered back). Creating an
//     issue sends jira:issue_created; a change of fields, priority, status
//     (a transition) or attachments sends jira:issue_updated with a
//     changelog; a comment sends comment_created and jira:issue_updated
//     (issue_commented). Bodies carry timestamp (ms), webhookEvent, the
//     issue (id, key, fields) and the acting user or the comment with its
//     author. With a secret, each request carries X-Hub-Signature:
//     sha256=<lower-case hex HMAC-SHA256(secret, body)>; every request
//     carries X-Atlassian-Webhook-Identifier, the same on retries, which
//     also carry X-Atlassian-Webhook-Retry. Requests are sent from
//     goroutines of their own, never under the simulator's lock, each
//     within Options.WebhookTimeout; answers 408, 409, 425, 429 and 5xx are
//     retried up to three times (after Retry-After when under a minute,
//     else a second), nothing else is. WaitWebhooks waits for them.
//   - Injected faults: a status (429 with Retry-After and RateLimit-Reason,
//     or a 5xx) answered to the next matching requests. Requests are counted
//     by "METHOD pattern", e.g. "GET /rest/api/3/issue/{issueIdOrKey}".
//
// What it simplifies:
//   - One project, one service desk, one workflow; no permissions,
//     screens, request types, customers or portal. JQL does not search
//     labels or the fields of Options.CustomFields.
//   - Text search (~) is a case-insensitive substring match of the phrase,
//     not Lucene tokens; the index lag is one fixed duration for every
//     change (Jira's varies from seconds to minutes) and reconcileIssues is
//     not modelled; nextPageToken is an offset, so an issue updated while paging
//     may move between pages (callers must not rely on stable pages).
//   - Descriptions and comment bodies are stored as sent; ADF is checked
//     only for its outer shape (type doc, version 1, a content array).
//     Comments cannot be edited or deleted; no comment length limit.
//   - No changelog API, no notifications, no rate limit of its own beyond
//     the injected faults. Webhooks cannot be updated or disabled, URL
//     variables such as ${issue.key} are not replaced, Jira's retry policy
//     (undocumented) is a guess, and the dynamic webhooks of apps
//     (/rest/api/3/webhook) are not served.
package jirasmtest
