package workflows_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ocelot/webhooks/internal/codec"
	"github.com/ocelot/webhooks/workflows"
)

// The histories in testdata were recorded from a real server by
//
//	go test ./e2e -run TestMainPathHistories -record-histories
//
// Replaying them guards determinism: a change to DeliverEvent that would
// break running workflows fails here. Such a change goes behind
// workflow.GetVersion, with a newly recorded history for the new path.
//
// testdata/*.json is the corpus of the first version (plain payloads,
// durations in nanoseconds); testdata/delivery-log/*.json that of the
// delivery-log version, its payloads encrypted by the codec under the e2e
// tests' key. Both must replay: workflows of either may be running.
func histories(t *testing.T, pattern string, atLeast int) []string {
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < atLeast {
		t.Fatalf("got %d recorded histories in testdata/%s, want at least %d", len(files), pattern, atLeast)
	}
	return files
}

// e2eDataConverter decodes what the e2e stacks encoded (e2e's
// testPayloadKeys) and passes plain payloads through, as the worker does.
func e2eDataConverter(t *testing.T) converter.DataConverter {
	c, err := codec.New([]codec.Key{{ID: "test-1", Secret: bytes.Repeat([]byte{7}, codec.KeySize)}})
	if err != nil {
		t.Fatal(err)
	}
	return codec.DataConverter(c)
}

func TestReplayRecordedHistories(t *testing.T) {
	files := append(histories(t, "*.json", 6), histories(t, "delivery-log/*.json", 6)...)
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			replayer, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{DataConverter: e2eDataConverter(t)})
			if err != nil {
				t.Fatal(err)
			}
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
