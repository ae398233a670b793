package workflows_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ocelot/webhooks/workflows"
)

// The histories in testdata were recorded from a real server by
//
//	go test ./e2e -run TestMainPathHistories -record-histories
//
// Replaying them guards determinism: a change to DeliverEvent that would
// break running workflows fails here. Such a change goes behind
// workflow.GetVersion, with a newly recorded history for the new path.
func histories(t *testing.T) []string {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 6 {
		t.Fatalf("got %d recorded histories in testdata, want at least 6", len(files))
	}
	return files
}

func TestReplayRecordedHistories(t *testing.T) {
	for _, file := range histories(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			replayer := worker.NewWorkflowReplayer()
			replayer.RegisterWorkflow(workflows.DeliverEvent)
			if err := replayer.ReplayWorkflowHistoryFromJSONFile(nil, file); err != nil {
				t.Fatalf("replay: %v", err)
			}
		})
	}
}

// changedDeliverEvent stands for a careless edit: it no longer resolves the
// webhooks first. Replaying real histories against it must fail, which shows
// the replay test can catch a nondeterministic change.
func changedDeliverEvent(ctx workflow.Context, in workflows.DeliverEventInput) (workflows.DeliverEventResult, error) {
	return workflows.DeliverEventResult{}, workflow.Sleep(ctx, time.Second)
}

func TestReplayFailsForAChangedWorkflow(t *testing.T) {
	file := filepath.Join("testdata", "delivered_first_try.json")
	replayer := worker.NewWorkflowReplayer()
	replayer.RegisterWorkflowWithOptions(changedDeliverEvent, workflow.RegisterOptions{Name: "DeliverEvent"})
	err := replayer.ReplayWorkflowHistoryFromJSONFile(nil, file)
	if err == nil {
		t.Fatal("replay of a changed workflow: got no error, want a nondeterminism error")
	}
	// TMPRL1100 is the SDK's code for a nondeterminism error.
	if !strings.Contains(err.Error(), "TMPRL1100") && !strings.Contains(strings.ToLower(err.Error()), "nondetermin") {
		t.Errorf("got %v, want a nondeterminism error", err)
	}
}
