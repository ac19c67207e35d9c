# casebridge's deployment: every resource Terraform creates is listed in
# docs/deploying.md. The topology (topics, push subscriptions, retry
# and dead-letter settings, schedules) is read from topology.json, which
# topology_test.go keeps equal to shared/eventing/topology.go.
terraform {
  required_version = ">= 1.9"
  required_providers {
    google = {
      # 7.43.0 is the first release with
      # google_cloud_support_support_event_subscription (events.tf).
      source  = "hashicorp/google"
      version = ">= 7.43.0, < 9.0"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}
