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

// floorQueue keeps the floor's workflows away from the service's worker.
const floorQueue = "bench-floor"

// temporalFloor is the fastest the same Temporal server and worker settings
// go: a workflow that runs one no-op activity, started by as many producers
// as the closed loop has. The activity stamps its arrival as a receiver
// does, so the figures compare one to one.
func (e *env) temporalFloor(ctx context.Context, s settings, out io.Writer, n int) (*phaseResult, error) {
	// The same options as worker.New gets from the worker command.
	w := sdkworker.New(e.temporal, floorQueue, sdkworker.Options{
		MaxConcurrentActivityExecutionSize: s.Activities,
		MaxConcurrentActivityTaskPollers:   config.DefaultWorkerPollers,
		MaxConcurrentWorkflowTaskPollers:   config.DefaultWorkerPollers,
	})
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
	p, err := e.closed(ctx, out, "temporal floor", 1, n, s, start)
	if err != nil {
		return nil, err
	}
	p.Kind = "temporal floor"
	// The no-op activity stamps its arrival when it starts; keep the worker
	// until every floor workflow has also closed, or stopping it strands
	// them open (and the history sampling below waits for them).
	for _, id := range p.eventIDs {
		waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := e.temporal.GetWorkflow(waitCtx, id, "").Get(waitCtx, nil)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("floor workflow %s did not close: %w", id, err)
		}
	}
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
	url := e.recv.URL + "/floor/0"
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
	p, err := e.closed(ctx, out, "http floor", 1, n, s, post)
	if p != nil {
		p.Kind = "http floor"
	}
	return p, err
}
