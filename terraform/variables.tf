# Where casebridge runs.

variable "project_id" {
  type        = string
  description = "Project that runs casebridge: its functions, Pub/Sub topics, Firestore database, secrets and monitoring."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id (6 to 30 lowercase letters, digits or hyphens, starting with a letter)."
  }
}

variable "region" {
  type        = string
  description = "Region of the functions, the source bucket and the Cloud Scheduler jobs, e.g. europe-west1."
}

variable "prefix" {
  type        = string
  description = "Prefix of every resource name casebridge creates (topics are \"<prefix>-case-updated\", functions \"<prefix>-sync-case\", ...), so several deployments can share a project. The operator tools take \"<prefix>-\" as their topic prefix."
  default     = "casebridge"
  validation {
    # Service account ids are at most 30 characters: "<prefix>-detect-outages".
    condition     = can(regex("^[a-z][a-z0-9-]{0,13}[a-z0-9]$", var.prefix))
    error_message = "prefix must be 2 to 15 lowercase letters, digits or hyphens, start with a letter and not end with a hyphen (service account ids are built from it and are at most 30 characters)."
  }
}

variable "labels" {
  type        = map(string)
  description = "Labels put on every resource that takes labels."
  default     = {}
}

# Firestore.

variable "create_firestore_database" {
  type        = bool
  description = "Create the (default) Firestore database in native mode. Set false when the project already has one (it must be in native mode); casebridge's collections live beside other data without conflict."
  default     = true
}

variable "firestore_location" {
  type        = string
  description = "Location of the Firestore database, a multi-region (nam5, eur3) or a region. It cannot be changed after creation."
  default     = "nam5"
}

# Function sources (written by `go run ./scripts/package -out terraform/build`).

variable "function_sources" {
  type = map(object({
    path   = string
    sha256 = string
  }))
  description = "The zip of each function's staged source and its sha256, keyed by its directory under functions/. scripts/package writes this to build/functions.auto.tfvars.json: pass it with -var-file=build/functions.auto.tfvars.json."
  validation {
    condition = alltrue([
      for dir in keys(jsondecode(file("${path.module}/topology.json")).functions) : contains(keys(var.function_sources), dir)
    ])
    error_message = "function_sources must have an entry for every function (cleanup, detectoutages, googleevents, pollcrm, pollgoogle, synccase): run `go run ./scripts/package -out terraform/build` and pass -var-file=build/functions.auto.tfvars.json."
  }
  validation {
    condition     = alltrue([for s in values(var.function_sources) : can(regex("^[0-9a-f]{64}$", s.sha256))])
    error_message = "Every function_sources sha256 must be 64 lowercase hex digits."
  }
}

variable "go_runtime" {
  type        = string
  description = "Cloud Functions Go runtime; it must be at least the go directive of go.mod."
  default     = "go126"
  validation {
    condition     = can(regex("^go1[0-9]{2}$", var.go_runtime))
    error_message = "go_runtime must be a Go runtime id such as go126."
  }
}

variable "function_timeout_seconds" {
  type        = number
  description = "How long one function run may take. It must stay below the subscriptions' 300 s acknowledgement deadline, or Pub/Sub sends the message again while it is still being handled."
  default     = 240
  validation {
    condition     = var.function_timeout_seconds >= 10 && var.function_timeout_seconds < 300
    error_message = "function_timeout_seconds must be between 10 and 299 (the subscriptions' acknowledgement deadline is 300 s)."
  }
}

variable "function_memory" {
  type        = string
  description = "Memory of each function instance. Attachments are streamed, so 512Mi is plenty."
  default     = "512Mi"
}

variable "function_max_instances" {
  type        = number
  description = "Most instances of one function at a time; it bounds the calls casebridge makes to the CRM and the Cloud Support API."
  default     = 10
  validation {
    condition     = var.function_max_instances >= 1
    error_message = "function_max_instances must be at least 1."
  }
}

