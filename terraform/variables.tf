variable "project_id" {
  type        = string
  description = "Project that runs casebridge: its functions, Pub/Sub topics and Firestore database."
}

variable "prefix" {
  type        = string
  description = "Prefix for the names of every resource casebridge creates, so several deployments can share a project."
  default     = "casebridge"
}
