output "prefix" {
  description = "Topic and subscription prefix for the operator tools (scripts/operator, scripts/deadletter --prefix): \"<prefix>-\"."
  value       = local.name_prefix
}

output "function_urls" {
  description = "URL of each function's service, by function name. Only the push identity may invoke them."
  value       = { for dir, m in module.function : local.functions[dir].name => m.url }
}

output "service_accounts" {
  description = "Service account of each function, by function name, plus the build and push identities."
  value = merge(
    { for dir, m in module.function : local.functions[dir].name => m.service_account_email },
    { build = local.build_email, push = local.push_email },
  )
}

output "connector_email" {
  description = "The identity casebridge writes mirrored Google comments and attachments as: sync-case's service account, the first of CSAPI_CONNECTOR_EMAIL (which also lists detect-outages', the identity of its notices)."
  value       = local.connector_email
}

output "topics" {
  description = "The topics the functions read: case-updated, sync-requested and the tick topics."
  value       = sort([for t in google_pubsub_topic.source : t.name])
}

output "push_subscriptions" {
  description = "Each push subscription with its topic and dead-letter topic."
  value = merge([
    for dir, m in module.function : {
      for k, s in m.push_subscriptions : s.name => {
        topic             = s.topic
        dead_letter_topic = m.dead_letter_topics[k].name
      }
    }
  ]...)
}

output "dead_letter_subscriptions" {
  description = "The pull subscriptions holding dead-lettered messages, by the push subscription they come from: what the dead-letter tool reads."
  value = merge([
    for dir, m in module.function : {
      for k, s in m.push_subscriptions : s.name => m.dead_letter_subscriptions[k].name
    }
  ]...)
}

output "secrets_to_fill" {
  description = "Secret Manager secrets the operator must give a value (gcloud secrets versions add <id> --data-file=-), by the environment variable they feed."
  value       = { for v, s in google_secret_manager_secret.crm : v => s.secret_id }
}

output "source_bucket" {
  description = "Bucket holding the functions' source zips (<function dir>-<sha256>.zip)."
  value       = google_storage_bucket.sources.name
}

output "source_objects" {
  description = "The source object each function was built from, by function directory."
  value       = { for dir, o in google_storage_bucket_object.source : dir => o.name }
}

output "scheduler_jobs" {
  description = "Cloud Scheduler jobs and their schedules."
  value       = { for k, j in google_cloud_scheduler_job.tick : j.name => j.schedule }
}

output "dashboard" {
  description = "The Cloud Monitoring dashboard's id."
  value       = google_monitoring_dashboard.casebridge.id
}

output "iam_grants" {
  description = "Every IAM grant casebridge's Terraform makes, as { resource, role, member }."
  value = concat(
    flatten([for dir, m in module.function : m.iam_grants]),
    [for g in google_project_iam_member.build : { resource = "project ${g.project}", role = g.role, member = g.member }],
    [{ resource = "service account ${local.push_email}", role = google_service_account_iam_member.push_token_creator.role, member = google_service_account_iam_member.push_token_creator.member }],
    [for g in google_organization_iam_member.csapi : { resource = "organization ${g.org_id}", role = g.role, member = g.member }],
    [for g in google_project_iam_member.csapi : { resource = "project ${g.project}", role = g.role, member = g.member }],
    [for g in google_pubsub_topic_iam_member.support_events_publisher : { resource = "topic ${g.topic}", role = g.role, member = g.member }],
  )
}
