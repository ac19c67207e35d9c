package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
)

// queryPage is one batch of GET /query.
type queryPage struct {
	TotalSize      int               `json:"totalSize"`
	Done           bool              `json:"done"`
	NextRecordsURL string            `json:"nextRecordsUrl"`
	Records        []json.RawMessage `json:"records"`
}

// locatorRE is the path of a next batch: the query resource of the pinned
// version and a query locator.
var locatorRE = regexp.MustCompile(`^/services/data/v[0-9]{2}\.0/query/[A-Za-z0-9]{15,18}-[0-9]{1,9}$`)

// query runs a SOQL query and calls each for every record, following
// nextRecordsUrl through every batch (bounded by the pager). It returns
// the Date of the first answer: Salesforce's clock when it read the rows.
func (c *Client) query(ctx context.Context, op, soql string, each func(json.RawMessage) error) (time.Time, error) {
	var readAt time.Time
	err := c.call(ctx, func() error {
		readAt = time.Time{}
		pg := c.http.NewPager(op)
		req := crmhttp.Request{Op: op, Path: c.api + "/query", Query: url.Values{"q": {soql}},
			Header: http.Header{"Sforce-Query-Options": {"batchSize=" + strconv.Itoa(c.cfg.BatchSize)}}}
		token := ""
		var rows []json.RawMessage
		for {
			var page queryPage
			at, err := c.http.JSONAt(ctx, req, &page)
			if err != nil {
				return err
			}
			if readAt.IsZero() {
				readAt = at
			}
			more := !page.Done
			if err := pg.Page(token, len(page.Records), more); err != nil {
				return err
			}
			rows = append(rows, page.Records...)
			if !more {
				break
			}
			if !locatorRE.MatchString(page.NextRecordsURL) {
				return &casesync.APIError{Side: casesync.SideCompany, Op: op, Status: http.StatusOK,
					Err: errors.New("Salesforce: a query batch said more follow but gave no usable nextRecordsUrl")}
			}
			token = page.NextRecordsURL
			req = crmhttp.Request{Op: op, Path: page.NextRecordsURL,
				Header: http.Header{"Sforce-Query-Options": {"batchSize=" + strconv.Itoa(c.cfg.BatchSize)}}}
		}
		// Only a query read whole is handed on: a 401 in its middle runs
		// it again from the start.
		for _, r := range rows {
			if err := each(r); err != nil {
				return err
			}
		}
		return nil
	})
	return readAt, err
}

// record is one row of a query, its fields by API name.
type record map[string]json.RawMessage

func decodeRecord(raw json.RawMessage) (record, error) {
	var r record
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, err
	}
	return r, nil
}

func (r record) str(f string) string {
	var s string
	if v, ok := r[f]; ok {
		_ = json.Unmarshal(v, &s)
	}
	return s
}

func (r record) boolean(f string) bool {
	var b bool
	if v, ok := r[f]; ok {
		_ = json.Unmarshal(v, &b)
	}
	return b
}

func (r record) int64(f string) int64 {
	var n int64
	if v, ok := r[f]; ok {
		_ = json.Unmarshal(v, &n)
	}
	return n
}

func (r record) time(f string) time.Time { return sfTime(r[f]) }

// child returns the record of a relationship field (CreatedBy,
// ContentDocument), nil when absent.
func (r record) child(f string) record {
	v, ok := r[f]
	if !ok {
		return nil
	}
	var c record
	if json.Unmarshal(v, &c) != nil {
		return nil
	}
	return c
}

// subquery returns the rows of a parent-to-child subquery field.
func (r record) subquery(f string) []record {
	v, ok := r[f]
	if !ok {
		return nil
	}
	var page queryPage
	if json.Unmarshal(v, &page) != nil {
		return nil
	}
	var out []record
	for _, raw := range page.Records {
		if rec, err := decodeRecord(raw); err == nil {
			out = append(out, rec)
		}
	}
	return out
}

// malformed is the error of an answer that is not what Salesforce sends.
func malformed(op string, err error) error {
	return &casesync.APIError{Side: casesync.SideCompany, Op: op, Status: http.StatusOK, Transient: true,
		Err: errors.New("Salesforce: a record of the answer could not be read: " + err.Error())}
}
