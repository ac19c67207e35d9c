package csapitest

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"unicode"
)

// maxBodyBytes bounds request bodies (uploads included).
const maxBodyBytes = 64 << 20

// decodeMessage decodes a JSON request body into v the way the real
// service's proto JSON parser does: camelCase and snake_case field names are
// both accepted, unknown fields are rejected, and an empty body is "{}".
func decodeMessage(body []byte, v any, message string) *APIError {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return errInvalid("Invalid JSON payload received. %s", syntaxDescription(err))
	}
	if _, ok := raw.(map[string]any); !ok {
		return errInvalid("Invalid JSON payload received. Expected an object for '%s'.", message)
	}
	norm, err := json.Marshal(normalizeKeys(raw))
	if err != nil {
		return errInvalid("Invalid JSON payload received.")
	}
	strict := json.NewDecoder(bytes.NewReader(norm))
	strict.DisallowUnknownFields()
	if err := strict.Decode(v); err != nil {
		var field string
		if s := err.Error(); strings.Contains(s, "unknown field ") {
			field = s[strings.Index(s, "unknown field ")+len("unknown field "):]
			return errInvalid("Invalid JSON payload received. Unknown name %s at '%s': Cannot find field.", field, message)
		}
		return errInvalid("Invalid JSON payload received. Invalid value at '%s'.", message)
	}
	return nil
}

func syntaxDescription(err error) string {
	if err == io.EOF {
		return "Unexpected end of input."
	}
	return "Syntax error."
}

// normalizeKeys rewrites snake_case object keys to lowerCamelCase and turns
// numbers under int64 keys into strings, as proto JSON allows both.
func normalizeKeys(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			ck := snakeToCamel(k)
			val = normalizeKeys(val)
			if n, ok := val.(json.Number); ok && ck == "sizeBytes" {
				val = n.String()
			}
			out[ck] = val
		}
		return out
	case []any:
		for i := range t {
			t[i] = normalizeKeys(t[i])
		}
		return t
	default:
		return v
	}
}

func snakeToCamel(s string) string {
	if !strings.Contains(s, "_") {
		return s
	}
	var b strings.Builder
	upper := false
	for _, r := range s {
		if r == '_' {
			upper = true
			continue
		}
		if upper {
			r = unicode.ToUpper(r)
			upper = false
		}
		b.WriteRune(r)
	}
	return b.String()
}
