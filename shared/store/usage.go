package store

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/casebridge/casebridge/shared/casesync"
)

// apiUsageDoc is the persisted form of casesync.APIUsage, the poll state's
// company_api_usage field.
type apiUsageDoc struct {
	Used   int64     `firestore:"used"`
	Max    int64     `firestore:"max"`
	Window string    `firestore:"window"`
	At     time.Time `firestore:"at"`
}

// fieldCompanyAPIUsage is the poll state's field holding apiUsageDoc.
const fieldCompanyAPIUsage = "company_api_usage"

var _ casesync.APIUsageStore = (*Store)(nil)

// value is the stored usage; the zero value when none is stored or what is
// stored is not a usage casesync.APIUsage.Check accepts.
func (d *apiUsageDoc) value() casesync.APIUsage {
	if d == nil {
		return casesync.APIUsage{}
	}
	u := casesync.APIUsage{Used: d.Used, Max: d.Max, Window: d.Window, At: d.At.UTC()}
	if u.Check() != nil {
		return casesync.APIUsage{}
	}
	return u
}

// apiUsageValue checks u and returns it as a field value.
func apiUsageValue(u casesync.APIUsage) (apiUsageDoc, error) {
	if err := u.Check(); err != nil {
		return apiUsageDoc{}, fmt.Errorf("store: %w", err)
	}
	return apiUsageDoc{Used: u.Used, Max: u.Max, Window: u.Window, At: u.At.Truncate(time.Microsecond).UTC()}, nil
}

// RecordCompanyPollWithAPIUsage implements casesync.APIUsageStore with the
// one merge write RecordPoll makes for the CRM's side, which also replaces
// the company_api_usage field; it reads nothing and leaves the other fields
// alone.
func (s *Store) RecordCompanyPollWithAPIUsage(ctx context.Context, lastPolledAt, heartbeat time.Time, u casesync.APIUsage) error {
	v, err := apiUsageValue(u)
	if err != nil {
		return err
	}
	side := string(casesync.SideCompany)
	if _, err := s.global.Set(ctx, map[string]any{
		side + "_last_polled_at": timeValue(lastPolledAt),
		side + "_heartbeat":      timeValue(heartbeat),
		side + "_failing_since":  nil,
		fieldCompanyAPIUsage:     v,
	}, firestore.MergeAll); err != nil {
		return classify("record poll", err)
	}
	s.writes.Add(1)
	return nil
}

// SaveCompanyAPIUsage implements casesync.APIUsageStore with one merge write
// of the company_api_usage field; it reads nothing and leaves the other
// fields alone.
func (s *Store) SaveCompanyAPIUsage(ctx context.Context, u casesync.APIUsage) error {
	v, err := apiUsageValue(u)
	if err != nil {
		return err
	}
	if _, err := s.global.Set(ctx, map[string]any{fieldCompanyAPIUsage: v}, firestore.MergeAll); err != nil {
		return classify("save the CRM's API usage", err)
	}
	s.writes.Add(1)
	return nil
}
