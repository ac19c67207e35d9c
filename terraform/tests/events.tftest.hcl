# Support events (events.tf): the organization's support event subscription
# publishing to the support-events topic that feeds GoogleEvents, the grant
# that lets the Cloud Support API's agent publish there, and the switch that
# turns both off.

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
  function_sources = {
    cleanup       = { path = "/tmp/build/cleanup.zip", sha256 = "1111111111111111111111111111111111111111111111111111111111111111" }
    detectoutages = { path = "/tmp/build/detectoutages.zip", sha256 = "2222222222222222222222222222222222222222222222222222222222222222" }
    googleevents  = { path = "/tmp/build/googleevents.zip", sha256 = "6666666666666666666666666666666666666666666666666666666666666666" }
    pollcrm       = { path = "/tmp/build/pollcrm.zip", sha256 = "3333333333333333333333333333333333333333333333333333333333333333" }
    pollgoogle    = { path = "/tmp/build/pollgoogle.zip", sha256 = "4444444444444444444444444444444444444444444444444444444444444444" }
    synccase      = { path = "/tmp/build/synccase.zip", sha256 = "5555555555555555555555555555555555555555555555555555555555555555" }
  }
}

run "the_organization_subscribes_the_support_events_topic_by_default" {
  command = apply

  assert {
    condition = (
      length(google_cloud_support_support_event_subscription.events) == 1 &&
      google_cloud_support_support_event_subscription.events[0].organization == "123456789" &&
      google_cloud_support_support_event_subscription.events[0].pub_sub_topic == google_pubsub_topic.source["cb-support-events"].id
    )
    error_message = "The support event subscription must be on the deployment's organization and publish to the support-events topic."
  }

  assert {
    condition = (
      length(google_pubsub_topic_iam_member.support_events_publisher) == 1 &&
      google_pubsub_topic_iam_member.support_events_publisher[0].topic == google_pubsub_topic.source["cb-support-events"].id &&
      google_pubsub_topic_iam_member.support_events_publisher[0].role == "roles/pubsub.publisher" &&
      google_pubsub_topic_iam_member.support_events_publisher[0].member == "serviceAccount:cloud-support-apievents@system.gserviceaccount.com"
    )
    error_message = "The Cloud Support API's agent must be allowed to publish on the support-events topic, and only there."
  }

  assert {
    condition = [
      for g in output.iam_grants : "${g.role} ${g.resource}" if g.member == "serviceAccount:cloud-support-apievents@system.gserviceaccount.com"
    ] == ["roles/pubsub.publisher topic ${google_pubsub_topic.source["cb-support-events"].id}"]
    error_message = "The iam_grants output must list the agent's grant, and no other grant to it."
  }

  assert {
    condition     = output.support_event_subscription == google_cloud_support_support_event_subscription.events[0].id
    error_message = "The support_event_subscription output must name the subscription."
  }

  assert {
    condition = (
      module.function["googleevents"].push_subscriptions["support-events"].topic == google_pubsub_topic.source["cb-support-events"].id &&
      module.function["googleevents"].push_subscriptions["support-events"].dead_letter_policy[0].max_delivery_attempts == 5 &&
      module.function["googleevents"].function.build_config[0].entry_point == "GoogleEvents"
    )
    error_message = "GoogleEvents must be fed by the support-events topic, with 5 delivery attempts before the dead-letter topic."
  }

  assert {
    condition = (
      module.function["googleevents"].function.service_config[0].environment_variables["TOPIC_TICK_POLL_GOOGLE"] == "cb-tick-poll-google" &&
      module.function["googleevents"].function.service_config[0].environment_variables["TOPIC_CASE_UPDATED"] == "cb-case-updated"
    )
    error_message = "GoogleEvents must publish on the deployment's case-updated and tick-poll-google topics."
  }

  assert {
    condition = length([
      for g in output.iam_grants : g if g.member == module.function["googleevents"].member && startswith(g.role, "roles/cloudsupport.")
    ]) == 0
    error_message = "GoogleEvents never calls the Cloud Support API and must get none of its roles."
  }
}

run "support_events_can_be_turned_off" {
  command = apply

  variables {
    support_events_enabled = false
  }

  assert {
    condition     = length(google_cloud_support_support_event_subscription.events) == 0 && length(google_pubsub_topic_iam_member.support_events_publisher) == 0
    error_message = "With support_events_enabled false there must be no support event subscription and no grant to the Cloud Support API's agent."
  }

  assert {
    condition     = output.support_event_subscription == null
    error_message = "With support_events_enabled false the support_event_subscription output must be null."
  }

  assert {
    condition = length([
      for g in output.iam_grants : g if g.member == "serviceAccount:cloud-support-apievents@system.gserviceaccount.com"
    ]) == 0
    error_message = "With support_events_enabled false nothing may be granted to the Cloud Support API's agent."
  }
}

run "the_subscription_covers_the_organization_even_with_an_allowlist" {
  command = apply

  variables {
    project_allowlist = ["support-project"]
  }

  assert {
    condition     = google_cloud_support_support_event_subscription.events[0].organization == "123456789"
    error_message = "Only organizations own support event subscriptions: with an allowlist it stays on the organization (GoogleEvents ignores cases outside the allowed projects)."
  }
}