variable "function_ingress" {
  type        = string
  description = "Network ingress of the functions' services. ALLOW_ALL is the default because Pub/Sub push comes from Google's network; invoking still needs run.invoker, which only the push identity has. Use ALLOW_INTERNAL_ONLY inside a VPC Service Controls perimeter that allows Pub/Sub push."
  default     = "ALLOW_ALL"
  validation {
    condition     = contains(["ALLOW_ALL", "ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], var.function_ingress)
    error_message = "function_ingress must be ALLOW_ALL, ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB."
  }
}

# The Cloud Support API side.

variable "support_events_enabled" {
  type        = bool
  description = "Create the organization's support event subscription (events.tf): the Cloud Support API then publishes every case change to the support-events topic, and GoogleEvents has it synced within seconds instead of at the next poll (polling stays on). Creating it needs roles/cloudsupport.subscriptionEditor on the organization for the identity running Terraform. false: polling only."
  default     = true
}

variable "organization_id" {
  type        = string
  description = "Numeric id of the organization whose support cases casebridge syncs. Without project_allowlist the functions that call the Cloud Support API get Tech Support Editor and Organization Viewer on it, and search it for cases."
  validation {
    condition     = can(regex("^[0-9]+$", var.organization_id))
    error_message = "organization_id must be the organization's number, e.g. 123456789012 (gcloud organizations list)."
  }
}

variable "project_allowlist" {
  type        = list(string)
  description = "Narrows which cases may sync to those of these projects: the functions then get Tech Support Editor on these projects only (no organization-level role) and search each of them (CSAPI_PARENT lists them; one search call per project per poll). Empty: the whole organization."
  default     = []
  validation {
    condition     = alltrue([for p in var.project_allowlist : can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", p))])
    error_message = "project_allowlist must hold project ids."
  }
}

variable "csapi_create_parent" {
  type        = string
  description = "Where casebridge creates Google cases for CRM cases: projects/<id> or organizations/<number>. Empty: the organization, or the first project of project_allowlist."
  default     = ""
  validation {
    condition     = var.csapi_create_parent == "" || can(regex("^(organizations/[0-9]+|projects/[a-z][a-z0-9-]{4,28}[a-z0-9])$", var.csapi_create_parent))
    error_message = "csapi_create_parent must be empty, projects/<id> or organizations/<number>."
  }
}

variable "csapi_classification_id" {
  type        = string
  description = "Case classification of the Google cases casebridge creates (an id from the Cloud Support API caseClassifications.search)."
}

variable "csapi_test_case" {
  type        = bool
  description = "Mark the Google cases casebridge creates as test cases. Google Support does not work on test cases: set false in production, true while trying casebridge out."
}

variable "csapi_time_zone" {
  type        = string
  description = "IANA time zone of the Google cases casebridge creates."
  default     = "UTC"
}

# The CRM side.

variable "crm_kind" {
  type        = string
  description = "Which CRM casebridge syncs with: rt (Request Tracker), zendesk, jira (Jira Service Management), servicenow, freshdesk, salesforce, or simulator."
  validation {
    condition     = contains(["rt", "zendesk", "jira", "servicenow", "freshdesk", "salesforce", "simulator"], var.crm_kind)
    error_message = "crm_kind must be one of rt, zendesk, jira, servicenow, freshdesk, salesforce, simulator."
  }
}

variable "crm_url" {
  type        = string
  description = "Base URL of the CRM, e.g. https://rt.example.com or https://example.zendesk.com."
  validation {
    condition     = can(regex("^https?://[^/]+", var.crm_url))
    error_message = "crm_url must be an http(s) URL."
  }
}

variable "crm_credential_variables" {
  type        = list(string)
  description = "The CRM credential variables read from Secret Manager, one secret each. null: rt → RT_TOKEN; zendesk → ZENDESK_EMAIL, ZENDESK_API_TOKEN; jira → JIRA_EMAIL, JIRA_API_TOKEN; servicenow → SERVICENOW_USER, SERVICENOW_PASSWORD; freshdesk → FRESHDESK_API_KEY; salesforce → SALESFORCE_CLIENT_SECRET. Alternatives: RT_USER + RT_PASSWORD, ZENDESK_OAUTH_TOKEN, SERVICENOW_OAUTH_TOKEN, SALESFORCE_PRIVATE_KEY."
  default     = null
  validation {
    condition = var.crm_credential_variables == null || alltrue([
      for v in coalesce(var.crm_credential_variables, []) : contains([
        "RT_TOKEN", "RT_USER", "RT_PASSWORD",
        "ZENDESK_EMAIL", "ZENDESK_API_TOKEN", "ZENDESK_OAUTH_TOKEN",
        "JIRA_EMAIL", "JIRA_API_TOKEN",
        "SERVICENOW_USER", "SERVICENOW_PASSWORD", "SERVICENOW_OAUTH_TOKEN",
        "FRESHDESK_API_KEY",
        "SALESFORCE_CLIENT_SECRET", "SALESFORCE_PRIVATE_KEY",
      ], v)
    ])
    error_message = "crm_credential_variables may only name CRM credential variables (RT_TOKEN, RT_USER, RT_PASSWORD, ZENDESK_EMAIL, ZENDESK_API_TOKEN, ZENDESK_OAUTH_TOKEN, JIRA_EMAIL, JIRA_API_TOKEN, SERVICENOW_USER, SERVICENOW_PASSWORD, SERVICENOW_OAUTH_TOKEN, FRESHDESK_API_KEY, SALESFORCE_CLIENT_SECRET, SALESFORCE_PRIVATE_KEY)."
  }
  validation {
    condition = var.crm_credential_variables == null || alltrue([
      for v in coalesce(var.crm_credential_variables, []) : startswith(v, "${upper(var.crm_kind)}_")
    ])
    error_message = "crm_credential_variables must be credentials of the chosen crm_kind (RT_* for rt, ZENDESK_* for zendesk, JIRA_* for jira, SERVICENOW_* for servicenow, FRESHDESK_* for freshdesk, SALESFORCE_* for salesforce; none for simulator)."
  }
}

variable "crm_settings" {
  type        = map(string)
  description = "The CRM adapter's other settings as environment variables, e.g. { RT_QUEUE = \"Support\" } or { ZENDESK_SYNC_FLAG_FIELD_ID = \"360001\" }. Never credentials: those go to Secret Manager (crm_credential_variables)."
  default     = {}
  validation {
    condition = alltrue([
      for k in keys(var.crm_settings) : can(regex("^(RT|ZENDESK|JIRA|SERVICENOW|FRESHDESK|SALESFORCE|SIMULATOR)_[A-Z0-9_]+$", k)) && !can(regex("(TOKEN|PASSWORD|SECRET|API_KEY|PRIVATE_KEY)", k))
    ])
    error_message = "crm_settings keys must be CRM adapter variables (RT_*, ZENDESK_*, JIRA_*, SERVICENOW_*, FRESHDESK_*, SALESFORCE_*, SIMULATOR_*) and never credentials (*TOKEN*, *PASSWORD*, *SECRET*, *API_KEY*, *PRIVATE_KEY*): those belong in Secret Manager."
  }
  validation {
    condition = length(setintersection(keys(var.crm_settings), [
      "RT_USER", "ZENDESK_EMAIL", "JIRA_EMAIL", "SERVICENOW_USER",
    ])) == 0 || var.crm_credential_variables != null
    error_message = "The CRM login (RT_USER, ZENDESK_EMAIL, JIRA_EMAIL, SERVICENOW_USER) is read from Secret Manager by default: to pass it in crm_settings instead, set crm_credential_variables to the secret variables only."
  }
}

variable "crm_priority_map" {
  type        = string
  description = "CRM_PRIORITY_MAP: CRM priority values for P0..P4 (crmValue=P0,...,crmValue=P4). Empty: the adapter's default."
  default     = ""
}

# Sync policy (the defaults are casebridge's).

variable "google_polling_window" {
  type        = string
  description = "How far back before the last poll the Cloud Support API is searched (search indexes lag), as a Go duration."
  default     = "30m"
  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(h|m|s|ms))+$", var.google_polling_window))
    error_message = "google_polling_window must be a Go duration such as 30m, 1h30m or 24h."
  }
}

variable "company_polling_window" {
  type        = string
  description = "How far back before the last poll the CRM is searched, as a Go duration."
  default     = "5m"
  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(h|m|s|ms))+$", var.company_polling_window))
    error_message = "company_polling_window must be a Go duration such as 30m, 1h30m or 24h."
  }
}

