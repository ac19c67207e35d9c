// Package salesforcetest is an in-memory simulator of the parts of a
// Salesforce Service Cloud org's REST API that casebridge's Salesforce
// adapter calls, written from Salesforce's documentation:
//
//   - The OAuth 2.0 token endpoint (/services/oauth2/token) with the client
//     credentials flow and the JWT bearer flow (RS256, iss = consumer key,
//     sub = username, aud = login URL, exp ahead), answering access_token,
//     instance_url and the identity URL id, and OAuth errors
//     {"error","error_description"} (OAuth 2.0 Client Credentials Flow and
//     JWT Bearer Flow for Server-to-Server Integration, Salesforce Help).
//     There is no refresh token; a token past Options.TokenLifetime (the
//     session timeout), or ended by ExpireTokens, answers 401
//     INVALID_SESSION_ID.
//   - Versioned paths /services/data/vNN.N/... (GET /services/data lists
//     the versions served; another version is 404 NOT_FOUND).
//   - GET /query?q= with the SOQL subset soql.go describes, parsed
//     properly: anything else is 400 MALFORMED_QUERY, unknown fields
//     INVALID_FIELD, literals of the wrong type INVALID_QUERY_FILTER_OPERATOR,
//     and ContentDocumentLink without a filter on LinkedEntityId or
//     ContentDocumentId the documented implementation restriction (a
//     semi-join on LinkedEntityId counts as one). A ContentVersion or
//     ContentDocument query without an id filter returns only the sync
//     user's own files, not files it reaches through a case (Object
//     Reference, ContentVersion: "queries on ContentDocument and
//     ContentVersion without specifying an ID don't return all files a
//     user has access to"), unless Options.QueryAllFiles grants the Query
//     All Files permission. Text
//     compares without regard to case; ids by their 15-character form.
//     Answers are {totalSize, done, records, nextRecordsUrl} with each
//     record's attributes; relationship fields are nested objects and a
//     child subquery a nested query result (null when empty). Batches:
//     Sforce-Query-Options batchSize from 200 to 2000 (default 2000),
//     which Options.MaxBatchSize may shrink, as Salesforce does for wide
//     records; nextRecordsUrl (/query/{locator}-{offset}) is followed
//     as is, and a locator unused for 15 minutes is INVALID_QUERY_LOCATOR
//     (REST API Developer Guide, "Query", "Query Options Header").
//   - Case: POST /sobjects/Case, PATCH and GET /sobjects/Case/{id}, with
//     the standard fields casebridge uses, custom fields (Options.
//     CustomFields), Status and Priority as restricted picklists (a value
//     outside them is INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST), IsClosed
//     derived from the status (CaseStatus.IsClosed), Subject 255 and
//     Description 32,000 characters (STRING_TOO_LONG), read-only fields
//     refused (INVALID_FIELD_FOR_INSERT_UPDATE). CaseStatus is queryable.
//   - CaseComment: POST /sobjects/CaseComment {ParentId, CommentBody,
//     IsPublished}; CommentBody at most 4,000 bytes (Object Reference,
//     CaseComment). Whether a new comment stamps its case is not
//     documented: Options.CommentsTouchCase chooses, off by default.
//   - Files: multipart POST /sobjects/ContentVersion (entity_content JSON
//     with Title, PathOnClient, FirstPublishLocationId; VersionData),
//     which makes a ContentDocument and a ContentDocumentLink to the case
//     with Options.DefaultFileVisibility; GET
//     /sobjects/ContentVersion/{id}/VersionData streams the bytes
//     (REST API Developer Guide, "Insert or Update Blob Data"). A file over
//     Options.MaxFileBytes is refused with MAXIMUM_SIZE_OF_ATTACHMENT (the
//     code is not confirmed by the documentation).
//   - Limits: every API answer carries Sforce-Limit-Info: api-usage=n/max
//     and past Options.DailyRequestLimit answers 403 REQUEST_LIMIT_EXCEEDED
//     without Retry-After; InjectRequestLimit and InjectUnavailable (503
//     SERVER_UNAVAILABLE with Retry-After) inject them. Errors are arrays
//     [{"message","errorCode","fields"}]. Every answer has a Date header
//     from Options.Clock; datetimes are kept to the second, as Salesforce
//     keeps them (its datetime fields store no milliseconds), and written
//     2026-01-02T03:04:05.000+0000.
//   - Webhooks: the Apex triggers and Queueable callout that
//     docs/crms/salesforce.md gives the admin, installed through
//     SimWebhookPath (webhook.go), signed with casebridge's scheme.
//
// Human agents act through CreateCase, UpdateCase, AddComment and AddFile
// (a file's link Visibility says whether customers see it), and
// SetFilePrivateOnRecords (ContentDocument.SharingPrivacy).
package salesforcetest
