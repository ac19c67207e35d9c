# Offline checks of the webhook receiver (webhook.tf) with a mock Google
# provider: it is the one function anyone may invoke, its ingress is public
# whatever function_ingress says, and its account may only publish on
# case-updated and read its own secret.

mock_provider "google" {
  override_data {
    target = data.google_project.this
    values = {
      number = "123456789012"
    }
  }
}

variables {
  project_id              = "casebridge-test"
  region                  = "europe-west1"
  prefix                  = "cb"
  organization_id         = "123456789"
  csapi_classification_id = "100H41Q3DTMN0TBKCKD0SGRFDLO7AT35412MSPR9DPII4229DPPN8OBECDIG"
  csapi_test_case         = false
  crm_kind                = "zendesk"
  crm_url                 = "https://acme.zendesk.com"
  crm_settings            = { ZENDESK_SYNC_FLAG_FIELD_ID = "360001", ZENDESK_GOOGLE_CASE_FIELD_ID = "360002" }
  crm_webhooks            = true
  webhook_sync_user       = "1234567"
  function_sources = {
    cleanup       = { path = "/tmp/build/cleanup.zip", sha256 = "1111111111111111111111111111111111111111111111111111111111111111" }
    crmwebhook    = { path = "/tmp/build/crmwebhook.zip", sha256 = "6666666666666666666666666666666666666666666666666666666666666666" }
    detectoutages = { path = "/tmp/build/detectoutages.zip", sha256 = "2222222222222222222222222222222222222222222222222222222222222222" }
    googleevents  = { path = "/tmp/build/googleevents.zip", sha256 = "7777777777777777777777777777777777777777777777777777777777777777" }
    pollcrm       = { path = "/tmp/build/pollcrm.zip", sha256 = "3333333333333333333333333333333333333333333333333333333333333333" }
    pollgoogle    = { path = "/tmp/build/pollgoogle.zip", sha256 = "4444444444444444444444444444444444444444444444444444444444444444" }
    synccase      = { path = "/tmp/build/synccase.zip", sha256 = "5555555555555555555555555555555555555555555555555555555555555555" }
  }
}

run "the_webhook_receiver_is_public_and_no_other_function_is" {
  command = apply

  assert {
    condition     = length(google_cloudfunctions2_function.webhook) == 1 && google_cloudfunctions2_function.webhook[0].service_config[0].ingress_settings == "ALLOW_ALL"
    error_message = "The webhook receiver must take traffic from the internet (ingress ALLOW_ALL)."
  }

  assert {
    condition = (
      google_cloud_run_service_iam_member.webhook_public[0].member == "allUsers" &&
      google_cloud_run_service_iam_member.webhook_public[0].role == "roles/run.invoker" &&
      google_cloud_run_service_iam_member.webhook_public[0].service == google_cloudfunctions2_function.webhook[0].name
    )
    error_message = "Anyone must be able to invoke the webhook receiver's service, and only it."
  }

  assert {
    condition = [
      for g in output.crm_webhook_iam_grants : g.resource if contains(["allUsers", "allAuthenticatedUsers"], g.member)
    ] == ["Cloud Run service cb-crm-webhook"]
    error_message = "The webhook receiver's one public grant must be run.invoker on its own service."
  }

  assert {
    condition = alltrue([
      for g in output.iam_grants : !contains(["allUsers", "allAuthenticatedUsers"], g.member)
    ])
    error_message = "No other grant may be public."
  }

  assert {
    condition = alltrue(flatten([
      for dir, m in module.function : [
        for g in m.iam_grants : g.member == "serviceAccount:${output.service_accounts["push"]}" if g.role == "roles/run.invoker"
      ]
    ]))
    error_message = "Every other function may be invoked by the push identity only."
  }

  assert {
    condition     = output.crm_webhook_url == google_cloudfunctions2_function.webhook[0].service_config[0].uri
    error_message = "The receiver's URL must be an output."
  }
}

run "with_internal_ingress_only_the_webhook_receiver_takes_public_traffic" {
  command = apply

  variables {
    function_ingress = "ALLOW_INTERNAL_ONLY"
  }

  assert {
    condition     = google_cloudfunctions2_function.webhook[0].service_config[0].ingress_settings == "ALLOW_ALL"
    error_message = "The webhook receiver's ingress must not follow function_ingress: the CRM calls it from the internet."
  }

  assert {
    condition = alltrue([
      for dir, m in module.function : m.function.service_config[0].ingress_settings == "ALLOW_INTERNAL_ONLY"
    ])
    error_message = "Every other function must keep function_ingress."
  }
}

