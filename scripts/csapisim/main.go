// Command csapisim runs the Cloud Support API v2 simulator for the local
// sandbox:
//
//	go run ./scripts/csapisim --addr 127.0.0.1:8089
//
// It prints CSAPI_URL=<base URL> once listening and serves until SIGINT or
// SIGTERM. Test hooks are under <base URL>_sim/ (see package csapitest).
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
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8089", "address to listen on")
	org := flag.String("org", "organizations/100", "organization of the simulated caller")
	projects := flag.String("projects", "sandbox-project=200", "comma-separated project-id=number pairs under the organization")
	caller := flag.String("caller", "casebridge@sandbox-project.iam.gserviceaccount.com", "email of the API caller")
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

	sim := csapitest.New(csapitest.Options{Organization: *org, Projects: projectMap, CallerEmail: *caller})
	if err := sim.Start(*addr); err != nil {
		fmt.Fprintf(os.Stderr, "csapisim: listen on %s: %v\n", *addr, err)
		os.Exit(1)
	}
	fmt.Printf("CSAPI_URL=%s\n", sim.URL())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	sim.Close()
}
