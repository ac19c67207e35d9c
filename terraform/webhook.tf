# The webhook receiver: the CRMWebhook function (functions/crmwebhook), an
# HTTP function the CRM's webhooks reach from the internet. It is the only
# casebridge function with public invocation: ingress ALLOW_ALL and
# run.invoker for everyone, because helpdesks cannot present Google ID
# tokens. It authenticates every request in code (each CRM's signature
# scheme, a 5-minute replay window, a 256 KiB body bound) and does nothing
# but publish case-updated. Its own service account may publish on
# case-updated and read its one secret, nothing else: no Firestore, no
# CRM credential, no Cloud Support API. docs/webhooks.md says what to set
# up in each CRM. Off unless crm_webhooks is true; polling works either way.

variable "crm_webhooks" {
  type        = bool
  description = "Deploy the webhook receiver (CRMWebhook), a public HTTPS endpoint the CRM's webhooks call so changes sync within seconds instead of at the next poll. Polling stays on as the safety net. See docs/webhooks.md."
  default     = false
}

variable "webhook_sync_user" {
  type        = string
  description = "CASEBRIDGE_WEBHOOK_SYNC_USER: the sync user as the CRM's webhooks name who made a change (RT or ServiceNow user name, Jira account id, Zendesk user id, Salesforce 18-character user id; Freshdesk's name nobody); its own changes are acknowledged and not published. Empty: every change is published."
  default     = ""
  validation {
    condition     = length(var.webhook_sync_user) <= 256 && !can(regex("[[:cntrl:]]", var.webhook_sync_user))
    error_message = "webhook_sync_user must be at most 256 characters without control characters."
  }
}

variable "webhook_max_instances" {
  type        = number
  description = "Most instances of the webhook receiver at a time: it bounds what a flood of requests to the public endpoint can cost."
  default     = 5
  validation {
    condition     = var.webhook_max_instances >= 1 && var.webhook_max_instances <= 100
    error_message = "webhook_max_instances must be between 1 and 100."
  }
}

locals {
  webhook_dir  = "crmwebhook"
  webhook_name = "${local.name_prefix}crm-webhook"
  # Built from the account's id, as modules/function does, so grants come
  # after the account exists; "" when there is no receiver.
  webhook_email = join("", [for sa in google_service_account.webhook : "${sa.account_id}@${var.project_id}.iam.gserviceaccount.com"])
  # The staged source; null when function_sources lacks it (a precondition
  # on the upload then says how to make it).
  webhook_source = try(var.function_sources["crmwebhook"], null)

  webhook_environment = merge(
    {
      GOOGLE_CLOUD_PROJECT = var.project_id
      CRM_KIND             = var.crm_kind
      TOPIC_CASE_UPDATED   = local.topic_case_updated
      TOPIC_SYNC_REQUESTED = local.topic_sync_requested
      LOG_LEVEL            = var.log_level
    },
    var.webhook_sync_user == "" ? {} : { CASEBRIDGE_WEBHOOK_SYNC_USER = var.webhook_sync_user },
  )
}

resource "google_storage_bucket_object" "webhook_source" {
  count = var.crm_webhooks ? 1 : 0

  bucket       = google_storage_bucket.sources.name
  name         = "${local.webhook_dir}-${try(local.webhook_source.sha256, "")}.zip"
  source       = try(local.webhook_source.path, "")
  content_type = "application/zip"

  lifecycle {
    create_before_destroy = true
    precondition {
      condition     = local.webhook_source != null
      error_message = "crm_webhooks is true but function_sources has no crmwebhook entry: run `go run ./scripts/package -out terraform/build` and pass -var-file=build/functions.auto.tfvars.json."
    }
  }
}

resource "google_service_account" "webhook" {
  count = var.crm_webhooks ? 1 : 0

  project      = var.project_id
  account_id   = local.webhook_name
  display_name = "casebridge CRMWebhook"
  description  = "Runs the CRMWebhook function of casebridge; may only publish on case-updated and read the webhook secret."

  depends_on = [google_project_service.apis]
}

