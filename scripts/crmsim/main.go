// Command crmsim serves the CRM simulator (shared/crmsim) over HTTP until it
// is interrupted, for the sandbox and for trying the connector by hand.
//
// Usage: crmsim [--addr 127.0.0.1:8090] [--sync-user casebridge]
// [--priorities critical,urgent,high,normal,low] [--max-attachment-bytes N]
// [--granularity 1s]
//
// Once listening it prints CRM_URL=http://host:port on stdout (with the
// port actually bound, so --addr 127.0.0.1:0 works). The port operations
// are under /api/ and the test hooks under /_sim/ (see crmsim.Handler).
// When CASEBRIDGE_CLOCK_FILE is set, the simulator's clock follows the
// sandbox's offset clock. SIGINT or SIGTERM stops it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/casebridge/casebridge/shared/clock"
	"github.com/casebridge/casebridge/shared/crmsim"
	"github.com/casebridge/casebridge/shared/logging"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "address to listen on")
	syncUser := flag.String("sync-user", crmsim.DefaultSyncUser, "the connector's user name in the CRM")
	priorities := flag.String("priorities", strings.Join(crmsim.DefaultPriorities, ","), "allowed priority values, comma-separated")
	maxBytes := flag.Int64("max-attachment-bytes", crmsim.DefaultMaxAttachmentBytes, "largest attachment accepted")
	granularity := flag.Duration("granularity", time.Second, "precision of ticket update times")
	flag.Parse()

	log := logging.New(os.Stderr, slog.LevelInfo)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := crmsim.Options{
		Clock:              clock.FromEnv().Now,
		SyncUser:           *syncUser,
		Priorities:         splitList(*priorities),
		MaxAttachmentBytes: *maxBytes,
		TimeGranularity:    *granularity,
	}
	if err := run(ctx, *addr, opts, os.Stdout, log); err != nil {
		log.Error("crmsim stopped", logging.Err(err))
		os.Exit(1)
	}
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// run serves the simulator on addr until ctx ends, writing the CRM_URL line
// to out once it listens.
func run(ctx context.Context, addr string, opts crmsim.Options, out io.Writer, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: crmsim.New(opts).Handler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "CRM_URL=http://%s\n", ln.Addr())
	log.Info("CRM simulator listening", slog.String("addr", ln.Addr().String()))

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("CRM simulator stopped")
	return nil
}
