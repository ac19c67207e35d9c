package store

import (
	"time"

	"cloud.google.com/go/firestore"

	"github.com/casebridge/casebridge/shared/casesync"
)

// Field names of a mapping document that are written or queried on their
// own.
const (
	fieldGoogleCase           = "googleCaseName"
	fieldCompanyCaseID        = "companyCaseID"
	fieldResolvedAt           = "resolvedAt"
	fieldGooglePendingSince   = "googlePendingSince"
	fieldCompanyPendingSince  = "companyPendingSince"
	fieldLeaseHolder          = "leaseHolder"
	fieldLeaseUntil           = "leaseUntil"
	fieldPreviousGoogleCases  = "previousGoogleCases"
	fieldGoogleItems          = "googleItems"
	fieldDueAt                = "dueAt"
	fieldRerunRequested       = "rerunRequested"
	fieldWritesRecorded       = "writesRecorded"
	fieldLeaseGeneration      = "leaseGeneration"
	fieldGoogleSeenUpdateTime = "googleSeenUpdateTime"
	fieldGoogleClosed         = "googleClosed"
	fieldCompanyClosed        = "companyClosed"
	fieldCreateIntentAt       = "createIntentAt"
	fieldCreateIntentSide     = "createIntentSide"
)

// mappingDoc is the persisted form of a casesync.Mapping. Times are pointers
// so that an unset time is stored as null: a null resolvedAt never matches
// the range query of ListResolvedBefore.
type mappingDoc struct {
	GoogleCase    string `firestore:"googleCaseName"`
	CompanyCaseID string `firestore:"companyCaseID"`
	Origin        string `firestore:"origin"`

	CreatedAt    *time.Time `firestore:"createdAt"`
	NewContentAt *time.Time `firestore:"newContentAt"`
	ResolvedAt   *time.Time `firestore:"resolvedAt"`

	GoogleUpdatesSyncedAt  *time.Time `firestore:"googleUpdatesSyncedAt"`
	CompanyUpdatesSyncedAt *time.Time `firestore:"companyUpdatesSyncedAt"`
	GooglePendingSince     *time.Time `firestore:"googlePendingSince"`
	CompanyPendingSince    *time.Time `firestore:"companyPendingSince"`
	GoogleSeenUpdateTime   *time.Time `firestore:"googleSeenUpdateTime"`
	CompanySeenUpdateTime  *time.Time `firestore:"companySeenUpdateTime"`

	OutageCommentSentToGoogle  bool `firestore:"outageCommentSentToGoogle"`
	OutageCommentSentToCompany bool `firestore:"outageCommentSentToCompany"`
	OutageNoticeIntentGoogle   bool `firestore:"outageNoticeIntentGoogle"`
	OutageNoticeIntentCompany  bool `firestore:"outageNoticeIntentCompany"`

	// Priority is spelled as CSAPI does: "P0".."P4" or "PRIORITY_UNSPECIFIED".
	Priority         string   `firestore:"priority"`
	GoogleClosed     bool     `firestore:"googleClosed"`
	CompanyClosed    bool     `firestore:"companyClosed"`
	ReopenNoticeSent bool     `firestore:"reopenNoticeSent"`
	PreviousGoogle   []string `firestore:"previousGoogleCases"`

	// The item logs are maps; Terraform exempts them from indexing.
	GoogleItems  sideItemsDoc `firestore:"googleItems"`
	CompanyItems sideItemsDoc `firestore:"companyItems"`
	// Legacy lists of done item keys ("c:<id>", "a:<id>"), read only: a
	// mapping written before the item logs gets them as log entries.
	LegacyGoogleItemsDone  []string `firestore:"googleItemsDone,omitempty"`
	LegacyCompanyItemsDone []string `firestore:"companyItemsDone,omitempty"`

	CreateIntentAt   *time.Time `firestore:"createIntentAt"`
	CreateIntentSide string     `firestore:"createIntentSide"`

	LeaseHolder     string     `firestore:"leaseHolder"`
	LeaseUntil      *time.Time `firestore:"leaseUntil"`
	LeaseGeneration int64      `firestore:"leaseGeneration"`
	RerunRequested  bool       `firestore:"rerunRequested"`
	WritesRecorded  bool       `firestore:"writesRecorded"`

	DueAt        *time.Time `firestore:"dueAt"`
	Attempts     int        `firestore:"attempts"`
	LastError    string     `firestore:"lastError"`
	FailingSince *time.Time `firestore:"failingSince"`
	GaveUpAt     *time.Time `firestore:"gaveUpAt"`

	NewCaseNoticeOwed bool `firestore:"newCaseNoticeOwed"`

	RefusedItem string `firestore:"refusedItem"`

	GoogleStateShown string        `firestore:"googleStateShown"`
	Escalation       escalationDoc `firestore:"escalation"`
	LastEscalation   escalationDoc `firestore:"lastEscalation"`

	GoogleReadAt     *time.Time `firestore:"googleReadAt"`
	CompanyReadAt    *time.Time `firestore:"companyReadAt"`
	GoogleOwnWrites  []string   `firestore:"googleOwnWrites"`
	CompanyOwnWrites []string   `firestore:"companyOwnWrites"`
}

