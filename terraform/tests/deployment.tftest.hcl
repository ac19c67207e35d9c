# Offline checks of the deployment with a mock Google provider: the plan is
# "applied" against mocks, so every value is known and the assertions see
# the configuration exactly as Terraform would send it.

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
  crm_kind                = "rt"
  crm_url                 = "https://rt.example.com"
  notification_channels   = ["projects/casebridge-test/notificationChannels/42"]
  function_sources = {
    cleanup       = { path = "/tmp/build/cleanup.zip", sha256 = "1111111111111111111111111111111111111111111111111111111111111111" }
    detectoutages = { path = "/tmp/build/detectoutages.zip", sha256 = "2222222222222222222222222222222222222222222222222222222222222222" }
    googleevents  = { path = "/tmp/build/googleevents.zip", sha256 = "6666666666666666666666666666666666666666666666666666666666666666" }
    pollcrm       = { path = "/tmp/build/pollcrm.zip", sha256 = "3333333333333333333333333333333333333333333333333333333333333333" }
    pollgoogle    = { path = "/tmp/build/pollgoogle.zip", sha256 = "4444444444444444444444444444444444444444444444444444444444444444" }
    synccase      = { path = "/tmp/build/synccase.zip", sha256 = "5555555555555555555555555555555555555555555555555555555555555555" }
  }
}

run "every_function_is_fed_by_push_subscriptions_with_retry_and_dead_letter" {
  command = apply

  assert {
    condition     = length(module.function) == 6
    error_message = "Expected the six functions."
  }

  assert {
    condition = alltrue(flatten([
      for dir, m in module.function : [
        for k, s in m.push_subscriptions :
        length(s.dead_letter_policy) == 1 && s.dead_letter_policy[0].dead_letter_topic == m.dead_letter_topics[k].id
      ]
    ]))
    error_message = "Every push subscription must dead-letter to its own dead-letter topic."
  }

  assert {
    condition = alltrue(flatten([
      for dir, m in module.function : [
        for k, s in m.push_subscriptions :
        length(s.retry_policy) == 1 && s.retry_policy[0].minimum_backoff == "10s" && s.retry_policy[0].maximum_backoff == "600s"
      ]
    ]))
    error_message = "Every push subscription must have the exponential retry policy of shared/eventing (10s to 600s)."
  }

  assert {
    condition = {
      for dir, m in module.function : dir => { for k, s in m.push_subscriptions : s.name => s.dead_letter_policy[0].max_delivery_attempts }
      } == {
      cleanup       = { "cb-cleanup" = 5 }
      detectoutages = { "cb-detect-outages" = 5 }
      googleevents  = { "cb-support-events" = 5 }
      pollcrm       = { "cb-poll-crm" = 5 }
      pollgoogle    = { "cb-poll-google" = 5 }
      synccase      = { "cb-sync-case-case-updated" = 10, "cb-sync-case-sync-requested" = 10 }
    }
    error_message = "The subscriptions and their delivery attempts must be those of shared/eventing/topology.go."
  }

  assert {
    condition = {
      for dir, m in module.function : dir => { for k, s in m.push_subscriptions : s.name => s.enable_message_ordering }
      } == {
      cleanup       = { "cb-cleanup" = false }
      detectoutages = { "cb-detect-outages" = false }
      googleevents  = { "cb-support-events" = false }
      pollcrm       = { "cb-poll-crm" = false }
      pollgoogle    = { "cb-poll-google" = false }
      synccase      = { "cb-sync-case-case-updated" = false, "cb-sync-case-sync-requested" = false }
    }
    error_message = "No subscription is ordered: reconciliations read current state, so order does not matter."
  }

  assert {
    condition = alltrue(flatten([
      for dir, m in module.function : [
        for k, s in m.push_subscriptions :
        s.ack_deadline_seconds == 300 && s.expiration_policy[0].ttl == ""
      ]
    ]))
    error_message = "Push subscriptions must have the 300 s acknowledgement deadline and never expire."
  }

  assert {
    condition = alltrue(flatten([
      for dir, m in module.function : [
        for k, s in m.dead_letter_subscriptions :
        s.topic == m.dead_letter_topics[k].id && s.name == m.dead_letter_topics[k].name && s.expiration_policy[0].ttl == "" && length(s.push_config) == 0
      ]
    ]))
    error_message = "Every dead-letter topic must have a pull subscription of the same name that never expires."
  }

  assert {
    condition     = output.dead_letter_subscriptions["cb-sync-case-case-updated"] == "cb-sync-case-case-updated-dead-letter"
    error_message = "Dead-letter subscriptions must be named <subscription>-dead-letter, as shared/eventing names them."
  }
}

