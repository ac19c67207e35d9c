variable "project_id" {
  type        = string
  description = "Project of the function, its service account and its subscriptions."
}

variable "region" {
  type        = string
  description = "Region of the function."
}

variable "name" {
  type        = string
  description = "Name of the function, of its Cloud Run service and of its service account (the account id), e.g. casebridge-sync-case."
}

variable "entry_point" {
  type        = string
  description = "The name the function registers with functions.CloudEvent (FUNCTION_TARGET)."
}

variable "labels" {
  type        = map(string)
  description = "Labels of the function, topics and subscriptions."
  default     = {}
}

variable "runtime" {
  type        = string
  description = "Cloud Functions Go runtime id, e.g. go126."
}

variable "source_bucket" {
  type        = string
  description = "Bucket holding the function's source zip."
}

variable "source_object" {
  type        = string
  description = "Object name of the function's source zip; it holds the zip's sha256, so a code change redeploys."
}

variable "build_service_account" {
  type        = string
  description = "Service account Cloud Build builds the function as (projects/<p>/serviceAccounts/<email>)."
}

variable "timeout_seconds" {
  type        = number
  description = "Longest run of the function; below the subscriptions' acknowledgement deadline."
}

variable "memory" {
  type        = string
  description = "Memory of one instance."
}

variable "max_instances" {
  type        = number
  description = "Most instances at a time."
}

variable "environment" {
  type        = map(string)
  description = "Plain environment variables (no credentials)."
}

variable "secret_environment" {
  type        = map(string)
  description = "Environment variable → Secret Manager secret id in project_id; the latest version is read at start, and the function's account may read these secrets only."
  default     = {}
}

variable "secret_ids" {
  type        = map(string)
  description = "The same secrets as secret_environment, by environment variable, as full secret ids (projects/<p>/secrets/<id>), for the accessor grants."
  default     = {}
}

variable "publishes_to" {
  type        = map(string)
  description = "The topics the function publishes to, topic name → full topic id; its account may publish to these only."
  default     = {}
}

variable "subscriptions" {
  type = map(object({
    name                  = string
    topic                 = string
    dead_letter_topic     = string
    minimum_backoff       = string
    maximum_backoff       = string
    max_delivery_attempts = number
    ack_deadline_seconds  = number
  }))
  description = "The push subscriptions feeding the function, each with its retry policy and the dead-letter topic made for it."
  validation {
    condition     = length(var.subscriptions) > 0
    error_message = "A function needs at least one subscription."
  }
  validation {
    condition     = alltrue([for s in values(var.subscriptions) : s.max_delivery_attempts >= 5 && s.max_delivery_attempts <= 100])
    error_message = "max_delivery_attempts must be between 5 and 100 (Pub/Sub's limits)."
  }
}

variable "topic_ids" {
  type        = map(string)
  description = "Topic name → full topic id of the topics the subscriptions read."
}

variable "push_service_account_email" {
  type        = string
  description = "Service account whose OIDC token Pub/Sub sends with each push; it gets run.invoker on this function's service only."
}

variable "pubsub_service_agent" {
  type        = string
  description = "The project's Pub/Sub service agent as an IAM member; it gets publisher on the dead-letter topics and subscriber on the push subscriptions, which dead-lettering needs."
}

variable "dead_letter_retention" {
  type        = string
  description = "How long the dead-letter pull subscriptions keep a message."
}

variable "ingress_settings" {
  type        = string
  description = "Network ingress of the function's service; invoking it also needs run.invoker, which only the push identity has."
  default     = "ALLOW_ALL"
}