variable "max_attachment_bytes" {
  type        = number
  description = "Largest attachment copied between the systems; larger ones get a comment instead."
  default     = 26214400
}

variable "reopen_policy" {
  type        = string
  description = "What happens when a CRM case is reopened after its Google case closed: comment (a comment says the Google case stays closed) or new-case (a new linked Google case is opened)."
  default     = "comment"
  validation {
    condition     = contains(["comment", "new-case"], var.reopen_policy)
    error_message = "reopen_policy must be comment or new-case."
  }
}

variable "google_comments_public" {
  type        = bool
  description = "Mirror Google comments into the CRM as public comments (false: internal notes)."
  default     = true
}

variable "sync_internal_notes" {
  type        = bool
  description = "Also mirror the CRM's internal notes to Google."
  default     = false
}

variable "event_max_age" {
  type        = string
  description = "Case events older than this are dropped rather than handled, as a Go duration."
  default     = "24h"
  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(h|m|s|ms))+$", var.event_max_age))
    error_message = "event_max_age must be a Go duration such as 30m, 1h30m or 24h."
  }
}

variable "log_level" {
  type        = string
  description = "Lowest level the functions log: debug, info, warning or error."
  default     = "info"
  validation {
    condition     = contains(["debug", "info", "warn", "warning", "error"], var.log_level)
    error_message = "log_level must be debug, info, warning or error."
  }
}

