package workflows

import (
	"testing"
	"time"
)

func TestParseRetrySchedule(t *testing.T) {
	got, err := ParseRetrySchedule("0s, 5s,5m,30m,2h,5h,10h,10h")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(DefaultRetrySchedule) {
		t.Fatalf("got %v, want %v", got, DefaultRetrySchedule)
	}
	for i := range got {
		if got[i] != DefaultRetrySchedule[i] {
			t.Errorf("entry %d: got %s, want %s", i, got[i], DefaultRetrySchedule[i])
		}
	}
	for _, bad := range []string{"", "5", "5s,,1m", "-1s", "abc"} {
		if _, err := ParseRetrySchedule(bad); err == nil {
			t.Errorf("ParseRetrySchedule(%q): got no error, want one", bad)
		}
	}
}

func TestAttemptDelayJitterIsBoundedAndDeterministic(t *testing.T) {
	schedule := DefaultRetrySchedule
	spread := map[time.Duration]bool{}
	for key := int64(1); key <= 200; key++ {
		d := attemptDelay(schedule, 2, "evt", key, 0)
		if d < 4*time.Second || d > 6*time.Second {
			t.Fatalf("key %d: got %s, want within 5s ±20%%", key, d)
		}
		if again := attemptDelay(schedule, 2, "evt", key, 0); again != d {
			t.Fatalf("key %d: got %s then %s, want the same delay on replay", key, d, again)
		}
		spread[d] = true
	}
	if len(spread) < 50 {
		t.Errorf("got %d distinct delays over 200 deliveries, want the jitter to spread them", len(spread))
	}
	if d := attemptDelay(schedule, 1, "evt", 1, 0); d != 0 {
		t.Errorf("first attempt: got %s, want 0", d)
	}
	if d := attemptDelay(schedule, 2, "evt", 1, time.Minute); d != time.Minute {
		t.Errorf("Retry-After 1m: got %s, want 1m", d)
	}
	if d := attemptDelay(schedule, 2, "evt", 1, 48*time.Hour); d != 10*time.Hour {
		t.Errorf("Retry-After 48h: got %s, want the largest delay 10h", d)
	}
}
