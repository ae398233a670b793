package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ocelot/webhooks/activities"
	"github.com/ocelot/webhooks/internal/config"
)

// The floors' task queues keep their workflows away from the service's
// worker.
const (
	floorQueue      = "bench-floor"
	eagerFloorQueue = "bench-eager-floor"
)

// floorWorker returns a worker on queue with the options worker.New gets
// from the worker command.
func (e *env) floorWorker(s settings, queue string) sdkworker.Worker {
	return sdkworker.New(e.temporal, queue, sdkworker.Options{
		MaxConcurrentActivityExecutionSize: s.Activities,
		MaxConcurrentActivityTaskPollers:   config.DefaultWorkerPollers,
		MaxConcurrentWorkflowTaskPollers:   config.DefaultWorkerPollers,
	})
}

// temporalFloor is the fastest the same Temporal server and worker settings
// go: a workflow that runs one no-op activity, started by as many producers
// as the closed loop has. The activity stamps its arrival as a receiver
// does, so the figures compare one to one.
func (e *env) temporalFloor(ctx context.Context, s settings, out io.Writer, name string, n int) (*phaseResult, error) {
	w := e.floorWorker(s, floorQueue)
	w.RegisterWorkflowWithOptions(floorWorkflow, workflow.RegisterOptions{Name: "BenchFloor"})
	w.RegisterActivityWithOptions(func(ctx context.Context) error {
		if t := e.recv.current.Load(); t != nil {
			t.arrive(activity.GetInfo(ctx).WorkflowExecution.ID, 0, time.Now())
		}
		return nil
	}, activity.RegisterOptions{Name: "BenchNoop"})
	if err := w.Start(); err != nil {
		return nil, fmt.Errorf("start floor worker: %w", err)
	}
	defer w.Stop()
	start := func(ctx context.Context, id string) error {
		_, err := e.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: floorQueue}, "BenchFloor")
		return err
	}
	// The no-op activity stamps its arrival when it starts; the phase also
	// waits for every floor workflow to close (its second workflow task), as
	// for the service's events, so the worker stops with none left open.
	p, err := e.closed(ctx, out, name, 1, n, s, start, sameID)
	if err != nil {
		return nil, err
	}
	p.Kind = "temporal floor"
	return p, nil
}

// sameID names a floor event's workflow: the event id is the workflow id.
func sameID(eventID string) string { return eventID }

// eagerFloor is the fastest a workflow goes on the same Temporal server: an
// empty one (no activity), started with eager workflow start by a worker in
// the starter's process, so that its only workflow task comes back in the
// answer to the start instead of through matching. The workflow stamps its
// arrival when its task runs.
func (e *env) eagerFloor(ctx context.Context, s settings, out io.Writer, name string, n int) (*phaseResult, error) {
	w := e.floorWorker(s, eagerFloorQueue)
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context) error {
		// A side effect in workflow code, harmless here: the stamp is
		// skipped on replay and a repeat would count as a duplicate.
		if t := e.recv.current.Load(); t != nil && !workflow.IsReplaying(ctx) {
			t.arrive(workflow.GetInfo(ctx).WorkflowExecution.ID, 0, time.Now())
		}
		return nil
	}, workflow.RegisterOptions{Name: "BenchEagerFloor"})
	if err := w.Start(); err != nil {
		return nil, fmt.Errorf("start eager floor worker: %w", err)
	}
	defer w.Stop()
	start := func(ctx context.Context, id string) error {
		// Eager start needs the worker on the same client, as here.
		_, err := e.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: eagerFloorQueue, EnableEagerStart: true}, "BenchEagerFloor")
		return err
	}
	p, err := e.closed(ctx, out, name, 1, n, s, start, sameID)
	if err != nil {
		return nil, err
	}
	p.Kind = "eager floor"
	return p, nil
}

func floorWorkflow(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	return workflow.ExecuteActivity(ctx, "BenchNoop").Get(ctx, nil)
}

// httpFloor posts the same number of events straight to the receivers from
// this process, with the worker's own HTTP client settings: what delivery
// costs without any durability.
func (e *env) httpFloor(ctx context.Context, s settings, out io.Writer, n int) (*phaseResult, error) {
	c := activities.NewHTTPClient(activities.HTTPOptions{
		AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	})
	url := e.recv.localURL + "/floor/0"
	post := func(ctx context.Context, id string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(eventJSON(id)))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("webhook-id", id)
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("POST %s: %s", url, resp.Status)
		}
		return nil
	}
	p, err := e.closed(ctx, out, "http floor", 1, n, s, post, nil)
	if p != nil {
		p.Kind = "http floor"
	}
	return p, err
}
