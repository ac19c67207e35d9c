package casesynctest_test

import (
	"testing"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/casesync/casesynctest"
)

func TestMemStoreKeepsTheStoreContract(t *testing.T) {
	casesynctest.RunStoreContract(t, func(t *testing.T) casesync.Store {
		return casesynctest.NewMemStore()
	})
}
