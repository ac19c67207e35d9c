package csapitest

import (
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	cloudsupport "google.golang.org/api/cloudsupport/v2"
)

// fixture holds four cases spread over the organization and its projects.
type fixture struct {
	diskA, netB, billingC, sqlD string
}

// seed creates, one minute apart from 10:00Z: a (sandbox, P1, alice), b
// (other project, P3, bob), c (organization, P2, alice), d (sandbox, P0,
// carol, closed at 10:04); at 10:05 a comment lands on b.
func seed(t *testing.T, s *Server, clk *fakeClock) fixture {
	t.Helper()
	var f fixture
	f.diskA = mustCreate(t, s, testProject, "Disk full on vm-1", "The boot disk is full", "P1", "alice@example.com")
	clk.Advance(time.Minute)
	f.netB = mustCreate(t, s, otherProj, "Network latency", "Latency between regions", "P3", "bob@example.com")
	clk.Advance(time.Minute)
	f.billingC = mustCreate(t, s, testOrg, "Billing question", "Invoice mismatch", "P2", "alice@example.com")
	clk.Advance(time.Minute)
	f.sqlD = mustCreate(t, s, testProject, "Cloud SQL restart", "The instance restarts", "P0", "carol@example.com")
	clk.Advance(time.Minute)
	if err := s.CloseCase(f.sqlD); err != nil {
		t.Fatalf("CloseCase: %v", err)
	}
	clk.Advance(time.Minute)
	if _, err := s.AddComment(f.netB, "we see packet loss on the interconnect", Actor{DisplayName: "Bob", Email: "bob@example.com", Username: "bob@example.com"}); err != nil {
		t.Fatalf("AddComment: %v", err)
	}
	return f
}

func TestCaseSearchFindsCasesByEveryGrammarElement(t *testing.T) {
	s, svc, clk := startSim(t)
	f := seed(t, s, clk)
	tests := []struct {
		name   string
		parent string
		query  string
		want   []string
	}{
		{"an empty query on the organization returns its cases and its projects' cases, newest first", testOrg, "", []string{f.sqlD, f.billingC, f.netB, f.diskA}},
		{"state OPEN covers every state but CLOSED", testOrg, "state=OPEN", []string{f.billingC, f.netB, f.diskA}},
		{"state CLOSED returns closed cases", testOrg, "state=CLOSED", []string{f.sqlD}},
		{"a single priority matches exactly", testOrg, "priority=P1", []string{f.diskA}},
		{"priorities joined by OR in parentheses match either", testOrg, "(priority=P0 OR priority=P1)", []string{f.sqlD, f.diskA}},
		{"AND combines state with a priority group", testOrg, "state=OPEN AND (priority=P0 OR priority=P1)", []string{f.diskA}},
		{"creator.email matches the creator", testOrg, `creator.email="alice@example.com"`, []string{f.billingC, f.diskA}},
		{"update_time with Z returns cases changed after it", testOrg, `update_time>"2026-01-15T10:03:30Z"`, []string{f.sqlD, f.netB}},
		{"update_time with an offset is compared as an instant", testOrg, `update_time>"2026-01-15T05:03:30-05:00"`, []string{f.sqlD, f.netB}},
		{"a quoted term matches comment bodies", testOrg, `"packet loss"`, []string{f.netB}},
		{"a quoted term matches descriptions", testOrg, `"boot disk"`, []string{f.diskA}},
		{"a quoted term matches display names regardless of case", testOrg, `"BILLING"`, []string{f.billingC}},
		{"a quoted term combines with AND", testOrg, `"disk" AND state=OPEN`, []string{f.diskA}},
		{"a project parent by ID covers only that project", testProject, "", []string{f.sqlD, f.diskA}},
		{"a project parent by number covers only that project", testProjNum, "", []string{f.sqlD, f.diskA}},
		{"a query that matches nothing returns no cases", testOrg, `"no such words"`, []string{}},
		{"priorities joined by a bare OR match either", testOrg, "priority=P0 OR priority=P1", []string{f.sqlD, f.diskA}},
		{"OR binds tighter than AND after it", testOrg, "state=OPEN AND priority=P1 OR priority=P0", []string{f.diskA}},
		{"OR binds tighter than AND before it", testOrg, "priority=P0 OR priority=P1 AND state=OPEN", []string{f.diskA}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := svc.Cases.Search(tc.parent).Query(tc.query).PageSize(100).Do()
			if err != nil {
				t.Fatalf("Search(%q): %v", tc.query, err)
			}
			if diff := cmp.Diff(tc.want, names(resp.Cases)); diff != "" {
				t.Errorf("Search(%q) cases (-want +got):\n%s", tc.query, diff)
			}
		})
	}
}

