// Package simhttp holds what the vendor simulators (zendesktest,
// jirasmtest, servicenowtest, and the generic crmsim) share over HTTP.
package simhttp

import (
	"net/http"
	"time"
)

// Dated makes every answer of h carry a Date header from clock, the
// simulator's own, rather than Go's real one: the vendor's servers date
// their answers by the same clock that stamps the records' update times,
// so a test that sets the simulator's clock sees it in the Date header
// too. The date is taken when the headers go out, as the vendor's servers
// take it.
func Dated(clock func() time.Time, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dw := &datedWriter{ResponseWriter: w, clock: clock}
		h.ServeHTTP(dw, r)
		dw.stamp() // an answer with nothing written yet
	})
}

// datedWriter sets the Date header when the headers go out, unless the
// handler set one.
type datedWriter struct {
	http.ResponseWriter
	clock   func() time.Time
	stamped bool
}

func (d *datedWriter) stamp() {
	if d.stamped {
		return
	}
	d.stamped = true
	if _, ok := d.Header()["Date"]; !ok {
		d.Header().Set("Date", d.clock().UTC().Format(http.TimeFormat))
	}
}

func (d *datedWriter) WriteHeader(status int) {
	d.stamp()
	d.ResponseWriter.WriteHeader(status)
}

func (d *datedWriter) Write(b []byte) (int, error) {
	d.stamp()
	return d.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the server's writer.
func (d *datedWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }
