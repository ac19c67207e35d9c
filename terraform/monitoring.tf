# Log-based metrics, alert policies and a dashboard. Function logs are JSON
# lines on stdout (shared/logging): Cloud Logging files them under the
# function's Cloud Run service with their severity and jsonPayload.message.

locals {
  service_names = [for dir, f in local.functions : f.name]
  # Logging query language (log-based metrics) and Monitoring filter
  # syntax (charts) say "one of these services" differently.
  service_log_filter     = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=(${join(" OR ", [for n in local.service_names : "\"${n}\""])})"
  service_monitor_filter = "resource.type=\"cloud_run_revision\" AND resource.label.service_name=one_of(${join(", ", [for n in local.service_names : "\"${n}\""])})"
  outage_message         = "cases are out of sync"
  # sync-case logs this ERROR entry when it stops asking for a case whose
  # counterpart could not be created (casesync.GaveUpMessage).
  gave_up_message = "gave up creating the counterpart case"

  dead_letter_subscription_ids = flatten([
    for dir, m in module.function : [for s in values(m.dead_letter_subscriptions) : s.name]
  ])
  push_subscription_ids = flatten([
    for dir, m in module.function : [for s in values(m.push_subscriptions) : s.name]
  ])
}

# detect-outages logs this ERROR entry on every run while a case is out of sync.
resource "google_logging_metric" "outage_detected" {
  project     = var.project_id
  name        = "${var.prefix}/outage-detected"
  description = "casebridge's detect-outages found cases out of sync (its ERROR entry \"${local.outage_message}\")."
  filter      = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.functions["detectoutages"].name}\" AND severity=ERROR AND jsonPayload.message=\"${local.outage_message}\""

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "casebridge outage detected"
  }

  depends_on = [google_project_service.apis]
}

# Every entry at ERROR or above from a casebridge function (the failed
# requests Cloud Run logs included), except the outage entry above, by
# function.
resource "google_logging_metric" "function_errors" {
  project     = var.project_id
  name        = "${var.prefix}/function-errors"
  description = "Log entries at ERROR or above from casebridge's functions, except the outage-detected entry, by function."
  filter      = "${local.service_log_filter} AND severity>=ERROR AND NOT jsonPayload.message=\"${local.outage_message}\" AND NOT jsonPayload.message=\"${local.gave_up_message}\""

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "casebridge function errors"
    labels {
      key         = "service_name"
      value_type  = "STRING"
      description = "The function's Cloud Run service."
    }
  }
  label_extractors = {
    service_name = "EXTRACT(resource.labels.service_name)"
  }

  depends_on = [google_project_service.apis]
}

resource "google_monitoring_alert_policy" "outage_detected" {
  project               = var.project_id
  display_name          = "casebridge (${var.prefix}): cases out of sync"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.notification_channels
  user_labels           = local.labels

  conditions {
    display_name = "detect-outages reports cases out of sync"
    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.outage_detected.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "1800s"
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "casebridge: cases are out of sync"
    content   = "detect-outages found linked cases whose changes have waited longer than their tolerance; the log entry lists the mapping ids. Run `go run ./scripts/operator status --prefix ${local.name_prefix} --project ${var.project_id} --poll-interval ${var.poll_interval_minutes}m` for lag, outage flags, poller heartbeats and dead-letter depth, then follow the troubleshooting section of docs/operating.md."
  }
}

# sync-case gave up creating a case's counterpart after GIVE_UP_AFTER.
resource "google_logging_metric" "counterpart_given_up" {
  project     = var.project_id
  name        = "${var.prefix}/counterpart-given-up"
  description = "casebridge stopped retrying the creation of a case's counterpart (its ERROR entry \"${local.gave_up_message}\")."
  filter      = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.functions["synccase"].name}\" AND severity=ERROR AND jsonPayload.message=\"${local.gave_up_message}\""

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "casebridge counterpart given up"
  }
}

resource "google_monitoring_alert_policy" "counterpart_given_up" {
  project               = var.project_id
  display_name          = "casebridge (${var.prefix}): a case got no counterpart"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.notification_channels
  user_labels           = local.labels

  conditions {
    display_name = "sync-case gave up creating a counterpart case"
    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.counterpart_given_up.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "casebridge: a case got no counterpart"
    content   = "sync-case retried creating the counterpart of a case for GIVE_UP_AFTER and stopped; the log entry names the mapping and its last error. Run `go run ./scripts/operator status --prefix ${local.name_prefix} --project ${var.project_id} --poll-interval ${var.poll_interval_minutes}m` to list such mappings, fix the cause (often a permission in the helpdesk), then `operator resync` the case."
  }
}