// escalationDoc is the persisted casesync.EscalationProgress.
type escalationDoc struct {
	SeenAt   *time.Time `firestore:"seenAt"`
	IntentAt *time.Time `firestore:"intentAt"`
	Outcome  string     `firestore:"outcome"`
	Detail   string     `firestore:"detail"`
	Noted    bool       `firestore:"noted"`
	Clearing bool       `firestore:"clearing"`
	Refused  bool       `firestore:"withdrawRefused"`
}

func toEscalationDoc(e casesync.EscalationProgress) escalationDoc {
	return escalationDoc{SeenAt: timePtr(e.SeenAt), IntentAt: timePtr(e.IntentAt), Outcome: string(e.Outcome), Detail: e.Detail, Noted: e.Noted, Clearing: e.Clearing, Refused: e.WithdrawRefused}
}

func (d escalationDoc) toProgress() casesync.EscalationProgress {
	return casesync.EscalationProgress{SeenAt: timeVal(d.SeenAt), IntentAt: timeVal(d.IntentAt), Outcome: casesync.EscalationOutcome(d.Outcome), Detail: d.Detail, Noted: d.Noted, Clearing: d.Clearing, WithdrawRefused: d.Refused}
}

// sideItemsDoc and itemLogDoc are the persisted casesync.SideItems.
type sideItemsDoc struct {
	Comments    itemLogDoc `firestore:"comments"`
	Attachments itemLogDoc `firestore:"attachments"`
}

type itemLogDoc struct {
	Through *time.Time    `firestore:"through"`
	Done    []doneItemDoc `firestore:"done"`
}

type doneItemDoc struct {
	ID string     `firestore:"id"`
	At *time.Time `firestore:"at"`
}

func toItemsDoc(s casesync.SideItems) sideItemsDoc {
	log := func(l casesync.ItemLog) itemLogDoc {
		d := itemLogDoc{Through: timePtr(l.Through), Done: []doneItemDoc{}}
		for _, it := range l.Done {
			d.Done = append(d.Done, doneItemDoc{ID: it.ID, At: timePtr(it.At)})
		}
		return d
	}
	return sideItemsDoc{Comments: log(s.Comments), Attachments: log(s.Attachments)}
}

func (d sideItemsDoc) toItems(legacy []string) casesync.SideItems {
	log := func(l itemLogDoc) casesync.ItemLog {
		out := casesync.ItemLog{Through: timeVal(l.Through)}
		for _, it := range l.Done {
			out.Done = append(out.Done, casesync.DoneItem{ID: it.ID, At: timeVal(it.At)})
		}
		return out
	}
	s := casesync.SideItems{Comments: log(d.Comments), Attachments: log(d.Attachments)}
	for _, k := range legacy {
		switch {
		case len(k) > 2 && k[:2] == "c:":
			s.Comments.Done = append(s.Comments.Done, casesync.DoneItem{ID: k[2:]})
		case len(k) > 2 && k[:2] == "a:":
			s.Attachments.Done = append(s.Attachments.Done, casesync.DoneItem{ID: k[2:]})
		}
	}
	return s
}

func toDoc(m casesync.Mapping) mappingDoc {
	return mappingDoc{
		GoogleCase:                 m.GoogleCase,
		CompanyCaseID:              m.CompanyCaseID,
		Origin:                     string(m.Origin),
		CreatedAt:                  timePtr(m.CreatedAt),
		NewContentAt:               timePtr(m.NewContentAt),
		ResolvedAt:                 timePtr(m.ResolvedAt),
		GoogleUpdatesSyncedAt:      timePtr(m.Google.UpdatesSyncedAt),
		CompanyUpdatesSyncedAt:     timePtr(m.Company.UpdatesSyncedAt),
		GooglePendingSince:         timePtr(m.Google.PendingSince),
		CompanyPendingSince:        timePtr(m.Company.PendingSince),
		GoogleSeenUpdateTime:       timePtr(m.Google.SeenUpdateTime),
		CompanySeenUpdateTime:      timePtr(m.Company.SeenUpdateTime),
		OutageCommentSentToGoogle:  m.Google.OutageNoticeSent,
		OutageCommentSentToCompany: m.Company.OutageNoticeSent,
		OutageNoticeIntentGoogle:   m.Google.OutageNoticeIntent,
		OutageNoticeIntentCompany:  m.Company.OutageNoticeIntent,
		Priority:                   m.Priority.String(),
		GoogleClosed:               m.Google.Closed,
		CompanyClosed:              m.Company.Closed,
		ReopenNoticeSent:           m.ReopenNoticeSent,
		PreviousGoogle:             m.PreviousGoogleCases,
		GoogleItems:                toItemsDoc(m.Google.Items),
		CompanyItems:               toItemsDoc(m.Company.Items),
		CreateIntentAt:             timePtr(m.CreateIntentAt),
		CreateIntentSide:           string(m.CreateIntentSide),
		LeaseHolder:                m.LeaseHolder,
		LeaseUntil:                 timePtr(m.LeaseUntil),
		LeaseGeneration:            m.LeaseGeneration,
		RerunRequested:             m.RerunRequested,
		WritesRecorded:             m.WritesRecorded,
		DueAt:                      timePtr(m.DueAt),
		Attempts:                   m.Attempts,
		LastError:                  m.LastError,
		FailingSince:               timePtr(m.FailingSince),
		GaveUpAt:                   timePtr(m.GaveUpAt),
		NewCaseNoticeOwed:          m.NewCaseNoticeOwed,
		RefusedItem:                m.RefusedItem,
		GoogleStateShown:           m.GoogleStateShown,
		Escalation:                 toEscalationDoc(m.Escalation),
		LastEscalation:             toEscalationDoc(m.LastEscalation),
		GoogleReadAt:               timePtr(m.Google.ReadAt),
		CompanyReadAt:              timePtr(m.Company.ReadAt),
		GoogleOwnWrites:            nilIfEmpty(m.Google.OwnWrites),
		CompanyOwnWrites:           nilIfEmpty(m.Company.OwnWrites),
	}
}

