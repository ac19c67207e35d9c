// Command csapisim runs the Cloud Support API v2 simulator for the local
// sandbox:
//
//	go run ./scripts/csapisim --addr 127.0.0.1:8089 [--pubsub-emulator 127.0.0.1:8085]
//
// It prints CSAPI_URL=<base URL> once listening and serves until SIGINT or
// SIGTERM. Test hooks are under <base URL>_sim/ (see package csapitest).
//
// With --pubsub-emulator (default: $PUBSUB_EMULATOR_HOST) the support event
// subscriptions created through the API publish each case change to their
// topics on that Pub/Sub emulator; without it they can be managed but
// publish nothing.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/casebridge/casebridge/shared/csapi/csapitest"
	"github.com/casebridge/casebridge/shared/eventing"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8089", "address to listen on")
	org := flag.String("org", "organizations/100", "organization of the simulated caller")
	projects := flag.String("projects", "sandbox-project=200", "comma-separated project-id=number pairs under the organization")
	caller := flag.String("caller", "casebridge@sandbox-project.iam.gserviceaccount.com", "email of the API caller")
	pubsubHost := flag.String("pubsub-emulator", os.Getenv("PUBSUB_EMULATOR_HOST"), "host:port of the Pub/Sub emulator support events are published to (empty: events off)")
	flag.Parse()

	projectMap := map[string]string{}
	for _, pair := range strings.Split(*projects, ",") {
		id, num, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || id == "" || num == "" {
			fmt.Fprintf(os.Stderr, "csapisim: --projects wants id=number pairs, got %q\n", pair)
			os.Exit(2)
		}
		projectMap[id] = num
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	opts := csapitest.Options{Organization: *org, Projects: projectMap, CallerEmail: *caller}
	if *pubsubHost != "" {
		// Topics are full names, so the client's own project does not
		// matter.
		client, err := eventing.NewEmulatorClient(ctx, "csapisim", *pubsubHost)
		if err != nil {
			fmt.Fprintf(os.Stderr, "csapisim: connecting to the Pub/Sub emulator at %s: %v\n", *pubsubHost, err)
			os.Exit(1)
		}
		defer client.Close()
		pub := csapitest.NewPubSubPublisher(client)
		defer pub.Stop()
		opts.Events = pub
		fmt.Fprintf(os.Stderr, "csapisim: support events are published to the Pub/Sub emulator at %s\n", *pubsubHost)
	}

	sim := csapitest.New(opts)
	if err := sim.Start(*addr); err != nil {
		fmt.Fprintf(os.Stderr, "csapisim: listen on %s: %v\n", *addr, err)
		os.Exit(1)
	}
	fmt.Printf("CSAPI_URL=%s\n", sim.URL())

	<-ctx.Done()
	sim.Close()
}
