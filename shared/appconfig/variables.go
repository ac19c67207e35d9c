package appconfig

import (
	"slices"

	"github.com/casebridge/casebridge/shared/jirasm"
	"github.com/casebridge/casebridge/shared/rt"
	"github.com/casebridge/casebridge/shared/servicenow"
	"github.com/casebridge/casebridge/shared/zendesk"
)

// ownVariables are the variables Parse reads for casebridge itself, in the
// order docs/configuration.md lists them.
var ownVariables = []string{
	EnvProject,
	EnvCSAPIParent,
	EnvCSAPICreateParent,
	EnvCSAPIClassification,
	EnvCSAPITestCase,
	EnvCSAPIEndpoint,
	EnvCSAPIConnectorEmail,
	EnvCSAPITimeZone,
	EnvCRMKind,
	EnvCRMURL,
	EnvCRMPriorityMap,
	EnvGooglePollingWindow,
	EnvCompanyPollingWindow,
	EnvMaxAttachmentBytes,
	EnvReopenPolicy,
	EnvGoogleCommentsPublic,
	EnvSyncInternalNotes,
	EnvMaxSplitParts,
	EnvLeaseDuration,
	EnvRepublishAfter,
	EnvRetryBackoff,
	EnvRetryMaxBackoff,
	EnvGiveUpAfter,
	EnvCRMMaxPages,
	EnvTopicCaseUpdated,
	EnvTopicSyncRequested,
	EnvEventMaxAge,
	EnvLogLevel,
	EnvClockFile,
}

// crmVariables are the variables each CRM adapter reads, by CRM_KIND. The
// simulator reads none of its own.
var crmVariables = map[string][]string{
	CRMRequestTracker: {
		rt.EnvToken, rt.EnvUser, rt.EnvPassword, rt.EnvQueue,
		rt.EnvSyncFlagField, rt.EnvSyncFlagValue, rt.EnvGoogleCaseField,
		rt.EnvClosedStatuses, rt.EnvCloseStatus, rt.EnvPriorities,
		rt.EnvRateLimit, rt.EnvPageSize, rt.EnvMaxAttachmentBytes, rt.EnvTimeZone,
	},
	CRMZendesk: {
		zendesk.EnvEmail, zendesk.EnvAPIToken, zendesk.EnvOAuthToken,
		zendesk.EnvSyncFlagFieldID, zendesk.EnvGoogleCaseFieldID,
		zendesk.EnvClosedStatuses, zendesk.EnvCloseStatus, zendesk.EnvRateLimit,
		zendesk.EnvPageSize, zendesk.EnvExportPageSize, zendesk.EnvMaxAttachmentBytes,
	},
	CRMJira: {
		jirasm.EnvEmail, jirasm.EnvAPIToken, jirasm.EnvProjectKey,
		jirasm.EnvSyncFlagField, jirasm.EnvGoogleCaseField, jirasm.EnvSyncFlagValue,
		jirasm.EnvIssueType, jirasm.EnvRequestTypeField, jirasm.EnvRequestTypeID,
		jirasm.EnvCloseTransition, jirasm.EnvCloseResolution, jirasm.EnvClosedStatuses,
		jirasm.EnvPriorities, jirasm.EnvRateLimit, jirasm.EnvPageSize,
		jirasm.EnvMaxAttachmentBytes, jirasm.EnvSearchLag,
	},
	CRMServiceNow: {
		servicenow.EnvUser, servicenow.EnvPassword, servicenow.EnvOAuthToken,
		servicenow.EnvTable, servicenow.EnvSyncFlagField, servicenow.EnvGoogleCaseField,
		servicenow.EnvClosedStates, servicenow.EnvCloseState, servicenow.EnvCloseCode,
		servicenow.EnvCloseNotes, servicenow.EnvRateLimit, servicenow.EnvPageSize,
		servicenow.EnvMaxAttachmentBytes,
	},
}

// Variables returns the name of every environment variable casebridge's
// functions read through Parse: casebridge's own, then each CRM adapter's
// in the order of KnownCRMKinds. docs/configuration.md documents each one;
// docs_test.go checks that page against this list, and this list against
// what Parse reads.
func Variables() []string {
	out := slices.Clone(ownVariables)
	for _, kind := range KnownCRMKinds {
		out = append(out, crmVariables[kind]...)
	}
	return out
}

// CRMVariables returns the variables the adapter of one CRM_KIND reads
// besides casebridge's own (none for the simulator, or an unknown kind).
func CRMVariables(kind string) []string { return slices.Clone(crmVariables[kind]) }
