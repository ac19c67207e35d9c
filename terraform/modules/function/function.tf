# The function (2nd gen, Go) and the service account it runs as. The function
# has no Eventarc trigger: the push subscriptions in pubsub.tf feed it, since
# only an explicit subscription has a retry policy and a dead-letter topic.
resource "google_service_account" "function" {
  project      = var.project_id
  account_id   = var.name
  display_name = "casebridge ${var.entry_point}"
  description  = "Runs the ${var.entry_point} function of casebridge; has only the roles that function uses."
}

locals {
  # Google forms a service account's email from its id and project. Building
  # it from the resource's account_id keeps the ordering (grants come after
  # the account exists) and makes the value known when planning, so plans
  # show the exact members.
  email  = "${google_service_account.function.account_id}@${var.project_id}.iam.gserviceaccount.com"
  member = "serviceAccount:${local.email}"
}

resource "google_cloudfunctions2_function" "function" {
  project     = var.project_id
  location    = var.region
  name        = var.name
  description = "casebridge ${var.entry_point}"
  labels      = var.labels

  build_config {
    runtime         = var.runtime
    entry_point     = var.entry_point
    service_account = var.build_service_account
    source {
      storage_source {
        bucket = var.source_bucket
        object = var.source_object
      }
    }
  }

  service_config {
    service_account_email            = local.email
    timeout_seconds                  = var.timeout_seconds
    available_memory                 = var.memory
    max_instance_count               = var.max_instances
    max_instance_request_concurrency = 1
    # Invoking needs run.invoker, which only the push identity has.
    ingress_settings               = var.ingress_settings
    all_traffic_on_latest_revision = true
    environment_variables          = var.environment

    dynamic "secret_environment_variables" {
      for_each = var.secret_environment
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  # The revision reads its secrets when it starts: the account must be able
  # to read them first.
  depends_on = [google_secret_manager_secret_iam_member.reads]
}

# Only the push identity may invoke the function's service.
resource "google_cloud_run_service_iam_member" "push_invoker" {
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.function.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${var.push_service_account_email}"
}
