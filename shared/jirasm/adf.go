package jirasm

import (
	"encoding/json"
	"strconv"
	"strings"
)

// adfNode is a node of an Atlassian Document (ADF), the format of rich
// text fields in the platform API v3.
type adfNode struct {
	Type    string         `json:"type"`
	Version int            `json:"version,omitempty"`
	Text    string         `json:"text,omitempty"`
	Attrs   map[string]any `json:"attrs,omitempty"`
	Content []adfNode      `json:"content,omitempty"`
}

// textToADF renders plain text as a document: text separated by a blank
// line becomes separate paragraphs, any other newline a hard break.
// adfToText reverses it exactly, so a description reads back as written.
// Empty text gives nil (no description).
func textToADF(text string) *adfNode {
	if text == "" {
		return nil
	}
	text = strings.ReplaceAll(text, "\r\n", "\n")
	doc := &adfNode{Type: "doc", Version: 1, Content: []adfNode{}}
	for _, block := range strings.Split(text, "\n\n") {
		p := adfNode{Type: "paragraph"}
		for i, line := range strings.Split(block, "\n") {
			if i > 0 {
				p.Content = append(p.Content, adfNode{Type: "hardBreak"})
			}
			if line != "" {
				p.Content = append(p.Content, adfNode{Type: "text", Text: line})
			}
		}
		doc.Content = append(doc.Content, p)
	}
	return doc
}

// adfToText renders a document as plain text: blocks are separated by a
// blank line, hard breaks are newlines, list items start with "- " (or
// their number), mentions, emoji, dates and cards give their text. Marks
// (bold, links…) are dropped. A JSON null or an unreadable value gives "".
func adfToText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var doc adfNode
	if err := json.Unmarshal(raw, &doc); err != nil {
		// Not a document: the v2-style plain string.
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		return ""
	}
	return strings.Join(blocks(doc.Content, ""), "\n\n")
}

// blocks renders block nodes, each as one string; prefix starts every line
// (for quotes and nested lists).
func blocks(nodes []adfNode, prefix string) []string {
	var out []string
	for _, n := range nodes {
		switch n.Type {
		case "bulletList", "orderedList":
			var items []string
			for i, item := range n.Content {
				marker := "- "
				if n.Type == "orderedList" {
					start := 1
					if v, ok := n.Attrs["order"].(float64); ok {
						start = int(v)
					}
					marker = strconv.Itoa(start+i) + ". "
				}
				body := strings.Join(blocks(item.Content, ""), "\n")
				items = append(items, indent(marker+body, prefix, prefix+strings.Repeat(" ", len(marker))))
			}
			out = append(out, strings.Join(items, "\n"))
		case "blockquote":
			out = append(out, strings.Join(blocks(n.Content, prefix+"> "), "\n"+prefix+">\n"))
		case "rule":
			out = append(out, prefix+"---")
		case "table":
			var rows []string
			for _, row := range n.Content {
				var cells []string
				for _, cell := range row.Content {
					cells = append(cells, strings.Join(blocks(cell.Content, ""), " "))
				}
				rows = append(rows, prefix+strings.Join(cells, " | "))
			}
			out = append(out, strings.Join(rows, "\n"))
		case "mediaSingle", "mediaGroup", "media":
			// Files are synced as attachments, not as text.
		default:
			if len(n.Content) > 0 && isBlockContainer(n) {
				out = append(out, blocks(n.Content, prefix)...)
				continue
			}
			out = append(out, indent(inline(n.Content)+n.Text, prefix, prefix))
		}
	}
	return out
}

// isBlockContainer reports whether a node holds blocks rather than inline
// content (panels, expands, layouts).
func isBlockContainer(n adfNode) bool {
	switch n.Type {
	case "paragraph", "heading", "codeBlock":
		return false
	}
	for _, c := range n.Content {
		switch c.Type {
		case "text", "hardBreak", "mention", "emoji", "date", "status", "inlineCard", "inlineExtension":
			return false
		}
	}
	return true
}

// inline renders inline nodes.
func inline(nodes []adfNode) string {
	var b strings.Builder
	for _, n := range nodes {
		switch n.Type {
		case "text":
			b.WriteString(n.Text)
		case "hardBreak":
			b.WriteString("\n")
		case "mention", "emoji", "status":
			if s := attr(n, "text"); s != "" {
				b.WriteString(s)
			} else {
				b.WriteString(attr(n, "shortName"))
			}
		case "inlineCard":
			b.WriteString(attr(n, "url"))
		case "date":
			b.WriteString(attr(n, "timestamp"))
		default:
			b.WriteString(inline(n.Content))
		}
	}
	return b.String()
}

func attr(n adfNode, name string) string {
	s, _ := n.Attrs[name].(string)
	return s
}

// indent puts first before the first line of s and rest before the others.
func indent(s, first, rest string) string {
	if first == "" && rest == "" {
		return s
	}
	return first + strings.ReplaceAll(s, "\n", "\n"+rest)
}
