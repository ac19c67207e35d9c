package crmhttp

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
)

// UsageFromHeaders reads an answer's rate-limit headers of the common form:
// the requests the window allows (limitHeader) and those left
// (remainingHeader). ok is false unless both are there and make a usage
// casesync keeps (casesync.APIUsage.Check). At is now.
func UsageFromHeaders(h http.Header, limitHeader, remainingHeader, window string) (u casesync.APIUsage, ok bool) {
	limit, err := strconv.ParseInt(strings.TrimSpace(h.Get(limitHeader)), 10, 64)
	if err != nil {
		return casesync.APIUsage{}, false
	}
	remaining, err := strconv.ParseInt(strings.TrimSpace(h.Get(remainingHeader)), 10, 64)
	if err != nil || remaining < 0 {
		return casesync.APIUsage{}, false
	}
	u = casesync.APIUsage{Used: limit - min(remaining, limit), Max: limit, Window: window, At: time.Now().UTC()}
	if u.Check() != nil {
		return casesync.APIUsage{}, false
	}
	return u, true
}
