// Package terraform_test checks that the deployment's topology data
// (terraform/topology.json, which the Terraform configuration reads) says
// exactly what shared/eventing says: the same subscriptions with the same
// retry and dead-letter settings, the same schedules, and the
// entry points the functions register.
package terraform_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/google/go-cmp/cmp"
)

type topology struct {
	Functions     map[string]function `json:"functions"`
	Subscriptions []subscription      `json:"subscriptions"`
	Ticks         []tick              `json:"ticks"`
	Topics        map[string]string   `json:"topics"`
}

type function struct {
	Name       string `json:"name"`
	EntryPoint string `json:"entry_point"`
}

type subscription struct {
	Name                string `json:"name"`
	Topic               string `json:"topic"`
	Function            string `json:"function"`
	MinBackoffSeconds   int    `json:"min_backoff_seconds"`
	MaxBackoffSeconds   int    `json:"max_backoff_seconds"`
	MaxDeliveryAttempts int    `json:"max_delivery_attempts"`
	AckDeadlineSeconds  int    `json:"ack_deadline_seconds"`
	DeadLetterTopic     string `json:"dead_letter_topic"`
}

type tick struct {
	Topic    string `json:"topic"`
	Function string `json:"function"`
	Schedule string `json:"schedule"`
}

func readTopology(t *testing.T) topology {
	t.Helper()
	b, err := os.ReadFile("topology.json")
	if err != nil {
		t.Fatalf("reading terraform/topology.json: %v", err)
	}
	var topo topology
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&topo); err != nil {
		t.Fatalf("terraform/topology.json is not valid: %v", err)
	}
	return topo
}

func seconds(d time.Duration) int { return int(d / time.Second) }

func TestTopologyMirrorsEventing(t *testing.T) {
	topo := readTopology(t)

	t.Run("the subscriptions are those of eventing.Topology, with the same settings", func(t *testing.T) {
		var want []subscription
		for _, s := range eventing.Topology("") {
			want = append(want, subscription{
				Name:                s.Name,
				Topic:               s.Topic,
				Function:            s.Function,
				MinBackoffSeconds:   seconds(s.MinBackoff),
				MaxBackoffSeconds:   seconds(s.MaxBackoff),
				MaxDeliveryAttempts: s.MaxDeliveryAttempts,
				AckDeadlineSeconds:  seconds(s.AckDeadline),
				DeadLetterTopic:     s.DeadLetterTopic,
			})
		}
		if diff := cmp.Diff(want, topo.Subscriptions); diff != "" {
			t.Errorf("terraform/topology.json subscriptions differ from eventing.Topology (-eventing +json):\n%s", diff)
		}
	})

	t.Run("the schedules are those of eventing.Ticks", func(t *testing.T) {
		var want []tick
		for _, k := range eventing.Ticks("") {
			want = append(want, tick{Topic: k.Topic, Function: k.Function, Schedule: k.Schedule})
		}
		if diff := cmp.Diff(want, topo.Ticks); diff != "" {
			t.Errorf("terraform/topology.json ticks differ from eventing.Ticks (-eventing +json):\n%s", diff)
		}
	})

	t.Run("the case topics have eventing's names", func(t *testing.T) {
		want := map[string]string{
			"case_updated":   eventing.TopicCaseUpdated,
			"sync_requested": eventing.TopicSyncRequested,
		}
		if diff := cmp.Diff(want, topo.Topics); diff != "" {
			t.Errorf("terraform/topology.json topics differ (-eventing +json):\n%s", diff)
		}
	})

	t.Run("every function directory is deployed with the entry point it registers", func(t *testing.T) {
		entryPoints := map[string]string{
			"FunctionPollGoogle":    eventing.FunctionPollGoogle,
			"FunctionPollCRM":       eventing.FunctionPollCRM,
			"FunctionSyncCase":      eventing.FunctionSyncCase,
			"FunctionCleanup":       eventing.FunctionCleanup,
			"FunctionDetectOutages": eventing.FunctionDetectOutages,
			"FunctionCRMWebhook":    eventing.FunctionCRMWebhook,
			"FunctionGoogleEvents":  eventing.FunctionGoogleEvents,
		}
		// HTTP functions no subscription feeds are deployed by a .tf file
		// of their own, not through topology.json.
		httpFunctions := map[string]string{"crmwebhook": "webhook.tf"}
		nameRE := regexp.MustCompile(`(?m)^const Name = eventing\.(\w+)$`)
		dirs, err := filepath.Glob(filepath.Join("..", "functions", "*", "function.go"))
		if err != nil || len(dirs) == 0 {
			t.Fatalf("found no functions/*/function.go (err %v)", err)
		}
		want := map[string]string{}
		for _, f := range dirs {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			m := nameRE.FindSubmatch(src)
			if m == nil {
				t.Fatalf("%s has no line `const Name = eventing.FunctionX`", f)
			}
			ep, ok := entryPoints[string(m[1])]
			if !ok {
				t.Fatalf("%s registers eventing.%s, which this test does not know", f, m[1])
			}
			dir := filepath.Base(filepath.Dir(f))
			if tf, ok := httpFunctions[dir]; ok {
				src, err := os.ReadFile(tf)
				if err != nil {
					t.Fatalf("%s is deployed by %s: %v", dir, tf, err)
				}
				if !regexp.MustCompile(`(?m)^\s*entry_point\s*=\s*"`+ep+`"`).Match(src) || !strings.Contains(string(src), `function_sources["`+dir+`"]`) {
					t.Errorf("%s does not deploy %s from function_sources[%q] with entry_point = %q", tf, dir, dir, ep)
				}
				continue
			}
			want[dir] = ep
		}
		got := map[string]string{}
		for dir, fn := range topo.Functions {
			got[dir] = fn.EntryPoint
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("terraform/topology.json functions differ from functions/*/function.go (-source +json):\n%s", diff)
		}
	})

	t.Run("every subscription and tick feeds a deployed function", func(t *testing.T) {
		deployed := map[string]bool{}
		for _, fn := range topo.Functions {
			deployed[fn.EntryPoint] = true
		}
		var missing []string
		for _, s := range topo.Subscriptions {
			if !deployed[s.Function] {
				missing = append(missing, "subscription "+s.Name+" → "+s.Function)
			}
		}
		for _, k := range topo.Ticks {
			if !deployed[k.Function] {
				missing = append(missing, "tick "+k.Topic+" → "+k.Function)
			}
		}
		sort.Strings(missing)
		if diff := cmp.Diff([]string(nil), missing); diff != "" {
			t.Errorf("triggers of functions that are not deployed (-want +got):\n%s", diff)
		}
	})
}
