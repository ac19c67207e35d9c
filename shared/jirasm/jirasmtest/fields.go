package jirasmtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxLabelLen is the longest label Jira takes.
const maxLabelLen = 255

// checkLabels returns Jira's message for the first invalid label, or "".
func checkLabels(labels []string) string {
	for _, l := range labels {
		switch {
		case l == "":
			return "The label can not be empty."
		case strings.IndexFunc(l, unicode.IsSpace) >= 0:
			return "The label '" + l + "' contains spaces which is invalid."
		case utf8.RuneCountInString(l) > maxLabelLen:
			return fmt.Sprintf("The label '%s' exceeds the maximum length of %d characters.", l, maxLabelLen)
		}
	}
	return ""
}

// dedupe drops repeated labels, keeping the first of each; nil when none
// is left.
func dedupe(labels []string) []string {
	var out []string
	for _, l := range labels {
		if !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

// optionID is the id of a select or checkbox field's option.
func optionID(i int) string { return strconv.Itoa(10100 + i) }

// option returns the option a value names ({"value": …} or {"id": …}), as
// the API answers it.
func (s *Server) option(f CustomField, raw json.RawMessage) (map[string]any, bool) {
	var o nameOrID
	if json.Unmarshal(raw, &o) != nil {
		return nil, false
	}
	for i, v := range f.Options {
		if (o.Value != "" && o.Value == v) || (o.ID != "" && o.ID == optionID(i)) {
			return map[string]any{"self": s.URL + "/rest/api/3/customFieldOption/" + optionID(i), "value": v, "id": optionID(i)}, true
		}
	}
	return nil, false
}

// customValue checks a value written to a custom field and returns it as
// the API answers it (nil: the field is emptied), or Jira's message.
func (s *Server) customValue(name string, f CustomField, raw json.RawMessage) (json.RawMessage, string) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil, ""
	}
	switch f.Type {
	case FieldText:
		var v string
		if json.Unmarshal(raw, &v) != nil {
			return nil, "Operation value must be a string"
		}
		if utf8.RuneCountInString(v) > 255 {
			return nil, "The entered text is too long. It exceeds the allowed limit of 255 characters."
		}
		if v == "" {
			return nil, ""
		}
		out, _ := json.Marshal(v)
		return out, ""
	case FieldParagraph:
		if !validADF(raw) {
			return nil, "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
		}
		return slices.Clone(raw), ""
	case FieldSelect:
		o, ok := s.option(f, raw)
		if !ok {
			return nil, "Specify a valid 'id' or 'name' for " + f.Name
		}
		out, _ := json.Marshal(o)
		return out, ""
	case FieldCheckboxes:
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return nil, "Specify the value for " + name + " in an array"
		}
		var opts []any
		for _, item := range items {
			o, ok := s.option(f, item)
			if !ok {
				return nil, "Option value '" + string(item) + "' is not valid"
			}
			opts = append(opts, o)
		}
		if len(opts) == 0 {
			return nil, ""
		}
		out, _ := json.Marshal(opts)
		return out, ""
	}
	return nil, "Field '" + name + "' cannot be set. It is not on the appropriate screen, or unknown."
}

// sameCustom reports whether two sets of custom field values are equal.
func sameCustom(a, b map[string]json.RawMessage) bool {
	return maps.EqualFunc(a, b, func(x, y json.RawMessage) bool { return bytes.Equal(x, y) })
}

