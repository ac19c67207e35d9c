# The five functions, each built by Cloud Functions from its staged source
# (go run ./scripts/package -out terraform/build). Each zip is uploaded as
# "<function dir>-<sha256>.zip": a code change is a new object name, so the
# function is rebuilt and redeployed; unchanged code changes nothing.

resource "google_storage_bucket" "sources" {
  project                     = var.project_id
  name                        = "${var.project_id}-${var.prefix}-sources"
  location                    = var.region
  labels                      = local.labels
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket_object" "source" {
  for_each = local.functions

  bucket       = google_storage_bucket.sources.name
  name         = "${each.key}-${var.function_sources[each.key].sha256}.zip"
  source       = var.function_sources[each.key].path
  content_type = "application/zip"

  # Upload the new source before the old object goes, so a failed deploy
  # leaves the running function's source in place.
  lifecycle {
    create_before_destroy = true
  }
}

module "function" {
  source   = "./modules/function"
  for_each = local.functions

  project_id            = var.project_id
  region                = var.region
  name                  = each.value.name
  entry_point           = each.value.entry_point
  labels                = local.labels
  runtime               = var.go_runtime
  source_bucket         = google_storage_bucket.sources.name
  source_object         = google_storage_bucket_object.source[each.key].name
  build_service_account = "projects/${var.project_id}/serviceAccounts/${local.build_email}"
  timeout_seconds       = var.function_timeout_seconds
  memory                = var.function_memory
  max_instances         = var.function_max_instances
  ingress_settings      = var.function_ingress

  # Only the functions that call the CRM get its settings and may read its
  # credential secrets (see local.uses).
  environment        = local.uses[each.key].crm ? merge(local.function_environment, local.crm_environment) : local.function_environment
  secret_environment = local.uses[each.key].crm ? { for v, id in local.crm_secret_ids : v => google_secret_manager_secret.crm[v].secret_id } : {}
  secret_ids         = local.uses[each.key].crm ? { for v, id in local.crm_secret_ids : v => google_secret_manager_secret.crm[v].id } : {}

  publishes_to  = { for t in local.uses[each.key].publishes : t => google_pubsub_topic.source[t].id }
  subscriptions = local.subscriptions[each.key]
  topic_ids     = { for name, t in google_pubsub_topic.source : name => t.id }

  push_service_account_email = local.push_email
  pubsub_service_agent       = local.pubsub_service_agent
  dead_letter_retention      = var.dead_letter_retention

  depends_on = [
    google_project_service.apis,
    google_firestore_database.default,
    google_project_iam_member.build,
  ]
}

locals {
  # The environment shared/appconfig reads (credentials excepted: they come
  # from Secret Manager). Optional settings are left out when empty so the
  # code's defaults apply.
  function_environment = merge(
    {
      GOOGLE_CLOUD_PROJECT    = var.project_id
      CSAPI_PARENT            = local.csapi_parent
      CSAPI_CLASSIFICATION_ID = var.csapi_classification_id
      CSAPI_TEST_CASE         = tostring(var.csapi_test_case)
      CSAPI_CONNECTOR_EMAIL   = join(",", local.connector_emails)
      CSAPI_TIME_ZONE         = var.csapi_time_zone
      GOOGLE_POLLING_WINDOW   = var.google_polling_window
      COMPANY_POLLING_WINDOW  = var.company_polling_window
      POLL_INTERVAL           = "${var.poll_interval_minutes}m"
      MAX_ATTACHMENT_BYTES    = tostring(var.max_attachment_bytes)
      REOPEN_POLICY           = var.reopen_policy
      GOOGLE_COMMENTS_PUBLIC  = tostring(var.google_comments_public)
      SYNC_INTERNAL_NOTES     = tostring(var.sync_internal_notes)
      TOPIC_CASE_UPDATED      = local.topic_case_updated
      TOPIC_SYNC_REQUESTED    = local.topic_sync_requested
      TOPIC_TICK_POLL_GOOGLE  = local.topic_tick_poll_google
      EVENT_MAX_AGE           = var.event_max_age
      LOG_LEVEL               = var.log_level
    },
    var.csapi_create_parent == "" ? {} : { CSAPI_CREATE_PARENT = var.csapi_create_parent },
  )
  # The CRM's settings, for the functions that call it.
  crm_environment = merge(
    { CRM_KIND = var.crm_kind, CRM_URL = var.crm_url },
    var.crm_priority_map == "" ? {} : { CRM_PRIORITY_MAP = var.crm_priority_map },
    var.crm_settings,
  )
}