run "pushes_carry_the_push_identity_token_to_the_function_url" {
  command = apply

  assert {
    condition = alltrue(flatten([
      for dir, m in module.function : [
        for k, s in m.push_subscriptions :
        s.push_config[0].oidc_token[0].service_account_email == output.service_accounts["push"] &&
        s.push_config[0].oidc_token[0].audience == m.url &&
        s.push_config[0].push_endpoint == "${m.url}/projects/casebridge-test/topics/cb-${k}"
      ]
    ]))
    error_message = "Every push must go to <function URL>/projects/<p>/topics/<topic> with an OIDC token of the push identity for the function's URL."
  }
}

run "nobody_else_may_invoke_and_no_broad_roles" {
  command = apply

  assert {
    condition = alltrue([
      for g in output.iam_grants : !contains(["allUsers", "allAuthenticatedUsers"], g.member)
    ])
    error_message = "No IAM grant may be to allUsers or allAuthenticatedUsers."
  }

  assert {
    condition = alltrue([
      for g in output.iam_grants : !contains(["roles/editor", "roles/owner", "roles/viewer"], g.role)
    ])
    error_message = "No basic role may be granted."
  }

  assert {
    condition = [
      for g in output.iam_grants : g.member if g.role == "roles/run.invoker"
    ] == [for i in range(6) : "serviceAccount:${output.service_accounts["push"]}"]
    error_message = "run.invoker must go to the push identity only, once per function."
  }

  assert {
    condition = alltrue([
      for dir, m in module.function : m.function.service_config[0].ingress_settings == "ALLOW_ALL"
    ])
    error_message = "The default ingress must stay as documented (authentication does the gating)."
  }
}

run "one_service_account_per_function_with_only_its_roles" {
  command = apply

  assert {
    condition     = length(distinct([for dir, m in module.function : m.service_account.account_id])) == 6
    error_message = "Each function must have its own service account."
  }

  assert {
    condition = alltrue([
      for dir, m in module.function :
      m.function.service_config[0].service_account_email == m.service_account_email &&
      m.function.build_config[0].service_account == "projects/casebridge-test/serviceAccounts/${output.service_accounts["build"]}"
    ])
    error_message = "Each function must run as its own account and build as the build account (never the default compute account)."
  }

  assert {
    condition = {
      for dir, m in module.function : dir => sort([
        for g in output.iam_grants : "${g.role} ${g.resource}" if g.member == m.member
      ])
      } == {
      cleanup = sort([
        "roles/datastore.user project casebridge-test",
      ])
      detectoutages = sort([
        "roles/datastore.user project casebridge-test",
        "roles/pubsub.publisher topic ${google_pubsub_topic.source["cb-sync-requested"].id}",
        "roles/secretmanager.secretAccessor secret ${google_secret_manager_secret.crm["RT_TOKEN"].id}",
        "roles/cloudsupport.techSupportEditor organization 123456789",
        "roles/resourcemanager.organizationViewer organization 123456789",
      ])
      googleevents = sort([
        "roles/datastore.user project casebridge-test",
        "roles/pubsub.publisher topic ${google_pubsub_topic.source["cb-case-updated"].id}",
        "roles/pubsub.publisher topic ${google_pubsub_topic.source["cb-tick-poll-google"].id}",
      ])
      pollcrm = sort([
        "roles/datastore.user project casebridge-test",
        "roles/pubsub.publisher topic ${google_pubsub_topic.source["cb-case-updated"].id}",
        "roles/pubsub.publisher topic ${google_pubsub_topic.source["cb-sync-requested"].id}",
        "roles/secretmanager.secretAccessor secret ${google_secret_manager_secret.crm["RT_TOKEN"].id}",
      ])
      pollgoogle = sort([
        "roles/datastore.user project casebridge-test",
        "roles/pubsub.publisher topic ${google_pubsub_topic.source["cb-case-updated"].id}",
        "roles/pubsub.publisher topic ${google_pubsub_topic.source["cb-sync-requested"].id}",
        "roles/cloudsupport.techSupportEditor organization 123456789",
        "roles/resourcemanager.organizationViewer organization 123456789",
      ])
      synccase = sort([
        "roles/datastore.user project casebridge-test",
        "roles/secretmanager.secretAccessor secret ${google_secret_manager_secret.crm["RT_TOKEN"].id}",
        "roles/cloudsupport.techSupportEditor organization 123456789",
        "roles/resourcemanager.organizationViewer organization 123456789",
      ])
    }
    error_message = "Each function's account must have exactly the roles its function uses."
  }

  assert {
    condition = sort([
      for g in output.iam_grants : "${g.role} ${g.resource}" if g.member == "serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com"
      ]) == sort(flatten([
        [for dir, m in module.function : [for k, t in m.dead_letter_topics : "roles/pubsub.publisher topic ${t.id}"]],
        [for dir, m in module.function : [for k, s in m.push_subscriptions : "roles/pubsub.subscriber subscription ${s.id}"]],
        "roles/iam.serviceAccountTokenCreator service account ${output.service_accounts["push"]}",
    ]))
    error_message = "The Pub/Sub service agent must get publisher on each dead-letter topic, subscriber on each push subscription and token creator on the push identity, nothing else."
  }
}

