# The topics the functions read: case-updated, sync-requested and the
# scheduler tick topics. Each function's push subscriptions, dead-letter
# topics and their pull subscriptions are made by modules/function.
resource "google_pubsub_topic" "source" {
  for_each = local.source_topics

  project = var.project_id
  name    = each.value
  labels  = local.labels

  depends_on = [google_project_service.apis]
}

locals {
  # The Pub/Sub service agent: it pushes with the invoker's OIDC token,
  # forwards failed messages to the dead-letter topics, and acknowledges
  # them on the source subscriptions.
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}
