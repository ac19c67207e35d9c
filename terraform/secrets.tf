# One Secret Manager secret per CRM credential variable. Terraform creates
# the secrets only, never a version: the operator adds each value with
#   printf %s "$VALUE" | gcloud secrets versions add <secret id> --data-file=-
# so no credential ever enters Terraform's state or plan. The functions read
# the latest version at start.
locals {
  default_crm_credentials = {
    rt         = ["RT_TOKEN"]
    zendesk    = ["ZENDESK_EMAIL", "ZENDESK_API_TOKEN"]
    jira       = ["JIRA_EMAIL", "JIRA_API_TOKEN"]
    servicenow = ["SERVICENOW_USER", "SERVICENOW_PASSWORD"]
    freshdesk  = ["FRESHDESK_API_KEY"]
    salesforce = ["SALESFORCE_CLIENT_SECRET"]
    simulator  = []
  }
  crm_credentials = toset(coalesce(var.crm_credential_variables, local.default_crm_credentials[var.crm_kind]))

  # Environment variable → secret id, e.g. RT_TOKEN → casebridge-rt-token.
  crm_secret_ids = { for v in local.crm_credentials : v => "${local.name_prefix}${lower(replace(v, "_", "-"))}" }
}

resource "google_secret_manager_secret" "crm" {
  for_each = local.crm_secret_ids

  project   = var.project_id
  secret_id = each.value
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}
