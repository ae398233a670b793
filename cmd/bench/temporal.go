package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"syscall"
	"time"

	"github.com/ocelot/webhooks/internal/app"
	"github.com/ocelot/webhooks/internal/devserver"
	"github.com/ocelot/webhooks/workflows"
)

// The Temporal dev server runs in a child process of its own, the bench
// binary started again with these variables set, so that its CPU time and
// memory are measured apart from the load generator's.
const (
	temporalChildEnv      = "BENCH_TEMPORAL_DB" // the SQLite file; set = child mode
	temporalAddrEnv       = "BENCH_TEMPORAL_ADDR"
	temporalNamespaceEnv  = "BENCH_TEMPORAL_NAMESPACE"
	temporalCPUProfileEnv = "BENCH_TEMPORAL_CPUPROFILE"
	temporalReady         = "bench temporal: ready"
)

// serveTemporal is the child: the dev server (what `make run` runs) until
// SIGTERM. It returns the exit code.
func serveTemporal() int {
	app.SetGCPercent(devserver.GCPercent)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if path := os.Getenv(temporalCPUProfileEnv); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench temporal:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "bench temporal:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	srv, err := devserver.Start(ctx, devserver.Options{
		DatabaseFile:     os.Getenv(temporalChildEnv),
		Namespace:        os.Getenv(temporalNamespaceEnv),
		FrontendAddress:  os.Getenv(temporalAddrEnv),
		SearchAttributes: workflows.SearchAttributes,
		Logger:           slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench temporal:", err)
		return 1
	}
	fmt.Println(temporalReady)
	<-ctx.Done()
	if err := srv.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "bench temporal: stop:", err)
		return 1
	}
	return 0
}

// startTemporal starts the child and waits until it prints that it is
// ready. Its log is temporal.log in the run's directory.
func (e *env) startTemporal(ctx context.Context, s settings) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	profile := ""
	if s.CPUProfile != "" {
		if profile, err = filepath.Abs(s.CPUProfile); err != nil {
			return err
		}
	}
	// The first argument only names the process in ps; the variables
	// select the child mode (in main, and in TestMain for the test binary).
	e.temporalProc, err = startChild(e.dir, self, "temporal", []string{
		temporalChildEnv + "=" + filepath.Join(e.dir, "temporal.db"),
		temporalAddrEnv + "=" + addr,
		temporalNamespaceEnv + "=" + s.Namespace,
		temporalCPUProfileEnv + "=" + profile,
	})
	if err != nil {
		return err
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if data, _ := os.ReadFile(e.temporalProc.log); bytes.Contains(data, []byte(temporalReady)) {
			e.temporalAddr = addr
			return nil
		}
		if e.temporalProc.exited() {
			return fmt.Errorf("temporal dev server exited at start:\n%s", e.temporalProc.tail())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("temporal dev server not ready after 3 minutes:\n%s", e.temporalProc.tail())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