// withUpdate turns an edit's "update" operations into field values, merged
// with its "fields", or returns Jira's field errors. labels takes add,
// remove and set; every other field set only. A field may not be in both.
// Callers hold mu.
func (s *Server) withUpdate(is *issue, fields, update map[string]json.RawMessage) (map[string]json.RawMessage, map[string]string) {
	if len(update) == 0 {
		return fields, nil
	}
	out := maps.Clone(fields)
	if out == nil {
		out = map[string]json.RawMessage{}
	}
	errs := map[string]string{}
	for name, raw := range update {
		if _, both := fields[name]; both {
			errs[name] = "Field '" + name + "' cannot be set in both fields and update."
			continue
		}
		var ops []map[string]json.RawMessage
		if json.Unmarshal(raw, &ops) != nil {
			errs[name] = "Operations for field '" + name + "' must be an array of operations."
			continue
		}
		labels := slices.Clone(is.labels)
		for _, op := range ops {
			if len(op) != 1 {
				errs[name] = "Each operation must name one verb."
				break
			}
			for verb, v := range op {
				switch {
				case verb == "set":
					out[name] = v
					var set []string
					if name == "labels" && json.Unmarshal(v, &set) == nil {
						labels = set
					}
				case name == "labels" && (verb == "add" || verb == "remove"):
					var l string
					if json.Unmarshal(v, &l) != nil {
						errs[name] = "The label must be a string."
						continue
					}
					if verb == "add" {
						labels = append(labels, l)
					} else {
						labels = slices.DeleteFunc(labels, func(x string) bool { return x == l })
					}
					b, _ := json.Marshal(labels)
					out[name] = b
				default:
					errs[name] = "Field '" + name + "' does not support operation '" + verb + "'"
				}
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// customChanges are the changelog items of labels and custom fields.
func (s *Server) customChanges(before, after *issue) []changeItem {
	var items []changeItem
	if !slices.Equal(before.labels, after.labels) {
		items = append(items, changeItem{Field: "labels", FieldType: "jira", FieldID: "labels",
			FromString: nilIfEmpty(strings.Join(before.labels, " ")), ToString: nilIfEmpty(strings.Join(after.labels, " "))})
	}
	ids := slices.Sorted(maps.Keys(s.opts.CustomFields))
	for _, id := range ids {
		from, to := before.custom[id], after.custom[id]
		if bytes.Equal(from, to) {
			continue
		}
		items = append(items, changeItem{Field: s.opts.CustomFields[id].Name, FieldType: "custom", FieldID: id,
			FromString: nilIfEmpty(valueText(from)), ToString: nilIfEmpty(valueText(to))})
	}
	return items
}

// valueText is a custom field value as the changelog shows it.
func valueText(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	switch v := v.(type) {
	case string:
		return v
	case map[string]any:
		if s, ok := v["value"].(string); ok {
			return s
		}
		return "(document)"
	case []any:
		var parts []string
		for _, o := range v {
			if m, ok := o.(map[string]any); ok {
				if s, ok := m["value"].(string); ok {
					parts = append(parts, s)
				}
			}
		}
		return strings.Join(parts, ",")
	}
	return ""
}

// humanEdit edits an issue as the human agent in the agent view, with the
// same checks as the edit endpoint.
func (s *Server) humanEdit(key string, fields, update map[string]json.RawMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.lookup(key)
	if is == nil {
		return ErrNoIssue
	}
	before := *is
	fields, errs := s.withUpdate(is, fields, update)
	if errs == nil {
		errs, _ = s.applyFields(is, fields, false)
	}
	if errs != nil {
		return fmt.Errorf("edit refused: %v", errs)
	}
	if items := s.changelog(&before, is); len(items) > 0 {
		s.bump(is)
		s.issueUpdatedLocked(is, s.accountFor(HumanAgent), "issue_updated", items)
	}
	return nil
}

// AddLabel adds a label to the issue as a human.
func (s *Server) AddLabel(key, label string) error {
	b, _ := json.Marshal(label)
	return s.humanEdit(key, nil, map[string]json.RawMessage{"labels": json.RawMessage(`[{"add":` + string(b) + `}]`)})
}

// RemoveLabel removes a label from the issue as a human.
func (s *Server) RemoveLabel(key, label string) error {
	b, _ := json.Marshal(label)
	return s.humanEdit(key, nil, map[string]json.RawMessage{"labels": json.RawMessage(`[{"remove":` + string(b) + `}]`)})
}

// SetCustomField sets one of Options.CustomFields as a human; value is
// what the edit endpoint takes for its type (a string, an Atlassian
// Document, {"value": option}, a list of those), nil empties it.
func (s *Server) SetCustomField(key, field string, value any) error {
	if _, ok := s.opts.CustomFields[field]; !ok {
		return errors.New("no custom field " + field)
	}
	raw, err := json.Marshal(value)
	if err != nil {
		return err
	}
	return s.humanEdit(key, map[string]json.RawMessage{field: raw}, nil)
}

// TextDocument renders plain text as the editor stores it in a paragraph
// field or a comment (an Atlassian Document).
func TextDocument(text string) json.RawMessage { return editorADF(text) }
