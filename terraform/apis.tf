# The Google APIs casebridge needs. They stay enabled on destroy: other
# things in the project may use them.
locals {
  apis = toset([
    "artifactregistry.googleapis.com",     # images of the built functions
    "cloudbuild.googleapis.com",           # builds the functions from source
    "cloudfunctions.googleapis.com",       # the functions (2nd gen)
    "cloudresourcemanager.googleapis.com", # project and organization IAM
    "cloudscheduler.googleapis.com",       # the ticks
    "cloudsupport.googleapis.com",         # the Cloud Support API
    "firestore.googleapis.com",            # the mappings
    "iam.googleapis.com",                  # service accounts
    "logging.googleapis.com",              # log-based metrics
    "monitoring.googleapis.com",           # alert policies, dashboard
    "pubsub.googleapis.com",               # topics and push subscriptions
    "run.googleapis.com",                  # the services behind the functions
    "secretmanager.googleapis.com",        # CRM credentials
    "storage.googleapis.com",              # function sources
  ])
}

resource "google_project_service" "apis" {
  for_each = local.apis

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

data "google_project" "this" {
  project_id = var.project_id
}
