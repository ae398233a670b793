package workflows_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
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
// tests' key; testdata/unmarked/*.json that of workflows.ShapeUnmarked,
// the same path chosen by the input instead of a version marker;
// testdata/payload-from-log/*.json that of retries reading the payload
// from the delivery log. All must replay: workflows of each may be running.
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
	files := histories(t, "*.json", 6)
	files = append(files, histories(t, "delivery-log/*.json", 6)...)
	files = append(files, histories(t, "unmarked/*.json", 6)...)
	files = append(files, histories(t, "payload-from-log/*.json", 6)...)
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

// TestReplayUnmarkedInputRunByThePreviousRelease: during a rolling deploy a
// new API starts ShapeUnmarked workflows that a worker of the previous
// release may run; that worker calls GetVersion and records the version
// marker. The new code, which asks no version for that shape, must replay
// such a history. The delivery-log corpus with ShapeUnmarked written into
// its inputs is exactly that history.
func TestReplayUnmarkedInputRunByThePreviousRelease(t *testing.T) {
	dc := e2eDataConverter(t)
	for _, file := range histories(t, "delivery-log/*.json", 6) {
		t.Run(file, func(t *testing.T) {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			history, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
			if err != nil {
				t.Fatal(err)
			}
			started := history.Events[0].GetWorkflowExecutionStartedEventAttributes()
			var in workflows.DeliverEventInput
			if err := dc.FromPayload(started.Input.Payloads[0], &in); err != nil {
				t.Fatal(err)
			}
			if in.Shape != 0 {
				t.Fatalf("recorded input has Shape %d, want 0", in.Shape)
			}
			in.Shape = workflows.ShapeUnmarked
			if started.Input.Payloads[0], err = dc.ToPayload(in); err != nil {
				t.Fatal(err)
			}
			replayer, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{DataConverter: dc})
			if err != nil {
				t.Fatal(err)
			}
			replayer.RegisterWorkflow(workflows.DeliverEvent)
			if err := replayer.ReplayWorkflowHistory(nil, history); err != nil {
				t.Fatalf("replay: %v", err)
			}
		})
	}
}
