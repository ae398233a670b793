// Package worker registers the delivery workflow and its activities on a
// Temporal worker. It is a library so that the worker command, the dev stack,
// the end-to-end tests and the benchmark run exactly the same registration.
package worker

import (
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/ocelot/webhooks/activities"
	"github.com/ocelot/webhooks/workflows"
)

// Options tunes a worker; zero values take the SDK's defaults.
type Options struct {
	// MaxConcurrentActivities bounds deliveries in flight on this worker.
	// Deliveries mostly wait on the network, so it can be far above the
	// core count.
	MaxConcurrentActivities    int
	MaxConcurrentWorkflowTasks int
	ActivityPollers            int
	WorkflowPollers            int
}

// New returns a worker on workflows.TaskQueue with the workflows and the
// activities registered. The caller starts and stops it.
func New(c client.Client, acts *activities.Activities, opts Options) sdkworker.Worker {
	w := sdkworker.New(c, workflows.TaskQueue, sdkworker.Options{
		MaxConcurrentActivityExecutionSize:     opts.MaxConcurrentActivities,
		MaxConcurrentWorkflowTaskExecutionSize: opts.MaxConcurrentWorkflowTasks,
		MaxConcurrentActivityTaskPollers:       opts.ActivityPollers,
		MaxConcurrentWorkflowTaskPollers:       opts.WorkflowPollers,
	})
	w.RegisterWorkflow(workflows.DeliverEvent)
	w.RegisterWorkflow(workflows.SendTestEvent)
	w.RegisterWorkflow(workflows.PruneDeliveryLog)
	w.RegisterActivity(acts)
	return w
}
