# The poll interval (poll_interval_minutes): the pollers' Cloud Scheduler
# jobs tick at it, the functions get it as POLL_INTERVAL, the alerts' operator
# command passes it on, and only intervals cron can space evenly are taken.

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

run "the_pollers_tick_every_minute_by_default" {
  command = plan

  assert {
    condition = (
      google_cloud_scheduler_job.tick["poll-google"].schedule == "* * * * *" &&
      google_cloud_scheduler_job.tick["poll-crm"].schedule == "* * * * *"
    )
    error_message = "Without poll_interval_minutes the pollers must tick every minute."
  }

  assert {
    condition = alltrue([
      for dir in ["pollgoogle", "pollcrm", "detectoutages", "synccase", "cleanup", "googleevents"] :
      module.function[dir].function.service_config[0].environment_variables["POLL_INTERVAL"] == "1m"
    ])
    error_message = "Every function must get POLL_INTERVAL = 1m by default."
  }
}

run "a_longer_interval_reaches_the_pollers_jobs_the_functions_and_the_alerts" {
  command = plan

  variables {
    poll_interval_minutes = 15
  }

  assert {
    condition = { for k, j in google_cloud_scheduler_job.tick : j.name => j.schedule } == {
      "cb-poll-google-tick"    = "*/15 * * * *"
      "cb-poll-crm-tick"       = "*/15 * * * *"
      "cb-detect-outages-tick" = "*/5 * * * *"
      "cb-cleanup-tick"        = "17 3 * * *"
    }
    error_message = "With poll_interval_minutes = 15 the pollers must tick every 15 minutes, and the other jobs keep their schedules."
  }

  assert {
    condition = alltrue([
      for dir in ["pollgoogle", "pollcrm", "detectoutages"] :
      module.function[dir].function.service_config[0].environment_variables["POLL_INTERVAL"] == "15m"
    ])
    error_message = "The pollers and outage detection must get POLL_INTERVAL = 15m."
  }

  assert {
    condition = (
      strcontains(google_monitoring_alert_policy.outage_detected.documentation[0].content, "--poll-interval 15m") &&
      strcontains(google_monitoring_alert_policy.counterpart_given_up.documentation[0].content, "--poll-interval 15m")
    )
    error_message = "The alerts' operator status command must pass the poll interval on."
  }
}

run "an_hourly_poll_is_at_the_top_of_the_hour" {
  command = plan

  variables {
    poll_interval_minutes = 60
  }

  assert {
    condition = (
      google_cloud_scheduler_job.tick["poll-google"].schedule == "0 * * * *" &&
      google_cloud_scheduler_job.tick["poll-crm"].schedule == "0 * * * *" &&
      module.function["pollcrm"].function.service_config[0].environment_variables["POLL_INTERVAL"] == "60m"
    )
    error_message = "With poll_interval_minutes = 60 the pollers must tick at minute 0 of every hour, with POLL_INTERVAL = 60m."
  }
}

run "rejects_an_interval_cron_cannot_space_evenly" {
  command = plan

  variables {
    poll_interval_minutes = 7
  }

  expect_failures = [var.poll_interval_minutes]
}

run "rejects_no_interval" {
  command = plan

  variables {
    poll_interval_minutes = 0
  }

  expect_failures = [var.poll_interval_minutes]
}

run "rejects_more_than_an_hour" {
  command = plan

  variables {
    poll_interval_minutes = 120
  }

  expect_failures = [var.poll_interval_minutes]
}

run "rejects_a_fraction_of_a_minute" {
  command = plan

  variables {
    poll_interval_minutes = 1.5
  }

  expect_failures = [var.poll_interval_minutes]
}
