package appconfig

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/envconf"
)

// CRMConfig holds the settings of the CRM adapter CRM_KIND chose. It holds
// credentials: it is never logged.
type CRMConfig struct {
	// Settings is the chosen adapter package's Config (rt.Config,
	// zendesk.Config, crmsim.Config...), with casebridge's bounds applied
	// (the simulator's client takes none); nil without a CRM.
	Settings any
}

// parseCRM reads the variables of the chosen CRM's adapter into c and
// returns its default priority map.
func parseCRM(p *envconf.Reader, kind, baseURL string, c *CRMConfig) (defaultPriorities string) {
	k, ok := lookupCRMKind(kind)
	if !ok {
		// ParseFor has reported the unknown kind.
		return ""
	}
	var problems []envconf.Problem
	c.Settings, problems = k.adapter.parse(p.Get, baseURL)
	for _, pr := range problems {
		p.Problemf(pr.Var, "%s", pr.Message)
	}
	return k.DefaultPriorities
}

// bound gives the chosen adapter casebridge's bounds on what it reads from
// the CRM: pages per listing (CRM_MAX_PAGES) and bytes per download
// (MAX_ATTACHMENT_BYTES: a larger file is not copied anyway).
func (c *CRMConfig) bound(kind string, maxPages int, maxDownload int64) {
	if k, ok := lookupCRMKind(kind); ok {
		c.Settings = k.adapter.bound(c.Settings, crmBounds{maxPages: maxPages, maxDownloadBytes: maxDownload})
	}
}

// buildCRM makes the adapter of cfg.CRMKind. It makes no call to the CRM.
func buildCRM(cfg Config) (casesync.CRM, error) {
	if cfg.CRMKind == "" {
		// A function that never calls the CRM (NeedsCRM) is deployed
		// without its settings.
		return noCRM{}, nil
	}
	k, ok := lookupCRMKind(cfg.CRMKind)
	if !ok {
		return nil, fmt.Errorf("CRM_KIND %q has no adapter", cfg.CRMKind)
	}
	crm, err := k.adapter.build(cfg.CRM.Settings, cfg.CRMURL)
	if err != nil {
		return nil, fmt.Errorf("configuring the %s adapter: %w", cfg.CRMKind, err)
	}
	return crm, nil
}

// errNoCRM is what every call to the CRM answers in a function deployed
// without the CRM's settings: a call there is a bug, reported for good.
var errNoCRM = &casesync.APIError{Side: casesync.SideCompany, Op: "none",
	Err: fmt.Errorf("this function is deployed without the CRM's settings (%s is unset) and cannot call it", EnvCRMKind)}

// noCRM is the CRM of a function that never calls it.
type noCRM struct{}

func (noCRM) SearchUpdated(context.Context, time.Time) ([]casesync.CompanyCase, error) {
	return nil, errNoCRM
}
func (noCRM) GetCase(context.Context, string) (casesync.CompanyCase, error) {
	return casesync.CompanyCase{}, errNoCRM
}
func (noCRM) FindByGoogleCase(context.Context, string) (casesync.CompanyCase, bool, error) {
	return casesync.CompanyCase{}, false, errNoCRM
}
func (noCRM) CreateCase(context.Context, casesync.NewCompanyCase) (casesync.CompanyCase, error) {
	return casesync.CompanyCase{}, errNoCRM
}
func (noCRM) SetGoogleCase(context.Context, string, string) error { return errNoCRM }
func (noCRM) SetPriority(context.Context, string, string) error   { return errNoCRM }
func (noCRM) CloseCase(context.Context, string) error             { return errNoCRM }
func (noCRM) ListComments(context.Context, string) ([]casesync.Comment, error) {
	return nil, errNoCRM
}
func (noCRM) AddComment(context.Context, string, string, bool) (casesync.Comment, error) {
	return casesync.Comment{}, errNoCRM
}
func (noCRM) ListAttachments(context.Context, string) ([]casesync.Attachment, error) {
	return nil, errNoCRM
}
func (noCRM) DownloadAttachment(context.Context, string, string) (io.ReadCloser, error) {
	return nil, errNoCRM
}
func (noCRM) UploadAttachment(context.Context, string, string, string, io.Reader) (casesync.Attachment, error) {
	return casesync.Attachment{}, errNoCRM
}
