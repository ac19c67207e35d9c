package salesforce

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/casebridge/casebridge/shared/casesync"
)

// Fuzz targets for what the Salesforce adapter reads from outside (ids,
// error bodies, limit headers, comment rows) and for the splitting of long
// comments. Each runs on its seeds in the ordinary test command;
// scripts/fuzz.sh runs them for a given time.

func FuzzCaseID(f *testing.F) {
	for _, s := range []string{"500Sim000000001AAA", "500Sim000000001", "005Sim000000001AAA", "500' OR Id != null", "", "500\x00", "50012345678901234567"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		got, err := caseID("cases.get", id)
		if err != nil {
			if !casesync.IsNotFound(err) {
				t.Fatalf("caseID(%q): %v, want not found", id, err)
			}
			return
		}
		if len(got) != 18 || !idRE.MatchString(got) || !strings.HasPrefix(got, "500") || !casesync.ValidID(got) {
			t.Fatalf("caseID(%q) = %q, not an 18-character case id", id, got)
		}
	})
}

// FuzzErrorBody: error details hold codes and field names only, never the
// messages, which may quote case text.
func FuzzErrorBody(f *testing.F) {
	for _, s := range []string{
		`[{"message":"secret case text","errorCode":"STRING_TOO_LONG","fields":["Subject"]}]`,
		`{"error":"invalid_client","error_description":"secret"}`,
		`[{"errorCode":"lower case secret","fields":["x y z"]}]`, `[]`, `null`, `"x"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d := errorDetail(400, body)
		if !utf8.ValidString(d) || len(d) > 600 || strings.Contains(d, "secret") {
			t.Fatalf("errorDetail(%q) = %q", body, d)
		}
		_ = reason(401, body)
	})
}

func FuzzLimitInfo(f *testing.F) {
	for _, s := range []string{"api-usage=18/5000", "api-usage=5/5, per-app-api-usage=1/2(appName=x)", "api-usage=-1/5", "api-usage=1/0", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		used, limit, ok := parseLimitInfo(h)
		if ok && (used < 0 || limit <= 0) {
			t.Fatalf("parseLimitInfo(%q) = %d/%d", h, used, limit)
		}
	})
}

// FuzzSplitBody: the parts of a long comment, labels included, fit one
// case comment each, and give the body back whole.
func FuzzSplitBody(f *testing.F) {
	for _, s := range []string{"short", strings.Repeat("é<&>\"' x\n", 2000), strings.Repeat("a", 12800), strings.Repeat("😀", 5000), strings.Repeat("a", 3986) + "\n\n(part 1 of 2)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		if !utf8.ValidString(body) {
			return
		}
		parts := splitBody(body)
		if strings.Join(parts, "") != body {
			t.Fatalf("the parts do not give the body back")
		}
		for i, p := range parts {
			label := ""
			if len(parts) > 1 || partLabelRE.MatchString(body) {
				label = partLabel(i+1, len(parts))
			}
			if storedBytes(p+label) > MaxCommentBytes || !utf8.ValidString(p) || (p == "" && body != "") {
				t.Fatalf("part %d of %d holds %d stored bytes", i+1, len(parts), storedBytes(p+label))
			}
		}
	})
}

// FuzzCommentRows: whatever rows Salesforce answers, comments keep valid
// ids, and only casebridge's own labelled parts are joined.
func FuzzCommentRows(f *testing.F) {
	me := "005Sim000000001AAA"
	for _, s := range []string{
		`[{"Id":"00aSim000000001AAA","CommentBody":"a\n\n(continued in the next comment: part 1 of 2)","IsPublished":true,"CreatedById":"005Sim000000001AAA","CreatedDate":"2026-01-02T03:04:05.000+0000"},{"Id":"00aSim000000002AAA","CommentBody":"b\n\n(part 2 of 2)","IsPublished":true,"CreatedById":"005Sim000000001AAA"}]`,
		`[{"Id":"00aSim000000003AAA","CommentBody":"x\n\n(part 1 of 2)","CreatedById":"005Other00000001AAA"}]`,
		`[{"Id":"bad id","CommentBody":"x"}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var raws []json.RawMessage
		if json.Unmarshal(data, &raws) != nil {
			return
		}
		var rows []record
		for _, r := range raws {
			if rec, err := decodeRecord(r); err == nil {
				rows = append(rows, rec)
			}
		}
		bodies := map[string]bool{}
		for _, r := range rows {
			bodies[r.str("CommentBody")] = true
		}
		c := &Client{userID: me}
		for _, cm := range c.toComments(rows) {
			if !casesync.ValidID(cm.ID) || !idRE.MatchString(cm.ID) {
				t.Fatalf("comment id %q is not a record id", cm.ID)
			}
			if !cm.ByConnector && !bodies[cm.Body] {
				t.Fatalf("a person's comment was joined with others: %q", cm.Body)
			}
		}
	})
}
