package appconfig

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmsim"
	"github.com/casebridge/casebridge/shared/envconf"
	"github.com/casebridge/casebridge/shared/jirasm"
	"github.com/casebridge/casebridge/shared/rt"
	"github.com/casebridge/casebridge/shared/servicenow"
	"github.com/casebridge/casebridge/shared/zendesk"
)

// The CRM_KIND values.
const (
	CRMSimulator      = "simulator"
	CRMRequestTracker = "rt"
	CRMZendesk        = "zendesk"
	CRMJira           = "jira"
	CRMServiceNow     = "servicenow"
)

// KnownCRMKinds lists the CRM_KIND values casebridge can talk to.
var KnownCRMKinds = []string{CRMRequestTracker, CRMZendesk, CRMJira, CRMServiceNow, CRMSimulator}

// CRMConfig holds the settings of the CRM adapter CRM_KIND chose; only that
// one is filled in. It holds credentials: it is never logged.
type CRMConfig struct {
	RT         rt.Config
	Zendesk    zendesk.Config
	Jira       jirasm.Config
	ServiceNow servicenow.Config
}

// parseCRM reads the variables of the chosen CRM's adapter and returns its
// default priority map.
func parseCRM(p *envconf.Reader, kind, baseURL string, c *CRMConfig) (defaultPriorities string) {
	var problems []envconf.Problem
	switch kind {
	case CRMRequestTracker:
		c.RT, problems = rt.ConfigFromEnv(p.Get, baseURL)
		defaultPriorities = rt.DefaultPriorityMap
	case CRMZendesk:
		c.Zendesk, problems = zendesk.ConfigFromEnv(p.Get, baseURL)
		defaultPriorities = zendesk.DefaultPriorityMap
	case CRMJira:
		c.Jira, problems = jirasm.ConfigFromEnv(p.Get, baseURL)
		defaultPriorities = jirasm.DefaultPriorityMap
	case CRMServiceNow:
		c.ServiceNow, problems = servicenow.ConfigFromEnv(p.Get, baseURL)
		defaultPriorities = servicenow.DefaultPriorityMap
	}
	for _, pr := range problems {
		p.Problemf(pr.Var, "%s", pr.Message)
	}
	return defaultPriorities
}

// bound gives the chosen adapter casebridge's bounds on what it reads from
// the CRM: pages per listing (CRM_MAX_PAGES) and bytes per download
// (MAX_ATTACHMENT_BYTES: a larger file is not copied anyway).
func (c *CRMConfig) bound(kind string, maxPages int, maxDownload int64) {
	switch kind {
	case CRMRequestTracker:
		c.RT.MaxPages, c.RT.MaxDownloadBytes = maxPages, maxDownload
	case CRMZendesk:
		c.Zendesk.MaxPages, c.Zendesk.MaxDownloadBytes = maxPages, maxDownload
	case CRMJira:
		c.Jira.MaxPages, c.Jira.MaxDownloadBytes = maxPages, maxDownload
	case CRMServiceNow:
		c.ServiceNow.MaxPages, c.ServiceNow.MaxDownloadBytes = maxPages, maxDownload
	}
}

// buildCRM makes the adapter of cfg.CRMKind. It makes no call to the CRM.
func buildCRM(cfg Config) (casesync.CRM, error) {
	var (
		crm casesync.CRM
		err error
	)
	switch cfg.CRMKind {
	case "":
		// A function that never calls the CRM (NeedsCRM) is deployed
		// without its settings.
		return noCRM{}, nil
	case CRMSimulator:
		crm = crmsim.NewClient(cfg.CRMURL, &http.Client{Timeout: 30 * time.Second})
	case CRMRequestTracker:
		crm, err = rt.New(cfg.CRM.RT)
	case CRMZendesk:
		crm, err = zendesk.New(cfg.CRM.Zendesk)
	case CRMJira:
		crm, err = jirasm.New(cfg.CRM.Jira)
	case CRMServiceNow:
		crm, err = servicenow.New(cfg.CRM.ServiceNow)
	default:
		return nil, fmt.Errorf("CRM_KIND %q has no adapter", cfg.CRMKind)
	}
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
