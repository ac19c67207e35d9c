package salesforce_test

import (
	"errors"
	"time"
)

func time0() time.Time { return time.Time{} }

func errorsIs(err, target error) bool { return errors.Is(err, target) }
