package workflows

import (
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/ocelot/webhooks/activities"
)

// jitterFraction is SPEC 6.3's ±20 %.
const jitterFraction = 0.2

// ParseRetrySchedule reads a comma-separated list of delays such as
// "0s,5s,5m,30m,2h,5h,10h,10h": the delay before each attempt.
func ParseRetrySchedule(s string) ([]time.Duration, error) {
	var schedule []time.Duration
	for i, part := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("retry schedule entry %d %q: not a duration such as 5s or 2h", i+1, part)
		}
		if d < 0 {
			return nil, fmt.Errorf("retry schedule entry %d %q: must not be negative", i+1, part)
		}
		schedule = append(schedule, d)
	}
	if len(schedule) > 100 {
		return nil, fmt.Errorf("retry schedule has %d entries; at most 100", len(schedule))
	}
	return schedule, nil
}

// attemptDelay is the wait before attempt (counting from 1) of one
// delivery: the schedule's delay with ±20 % jitter, raised to the receiver's
// Retry-After (capped by the schedule's largest delay).
//
// The jitter comes from a hash of the event, webhook and attempt rather than
// from a random source: it is the same on every replay without recording a
// side effect in history, yet spreads the retries of different deliveries.
func attemptDelay(schedule []time.Duration, attempt int, eventID string, webhookKey int64, retryAfter time.Duration) time.Duration {
	base := schedule[attempt-1]
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d/%d", eventID, webhookKey, attempt)
	unit := float64(h.Sum64()%10001)/10000*2 - 1 // in [-1, 1]
	delay := base + time.Duration(float64(base)*jitterFraction*unit)
	return activities.RetryDelay(delay, retryAfter, maxDelay(schedule))
}

func maxDelay(schedule []time.Duration) time.Duration {
	var largest time.Duration
	for _, d := range schedule {
		largest = max(largest, d)
	}
	return largest
}
