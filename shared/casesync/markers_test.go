package casesync

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseMarker(t *testing.T) {
	tests := []struct {
		name string
		body string
		want marker
		ok   bool
	}{
		{"a mirrored Google comment is recognised", "[Google Comment 123 by Jane Doe]\n\nhello", marker{From: SideGoogle, Kind: "Comment", ID: "123"}, true},
		{"one part of a split CRM comment is recognised", "[Company Comment 42 by Bob] (part 2/3)\n\nx", marker{From: SideCompany, Kind: "Comment", ID: "42", Part: 2, Parts: 3}, true},
		{"an attachment notice is recognised", "[Google Attachment 0684M00000P3h1fQAB by Ann]\n\nThe file", marker{From: SideGoogle, Kind: "Attachment", ID: "0684M00000P3h1fQAB"}, true},
		{"a marker alone on its line is recognised", "[Company Comment 7 by X]", marker{From: SideCompany, Kind: "Comment", ID: "7"}, true},
		{"text before the marker is not a marker", "see [Google Comment 1 by A]", marker{}, false},
		{"an ordinary comment is not a marker", "Thanks, that fixed it.", marker{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseMarker(tt.body)
			if ok != tt.ok {
				t.Fatalf("parseMarker(%q) ok = %v, want %v", tt.body, ok, tt.ok)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseMarker(%q) mismatch (-want +got):\n%s", tt.body, diff)
			}
		})
	}
}

func TestHeadersRoundTripThroughTheParser(t *testing.T) {
	h := commentHeader(SideCompany, "99", "Ann ] Lee\nx")
	mk, ok := parseMarker(h + "\n\nbody")
	if !ok || mk.ID != "99" || mk.From != SideCompany {
		t.Fatalf("header %q did not parse back: %+v %v", h, mk, ok)
	}
}

func TestConnectorText(t *testing.T) {
	tests := []struct {
		name string
		body string
		own  bool
		kind noticeKind
	}{
		{"the link line is the connector's", LinkLine("42"), true, noticeNone},
		{"an outage notice is the connector's", OutageText(25 * time.Minute), true, noticeOutage},
		{"the resumed notice is the connector's", "Syncing has resumed.", true, noticeResumed},
		{"a reopen notice is the connector's", reopenText("projects/p/cases/1", ReopenComment, ""), true, noticeNone},
		{"a skip note is the connector's", skipText(SideGoogle, "file", "7", 415), true, noticeNone},
		{"a human comment quoting the link line in a longer text is not", LinkLine("42") + "\nthanks", false, noticeNone},
		{"a human comment is not", "Please check the logs.", false, noticeNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			own, kind := connectorText(tt.body)
			if own != tt.own || kind != tt.kind {
				t.Errorf("connectorText(%q) = %v, %v; want %v, %v", tt.body, own, kind, tt.own, tt.kind)
			}
		})
	}
}

func TestALinkLineCountsOnlyWhereCasebridgeWritesItWhole(t *testing.T) {
	own := func(body string) Comment { return Comment{Body: body, ByConnector: true} }
	ours := GoogleCase{ByConnector: true}
	tests := []struct {
		name     string
		g        GoogleCase
		comments []Comment
		id       string
		want     bool
	}{
		{"casebridge's link comment names its case", GoogleCase{}, []Comment{own(LinkLine("420"))}, "420", true},
		{"case 42 does not match the link line of case 420", GoogleCase{}, []Comment{own(LinkLine("420"))}, "42", false},
		{"the same line by anyone else is not a link", GoogleCase{}, []Comment{{Body: LinkLine("420")}}, "420", false},
		{"a link line inside a mirrored comment is not a link", GoogleCase{}, []Comment{own("[Company Comment 7 by Bob]\n\n" + LinkLine("420"))}, "420", false},
		{"the last line of casebridge's description is a link", withDesc(ours, "Copied text.\n\n"+LinkLine("420")), nil, "420", true},
		{"a line copied into casebridge's description above its own is not", withDesc(ours, "Help.\n"+LinkLine("2")+"\n\n"+LinkLine("420")), nil, "2", false},
		{"a description someone else wrote is not a link", withDesc(GoogleCase{}, LinkLine("420")), nil, "420", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := linksTo(tc.g, tc.comments, tc.id); got != tc.want {
				t.Errorf("linksTo(..., %q) = %v, want %v", tc.id, got, tc.want)
			}
		})
	}
}

func withDesc(g GoogleCase, d string) GoogleCase {
	g.Description = d
	return g
}