resource "google_monitoring_alert_policy" "dead_letter_backlog" {
  project               = var.project_id
  display_name          = "casebridge (${var.prefix}): messages dead-lettered"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels
  user_labels           = local.labels

  conditions {
    display_name = "a dead-letter subscription holds messages"
    condition_threshold {
      filter          = "resource.type=\"pubsub_subscription\" AND metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.label.subscription_id=one_of(${join(", ", [for s in local.dead_letter_subscription_ids : "\"${s}\""])})"
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "300s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }
      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "casebridge: messages in a dead-letter subscription"
    content   = "A message failed every delivery attempt and was dead-lettered. Inspect it with `go run ./scripts/deadletter list --prefix ${local.name_prefix} --project ${var.project_id}` (docs/operating.md, troubleshooting), fix the cause, then replay or purge it."
  }
}

resource "google_monitoring_alert_policy" "function_errors" {
  project               = var.project_id
  display_name          = "casebridge (${var.prefix}): function errors"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels
  user_labels           = local.labels

  conditions {
    display_name = "a casebridge function logs errors"
    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.function_errors.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.service_name"]
      }
      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "1800s"
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "casebridge: a function logs errors"
    content   = "A casebridge function logged entries at ERROR or above. Transient failures are retried by Pub/Sub; look at the function's logs (the entries name the event and the case reference) and at the dead-letter subscriptions."
  }
}

resource "google_monitoring_dashboard" "casebridge" {
  project = var.project_id
  dashboard_json = jsonencode({
    displayName = "casebridge (${var.prefix})"
    mosaicLayout = {
      columns = 12
      tiles = [
        {
          xPos = 0, yPos = 0, width = 6, height = 4
          widget = {
            title = "Cases out of sync (outage detected)"
            xyChart = {
              dataSets = [{
                plotType = "STACKED_BARS"
                timeSeriesQuery = {
                  timeSeriesFilter = {
                    filter      = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.outage_detected.name}\" resource.type=\"cloud_run_revision\""
                    aggregation = { alignmentPeriod = "300s", perSeriesAligner = "ALIGN_SUM", crossSeriesReducer = "REDUCE_SUM" }
                  }
                }
              }]
            }
          }
        },
        {
          xPos = 6, yPos = 0, width = 6, height = 4
          widget = {
            title = "Dead-lettered messages waiting"
            xyChart = {
              dataSets = [{
                plotType = "LINE"
                timeSeriesQuery = {
                  timeSeriesFilter = {
                    filter      = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" resource.type=\"pubsub_subscription\" resource.label.subscription_id=one_of(${join(", ", [for s in local.dead_letter_subscription_ids : "\"${s}\""])})"
                    aggregation = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_MAX", crossSeriesReducer = "REDUCE_SUM", groupByFields = ["resource.label.subscription_id"] }
                  }
                }
              }]
            }
          }
        },
        {
          xPos = 0, yPos = 4, width = 6, height = 4
          widget = {
            title = "Function errors by function"
            xyChart = {
              dataSets = [{
                plotType = "STACKED_BARS"
                timeSeriesQuery = {
                  timeSeriesFilter = {
                    filter      = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.function_errors.name}\" resource.type=\"cloud_run_revision\""
                    aggregation = { alignmentPeriod = "300s", perSeriesAligner = "ALIGN_SUM", crossSeriesReducer = "REDUCE_SUM", groupByFields = ["metric.label.service_name"] }
                  }
                }
              }]
            }
          }
        },
        {
          xPos = 6, yPos = 4, width = 6, height = 4
          widget = {
            title = "Oldest unacknowledged message by subscription"
            xyChart = {
              dataSets = [{
                plotType = "LINE"
                timeSeriesQuery = {
                  timeSeriesFilter = {
                    filter      = "metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" resource.type=\"pubsub_subscription\" resource.label.subscription_id=one_of(${join(", ", [for s in local.push_subscription_ids : "\"${s}\""])})"
                    aggregation = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_MAX", crossSeriesReducer = "REDUCE_MAX", groupByFields = ["resource.label.subscription_id"] }
                  }
                }
              }]
            }
          }
        },
        {
          xPos = 0, yPos = 8, width = 12, height = 4
          widget = {
            title = "Function requests by response code class"
            xyChart = {
              dataSets = [{
                plotType = "STACKED_BARS"
                timeSeriesQuery = {
                  timeSeriesFilter = {
                    filter      = "metric.type=\"run.googleapis.com/request_count\" AND ${local.service_monitor_filter}"
                    aggregation = { alignmentPeriod = "300s", perSeriesAligner = "ALIGN_SUM", crossSeriesReducer = "REDUCE_SUM", groupByFields = ["resource.label.service_name", "metric.label.response_code_class"] }
                  }
                }
              }]
            }
          }
        },
      ]
    }
  })

  depends_on = [google_project_service.apis]
}