run "its_account_may_only_publish_case_updated_and_read_its_secret" {
  command = apply

  assert {
    condition = sort([for g in output.crm_webhook_iam_grants : "${g.role} ${g.resource}" if g.member != "allUsers"]) == sort([
      "roles/pubsub.publisher topic ${google_pubsub_topic.source["cb-case-updated"].id}",
      "roles/secretmanager.secretAccessor secret ${google_secret_manager_secret.webhook[0].id}",
    ])
    error_message = "The receiver's account must be able to publish on case-updated and read its secret, nothing else."
  }

  assert {
    condition = alltrue([
      for g in output.crm_webhook_iam_grants : g.member == "serviceAccount:cb-crm-webhook@casebridge-test.iam.gserviceaccount.com" if g.member != "allUsers"
    ])
    error_message = "The receiver's grants must go to its own account."
  }

  assert {
    condition = (
      google_cloudfunctions2_function.webhook[0].service_config[0].service_account_email == "cb-crm-webhook@casebridge-test.iam.gserviceaccount.com" &&
      !contains([for dir, m in module.function : m.service_account_email], "cb-crm-webhook@casebridge-test.iam.gserviceaccount.com")
    )
    error_message = "The receiver must run as its own account, which no other function uses."
  }

  assert {
    condition = alltrue([
      for g in output.iam_grants : g.member != "serviceAccount:cb-crm-webhook@casebridge-test.iam.gserviceaccount.com"
    ])
    error_message = "No other grant may go to the receiver's account (no Firestore, no CRM credential, no Cloud Support API)."
  }

  assert {
    condition = (
      length(google_cloudfunctions2_function.webhook[0].service_config[0].secret_environment_variables) == 1 &&
      google_cloudfunctions2_function.webhook[0].service_config[0].secret_environment_variables[0].key == "CASEBRIDGE_WEBHOOK_SECRET" &&
      google_cloudfunctions2_function.webhook[0].service_config[0].secret_environment_variables[0].secret == "cb-webhook-secret"
    )
    error_message = "The receiver must read CASEBRIDGE_WEBHOOK_SECRET, and only it, from its own secret."
  }

  assert {
    condition = google_cloudfunctions2_function.webhook[0].service_config[0].environment_variables == tomap({
      GOOGLE_CLOUD_PROJECT         = "casebridge-test"
      CRM_KIND                     = "zendesk"
      TOPIC_CASE_UPDATED           = "cb-case-updated"
      TOPIC_SYNC_REQUESTED         = "cb-sync-requested"
      LOG_LEVEL                    = "info"
      CASEBRIDGE_WEBHOOK_SYNC_USER = "1234567"
    })
    error_message = "The receiver must get its own settings only: no CRM URL or settings, no Cloud Support API settings."
  }

  assert {
    condition     = output.crm_webhook_secret_to_fill == "cb-webhook-secret"
    error_message = "The secret the operator fills must be an output."
  }
}

run "it_is_built_from_its_own_content_hash_object" {
  command = apply

  assert {
    condition = (
      google_storage_bucket_object.webhook_source[0].name == "crmwebhook-6666666666666666666666666666666666666666666666666666666666666666.zip" &&
      google_cloudfunctions2_function.webhook[0].build_config[0].source[0].storage_source[0].object == google_storage_bucket_object.webhook_source[0].name &&
      google_cloudfunctions2_function.webhook[0].build_config[0].entry_point == "CRMWebhook" &&
      google_cloudfunctions2_function.webhook[0].build_config[0].service_account == "projects/casebridge-test/serviceAccounts/${output.service_accounts["build"]}"
    )
    error_message = "The receiver must be built as the build account from crmwebhook-<sha256>.zip, entry point CRMWebhook."
  }
}

run "without_crm_webhooks_nothing_is_public" {
  command = apply

  variables {
    crm_webhooks = false
  }

  assert {
    condition = (
      length(google_cloudfunctions2_function.webhook) == 0 &&
      length(google_cloud_run_service_iam_member.webhook_public) == 0 &&
      length(google_secret_manager_secret.webhook) == 0 &&
      length(google_service_account.webhook) == 0 &&
      output.crm_webhook_url == null &&
      length(output.crm_webhook_iam_grants) == 0
    )
    error_message = "Without crm_webhooks there must be no receiver, no public grant and no webhook secret."
  }
}

run "crm_webhooks_needs_the_packaged_receiver" {
  command = plan

  variables {
    function_sources = {
      cleanup       = { path = "/tmp/build/cleanup.zip", sha256 = "1111111111111111111111111111111111111111111111111111111111111111" }
      detectoutages = { path = "/tmp/build/detectoutages.zip", sha256 = "2222222222222222222222222222222222222222222222222222222222222222" }
      googleevents  = { path = "/tmp/build/googleevents.zip", sha256 = "7777777777777777777777777777777777777777777777777777777777777777" }
      pollcrm       = { path = "/tmp/build/pollcrm.zip", sha256 = "3333333333333333333333333333333333333333333333333333333333333333" }
      pollgoogle    = { path = "/tmp/build/pollgoogle.zip", sha256 = "4444444444444444444444444444444444444444444444444444444444444444" }
      synccase      = { path = "/tmp/build/synccase.zip", sha256 = "5555555555555555555555555555555555555555555555555555555555555555" }
    }
  }

  expect_failures = [google_storage_bucket_object.webhook_source]
}
