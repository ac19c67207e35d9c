# Support events: the organization's support event subscription makes the
# Cloud Support API publish a message on the support-events topic whenever
# one of its cases changes (created, updated, closed, a comment or an
# attachment added). GoogleEvents (topology.json) turns each message into
# case-updated for the cases it names, or asks for a Google poll at once, so
# a Google change syncs within seconds instead of at the next poll; polling
# stays on as the safety net. The message's shape is not documented:
# casebridge only looks for case names in it and reads each case from the
# API (shared/eventing/supportevents.go).
#
# Only organizations own a subscription, and it covers every project of the
# organization: with project_allowlist, GoogleEvents ignores cases outside
# the allowed projects. Creating it needs roles/cloudsupport.subscriptionEditor
# on the organization for the identity running Terraform. Off with
# support_events_enabled = false (the topic, GoogleEvents and its push
# subscription stay, idle).

locals {
  # The topic GoogleEvents reads, from topology.json.
  topic_support_events = one([for s in local.topology.subscriptions : "${local.name_prefix}${s.topic}" if s.function == "GoogleEvents"])
  # The Cloud Support API's agent that publishes support events.
  support_events_agent = "serviceAccount:cloud-support-apievents@system.gserviceaccount.com"
}

# Without this grant the subscription goes FAILING with PERMISSION_DENIED.
resource "google_pubsub_topic_iam_member" "support_events_publisher" {
  count = var.support_events_enabled ? 1 : 0

  project = var.project_id
  topic   = google_pubsub_topic.source[local.topic_support_events].id
  role    = "roles/pubsub.publisher"
  member  = local.support_events_agent
}

resource "google_cloud_support_support_event_subscription" "events" {
  count = var.support_events_enabled ? 1 : 0

  organization  = var.organization_id
  pub_sub_topic = google_pubsub_topic.source[local.topic_support_events].id

  # The API enabled and the agent allowed to publish first; and GoogleEvents
  # with its push subscription, so that no early event is published to a
  # topic nothing reads.
  depends_on = [
    google_project_service.apis,
    google_pubsub_topic_iam_member.support_events_publisher,
    module.function,
  ]
}

output "support_event_subscription" {
  description = "The organization's support event subscription (organizations/<org>/supportEventSubscriptions/<id>), or null when support_events_enabled is false. Its state should be WORKING: gcloud support support-event-subscriptions describe <id> --organization=<org>."
  value       = one(google_cloud_support_support_event_subscription.events[*].id)
}