# The secret the CRM signs its webhooks with. As for the CRM credentials
# (secrets.tf), Terraform creates the secret only, never a version: the
# operator adds the value with
#   printf %s "$SECRET" | gcloud secrets versions add <prefix>-webhook-secret --data-file=-
resource "google_secret_manager_secret" "webhook" {
  count = var.crm_webhooks ? 1 : 0

  project   = var.project_id
  secret_id = "${local.name_prefix}webhook-secret"
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_iam_member" "webhook_reads" {
  count = var.crm_webhooks ? 1 : 0

  project   = var.project_id
  secret_id = google_secret_manager_secret.webhook[0].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${local.webhook_email}"
}

resource "google_pubsub_topic_iam_member" "webhook_publishes" {
  count = var.crm_webhooks ? 1 : 0

  project = var.project_id
  topic   = google_pubsub_topic.source[local.topic_case_updated].id
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${local.webhook_email}"
}

resource "google_cloudfunctions2_function" "webhook" {
  count = var.crm_webhooks ? 1 : 0

  project     = var.project_id
  location    = var.region
  name        = local.webhook_name
  description = "casebridge CRMWebhook: verifies the CRM's webhooks and publishes case-updated"
  labels      = local.labels

  build_config {
    runtime         = var.go_runtime
    entry_point     = "CRMWebhook"
    service_account = "projects/${var.project_id}/serviceAccounts/${local.build_email}"
    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.webhook_source[0].name
      }
    }
  }

  service_config {
    service_account_email            = local.webhook_email
    timeout_seconds                  = 30
    available_memory                 = "256Mi"
    max_instance_count               = var.webhook_max_instances
    max_instance_request_concurrency = 1
    # Public: the CRM calls it from the internet (see webhook_public).
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true
    environment_variables          = local.webhook_environment

    secret_environment_variables {
      key        = "CASEBRIDGE_WEBHOOK_SECRET"
      project_id = var.project_id
      secret     = google_secret_manager_secret.webhook[0].secret_id
      version    = "latest"
    }
  }

  # The revision reads its secret when it starts.
  depends_on = [
    google_secret_manager_secret_iam_member.webhook_reads,
    google_project_iam_member.build,
  ]
}

# Anyone may invoke it: the CRM cannot present a Google identity. The
# function authenticates each request by its signature.
resource "google_cloud_run_service_iam_member" "webhook_public" {
  count = var.crm_webhooks ? 1 : 0

  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.webhook[0].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

output "crm_webhook_url" {
  description = "The URL to give the CRM's webhook (docs/webhooks.md); null when crm_webhooks is false. Not a secret: every request is checked by its signature."
  value       = var.crm_webhooks ? google_cloudfunctions2_function.webhook[0].service_config[0].uri : null
}

output "crm_webhook_secret_to_fill" {
  description = "The Secret Manager secret the operator gives the webhook secret (gcloud secrets versions add <id> --data-file=-); null when crm_webhooks is false."
  value       = var.crm_webhooks ? google_secret_manager_secret.webhook[0].secret_id : null
}

output "crm_webhook_iam_grants" {
  description = "Every IAM grant made for the webhook receiver, as { resource, role, member }: its public invoker, its publish on case-updated and its read of its secret."
  value = var.crm_webhooks ? [
    { resource = "Cloud Run service ${google_cloud_run_service_iam_member.webhook_public[0].service}", role = google_cloud_run_service_iam_member.webhook_public[0].role, member = google_cloud_run_service_iam_member.webhook_public[0].member },
    { resource = "topic ${google_pubsub_topic_iam_member.webhook_publishes[0].topic}", role = google_pubsub_topic_iam_member.webhook_publishes[0].role, member = google_pubsub_topic_iam_member.webhook_publishes[0].member },
    { resource = "secret ${google_secret_manager_secret_iam_member.webhook_reads[0].secret_id}", role = google_secret_manager_secret_iam_member.webhook_reads[0].role, member = google_secret_manager_secret_iam_member.webhook_reads[0].member },
  ] : []
}
