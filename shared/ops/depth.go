package ops

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	monitoring "google.golang.org/api/monitoring/v3"
	"google.golang.org/api/option"
)

// Depth is how many messages one dead-letter subscription holds.
type Depth struct {
	Subscription string `json:"subscription"`
	Messages     int64  `json:"messages"`
	// Method says how it was counted: "pull" (every message pulled and
	// handed back) or "monitoring" (Cloud Monitoring's
	// num_undelivered_messages, sampled every minute and a few minutes
	// late).
	Method string `json:"method"`
	// At is the time the count is from (monitoring: the sample's end).
	At time.Time `json:"at,omitzero"`
	// Error says why the count is missing.
	Error string `json:"error,omitempty"`
}

// Depth methods.
const (
	DepthByPull       = "pull"
	DepthByMonitoring = "monitoring"
)

// PullDepths counts every dead-letter subscription of the topology by
// pulling (see Count), all at once. A subscription that cannot be counted
// gets its error in Depth.Error; when Pub/Sub could not be reached the
// error (an *UnreachableError) is returned too.
func (q *DeadLetterQueues) PullDepths(ctx context.Context, subs []string) ([]Depth, error) {
	names := q.resolveSubs(subs)
	out := make([]Depth, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, sub := range names {
		wg.Go(func() {
			n, err := q.Count(ctx, sub)
			out[i] = Depth{Subscription: sub, Messages: int64(n), Method: DepthByPull, At: time.Now().UTC()}
			if err != nil {
				out[i].Error, errs[i] = err.Error(), err
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		var ue *UnreachableError
		if errors.As(err, &ue) {
			return out, err
		}
	}
	return out, nil
}

// undeliveredMetric is the Pub/Sub metric of a subscription's backlog.
const undeliveredMetric = "pubsub.googleapis.com/subscription/num_undelivered_messages"

// MonitoringDepths reads each subscription's latest
// num_undelivered_messages sample of the last 15 minutes from Cloud
// Monitoring (the caller needs roles/monitoring.viewer). A subscription
// with no sample in that window (Pub/Sub writes none for a subscription
// that never held a message) counts as empty. A subscription whose count
// could not be read gets its error in Depth.Error; when Cloud Monitoring
// could not be reached, the error (an *UnreachableError) is returned with
// the depths read so far.
func MonitoringDepths(ctx context.Context, project string, subs []string, opts ...option.ClientOption) ([]Depth, error) {
	svc, err := monitoring.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to Cloud Monitoring: %w", err)
	}
	end := time.Now().UTC()
	start := end.Add(-15 * time.Minute)
	var out []Depth
	for _, sub := range subs {
		d := Depth{Subscription: sub, Method: DepthByMonitoring}
		resp, err := svc.Projects.TimeSeries.List("projects/" + project).Context(ctx).
			Filter(fmt.Sprintf(`metric.type=%q AND resource.type="pubsub_subscription" AND resource.labels.subscription_id=%q`, undeliveredMetric, sub)).
			IntervalStartTime(start.Format(time.RFC3339)).
			IntervalEndTime(end.Format(time.RFC3339)).
			Do()
		if err != nil {
			err = Reach(ctx, ServiceMonitoring, project, fmt.Errorf("reading %s of %s: %w", undeliveredMetric, sub, err))
			d.Error = err.Error()
			out = append(out, d)
			var ue *UnreachableError
			if errors.As(err, &ue) {
				// The rest would wait for the same service in vain.
				return out, err
			}
			continue
		}
		var latest time.Time
		for _, ts := range resp.TimeSeries {
			for _, p := range ts.Points {
				if p.Interval == nil || p.Value == nil {
					continue
				}
				t, err := time.Parse(time.RFC3339Nano, p.Interval.EndTime)
				if err != nil || !t.After(latest) {
					continue
				}
				latest = t
				switch {
				case p.Value.Int64Value != nil:
					d.Messages = *p.Value.Int64Value
				case p.Value.DoubleValue != nil:
					d.Messages = int64(*p.Value.DoubleValue)
				}
			}
		}
		d.At = latest
		if latest.IsZero() {
			d.At = end
		}
		out = append(out, d)
	}
	return out, nil
}
