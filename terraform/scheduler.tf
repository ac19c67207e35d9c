# Cloud Scheduler publishes a tick on each tick topic: the pollers every
# poll_interval_minutes (default 1), outage detection every 5 minutes,
# cleanup daily at 03:17. The tick
# body is ignored by the functions (Pub/Sub needs a non-empty message).
resource "google_cloud_scheduler_job" "tick" {
  for_each = local.ticks

  project     = var.project_id
  region      = var.region
  name        = "${local.name_prefix}${each.key}-tick"
  description = "Triggers ${local.name_prefix}${each.key} through ${each.value.topic}."
  schedule    = each.value.schedule
  time_zone   = var.scheduler_time_zone

  pubsub_target {
    topic_name = google_pubsub_topic.source[each.value.topic].id
    data       = base64encode("tick")
  }

  depends_on = [google_project_service.apis]
}
