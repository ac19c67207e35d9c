# casebridge's deployment. Provider requirements only so far; the resources
# (topics, push subscriptions with dead-letter topics, functions, scheduler
# jobs, Firestore, service accounts) mirror shared/eventing/topology.go.
terraform {
  required_version = ">= 1.7"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0"
    }
  }
}
