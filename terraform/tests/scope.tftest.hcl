# The Cloud Support API scope and the input checks.

mock_provider "google" {}

variables {
  project_id              = "casebridge-test"
  region                  = "europe-west1"
  prefix                  = "cb"
  organization_id         = "123456789"
  csapi_classification_id = "100H41Q3DTMN0TBKCKD0SGRFDLO7AT35412MSPR9DPII4229DPPN8OBECDIG"
  csapi_test_case         = true
  crm_kind                = "rt"
  crm_url                 = "https://rt.example.com"
  function_sources = {
    cleanup       = { path = "/tmp/build/cleanup.zip", sha256 = "1111111111111111111111111111111111111111111111111111111111111111" }
    detectoutages = { path = "/tmp/build/detectoutages.zip", sha256 = "2222222222222222222222222222222222222222222222222222222222222222" }
    googleevents  = { path = "/tmp/build/googleevents.zip", sha256 = "6666666666666666666666666666666666666666666666666666666666666666" }
    pollcrm       = { path = "/tmp/build/pollcrm.zip", sha256 = "3333333333333333333333333333333333333333333333333333333333333333" }
    pollgoogle    = { path = "/tmp/build/pollgoogle.zip", sha256 = "4444444444444444444444444444444444444444444444444444444444444444" }
    synccase      = { path = "/tmp/build/synccase.zip", sha256 = "5555555555555555555555555555555555555555555555555555555555555555" }
  }
}

run "the_whole_organization_by_default" {
  command = apply

  assert {
    condition     = length(google_organization_iam_member.csapi) == 6 && length(google_project_iam_member.csapi) == 0
    error_message = "Without an allowlist, the three Cloud Support API callers get both roles on the organization."
  }

  assert {
    condition = sort(distinct([for g in google_organization_iam_member.csapi : g.member])) == sort([
      module.function["pollgoogle"].member,
      module.function["synccase"].member,
      module.function["detectoutages"].member,
    ])
    error_message = "Only poll-google, sync-case and detect-outages call the Cloud Support API."
  }
}

run "an_allowlisted_project_only" {
  command = apply

  variables {
    project_allowlist = ["support-project"]
  }

  assert {
    condition     = length(google_organization_iam_member.csapi) == 0
    error_message = "With an allowlist, no organization-level role may be granted."
  }

  assert {
    condition = alltrue([
      for g in google_project_iam_member.csapi : g.project == "support-project" && g.role == "roles/cloudsupport.techSupportEditor"
    ]) && length(google_project_iam_member.csapi) == 3
    error_message = "With an allowlist, the callers get Tech Support Editor on the allowed project only."
  }

  assert {
    condition     = module.function["pollgoogle"].function.service_config[0].environment_variables["CSAPI_PARENT"] == "projects/support-project"
    error_message = "With an allowlist, casebridge searches the allowed project."
  }
}

run "rejects_sources_missing_a_function" {
  command = plan

  variables {
    function_sources = {
      cleanup = { path = "/tmp/build/cleanup.zip", sha256 = "1111111111111111111111111111111111111111111111111111111111111111" }
    }
  }

  expect_failures = [var.function_sources]
}

run "rejects_a_source_without_a_sha256" {
  command = plan

  variables {
    function_sources = {
      cleanup       = { path = "/tmp/build/cleanup.zip", sha256 = "latest" }
      detectoutages = { path = "/tmp/build/detectoutages.zip", sha256 = "2222222222222222222222222222222222222222222222222222222222222222" }
      googleevents  = { path = "/tmp/build/googleevents.zip", sha256 = "6666666666666666666666666666666666666666666666666666666666666666" }
      pollcrm       = { path = "/tmp/build/pollcrm.zip", sha256 = "3333333333333333333333333333333333333333333333333333333333333333" }
      pollgoogle    = { path = "/tmp/build/pollgoogle.zip", sha256 = "4444444444444444444444444444444444444444444444444444444444444444" }
      synccase      = { path = "/tmp/build/synccase.zip", sha256 = "5555555555555555555555555555555555555555555555555555555555555555" }
    }
  }

  expect_failures = [var.function_sources]
}

run "rejects_credentials_in_plain_settings" {
  command = plan

  variables {
    crm_settings = { RT_TOKEN = "1-abc" }
  }

  expect_failures = [var.crm_settings]
}

run "rejects_credentials_of_another_crm" {
  command = plan

  variables {
    crm_credential_variables = ["ZENDESK_API_TOKEN"]
  }

  expect_failures = [var.crm_credential_variables]
}

run "several_allowlisted_projects" {
  command = apply

  variables {
    project_allowlist = ["support-a1", "support-b2"]
  }

  assert {
    condition     = length(google_organization_iam_member.csapi) == 0 && length(google_project_iam_member.csapi) == 6
    error_message = "With two allowlisted projects, the three callers get Tech Support Editor on each, and nothing on the organization."
  }

  assert {
    condition     = module.function["pollgoogle"].function.service_config[0].environment_variables["CSAPI_PARENT"] == "projects/support-a1,projects/support-b2"
    error_message = "With two allowlisted projects, casebridge searches both."
  }
}

run "rejects_a_project_id_that_is_not_one" {
  command = plan

  variables {
    project_allowlist = ["Support_A"]
  }

  expect_failures = [var.project_allowlist]
}

run "rejects_a_prefix_too_long_for_service_account_ids" {
  command = plan

  variables {
    prefix = "casebridge-production"
  }

  expect_failures = [var.prefix]
}

run "rejects_a_timeout_past_the_acknowledgement_deadline" {
  command = plan

  variables {
    function_timeout_seconds = 300
  }

  expect_failures = [var.function_timeout_seconds]
}

run "rejects_a_polling_window_that_is_not_a_go_duration" {
  command = plan

  variables {
    google_polling_window = "30 minutes"
  }

  expect_failures = [var.google_polling_window]
}

run "rejects_a_dead_letter_retention_over_31_days" {
  command = plan

  variables {
    dead_letter_retention = "5000000s"
  }

  expect_failures = [var.dead_letter_retention]
}

run "chosen_credential_variables_replace_the_default" {
  command = apply

  variables {
    crm_credential_variables = ["RT_USER", "RT_PASSWORD"]
  }

  assert {
    condition     = output.secrets_to_fill == { RT_PASSWORD = "cb-rt-password", RT_USER = "cb-rt-user" }
    error_message = "Each chosen credential variable must get its own secret, and only those."
  }
}

run "the_simulator_needs_no_secrets" {
  command = apply

  variables {
    crm_kind = "simulator"
    crm_url  = "http://crm-simulator.internal:8080"
  }

  assert {
    condition     = length(output.secrets_to_fill) == 0 && alltrue([for dir, m in module.function : length(m.function.service_config[0].secret_environment_variables) == 0])
    error_message = "The simulator has no credentials."
  }
}