func TestCaseSearchRejectsQueriesOutsideTheGrammar(t *testing.T) {
	_, svc, _ := startSim(t)
	tests := []struct {
		name  string
		query string
	}{
		{"camelCase updateTime is not a field", `updateTime>"2026-01-15T10:00:00Z"`},
		{"update_time without a zone is not accepted", `update_time>"2026-01-15T10:00:00"`},
		{"update_time supports only greater-than", `update_time="2026-01-15T10:00:00Z"`},
		{"update_time needs quotes", `update_time>2026`},
		{"state NEW is not a filter value", "state=NEW"},
		{"priority P5 does not exist", "priority=P5"},
		{"OR over state without parentheses is rejected", "state=OPEN OR priority=P1"},
		{"OR over a group holding AND is rejected", "priority=P0 OR (state=OPEN AND priority=P1)"},
		{"an unclosed parenthesis is rejected", "(priority=P0 OR priority=P1"},
		{"parentheses nested past the bound are rejected", strings.Repeat("(", 40) + "priority=P0" + strings.Repeat(")", 40)},
		{"lower-case and is rejected", "state=OPEN and priority=P1"},
		{"OR over state is rejected", "(state=OPEN OR priority=P1)"},
		{"the v2beta organization field is rejected", `organization="organizations/100"`},
		{"a dangling AND is rejected", "state=OPEN AND"},
		{"an unterminated quote is rejected", `"disk`},
		{"terms without AND are rejected", `state=OPEN priority=P1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.Cases.Search(testOrg).Query(tc.query).Do()
			if diff := cmp.Diff(apiStatus{400, "INVALID_ARGUMENT"}, statusOf(t, err)); diff != "" {
				t.Errorf("Search(%q) error (-want +got):\n%s", tc.query, diff)
			}
		})
	}
}

func TestCaseListReturnsDirectChildrenMatchingTheFilter(t *testing.T) {
	s, svc, clk := startSim(t)
	f := seed(t, s, clk)
	tests := []struct {
		name   string
		parent string
		filter string
		want   []string
	}{
		{"the organization lists only its own cases, not its projects'", testOrg, "", []string{f.billingC}},
		{"a project lists its cases", testProject, "", []string{f.sqlD, f.diskA}},
		{"another project lists its own cases", otherNum, "", []string{f.netB}},
		{"state OPEN filters out closed cases", testProject, "state=OPEN", []string{f.diskA}},
		{"state CLOSED keeps closed cases", testProject, "state=CLOSED", []string{f.sqlD}},
		{"priorities joined by OR in parentheses match either", testProject, "(priority=P0 OR priority=P1)", []string{f.sqlD, f.diskA}},
		{"creator.email matches the creator", testProject, `creator.email="carol@example.com"`, []string{f.sqlD}},
		{"AND combines clauses", testProject, `state=OPEN AND creator.email="alice@example.com"`, []string{f.diskA}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := svc.Cases.List(tc.parent).Filter(tc.filter).PageSize(100).Do()
			if err != nil {
				t.Fatalf("List(%q, %q): %v", tc.parent, tc.filter, err)
			}
			if diff := cmp.Diff(tc.want, names(resp.Cases)); diff != "" {
				t.Errorf("List(%q, %q) cases (-want +got):\n%s", tc.parent, tc.filter, diff)
			}
		})
	}

	invalid := []struct {
		name   string
		filter string
	}{
		{"update_time is a search-only field", `update_time>"2026-01-15T10:00:00Z"`},
		{"full-text terms are search-only", `"disk"`},
		{"state NEW is not a filter value", "state=NEW"},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.Cases.List(testProject).Filter(tc.filter).Do()
			if diff := cmp.Diff(apiStatus{400, "INVALID_ARGUMENT"}, statusOf(t, err)); diff != "" {
				t.Errorf("List(%q) error (-want +got):\n%s", tc.filter, diff)
			}
		})
	}
}

func TestCaseGetResolvesNamesAndReportsUnknownOnes(t *testing.T) {
	s, svc, clk := startSim(t)
	f := seed(t, s, clk)
	number := f.diskA[strings.LastIndex(f.diskA, "/")+1:]
	tests := []struct {
		name     string
		caseName string
		want     apiStatus
	}{
		{"the canonical name with the project number is found", f.diskA, apiStatus{}},
		{"the project ID form of the name is found", testProject + "/cases/" + number, apiStatus{}},
		{"a case under another parent is not found", testOrg + "/cases/" + number, apiStatus{404, "NOT_FOUND"}},
		{"an unknown case number is not found", testProject + "/cases/99999999", apiStatus{404, "NOT_FOUND"}},
		{"a project outside the organization is denied", "projects/not-ours/cases/" + number, apiStatus{403, "PERMISSION_DENIED"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := svc.Cases.Get(tc.caseName).Do()
			if diff := cmp.Diff(tc.want, statusOf(t, err)); diff != "" {
				t.Fatalf("Get(%q) error (-want +got):\n%s", tc.caseName, diff)
			}
			if err == nil && c.Name != f.diskA {
				t.Errorf("Get(%q).Name = %q, want %q", tc.caseName, c.Name, f.diskA)
			}
		})
	}
}

func TestCaseJSONUsesCamelCaseAndOmitsEmptyFields(t *testing.T) {
	s, _, _ := startSim(t)
	name := mustCreate(t, s, testProject, "Disk full", "The boot disk is full", "P2", "alice@example.com")
	var got map[string]any
	code, _ := rawRequest(t, http.MethodGet, s.URL()+"v2/"+name+"?alt=json&prettyPrint=false", "", "", &got)
	if code != http.StatusOK {
		t.Fatalf("GET case answered %d", code)
	}
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := []string{"classification", "createTime", "creator", "description", "displayName", "languageCode", "name", "priority", "state", "updateTime"}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("case JSON keys (-want +got):\n%s", diff)
	}
}

func TestCaseCreateValidatesAndFillsOutputFields(t *testing.T) {
	s, svc, clk := startSim(t)
	t.Run("a valid case starts NEW with an 8-digit number and the caller as creator", func(t *testing.T) {
		got, err := svc.Cases.Create(testProject, &cloudsupport.Case{
			DisplayName:              "VM will not boot",
			Description:              "Since 09:00 the VM loops at boot.",
			Classification:           &cloudsupport.CaseClassification{Id: computeID},
			Priority:                 "P3",
			TimeZone:                 "-07:00",
			TestCase:                 true,
			SubscriberEmailAddresses: []string{"ops@example.com"},
		}).Do()
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		if !regexp.MustCompile(`^projects/200/cases/\d{8}$`).MatchString(got.Name) {
			t.Errorf("Name = %q, want projects/200/cases/<8 digits>", got.Name)
		}
		now := formatTime(clk.Now())
		want := &cloudsupport.Case{
			Name:                     got.Name,
			DisplayName:              "VM will not boot",
			Description:              "Since 09:00 the VM loops at boot.",
			Classification:           &cloudsupport.CaseClassification{Id: computeID, DisplayName: "Technical Issue > Compute > Compute Engine"},
			Priority:                 "P3",
			TimeZone:                 "-07:00",
			TestCase:                 true,
			SubscriberEmailAddresses: []string{"ops@example.com"},
			State:                    "NEW",
			CreateTime:               now,
			UpdateTime:               now,
			LanguageCode:             "en",
			Creator:                  &cloudsupport.Actor{DisplayName: callerEmail, Email: callerEmail, Username: callerEmail},
		}
		if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(cloudsupport.Case{}, "ServerResponse")); diff != "" {
			t.Errorf("created case (-want +got):\n%s", diff)
		}
	})

	valid := func() *cloudsupport.Case {
		return &cloudsupport.Case{DisplayName: "t", Description: "d", Classification: &cloudsupport.CaseClassification{Id: computeID}, Priority: "P3"}
	}
	invalid := []struct {
		name  string
		edit  func(*cloudsupport.Case)
		wantS apiStatus
	}{
		{"a missing display name is rejected", func(c *cloudsupport.Case) { c.DisplayName = "" }, apiStatus{400, "INVALID_ARGUMENT"}},
		{"a missing description is rejected", func(c *cloudsupport.Case) { c.Description = "" }, apiStatus{400, "INVALID_ARGUMENT"}},
		{"a missing classification is rejected", func(c *cloudsupport.Case) { c.Classification = nil }, apiStatus{400, "INVALID_ARGUMENT"}},
		{"an unknown classification is rejected", func(c *cloudsupport.Case) { c.Classification.Id = "NOPE" }, apiStatus{400, "INVALID_ARGUMENT"}},
		{"a missing priority is rejected", func(c *cloudsupport.Case) { c.Priority = "" }, apiStatus{400, "INVALID_ARGUMENT"}},
		{"an unknown priority is rejected", func(c *cloudsupport.Case) { c.Priority = "S1" }, apiStatus{400, "INVALID_ARGUMENT"}},
		{"a contact email from a non-federated caller is rejected", func(c *cloudsupport.Case) { c.ContactEmail = "x@example.com" }, apiStatus{400, "INVALID_ARGUMENT"}},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.edit(c)
			_, err := svc.Cases.Create(testProject, c).Do()
			if diff := cmp.Diff(tc.wantS, statusOf(t, err)); diff != "" {
				t.Errorf("Create error (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("a parent outside the organization is denied", func(t *testing.T) {
		_, err := svc.Cases.Create("projects/not-ours", valid()).Do()
		if diff := cmp.Diff(apiStatus{403, "PERMISSION_DENIED"}, statusOf(t, err)); diff != "" {
			t.Errorf("Create error (-want +got):\n%s", diff)
		}
	})

	t.Run("snake_case field names are accepted on input", func(t *testing.T) {
		body := `{"display_name":"Snake","description":"d","classification":{"id":"` + computeID + `"},"priority":"P2","time_zone":"Europe/Paris","subscriber_email_addresses":["a@example.com"],"test_case":true}`
		var got cloudsupport.Case
		code, _ := rawRequest(t, http.MethodPost, s.URL()+"v2/"+testProject+"/cases", "application/json", body, &got)
		if code != http.StatusOK {
			t.Fatalf("POST snake_case case answered %d", code)
		}
		want := []string{"Snake", "Europe/Paris", "a@example.com", "P2"}
		if diff := cmp.Diff(want, []string{got.DisplayName, got.TimeZone, strings.Join(got.SubscriberEmailAddresses, ","), got.Priority}); diff != "" {
			t.Errorf("case from snake_case input (-want +got):\n%s", diff)
		}
		if !got.TestCase {
			t.Errorf("test_case:true was not taken")
		}
	})

	t.Run("an unknown field is rejected", func(t *testing.T) {
		body := `{"displayName":"t","description":"d","classification":{"id":"` + computeID + `"},"priority":"P2","severity":"S2"}`
		var env struct {
			Error struct {
				Code   int    `json:"code"`
				Status string `json:"status"`
			} `json:"error"`
		}
		code, _ := rawRequest(t, http.MethodPost, s.URL()+"v2/"+testProject+"/cases", "application/json", body, &env)
		if diff := cmp.Diff(apiStatus{400, "INVALID_ARGUMENT"}, apiStatus{code, env.Error.Status}); diff != "" {
			t.Errorf("unknown field answer (-want +got):\n%s", diff)
		}
	})
}

func TestCasePatchHonoursTheUpdateMask(t *testing.T) {
	_, svc, clk := startSim(t)
	newCase := func(t *testing.T) *cloudsupport.Case {
		c, err := svc.Cases.Create(testProject, &cloudsupport.Case{
			DisplayName: "Original", Description: "d", Priority: "P3",
			Classification:           &cloudsupport.CaseClassification{Id: computeID},
			SubscriberEmailAddresses: []string{"ops@example.com"},
		}).Do()
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		return c
	}
	type view struct {
		DisplayName, Priority string
		Subscribers           []string
	}
	tests := []struct {
		name string
		mask string
		body *cloudsupport.Case
		want view
	}{
		{"a priority mask changes only the priority", "priority", &cloudsupport.Case{Priority: "P1", DisplayName: "Ignored"}, view{"Original", "P1", []string{"ops@example.com"}}},
		{"a display_name mask changes only the title", "display_name", &cloudsupport.Case{DisplayName: "Renamed", Priority: "P0"}, view{"Renamed", "P3", []string{"ops@example.com"}}},
		{"a subscriber mask replaces the subscribers", "subscriber_email_addresses", &cloudsupport.Case{SubscriberEmailAddresses: []string{"a@example.com", "b@example.com"}}, view{"Original", "P3", []string{"a@example.com", "b@example.com"}}},
		{"two paths change both fields", "priority,display_name", &cloudsupport.Case{DisplayName: "Both", Priority: "P2"}, view{"Both", "P2", []string{"ops@example.com"}}},
		{"an empty mask replaces all three and clears omitted subscribers", "", &cloudsupport.Case{DisplayName: "All", Priority: "P4"}, view{"All", "P4", nil}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCase(t)
			clk.Advance(time.Minute)
			call := svc.Cases.Patch(c.Name, tc.body)
			if tc.mask != "" {
				call = call.UpdateMask(tc.mask)
			}
			got, err := call.Do()
			if err != nil {
				t.Fatalf("Patch: %v", err)
			}
			if diff := cmp.Diff(tc.want, view{got.DisplayName, got.Priority, got.SubscriberEmailAddresses}); diff != "" {
				t.Errorf("patched case (-want +got):\n%s", diff)
			}
			if got.UpdateTime != formatTime(clk.Now()) {
				t.Errorf("UpdateTime = %q, want %q", got.UpdateTime, formatTime(clk.Now()))
			}
		})
	}
	rejected := []struct {
		name string
		mask string
		body *cloudsupport.Case
	}{
		{"state cannot be patched", "state", &cloudsupport.Case{State: "CLOSED"}},
		{"description cannot be patched", "description", &cloudsupport.Case{Description: "x"}},
		{"an invalid priority is rejected", "priority", &cloudsupport.Case{Priority: "P9"}},
	}
	for _, tc := range rejected {
		t.Run(tc.name, func(t *testing.T) {
			c := newCase(t)
			_, err := svc.Cases.Patch(c.Name, tc.body).UpdateMask(tc.mask).Do()
			if diff := cmp.Diff(apiStatus{400, "INVALID_ARGUMENT"}, statusOf(t, err)); diff != "" {
				t.Errorf("Patch error (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("an unknown case is not found", func(t *testing.T) {
		_, err := svc.Cases.Patch(testProject+"/cases/99999999", &cloudsupport.Case{Priority: "P1"}).UpdateMask("priority").Do()
		if diff := cmp.Diff(apiStatus{404, "NOT_FOUND"}, statusOf(t, err)); diff != "" {
			t.Errorf("Patch error (-want +got):\n%s", diff)
		}
	})
}

func TestCaseCloseClosesOnceAndThenFailsPrecondition(t *testing.T) {
	s, svc, clk := startSim(t)
	name := mustCreate(t, s, testProject, "t", "d", "P3", "alice@example.com")
	clk.Advance(time.Hour)
	got, err := svc.Cases.Close(name, &cloudsupport.CloseCaseRequest{}).Do()
	if err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if diff := cmp.Diff([]string{"CLOSED", formatTime(clk.Now())}, []string{got.State, got.UpdateTime}); diff != "" {
		t.Errorf("closed case state and update time (-want +got):\n%s", diff)
	}
	_, err = svc.Cases.Close(name, &cloudsupport.CloseCaseRequest{}).Do()
	if diff := cmp.Diff(apiStatus{400, "FAILED_PRECONDITION"}, statusOf(t, err)); diff != "" {
		t.Errorf("second Close error (-want +got):\n%s", diff)
	}
	_, err = svc.Cases.Close(testProject+"/cases/99999999", &cloudsupport.CloseCaseRequest{}).Do()
	if diff := cmp.Diff(apiStatus{404, "NOT_FOUND"}, statusOf(t, err)); diff != "" {
		t.Errorf("Close of an unknown case error (-want +got):\n%s", diff)
	}
}

func TestCaseEscalateSetsEscalatedOrIsDenied(t *testing.T) {
	s, svc, _ := startSim(t)
	name := mustCreate(t, s, testProject, "t", "d", "P3", "alice@example.com")
	req := func(reason, why string) *cloudsupport.EscalateCaseRequest {
		return &cloudsupport.EscalateCaseRequest{Escalation: &cloudsupport.Escalation{Reason: reason, Justification: why}}
	}
	_, err := svc.Cases.Escalate(name, req("BUSINESS_IMPACT", "")).Do()
	if diff := cmp.Diff(apiStatus{400, "INVALID_ARGUMENT"}, statusOf(t, err)); diff != "" {
		t.Errorf("Escalate without justification (-want +got):\n%s", diff)
	}
	s.SetEscalationDenied(true)
	_, err = svc.Cases.Escalate(name, req("BUSINESS_IMPACT", "outage")).Do()
	if diff := cmp.Diff(apiStatus{403, "PERMISSION_DENIED"}, statusOf(t, err)); diff != "" {
		t.Errorf("Escalate on a plan without escalations (-want +got):\n%s", diff)
	}
	s.SetEscalationDenied(false)
	got, err := svc.Cases.Escalate(name, req("BUSINESS_IMPACT", "outage")).Do()
	if err != nil {
		t.Fatalf("Escalate: %v", err)
	}
	if !got.Escalated {
		t.Errorf("Escalated = false after a successful escalation")
	}
}

func TestPagingUsesDefaultSizeClampAndBoundTokens(t *testing.T) {
	s, svc, _ := startSim(t)
	for i := 0; i < 105; i++ {
		mustCreate(t, s, testProject, "case", "d", "P3", "alice@example.com")
	}
	t.Run("without pageSize a page holds 10 cases", func(t *testing.T) {
		resp, err := svc.Cases.Search(testOrg).Do()
		if err != nil {
			t.Fatalf("Search: %v", err)
		}
		if diff := cmp.Diff([]any{10, true}, []any{len(resp.Cases), resp.NextPageToken != ""}); diff != "" {
			t.Errorf("first page size and token presence (-want +got):\n%s", diff)
		}
	})
	t.Run("pageSize above 100 is clamped to 100", func(t *testing.T) {
		resp, err := svc.Cases.List(testProject).PageSize(1000).Do()
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if len(resp.Cases) != 100 {
			t.Errorf("page holds %d cases, want 100", len(resp.Cases))
		}
	})
	t.Run("Pages visits every case exactly once", func(t *testing.T) {
		seen := map[string]int{}
		pages := 0
		err := svc.Cases.Search(testOrg).Query("state=OPEN").PageSize(7).Pages(t.Context(), func(r *cloudsupport.SearchCasesResponse) error {
			pages++
			for _, c := range r.Cases {
				seen[c.Name]++
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Pages: %v", err)
		}
		dups := 0
		for _, n := range seen {
			if n != 1 {
				dups++
			}
		}
		if diff := cmp.Diff([]int{105, 0, 15}, []int{len(seen), dups, pages}); diff != "" {
			t.Errorf("distinct cases, duplicates, pages (-want +got):\n%s", diff)
		}
	})
	t.Run("a token used with another query is rejected", func(t *testing.T) {
		first, err := svc.Cases.Search(testOrg).Query("state=OPEN").Do()
		if err != nil {
			t.Fatalf("Search: %v", err)
		}
		_, err = svc.Cases.Search(testOrg).Query("state=CLOSED").PageToken(first.NextPageToken).Do()
		if diff := cmp.Diff(apiStatus{400, "INVALID_ARGUMENT"}, statusOf(t, err)); diff != "" {
			t.Errorf("mismatched token error (-want +got):\n%s", diff)
		}
	})
	t.Run("a search token used with list is rejected", func(t *testing.T) {
		first, err := svc.Cases.Search(testProject).Do()
		if err != nil {
			t.Fatalf("Search: %v", err)
		}
		_, err = svc.Cases.List(testProject).PageToken(first.NextPageToken).Do()
		if diff := cmp.Diff(apiStatus{400, "INVALID_ARGUMENT"}, statusOf(t, err)); diff != "" {
			t.Errorf("token from another method error (-want +got):\n%s", diff)
		}
	})
	t.Run("a made-up token is rejected", func(t *testing.T) {
		_, err := svc.Cases.List(testProject).PageToken("not-a-token").Do()
		if diff := cmp.Diff(apiStatus{400, "INVALID_ARGUMENT"}, statusOf(t, err)); diff != "" {
			t.Errorf("bad token error (-want +got):\n%s", diff)
		}
	})
}

func TestCaseClassificationSearchMatchesDisplayNames(t *testing.T) {
	_, svc, _ := startSim(t)
	resp, err := svc.CaseClassifications.Search().Query(`display_name:"*Compute Engine*"`).Do()
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	want := []*cloudsupport.CaseClassification{{Id: computeID, DisplayName: "Technical Issue > Compute > Compute Engine"}}
	if diff := cmp.Diff(want, resp.CaseClassifications, cmpopts.IgnoreFields(cloudsupport.CaseClassification{}, "ForceSendFields", "NullFields")); diff != "" {
		t.Errorf("classifications (-want +got):\n%s", diff)
	}
	all, err := svc.CaseClassifications.Search().Do()
	if err != nil {
		t.Fatalf("Search all: %v", err)
	}
	if got := len(all.CaseClassifications); got != len(DefaultClassifications()) {
		t.Errorf("empty query returned %d classifications, want %d", got, len(DefaultClassifications()))
	}
}

// TestCaseListAcceptsTheDocumentedBareOR sends cases.list over plain HTTP as
// any client does, with the discovery document's own example filter for
// priorities, "priority=P1 OR priority=P2", and its precedence forms.
func TestCaseListAcceptsTheDocumentedBareOR(t *testing.T) {
	s, _, clk := startSim(t)
	f := seed(t, s, clk)
	tests := []struct {
		name   string
		filter string
		want   []string
	}{
		{"a bare OR of two priorities matches either", "priority=P1 OR priority=P0", []string{f.sqlD, f.diskA}},
		{"OR binds tighter than AND, as in Google's filter language", "state=OPEN AND priority=P1 OR priority=P0", []string{f.diskA}},
		{"parentheses around the OR mean the same", "state=OPEN AND (priority=P1 OR priority=P0)", []string{f.diskA}},
		{"an OR of three priorities matches any", "priority=P2 OR priority=P1 OR priority=P0", []string{f.sqlD, f.diskA}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got cloudsupport.ListCasesResponse
			u := s.URL() + "v2/" + testProject + "/cases?pageSize=100&filter=" + url.QueryEscape(tc.filter)
			code, _ := rawRequest(t, http.MethodGet, u, "", "", &got)
			if code != http.StatusOK {
				t.Fatalf("GET cases with filter %q: HTTP %d, want 200", tc.filter, code)
			}
			if diff := cmp.Diff(tc.want, names(got.Cases)); diff != "" {
				t.Errorf("cases.list %q (-want +got):\n%s", tc.filter, diff)
			}
		})
	}
}
