package appconfig

import (
	"testing"

	"github.com/casebridge/casebridge/shared/casesync"
)

// Every CRM casebridge builds shows Google's case state and takes
// escalation requests: the engine skips both for an adapter that does not
// implement casesync.CaseStateCRM, so a kind without it would lose them
// silently.
func TestEveryCRMKindShowsGoogleStateAndTakesEscalations(t *testing.T) {
	for _, k := range crmKinds {
		t.Run(k.Name, func(t *testing.T) {
			env := minimal()
			env[EnvCRMKind] = k.Name
			if k.Name != CRMSimulator {
				kindEnv, ok := crmEnvs[k.Name]
				if !ok {
					t.Fatalf("crmEnvs has no complete environment for %s: add one", k.Name)
				}
				env = with(env, kindEnv...)
			}
			c, err := Parse(getenv(env))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			crm, err := buildCRM(c)
			if err != nil {
				t.Fatalf("building the adapter: %v", err)
			}
			if _, ok := crm.(casesync.CaseStateCRM); !ok {
				t.Errorf("the %s adapter (%T) does not implement casesync.CaseStateCRM", k.Name, crm)
			}
		})
	}
}

func TestEscalationDefaultsAreCheckedAndApplied(t *testing.T) {
	c, err := Parse(getenv(minimal()))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if c.Engine.EscalationReason != "BUSINESS_IMPACT" || c.Engine.EscalationJustification != "" {
		t.Errorf("defaults: reason %q, justification %q; want BUSINESS_IMPACT and empty (the engine's sentence)", c.Engine.EscalationReason, c.Engine.EscalationJustification)
	}
	c, err = Parse(getenv(with(minimal(), EnvEscalationReason, "technical expertise", EnvEscalationJustify, " Our team asks. ")))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if c.Engine.EscalationReason != "TECHNICAL_EXPERTISE" || c.Engine.EscalationJustification != "Our team asks." {
		t.Errorf("set: reason %q, justification %q", c.Engine.EscalationReason, c.Engine.EscalationJustification)
	}
	for _, bad := range [][]string{{EnvEscalationReason, "urgent"}, {EnvEscalationJustify, string(make([]byte, casesync.MaxEscalationText+1))}} {
		if _, err := Parse(getenv(with(minimal(), bad...))); err == nil {
			t.Errorf("%s=%.20q was accepted", bad[0], bad[1])
		}
	}
}
