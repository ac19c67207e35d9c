# For each topic feeding the function: a dead-letter topic, a pull
# subscription on it to inspect and replay what was dead-lettered, and the
# push subscription with an exponential retry policy and the dead-letter
# policy. The push goes to <function URL>/projects/<p>/topics/<t>, the path
# functions-framework takes the topic from, with an OIDC token for the
# function's URL.
resource "google_pubsub_topic" "dead_letter" {
  for_each = var.subscriptions

  project = var.project_id
  name    = each.value.dead_letter_topic
  labels  = var.labels
}

resource "google_pubsub_subscription" "dead_letter" {
  for_each = var.subscriptions

  project                    = var.project_id
  name                       = each.value.dead_letter_topic
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  labels                     = var.labels
  ack_deadline_seconds       = 60
  message_retention_duration = var.dead_letter_retention

  # Never delete it for inactivity: it is read only when something failed.
  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_subscription" "push" {
  for_each = var.subscriptions

  project              = var.project_id
  name                 = each.value.name
  topic                = var.topic_ids[each.value.topic]
  labels               = var.labels
  ack_deadline_seconds = each.value.ack_deadline_seconds
  # Unordered: each reconciliation reads both cases' current state under
  # the mapping's lease, so the order of messages does not matter, and an
  # ordered subscription would hold a case's later messages behind a
  # failing one.
  enable_message_ordering = false

  push_config {
    push_endpoint = "${google_cloudfunctions2_function.function.service_config[0].uri}/projects/${var.project_id}/topics/${each.value.topic}"
    oidc_token {
      service_account_email = var.push_service_account_email
      audience              = google_cloudfunctions2_function.function.service_config[0].uri
    }
  }

  retry_policy {
    minimum_backoff = each.value.minimum_backoff
    maximum_backoff = each.value.maximum_backoff
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.key].id
    max_delivery_attempts = each.value.max_delivery_attempts
  }

  expiration_policy {
    ttl = ""
  }

  # Pushing before the push identity may invoke the service only fails.
  depends_on = [google_cloud_run_service_iam_member.push_invoker]
}