run "sources_are_named_by_content_hash" {
  command = apply

  assert {
    condition = alltrue([
      for dir, o in google_storage_bucket_object.source :
      o.name == "${dir}-${var.function_sources[dir].sha256}.zip" && o.source == var.function_sources[dir].path
    ])
    error_message = "Each source object must be named <function dir>-<sha256>.zip."
  }

  assert {
    condition = alltrue([
      for dir, m in module.function :
      m.function.build_config[0].source[0].storage_source[0].object == google_storage_bucket_object.source[dir].name &&
      m.function.build_config[0].source[0].storage_source[0].bucket == google_storage_bucket.sources.name
    ])
    error_message = "Each function must be built from its own content-hash object."
  }

  assert {
    condition = {
      for dir, m in module.function : dir => m.function.build_config[0].entry_point
      } == {
      cleanup       = "Cleanup"
      detectoutages = "DetectOutages"
      googleevents  = "GoogleEvents"
      pollcrm       = "PollCRM"
      pollgoogle    = "PollGoogle"
      synccase      = "SyncCase"
    }
    error_message = "Each function's entry point must be the name it registers."
  }

  assert {
    condition     = google_storage_bucket.sources.public_access_prevention == "enforced" && google_storage_bucket.sources.uniform_bucket_level_access
    error_message = "The source bucket must not be public."
  }
}

run "a_code_change_is_a_new_object_name" {
  command = apply

  variables {
    function_sources = {
      cleanup       = { path = "/tmp/build/cleanup.zip", sha256 = "1111111111111111111111111111111111111111111111111111111111111111" }
      detectoutages = { path = "/tmp/build/detectoutages.zip", sha256 = "2222222222222222222222222222222222222222222222222222222222222222" }
      googleevents  = { path = "/tmp/build/googleevents.zip", sha256 = "6666666666666666666666666666666666666666666666666666666666666666" }
      pollcrm       = { path = "/tmp/build/pollcrm.zip", sha256 = "3333333333333333333333333333333333333333333333333333333333333333" }
      pollgoogle    = { path = "/tmp/build/pollgoogle.zip", sha256 = "4444444444444444444444444444444444444444444444444444444444444444" }
      synccase      = { path = "/tmp/build/synccase.zip", sha256 = "abcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcd" }
    }
  }

  assert {
    condition     = module.function["synccase"].function.build_config[0].source[0].storage_source[0].object == "synccase-abcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcd.zip"
    error_message = "A new sha256 must point sync-case at a new object."
  }

  assert {
    condition     = module.function["cleanup"].function.build_config[0].source[0].storage_source[0].object == "cleanup-1111111111111111111111111111111111111111111111111111111111111111.zip"
    error_message = "An unchanged function must keep its object."
  }
}

