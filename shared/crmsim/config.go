package crmsim

import (
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/casebridge/casebridge/shared/envconf"
)

// The environment variables the simulator's Client reads (CRM_KIND
// simulator). The simulator's base URL comes from CRM_URL, which
// shared/appconfig reads.
const (
	EnvStateField                   = "SIMULATOR_STATE_FIELD"
	EnvStateStatuses                = "SIMULATOR_STATE_STATUSES"
	EnvEscalationField              = "SIMULATOR_ESCALATION_FIELD"
	EnvEscalationReasonField        = "SIMULATOR_ESCALATION_REASON_FIELD"
	EnvEscalationJustificationField = "SIMULATOR_ESCALATION_JUSTIFICATION_FIELD"
)

// Config configures the Client casebridge's functions use with
// CRM_KIND=simulator.
type Config struct {
	// BaseURL is the simulator's base URL (CRM_URL).
	BaseURL string
	// State is what Google's case state is written to and escalation
	// requests are read from.
	State StateConfig
	// HTTP is the client used; nil means one with a 30 s timeout.
	HTTP *http.Client
}

// ConfigFromEnv reads the Client's variables; baseURL comes from CRM_URL.
// Every problem found is returned, each naming its variable.
func ConfigFromEnv(getenv func(string) string, baseURL string) (Config, []envconf.Problem) {
	r := envconf.NewReader(getenv)
	cfg := Config{BaseURL: baseURL, State: StateConfig{
		StateField:                   fieldName(r, EnvStateField, DefaultStateField),
		EscalationField:              fieldName(r, EnvEscalationField, DefaultEscalationField),
		EscalationReasonField:        fieldName(r, EnvEscalationReasonField, DefaultEscalationReasonField),
		EscalationJustificationField: fieldName(r, EnvEscalationJustificationField, DefaultEscalationJustificationField),
	}}
	if s := r.Get(EnvStateStatuses); s != "" {
		m, err := ParseStateStatuses(s)
		if err != nil {
			r.Problemf(EnvStateStatuses, "is %q: %v; set it to STATE=status pairs with open statuses of the simulator (e.g. %s), or leave it unset to set no status",
				s, err, exampleStateStatuses)
		}
		cfg.State.StateStatuses = m
	}
	return cfg, r.Problems()
}

// exampleStateStatuses is a state-to-status table for the simulator's
// default statuses, as the messages and the docs give it.
const exampleStateStatuses = "IN_PROGRESS_GOOGLE_SUPPORT=on-hold,ACTION_REQUIRED=open"

// fieldName reads a custom field's name: unset means def, NoField turns
// the field off.
func fieldName(r *envconf.Reader, v, def string) string {
	s := r.Str(v, def)
	if strings.EqualFold(s, NoField) {
		return NoField
	}
	return s
}

// NewFromConfig returns the Client cfg describes. It makes no call.
func NewFromConfig(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		return nil, fmt.Errorf("crmsim: BaseURL is not set (CRM_URL: the simulator's base URL, e.g. http://127.0.0.1:8090)")
	}
	if !strings.HasPrefix(cfg.BaseURL, "http://") && !strings.HasPrefix(cfg.BaseURL, "https://") {
		return nil, fmt.Errorf("crmsim: BaseURL %q is not an http(s) URL", cfg.BaseURL)
	}
	if err := cfg.State.withDefaults().check(); err != nil {
		return nil, fmt.Errorf("crmsim: %s: %w", EnvStateStatuses, err)
	}
	h := cfg.HTTP
	if h == nil {
		h = &http.Client{Timeout: 30 * time.Second}
	}
	c := NewClient(cfg.BaseURL, h)
	c.State = cfg.State
	c.State.StateStatuses = maps.Clone(cfg.State.StateStatuses)
	return c, nil
}
