# The topology casebridge runs on, read from topology.json (which
# topology_test.go keeps equal to shared/eventing/topology.go), with every
# name prefixed by "<prefix>-".
locals {
  topology = jsondecode(file("${path.module}/topology.json"))

  # The operator tools and eventing.Topology take this as their prefix.
  name_prefix = "${var.prefix}-"

  # Function directory → its deployed name and entry point.
  functions = {
    for dir, f in local.topology.functions : dir => {
      name        = "${local.name_prefix}${f.name}"
      entry_point = f.entry_point
    }
  }
  entry_point_dirs = { for dir, f in local.topology.functions : f.entry_point => dir }

  topic_case_updated   = "${local.name_prefix}${local.topology.topics.case_updated}"
  topic_sync_requested = "${local.name_prefix}${local.topology.topics.sync_requested}"
  # GoogleEvents asks for a Google poll at once on this topic.
  topic_tick_poll_google = one([for k in local.topology.ticks : "${local.name_prefix}${k.topic}" if k.function == "PollGoogle"])

  # Every topic a subscription reads, except the dead-letter topics (the
  # function module creates those with their subscriptions).
  source_topics = toset([for s in local.topology.subscriptions : "${local.name_prefix}${s.topic}"])

  # The pollers' schedule, every poll_interval_minutes (the same
  # expression as eventing.PollSchedule); topology.json holds the default,
  # every minute.
  pollers       = ["PollGoogle", "PollCRM"]
  poll_schedule = var.poll_interval_minutes == 1 ? "* * * * *" : var.poll_interval_minutes == 60 ? "0 * * * *" : "*/${var.poll_interval_minutes} * * * *"

  # Scheduler ticks, keyed by the unprefixed name of the function they
  # trigger (e.g. "poll-google").
  ticks = {
    for k in local.topology.ticks : local.topology.functions[local.entry_point_dirs[k.function]].name => {
      topic    = "${local.name_prefix}${k.topic}"
      schedule = contains(local.pollers, k.function) ? local.poll_schedule : k.schedule
    }
  }

  # Push subscriptions of each function directory, keyed by the topic they
  # read without the prefix (e.g. "case-updated", "tick-poll-google").
  subscriptions = {
    for dir, f in local.topology.functions : dir => {
      for s in local.topology.subscriptions : s.topic => {
        name                  = "${local.name_prefix}${s.name}"
        topic                 = "${local.name_prefix}${s.topic}"
        dead_letter_topic     = "${local.name_prefix}${s.dead_letter_topic}"
        minimum_backoff       = "${s.min_backoff_seconds}s"
        maximum_backoff       = "${s.max_backoff_seconds}s"
        max_delivery_attempts = s.max_delivery_attempts
        ack_deadline_seconds  = s.ack_deadline_seconds
      } if s.function == f.entry_point
    }
  }

  # What each function touches, so each service account gets only what its
  # function uses (see the engine in shared/casesync):
  #   csapi:     calls the Cloud Support API
  #   crm:       calls the CRM, so gets its settings and reads its credential
  #              secrets (shared/appconfig NeedsCRM: poll-google and cleanup
  #              never call it and start without them)
  #   publishes: the topics it publishes to
  # Every function reads and writes Firestore.
  uses = {
    pollgoogle    = { csapi = true, crm = false, publishes = [local.topic_case_updated, local.topic_sync_requested] }
    pollcrm       = { csapi = false, crm = true, publishes = [local.topic_case_updated, local.topic_sync_requested] }
    synccase      = { csapi = true, crm = true, publishes = [] }
    detectoutages = { csapi = true, crm = true, publishes = [local.topic_sync_requested] }
    cleanup       = { csapi = false, crm = false, publishes = [] }
    # Only the Google adapter's scope check, never an API call.
    googleevents = { csapi = false, crm = false, publishes = [local.topic_case_updated, local.topic_tick_poll_google] }
  }
  csapi_functions = toset([for dir, u in local.uses : dir if u.csapi])

  # The functions that write to the Cloud Support API, each as its own
  # service account: sync-case (mirrored cases, comments and attachments)
  # and detect-outages (its outage and resumed notices). poll-google only
  # reads. CSAPI_CONNECTOR_EMAIL lists all their emails, so casebridge
  # recognises everything it wrote, whichever function wrote it: nothing is
  # mirrored back and detect-outages finds its own last notice.
  csapi_writers    = ["synccase", "detectoutages"]
  connector_emails = [for dir in local.csapi_writers : "${local.functions[dir].name}@${var.project_id}.iam.gserviceaccount.com"]
  # sync-case's, the identity of mirrored comments and attachments.
  connector_email = local.connector_emails[0]

  csapi_parent = length(var.project_allowlist) > 0 ? join(",", [for p in var.project_allowlist : "projects/${p}"]) : "organizations/${var.organization_id}"

  labels = merge(var.labels, { app = "casebridge", deployment = var.prefix })
}