run "the_schedules_are_those_of_the_design" {
  command = apply

  assert {
    condition = { for k, j in google_cloud_scheduler_job.tick : j.name => j.schedule } == {
      "cb-poll-google-tick"    = "* * * * *"
      "cb-poll-crm-tick"       = "* * * * *"
      "cb-detect-outages-tick" = "*/5 * * * *"
      "cb-cleanup-tick"        = "17 3 * * *"
    }
    error_message = "Polls every minute, outage detection every 5 minutes, cleanup daily at 03:17."
  }

  assert {
    condition = alltrue([
      for k, j in google_cloud_scheduler_job.tick :
      j.pubsub_target[0].topic_name == google_pubsub_topic.source["cb-tick-${k}"].id && j.pubsub_target[0].data != ""
    ])
    error_message = "Each job must publish a non-empty tick on its function's tick topic."
  }

  assert {
    condition = sort([for t in google_pubsub_topic.source : t.name]) == sort([
      "cb-case-updated", "cb-sync-requested", "cb-tick-poll-google", "cb-tick-poll-crm", "cb-tick-detect-outages", "cb-tick-cleanup", "cb-support-events",
    ])
    error_message = "The source topics must be case-updated, sync-requested, the four tick topics and support-events."
  }
}

run "delivery_failure_records_expire_by_a_ttl_policy" {
  command = apply

  assert {
    condition = (
      google_firestore_field.delivery_failures_ttl.project == "casebridge-test" &&
      google_firestore_field.delivery_failures_ttl.database == "(default)" &&
      google_firestore_field.delivery_failures_ttl.collection == "deliveryFailures" &&
      google_firestore_field.delivery_failures_ttl.field == "expireAt"
    )
    error_message = "The TTL policy must be on deliveryFailures.expireAt of the (default) database, the collection and field shared/store writes."
  }

  assert {
    condition     = length(google_firestore_field.delivery_failures_ttl.ttl_config) == 1
    error_message = "deliveryFailures.expireAt must have a TTL policy (ttl_config), so failure records are deleted after they expire."
  }

  assert {
    condition = (
      length(google_firestore_field.delivery_failures_ttl.index_config) == 1 &&
      length(google_firestore_field.delivery_failures_ttl.index_config[0].indexes) == 0
    )
    error_message = "expireAt is never queried: its single-field indexes must be off, as Firestore advises for TTL fields."
  }

  assert {
    condition = (
      google_firestore_field.refusals_ttl.collection == "refusals" &&
      google_firestore_field.refusals_ttl.field == "expireAt" &&
      length(google_firestore_field.refusals_ttl.ttl_config) == 1 &&
      length(google_firestore_field.refusals_ttl.index_config[0].indexes) == 0
    )
    error_message = "Refusal records (refusals.expireAt, shared/store/refusals.go) must expire by a TTL policy with the field's indexes off."
  }
}

run "the_ttl_policy_is_kept_when_the_database_already_exists" {
  command = apply

  variables {
    create_firestore_database = false
  }

  assert {
    condition     = length(google_firestore_database.default) == 0 && length(google_firestore_field.delivery_failures_ttl.ttl_config) == 1
    error_message = "With an existing database, the TTL policy on deliveryFailures.expireAt must still be created."
  }
}

