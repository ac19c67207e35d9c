package csapitest

import (
	"encoding/base64"
	"encoding/json"
	"hash/fnv"
	"net/url"
	"strconv"
)

const (
	defaultPageSize = 10
	maxPageSize     = 100
)

// pageToken is the decoded form of an opaque page token: where the next
// page starts, and a hash of the request it belongs to.
type pageToken struct {
	Offset int    `json:"o"`
	Bind   uint64 `json:"b"`
}

func bindHash(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		_, _ = h.Write([]byte(p))
		_, _ = h.Write([]byte{0})
	}
	return h.Sum64()
}

func encodeToken(offset int, bind uint64) string {
	b, _ := json.Marshal(pageToken{Offset: offset, Bind: bind})
	return base64.RawURLEncoding.EncodeToString(b)
}

// page reads pageSize and pageToken from the query and returns the slice
// bounds of the requested page and the next token ("" on the last page).
// The token must come from the same method, parent and filter.
func page(q url.Values, total int, bindParts ...string) (start, end int, next string, err *APIError) {
	size := defaultPageSize
	if v := firstParam(q, "pageSize", "page_size"); v != "" {
		n, convErr := strconv.Atoi(v)
		if convErr != nil {
			return 0, 0, "", errInvalid("Invalid value at 'page_size' (TYPE_INT32), %q", v)
		}
		if n < 0 {
			return 0, 0, "", errInvalid("page_size must not be negative.")
		}
		if n > 0 {
			size = n
		}
	}
	if size > maxPageSize {
		size = maxPageSize
	}
	bind := bindHash(bindParts...)
	if tok := firstParam(q, "pageToken", "page_token"); tok != "" {
		raw, decErr := base64.RawURLEncoding.DecodeString(tok)
		var pt pageToken
		if decErr != nil || json.Unmarshal(raw, &pt) != nil || pt.Offset < 0 {
			return 0, 0, "", errInvalid("Invalid page token.")
		}
		if pt.Bind != bind {
			return 0, 0, "", errInvalid("The page token does not match the request it is used with.")
		}
		start = pt.Offset
	}
	if start > total {
		start = total
	}
	end = start + size
	if end > total {
		end = total
	}
	if end < total {
		next = encodeToken(end, bind)
	}
	return start, end, next, nil
}

func firstParam(q url.Values, names ...string) string {
	for _, n := range names {
		if v := q.Get(n); v != "" {
			return v
		}
	}
	return ""
}