func TestSplitCommentLosesNothing(t *testing.T) {
	long := strings.Repeat("word ", 6000) + strings.Repeat("é", 3000) // 33,000 runes, multi-byte tail
	parts := splitComment(long, 12000)
	if len(parts) != 3 {
		t.Fatalf("got %d parts, want 3", len(parts))
	}
	for i, p := range parts {
		if n := len([]rune(p)); n > 12000 {
			t.Errorf("part %d has %d runes, over the limit", i+1, n)
		}
	}
	if got := strings.Join(parts, ""); got != long {
		t.Errorf("joined parts differ from the original (len %d vs %d)", len(got), len(long))
	}
	if got := splitComment("short", 10); len(got) != 1 || got[0] != "short" {
		t.Errorf("short text split into %q", got)
	}
}

func TestParsePriorityTable(t *testing.T) {
	tab, err := ParsePriorityTable("Highest=P0, high=P1, blocker=P1, medium=P2, low=P3, lowest=P4")
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := tab.Google("BLOCKER"); !ok || p != P1 {
		t.Errorf("Google(BLOCKER) = %v, %v; want P1", p, ok)
	}
	if v, _ := tab.Company(P1); v != "high" {
		t.Errorf("Company(P1) = %q, want the first value given, high", v)
	}
	if _, ok := tab.Google("unknown"); ok {
		t.Errorf("an unknown CRM value mapped")
	}
	for _, bad := range []string{"a=P0,b=P1", "a=P0,b=P1,c=P2,d=P3,e=P9", "nonsense", "=P0"} {
		if _, err := ParsePriorityTable(bad); err == nil {
			t.Errorf("ParsePriorityTable(%q) accepted a bad table", bad)
		}
	}
}

func TestAPriorityTableMayShareACRMValueBetweenGooglePriorities(t *testing.T) {
	tab, err := ParsePriorityTable("High=P0,High=P1,Medium=P2,Low=P3,Low=P4")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		p          Priority
		wantValue  string
		wantBucket Priority
	}{
		{P0, "High", P0},
		{P1, "High", P0},
		{P2, "Medium", P2},
		{P3, "Low", P3},
		{P4, "Low", P3},
	}
	for _, tc := range tests {
		t.Run(tc.p.String()+" is written as "+tc.wantValue, func(t *testing.T) {
			if v, _ := tab.Company(tc.p); v != tc.wantValue {
				t.Errorf("Company(%v) = %q, want %q", tc.p, v, tc.wantValue)
			}
			if b := tab.Bucket(tc.p); b != tc.wantBucket {
				t.Errorf("Bucket(%v) = %v, want %v", tc.p, b, tc.wantBucket)
			}
		})
	}
	if p, _ := tab.Google("high"); p != P0 {
		t.Errorf("Google(high) = %v, want P0 (its first listing)", p)
	}
}

func TestTolerance(t *testing.T) {
	tests := []struct {
		p    Priority
		age  time.Duration
		want time.Duration
	}{
		{P0, 10 * time.Minute, 10 * time.Minute},
		{P0, 48 * time.Hour, 15 * time.Minute},
		{P1, 2 * time.Hour, 15 * time.Minute},
		{P1, 25 * time.Hour, 60 * time.Minute},
		{P2, 3 * time.Hour, 20 * time.Minute},
		{P2, 72 * time.Hour, 120 * time.Minute},
		{P3, 30 * time.Hour, 240 * time.Minute},
		{P4, 5 * time.Hour, 30 * time.Minute},
		{P4, 59 * time.Minute, 10 * time.Minute},
		{PriorityUnspecified, 2 * time.Hour, 20 * time.Minute},
	}
	for _, tt := range tests {
		if got := Tolerance(tt.p, tt.age); got != tt.want {
			t.Errorf("Tolerance(%v, %v) = %v, want %v", tt.p, tt.age, got, tt.want)
		}
	}
}

func TestSyncedThrough(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := SyncedThrough(t0.Add(time.Hour), t0, t0.Add(2*time.Hour)); !got.Equal(t0.Add(time.Hour)) {
		t.Errorf("a pending change should bound the sync at its start, got %v", got)
	}
	if got := SyncedThrough(time.Time{}, t0, t0.Add(2*time.Hour)); !got.Equal(t0.Add(2 * time.Hour)) {
		t.Errorf("with nothing pending the poller's heartbeat counts, got %v", got)
	}
	if got := SyncedThrough(time.Time{}, t0.Add(3*time.Hour), t0.Add(2*time.Hour)); !got.Equal(t0.Add(3 * time.Hour)) {
		t.Errorf("a later reconciliation counts over a stale heartbeat, got %v", got)
	}
}