func (d mappingDoc) toMapping(id string) casesync.Mapping {
	return casesync.Mapping{
		ID:            id,
		GoogleCase:    d.GoogleCase,
		CompanyCaseID: d.CompanyCaseID,
		Origin:        casesync.Side(d.Origin),
		CreatedAt:     timeVal(d.CreatedAt),
		NewContentAt:  timeVal(d.NewContentAt),
		ResolvedAt:    timeVal(d.ResolvedAt),
		Google: casesync.MappingSide{
			UpdatesSyncedAt:    timeVal(d.GoogleUpdatesSyncedAt),
			PendingSince:       timeVal(d.GooglePendingSince),
			SeenUpdateTime:     timeVal(d.GoogleSeenUpdateTime),
			OutageNoticeSent:   d.OutageCommentSentToGoogle,
			OutageNoticeIntent: d.OutageNoticeIntentGoogle,
			Closed:             d.GoogleClosed,
			Items:              d.GoogleItems.toItems(d.LegacyGoogleItemsDone),
			ReadAt:             timeVal(d.GoogleReadAt),
			OwnWrites:          nilIfEmpty(d.GoogleOwnWrites),
		},
		Company: casesync.MappingSide{
			UpdatesSyncedAt:    timeVal(d.CompanyUpdatesSyncedAt),
			PendingSince:       timeVal(d.CompanyPendingSince),
			SeenUpdateTime:     timeVal(d.CompanySeenUpdateTime),
			OutageNoticeSent:   d.OutageCommentSentToCompany,
			OutageNoticeIntent: d.OutageNoticeIntentCompany,
			Closed:             d.CompanyClosed,
			Items:              d.CompanyItems.toItems(d.LegacyCompanyItemsDone),
			ReadAt:             timeVal(d.CompanyReadAt),
			OwnWrites:          nilIfEmpty(d.CompanyOwnWrites),
		},
		Priority:            casesync.ParsePriority(d.Priority),
		ReopenNoticeSent:    d.ReopenNoticeSent,
		PreviousGoogleCases: nilIfEmpty(d.PreviousGoogle),
		CreateIntentAt:      timeVal(d.CreateIntentAt),
		CreateIntentSide:    casesync.Side(d.CreateIntentSide),
		LeaseHolder:         d.LeaseHolder,
		LeaseUntil:          timeVal(d.LeaseUntil),
		LeaseGeneration:     d.LeaseGeneration,
		RerunRequested:      d.RerunRequested,
		WritesRecorded:      d.WritesRecorded,
		DueAt:               timeVal(d.DueAt),
		Attempts:            d.Attempts,
		LastError:           d.LastError,
		FailingSince:        timeVal(d.FailingSince),
		GaveUpAt:            timeVal(d.GaveUpAt),
		NewCaseNoticeOwed:   d.NewCaseNoticeOwed,
		RefusedItem:         d.RefusedItem,
		GoogleStateShown:    d.GoogleStateShown,
		Escalation:          d.Escalation.toProgress(),
		LastEscalation:      d.LastEscalation.toProgress(),
	}
}

// decodeMapping reads a mapping document.
func decodeMapping(snap *firestore.DocumentSnapshot) (casesync.Mapping, error) {
	var d mappingDoc
	if err := snap.DataTo(&d); err != nil {
		return casesync.Mapping{}, err
	}
	return d.toMapping(snap.Ref.ID), nil
}

// timePtr stores a zero time as null.
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func timeVal(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// timeValue is a time as a field value for an update: null when zero.
func timeValue(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// nilIfEmpty returns nil for an empty list, as the engine sees a list never
// written.
func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
