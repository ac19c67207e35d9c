// Package csapi is casebridge's adapter for the Google Cloud Support API v2
// (CSAPI). Its Client implements casesync.Google on the official client
// google.golang.org/api/cloudsupport/v2.
//
// # What it does
//
// The Client searches the cases of one parent (an organization covers its
// projects) by update time or by a full-text phrase, reads, creates, patches
// (priority only) and closes cases, lists and posts comments, and lists,
// uploads and downloads attachments. Every list follows every page, including
// empty pages that still carry a page token. Comments and attachments are
// returned oldest first and deduplicated by name, because CSAPI documents no
// order. Case names are kept exactly as the API returns them (a case name may
// use the project id or the project number).
//
// Uploads are one multipart request whose file part is streamed from the
// caller's reader; the file is never held in memory. Downloads return the
// response body as a stream.
//
// # The case feed (v2beta)
//
// Client.WithFeed gives a FeedClient, which also implements
// casesync.ItemLister: ListItems reads a case's comments and attachments
// together from v2beta's case feed (cases.showFeed, GET
// /v2beta/{case}:showFeed, through google.golang.org/api/cloudsupport/v2beta)
// and returns exactly what ListComments and ListAttachments return, with
// their conversion, page size (at most 100, as for attachments), page
// bounds and retry rules. A reconciliation that needs both lists then
// makes one paged listing instead of two. The feed also holds email
// replies and deleted attachments, which v2 does not show; ListItems
// leaves them out, as the v2 listings do.
//
// v2beta is a pre-GA surface (Google's Pre-GA Offerings Terms: it may
// change or go without notice, and v2beta has needed allowlisting), its
// search path has already changed between client versions, and whether
// its feed always holds every comment comments.list holds is not
// documented. A feed that silently left something out would leave it
// unsynced, which no check of casebridge's would notice. So the feed is
// used only when the deployment asks for it (CSAPI_USE_FEED, off by
// default), and when it fails for a reason retrying cannot fix, the
// FeedClient falls back on the v2 listings and stops using it.
//
// # Errors
//
// Every failure is a *casesync.APIError with Side casesync.SideGoogle and Op
// naming the API method ("cases.search", "comments.create", ...). Status is
// the HTTP status (0 when no response arrived). HTTP 429, 5xx but 501
// (UNIMPLEMENTED), timeouts and transport failures are transient; other 4xx
// and 501 are permanent; 404 satisfies
// casesync.IsNotFound. A comment body longer than casesync.MaxGoogleCommentLen
// is rejected before any call with a permanent error wrapping
// *CommentTooLongError. Error bodies are never copied into errors or logs;
// only the status and the API's error message are kept. The package logs
// nothing.
//
// # Retries
//
// Transient failures are retried inside the Client with jittered exponential
// backoff (Config.MinBackoff doubling up to Config.MaxBackoff) for at most
// Config.MaxAttempts attempts per call. A Retry-After header is honoured,
// capped by MaxBackoff. Waiting stops as soon as the caller's context is done,
// and no wait is started that would outlast the context's deadline.
//
// Reads, priority patches and closes are idempotent and are retried on any
// transient failure. Creating a case, posting a comment and uploading an
// attachment are not: if such a request may have reached the server (a
// timeout, a reset connection, a 500, 502, 503 or 504), repeating it could
// create a duplicate, so the Client does not retry it and returns the
// transient error instead. The engine then lets Pub/Sub redeliver, and before
// writing again it looks on the Google side for the marker its earlier attempt
// would have left. These calls are retried only when the server certainly did
// not act: it refused the request with 429 (over a quota), or the connection
// was never made. A 503 does not say the request was not carried out (Google's
// status codes warn that retrying a non-idempotent call after UNAVAILABLE is
// not always safe), so it is handled like a lost answer. An upload is retried
// only when its reader is also an io.Seeker, so the file can be sent again
// from its start.
//
// Closing a case that is already closed is not an error: when CSAPI refuses a
// close with 400, 409 or 412, the Client reads the case and returns nil if it is
// CLOSED.
package csapi
