package casesync

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// PriorityTable maps the CRM's priority values to Google priorities and
// back. Several CRM values may map to one Google priority; ToCompany names the
// value written to the CRM for each Google priority.
type PriorityTable struct {
	ToGoogle  map[string]Priority
	ToCompany map[Priority]string
}

// DefaultPriorityTable is the table for a CRM with the values critical,
// urgent, high, normal and low (the CRM simulator's).
func DefaultPriorityTable() PriorityTable { return defaultPriorityTable() }

var defaultPriorityTable = sync.OnceValue(func() PriorityTable {
	t, err := ParsePriorityTable("critical=P0,urgent=P1,high=P2,normal=P3,low=P4")
	if err != nil {
		panic(err)
	}
	return t
})

// ParsePriorityTable reads "crmValue=P0,other=P1,...". The first CRM value
// given for a Google priority is the one written to the CRM. A CRM with
// fewer priorities than Google may list one value for several Google
// priorities ("High=P0,High=P1,..."): the first listing is the Google
// priority that value reads as. Every Google priority P0..P4 must have at
// least one CRM value.
func ParsePriorityTable(s string) (PriorityTable, error) {
	t := PriorityTable{ToGoogle: map[string]Priority{}, ToCompany: map[Priority]string{}}
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return PriorityTable{}, fmt.Errorf("priority table entry %q: want crmValue=P0..P4", pair)
		}
		p := ParsePriority(v)
		if p == PriorityUnspecified {
			return PriorityTable{}, fmt.Errorf("priority table entry %q: %q is not one of P0..P4", pair, strings.TrimSpace(v))
		}
		if _, seen := t.ToGoogle[strings.ToLower(k)]; !seen {
			t.ToGoogle[strings.ToLower(k)] = p
		}
		if _, ok := t.ToCompany[p]; !ok {
			t.ToCompany[p] = k
		}
	}
	var missing []string
	for p := P0; p <= P4; p++ {
		if _, ok := t.ToCompany[p]; !ok {
			missing = append(missing, p.String())
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return PriorityTable{}, fmt.Errorf("priority table: no CRM value for %s", strings.Join(missing, ", "))
	}
	// Every CRM value must read as a Google priority whose own CRM value
	// reads the same. Otherwise a value a person chose would be replaced by
	// one of another priority: "k=P2,k=P1,m=P1" reads "m" as P1, but writes
	// P1 as "k", which reads as P2.
	values := make([]string, 0, len(t.ToGoogle))
	for k := range t.ToGoogle {
		values = append(values, k)
	}
	sort.Strings(values)
	for _, k := range values {
		q := t.ToGoogle[k]
		if b := t.Bucket(q); b != q {
			return PriorityTable{}, fmt.Errorf("priority table: %q reads as %s, but %s is written as %q, which reads as %s: list %q=%s before the other values for %s",
				k, q, q, t.ToCompany[q], b, k, q, q)
		}
	}
	return t, nil
}

// Google maps a CRM value; ok is false for a value not in the table.
func (t PriorityTable) Google(crmValue string) (Priority, bool) {
	p, ok := t.ToGoogle[strings.ToLower(strings.TrimSpace(crmValue))]
	return p, ok
}

// Company maps a Google priority to the CRM value to write.
func (t PriorityTable) Company(p Priority) (string, bool) {
	v, ok := t.ToCompany[p]
	return v, ok
}

// Bucket returns the Google priority the CRM value written for p reads back
// as: p itself when the CRM has a value of its own for p, otherwise the
// priority that shares p's CRM value. PriorityUnspecified if p has none.
func (t PriorityTable) Bucket(p Priority) Priority {
	v, ok := t.Company(p)
	if !ok {
		return PriorityUnspecified
	}
	b, ok := t.Google(v)
	if !ok {
		return PriorityUnspecified
	}
	return b
}