run "the_functions_get_their_configuration_and_no_credential_in_plain_text" {
  command = apply

  assert {
    condition = module.function["synccase"].function.service_config[0].environment_variables == tomap({
      GOOGLE_CLOUD_PROJECT    = "casebridge-test"
      CSAPI_PARENT            = "organizations/123456789"
      CSAPI_CLASSIFICATION_ID = "100H41Q3DTMN0TBKCKD0SGRFDLO7AT35412MSPR9DPII4229DPPN8OBECDIG"
      CSAPI_TEST_CASE         = "false"
      CSAPI_CONNECTOR_EMAIL   = "cb-sync-case@casebridge-test.iam.gserviceaccount.com,cb-detect-outages@casebridge-test.iam.gserviceaccount.com"
      CSAPI_TIME_ZONE         = "UTC"
      CRM_KIND                = "rt"
      CRM_URL                 = "https://rt.example.com"
      GOOGLE_POLLING_WINDOW   = "30m"
      COMPANY_POLLING_WINDOW  = "5m"
      POLL_INTERVAL           = "1m"
      MAX_ATTACHMENT_BYTES    = "26214400"
      REOPEN_POLICY           = "comment"
      GOOGLE_COMMENTS_PUBLIC  = "true"
      SYNC_INTERNAL_NOTES     = "false"
      TOPIC_CASE_UPDATED      = "cb-case-updated"
      TOPIC_SYNC_REQUESTED    = "cb-sync-requested"
      TOPIC_TICK_POLL_GOOGLE  = "cb-tick-poll-google"
      EVENT_MAX_AGE           = "24h"
      LOG_LEVEL               = "info"
    })
    error_message = "sync-case's environment must be the variables shared/appconfig reads, with prefixed topics."
  }

  assert {
    condition     = output.connector_email == module.function["synccase"].service_account_email
    error_message = "The connector_email output must be sync-case's service account, the identity mirrored comments and attachments are written as."
  }

  assert {
    condition = alltrue([
      for dir in ["pollgoogle", "synccase", "detectoutages"] :
      toset(split(",", module.function[dir].function.service_config[0].environment_variables["CSAPI_CONNECTOR_EMAIL"])) == toset([
        module.function["synccase"].service_account_email,
        module.function["detectoutages"].service_account_email,
      ])
    ])
    error_message = "Every function that calls the Cloud Support API must list, in CSAPI_CONNECTOR_EMAIL, the service accounts of both functions that write to it (sync-case and detect-outages) and no other, so casebridge recognises all its own writes."
  }

  assert {
    condition = {
      for dir, m in module.function : dir => [
        for s in m.function.service_config[0].secret_environment_variables : "${s.key}=${s.secret}@${s.version}"
      ]
      } == {
      cleanup       = []
      detectoutages = ["RT_TOKEN=cb-rt-token@latest"]
      googleevents  = []
      pollcrm       = ["RT_TOKEN=cb-rt-token@latest"]
      pollgoogle    = []
      synccase      = ["RT_TOKEN=cb-rt-token@latest"]
    }
    error_message = "The functions that call the CRM (poll-crm, sync-case, detect-outages) must read RT_TOKEN from Secret Manager, and only they."
  }

  assert {
    condition = alltrue([
      for dir in ["pollgoogle", "cleanup", "googleevents"] : length([
        for k in keys(module.function[dir].function.service_config[0].environment_variables) : k if startswith(k, "CRM_") || startswith(k, "RT_")
      ]) == 0
    ])
    error_message = "poll-google, cleanup and google-events never call the CRM and must get none of its settings."
  }

  assert {
    condition     = output.secrets_to_fill == { RT_TOKEN = "cb-rt-token" }
    error_message = "The secrets to fill must be listed."
  }

  assert {
    condition = alltrue([
      for dir, m in module.function : length([
        for k in keys(m.function.service_config[0].environment_variables) : k if can(regex("TOKEN|PASSWORD", k))
      ]) == 0
    ])
    error_message = "No credential may be a plain environment variable."
  }

  assert {
    condition     = alltrue([for dir, m in module.function : m.function.service_config[0].timeout_seconds < 300])
    error_message = "A function must time out before its subscription's acknowledgement deadline."
  }
}

run "zendesk_credentials_are_two_secrets" {
  command = apply

  variables {
    crm_kind = "zendesk"
    crm_url  = "https://example.zendesk.com"
    crm_settings = {
      ZENDESK_SYNC_FLAG_FIELD_ID = "360001"
    }
  }

  assert {
    condition     = output.secrets_to_fill == { ZENDESK_API_TOKEN = "cb-zendesk-api-token", ZENDESK_EMAIL = "cb-zendesk-email" }
    error_message = "zendesk must get a secret for its email and one for its API token."
  }

  assert {
    condition     = module.function["pollcrm"].function.service_config[0].environment_variables["ZENDESK_SYNC_FLAG_FIELD_ID"] == "360001"
    error_message = "crm_settings must reach the functions."
  }
}

