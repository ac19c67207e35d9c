output "function" {
  description = "The function resource."
  value       = google_cloudfunctions2_function.function
}

output "url" {
  description = "URL of the function's service (reachable only with the push identity's token)."
  value       = google_cloudfunctions2_function.function.service_config[0].uri
}

output "service_account" {
  description = "The function's service account."
  value       = google_service_account.function
}

output "service_account_email" {
  description = "Email of the function's service account."
  value       = local.email
}

output "member" {
  description = "The function's service account as an IAM member (serviceAccount:<email>)."
  value       = local.member
}

output "push_subscriptions" {
  description = "The push subscriptions feeding the function, by source topic name without the prefix."
  value       = google_pubsub_subscription.push
}

output "dead_letter_topics" {
  description = "The dead-letter topics, by source topic name without the prefix."
  value       = google_pubsub_topic.dead_letter
}

output "dead_letter_subscriptions" {
  description = "The pull subscriptions on the dead-letter topics, by source topic name without the prefix."
  value       = google_pubsub_subscription.dead_letter
}

output "iam_grants" {
  description = "Every IAM grant this module makes, as { resource, role, member }."
  value = concat(
    [{ resource = "project ${var.project_id}", role = google_project_iam_member.firestore.role, member = google_project_iam_member.firestore.member }],
    [for g in google_pubsub_topic_iam_member.publishes : { resource = "topic ${g.topic}", role = g.role, member = g.member }],
    [for g in google_secret_manager_secret_iam_member.reads : { resource = "secret ${g.secret_id}", role = g.role, member = g.member }],
    [{ resource = "Cloud Run service ${google_cloud_run_service_iam_member.push_invoker.service}", role = google_cloud_run_service_iam_member.push_invoker.role, member = google_cloud_run_service_iam_member.push_invoker.member }],
    [for g in google_pubsub_topic_iam_member.dead_letter_publisher : { resource = "topic ${g.topic}", role = g.role, member = g.member }],
    [for g in google_pubsub_subscription_iam_member.dead_letter_subscriber : { resource = "subscription ${g.subscription}", role = g.role, member = g.member }],
  )
}
