package appconfig

import "slices"

// ownVariables are the variables Parse (and, for the webhook receiver,
// ParseWebhook) reads for casebridge itself, in the order
// docs/configuration.md lists them.
var ownVariables = []string{
	EnvProject,
	EnvCSAPIParent,
	EnvCSAPICreateParent,
	EnvCSAPIClassification,
	EnvCSAPITestCase,
	EnvCSAPIEndpoint,
	EnvCSAPIConnectorEmail,
	EnvCSAPITimeZone,
	EnvCSAPIUseFeed,
	EnvCRMKind,
	EnvCRMURL,
	EnvCRMPriorityMap,
	EnvGooglePollingWindow,
	EnvCompanyPollingWindow,
	EnvPollInterval,
	EnvMaxAttachmentBytes,
	EnvReopenPolicy,
	EnvGoogleCommentsPublic,
	EnvSyncInternalNotes,
	EnvEscalationReason,
	EnvEscalationJustify,
	EnvMaxSplitParts,
	EnvLeaseDuration,
	EnvRepublishAfter,
	EnvRetryBackoff,
	EnvRetryMaxBackoff,
	EnvGiveUpAfter,
	EnvCRMMaxPages,
	EnvTopicCaseUpdated,
	EnvTopicSyncRequested,
	EnvTopicTickPollGoogle,
	EnvEventMaxAge,
	EnvLogLevel,
	EnvClockFile,
	// Read by the webhook receiver only (ParseWebhook).
	EnvWebhookSecret,
	EnvWebhookSyncUser,
}

// Variables returns the name of every environment variable casebridge's
// functions read through Parse and ParseWebhook: casebridge's own, then each CRM adapter's
// in the order of KnownCRMKinds. docs/configuration.md documents each one;
// docs_test.go checks that page against this list, and this list against
// what Parse reads.
func Variables() []string {
	out := slices.Clone(ownVariables)
	for _, k := range crmKinds {
		out = append(out, k.Variables...)
	}
	return out
}

// CRMVariables returns the variables the adapter of one CRM_KIND reads
// besides casebridge's own (none for the simulator, or an unknown kind),
// as its entry in crmKinds (crms.go) lists them.
func CRMVariables(kind string) []string {
	k, _ := lookupCRMKind(kind)
	return slices.Clone(k.Variables)
}
