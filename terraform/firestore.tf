# The (default) Firestore database in native mode: the mappings, case keys,
# poll watermarks and delivery failures. It is protected from deletion and
# abandoned, not deleted, by terraform destroy.
resource "google_firestore_database" "default" {
  count = var.create_firestore_database ? 1 : 0

  project                 = var.project_id
  name                    = "(default)"
  location_id             = var.firestore_location
  type                    = "FIRESTORE_NATIVE"
  delete_protection_state = "DELETE_PROTECTION_ENABLED"
  deletion_policy         = "ABANDON"

  depends_on = [google_project_service.apis]
}

# The functions record the last failed attempt of every message Pub/Sub will
# redeliver in deliveryFailures/{function and case}, for the dead-letter tool
# (shared/store/failures.go). Each record carries expireAt, 32 days after the
# failure (longer than the longest dead-letter retention, 31 days), and
# Firestore's TTL policy deletes it after that. The field is never queried,
# so its single-field indexes are turned off, as Firestore advises for TTL
# timestamps.
resource "google_firestore_field" "delivery_failures_ttl" {
  project    = var.project_id
  database   = "(default)"
  collection = "deliveryFailures"
  field      = "expireAt"

  ttl_config {}
  index_config {}

  depends_on = [google_project_service.apis, google_firestore_database.default]
}

# casebridge counts the links and copies it refuses in refusals/{side:kind:case}
# (shared/store/refusals.go), for the status command. Each record carries
# expireAt, 30 days after its last occurrence, and Firestore's TTL policy
# deletes it after that.
resource "google_firestore_field" "refusals_ttl" {
  project    = var.project_id
  database   = "(default)"
  collection = "refusals"
  field      = "expireAt"

  ttl_config {}
  index_config {}

  depends_on = [google_project_service.apis, google_firestore_database.default]
}

# A mapping keeps which comments and attachments of each side are done in two
# map fields (shared/casesync ItemLog), bounded in size but never queried:
# their single-field indexes are turned off, which the maps' subfields
# inherit, so a mapping's index entries do not grow with its case.
resource "google_firestore_field" "mapping_items_unindexed" {
  for_each = toset(["googleItems", "companyItems"])

  project    = var.project_id
  database   = "(default)"
  collection = "caseMappings"
  field      = each.value

  index_config {}

  depends_on = [google_project_service.apis, google_firestore_database.default]
}
