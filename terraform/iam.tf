# Service accounts and roles outside the function module. Each function's
# own account and grants (Firestore, the topics it publishes to, its
# secrets, run.invoker for the push identity) are in modules/function.

# Cloud Build builds the functions as this account, not the default compute
# account. Its roles are the ones Cloud Functions documents for a custom
# build account: build logs, the image registry, the staged source.
resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "${var.prefix}-build"
  display_name = "casebridge function builds"
  description  = "Cloud Build builds casebridge's functions as this account."

  depends_on = [google_project_service.apis]
}

locals {
  # Emails built from the account ids, as Google forms them (see
  # modules/function): known when planning, ordered after the accounts.
  build_email = "${google_service_account.build.account_id}@${var.project_id}.iam.gserviceaccount.com"
  push_email  = "${google_service_account.push.account_id}@${var.project_id}.iam.gserviceaccount.com"

  build_roles = toset([
    "roles/logging.logWriter",
    "roles/artifactregistry.writer",
    "roles/storage.objectAdmin",
  ])
}

resource "google_project_iam_member" "build" {
  for_each = local.build_roles

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${local.build_email}"
}

# Pub/Sub pushes to the functions with this account's OIDC token; it may
# invoke the casebridge functions' services and nothing else.
resource "google_service_account" "push" {
  project      = var.project_id
  account_id   = "${var.prefix}-push"
  display_name = "casebridge Pub/Sub push"
  description  = "Identity of Pub/Sub's pushes to casebridge's functions; has run.invoker on those services only."

  depends_on = [google_project_service.apis]
}

# The Pub/Sub service agent mints the push identity's tokens. Projects made
# after 8 April 2021 allow this already; older ones need the grant.
resource "google_service_account_iam_member" "push_token_creator" {
  service_account_id = "projects/${var.project_id}/serviceAccounts/${local.push_email}"
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}

# The Cloud Support API: the functions that call it (poll-google,
# sync-case, detect-outages) get Tech Support Editor and Organization Viewer
# on the organization, or, with project_allowlist, Tech Support Editor on the
# allowed project only.
locals {
  csapi_org_grants = length(var.project_allowlist) > 0 ? {} : merge([
    for dir in local.csapi_functions : {
      for role in ["roles/cloudsupport.techSupportEditor", "roles/resourcemanager.organizationViewer"] :
      "${dir} ${role}" => { dir = dir, role = role }
    }
  ]...)
  csapi_project_grants = merge([
    for dir in local.csapi_functions : {
      for p in var.project_allowlist : "${dir} ${p}" => { dir = dir, project = p }
    }
  ]...)
}

resource "google_organization_iam_member" "csapi" {
  for_each = local.csapi_org_grants

  org_id = var.organization_id
  role   = each.value.role
  member = module.function[each.value.dir].member
}

resource "google_project_iam_member" "csapi" {
  for_each = local.csapi_project_grants

  project = each.value.project
  role    = "roles/cloudsupport.techSupportEditor"
  member  = module.function[each.value.dir].member
}
