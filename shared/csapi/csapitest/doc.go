// Package csapitest is a faithful in-memory simulator of the Cloud Support
// API v2 (cloudsupport.googleapis.com), for tests and the local sandbox. The
// official Go client google.golang.org/api/cloudsupport/v2 talks to it
// unchanged through option.WithEndpoint(s.URL()) and
// option.WithoutAuthentication().
//
// # What it simulates
//
// One organization (Options.Organization) with child projects
// (Options.Projects, ID to number; names accept either). Cases are named
// with the project number: "projects/200/cases/43595344". The methods are
// cases.{get,list,search,create,patch,close,escalate},
// cases.comments.{list,create,get}, cases.attachments.{list,get},
// media.{upload,download} and caseClassifications.search, on /v2/... and
// /upload/v2/..., with custom verbs (":search", ":close", ":download") parsed
// by hand, and v2beta's case feed, cases.showFeed, on /v2beta/ (see
// feed.go). Behaviour follows the reference notes:
//
//   - JSON out is camelCase with false and empty fields omitted and int64
//     (sizeBytes) as strings; JSON in accepts camelCase and snake_case and
//     rejects unknown fields with 400 INVALID_ARGUMENT.
//   - Lists default to 10 items per page and clamp pageSize at 100. Page
//     tokens are opaque and bound to the method, parent and filter; a token
//     used with another request answers 400.
//   - cases.list returns direct children of the parent only; cases.search on
//     an organization covers its projects too. Both order cases newest first.
//   - Filters (list) support state=OPEN|CLOSED, priority=P0..P4,
//     creator.email="x", joined by AND; priority comparisons may also be
//     joined by OR, bare or in parentheses, and OR binds tighter than AND
//     ("state=OPEN AND priority=P0 OR priority=P1" is "state=OPEN AND
//     (priority=P0 OR priority=P1)"), as in Google's filter language. Search
//     queries also support update_time>"RFC 3339 with zone" and bare quoted
//     full-text terms over displayName, description and comment bodies.
//     Anything else answers 400 INVALID_ARGUMENT.
//   - cases.create requires displayName, description, a seeded
//     classification.id and priority; the case starts NEW with an 8-digit
//     number and the caller (Options.CallerEmail) as creator.
//   - cases.patch honours updateMask (priority, display_name,
//     subscriber_email_addresses; an empty mask replaces all three).
//   - cases.close sets CLOSED; closing again answers 400 FAILED_PRECONDITION.
//   - Comments list newest first; bodies over 12,800 characters answer 400.
//     A Google Support comment moves an open case to ACTION_REQUIRED; a
//     customer comment on ACTION_REQUIRED or SOLUTION_PROVIDED moves it to
//     IN_PROGRESS_GOOGLE_SUPPORT.
//   - Attachments list newest first and have 18-character Salesforce-style
//     IDs. Uploads accept multipart/related (JSON part, then media; the
//     boundary may be single-quoted, as Google's Python tooling sends it,
//     and lines may end in LF alone) and a raw body with the attachment.filename query parameter; resumable uploads
//     answer 400. ":download?alt=media" returns the bytes.
//   - cases.showFeed lists a case's comments, attachments, deleted
//     attachments and email replies, oldest first (orderBy "creation_time
//     desc": newest first), each with its eventTime; its comments and
//     attachments are the objects the v2 lists return. Test hooks delete an
//     attachment (gone from v2, deletedAttachment in the feed) and add an
//     email reply (in the feed only).
//   - Every change, comment or attachment bumps the case updateTime.
//   - Errors use Google's envelope {"error":{"code","message","status"}}:
//     404 NOT_FOUND for unknown names, 403 PERMISSION_DENIED for parents
//     outside the organization.
//
// # Support events
//
// organizations.supportEventSubscriptions.{create,get,list,patch,delete,
// undelete} on /v2/organizations/{org}/supportEventSubscriptions follow the
// reference: create takes {"pubSubTopic"} (or "pub_sub_topic"), which must
// be projects/{project}/topics/{topic}, assigns a 12-character id and
// returns the resource, WORKING; list takes pageSize, pageToken,
// showDeleted and a filter of state=X and pub_sub_topic="T" joined by AND;
// delete is soft (DELETED, with deleteTime and a purgeTime 30 days later,
// when it is forgotten) and returns the resource. Where the reference is
// silent the simulator follows AIP-164: deleting a deleted subscription
// answers NOT_FOUND, undeleting a live one ALREADY_EXISTS.
//
// With Options.Events set, every change of a case (created, updated,
// closed, a comment or an attachment added), made through the API or by a
// test hook, publishes one message to the topic of each subscription not
// deleted, from a goroutine outside the simulator's lock (FlushEvents waits
// for them). A failed publish makes the subscription FAILING with
// failureReason TOPIC_NOT_FOUND, PERMISSION_DENIED or OTHER; the next
// publish that succeeds makes it WORKING again. The message's shape is not
// documented by Google: the simulator's (attributes notificationType and
// resourceName, a JSON body naming the same resource) is an assumption, see
// events.go. PubSubPublisher publishes through a Pub/Sub client, such as one
// on the emulator.
//
// # Faults and metering
//
// InjectFault makes matching calls fail (e.g. 429 RESOURCE_EXHAUSTED with a
// Retry-After header) or slow; SetDown answers 503 UNAVAILABLE to
// everything; SetSearchLag makes cases.search see the data as it was some
// time ago; Calls counts API calls by method name.
//
// # HTTP test hooks
//
// A running simulator is driven by other processes through /_sim/, with
// small JSON bodies. Durations are Go duration strings ("250ms") or numbers
// of seconds. Errors use the same envelope as the API.
//
//	POST   /_sim/cases              {"parent","displayName","description","priority","creatorEmail"} -> {"name"}
//	POST   /_sim/comments           {"case","body","creator":{"displayName","email","username","googleSupport"}} -> {"name"}
//	POST   /_sim/agent-comments     {"case","body"} -> {"name"}
//	POST   /_sim/attachments        {"case","filename","mimeType","data":"<base64>","creator":{...}} -> {"name"}
//	POST   /_sim/email-messages     {"case","subject","body","creator":{...},"to":[...],"cc":[...]} -> {"name"}
//	POST   /_sim/delete-attachment  {"name"}
//	POST   /_sim/priority           {"case","priority"}
//	POST   /_sim/case-state         {"case","state"}
//	POST   /_sim/close              {"case"}
//	POST   /_sim/faults             {"method","status","retryAfter","count","latency"}
//	DELETE /_sim/faults
//	POST   /_sim/down               {"down":true}
//	POST   /_sim/search-lag         {"lag":"30s"}
//	POST   /_sim/escalation-denied  {"denied":true}
//	GET    /_sim/calls              -> {"cases.search":3,...}
//	DELETE /_sim/calls
//	GET    /_sim/state              -> {"cases":[{"case":{...},"comments":[...],"attachments":[...]}]}
//	GET    /_sim/attachment-data?name=<attachment name>  -> raw bytes
package csapitest