run "freshdesk_credentials_are_one_secret" {
  command = apply

  variables {
    crm_kind = "freshdesk"
    crm_url  = "https://example.freshdesk.com"
    crm_settings = {
      FRESHDESK_CLOSE_STATUS = "4"
    }
  }

  assert {
    condition     = output.secrets_to_fill == { FRESHDESK_API_KEY = "cb-freshdesk-api-key" }
    error_message = "freshdesk must get one secret, for its API key."
  }

  assert {
    condition     = module.function["pollcrm"].function.service_config[0].environment_variables["FRESHDESK_CLOSE_STATUS"] == "4"
    error_message = "crm_settings must reach the functions."
  }
}

run "salesforce_credentials_are_the_client_secret" {
  command = apply

  variables {
    crm_kind = "salesforce"
    crm_url  = "https://example.my.salesforce.com"
    crm_settings = {
      SALESFORCE_CLIENT_ID = "3MVG9example"
    }
  }

  assert {
    condition     = output.secrets_to_fill == { SALESFORCE_CLIENT_SECRET = "cb-salesforce-client-secret" }
    error_message = "salesforce must get one secret, for its client secret."
  }

  assert {
    condition     = module.function["pollcrm"].function.service_config[0].environment_variables["SALESFORCE_CLIENT_ID"] == "3MVG9example"
    error_message = "crm_settings must reach the functions."
  }
}

run "monitoring_watches_outages_dead_letters_and_errors" {
  command = apply

  assert {
    condition     = strcontains(google_logging_metric.outage_detected.filter, "jsonPayload.message=\"cases are out of sync\"") && strcontains(google_logging_metric.outage_detected.filter, "service_name=\"cb-detect-outages\"")
    error_message = "The outage metric must count detect-outages' ERROR entry."
  }

  assert {
    condition = alltrue([
      for s in values(output.dead_letter_subscriptions) : strcontains(google_monitoring_alert_policy.dead_letter_backlog.conditions[0].condition_threshold[0].filter, "\"${s}\"")
    ]) && strcontains(google_monitoring_alert_policy.dead_letter_backlog.conditions[0].condition_threshold[0].filter, "num_undelivered_messages")
    error_message = "The dead-letter alert must watch every dead-letter subscription's backlog."
  }

  assert {
    condition     = strcontains(google_logging_metric.counterpart_given_up.filter, "jsonPayload.message=\"gave up creating the counterpart case\"") && strcontains(google_logging_metric.counterpart_given_up.filter, "service_name=\"cb-sync-case\"") && strcontains(google_logging_metric.function_errors.filter, "NOT jsonPayload.message=\"gave up creating the counterpart case\"")
    error_message = "The given-up metric must count sync-case's ERROR entry, and only it."
  }

  assert {
    condition     = toset([for f in google_firestore_field.mapping_items_unindexed : f.field]) == toset(["googleItems", "companyItems"]) && alltrue([for f in google_firestore_field.mapping_items_unindexed : f.collection == "caseMappings" && length(f.index_config) == 1 && length(f.index_config[0].indexes) == 0])
    error_message = "A mapping's item logs must not be indexed."
  }

  assert {
    condition = alltrue([
      for p in [google_monitoring_alert_policy.outage_detected, google_monitoring_alert_policy.dead_letter_backlog, google_monitoring_alert_policy.function_errors, google_monitoring_alert_policy.counterpart_given_up] :
      p.notification_channels == tolist(["projects/casebridge-test/notificationChannels/42"])
    ])
    error_message = "Every alert policy must notify the configured channels."
  }

  assert {
    condition     = length(jsondecode(google_monitoring_dashboard.casebridge.dashboard_json).mosaicLayout.tiles) == 5
    error_message = "The dashboard must have its five charts."
  }
}