# Schedules and monitoring.

variable "poll_interval_minutes" {
  type        = number
  description = "How often Cloud Scheduler ticks the two pollers, in minutes: 1 to 60, a number that divides 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60) so that the ticks are evenly spaced. With events on (support_events_enabled, crm_webhooks) changes arrive in seconds and the poll is the safety net for a missed one: this interval bounds how late a missed change can be. The functions get it as POLL_INTERVAL: the pollers drop older ticks and outage detection allows for it (docs/webhooks.md#the-poll-interval)."
  default     = 1
  validation {
    condition     = var.poll_interval_minutes >= 1 && var.poll_interval_minutes <= 60 && floor(var.poll_interval_minutes) == var.poll_interval_minutes && 60 % var.poll_interval_minutes == 0
    error_message = "poll_interval_minutes must be a whole number of minutes from 1 to 60 that divides 60: 1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60."
  }
}

variable "scheduler_time_zone" {
  type        = string
  description = "Time zone of the Cloud Scheduler jobs (the daily cleanup runs at 03:17 in it)."
  default     = "Etc/UTC"
}

variable "notification_channels" {
  type        = list(string)
  description = "Cloud Monitoring notification channels the alert policies notify, as projects/<project>/notificationChannels/<id>."
  default     = []
  validation {
    condition     = alltrue([for c in var.notification_channels : can(regex("^projects/[^/]+/notificationChannels/[0-9]+$", c))])
    error_message = "notification_channels must be ids of the form projects/<project>/notificationChannels/<id>."
  }
}

variable "dead_letter_retention" {
  type        = string
  description = "How long a dead-lettered message is kept for inspection and replay (10 minutes to 31 days), as seconds with an s suffix."
  default     = "1209600s"
  validation {
    condition     = can(regex("^[0-9]+s$", var.dead_letter_retention)) && try(tonumber(trimsuffix(var.dead_letter_retention, "s")) >= 600 && tonumber(trimsuffix(var.dead_letter_retention, "s")) <= 2678400, false)
    error_message = "dead_letter_retention must be between 600s and 2678400s (31 days), e.g. 1209600s."
  }
}
