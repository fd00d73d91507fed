package apitest

import (
	"testing"
	"time"
)

// Slack is how much longer than on an idle machine WaitFor waits: the
// race detector and other packages' tests share the cores.
const Slack = 5

// WaitFor polls cond until it holds, or fails the test once Slack times
// within has passed. Tests never sleep a fixed time: they wait for the
// condition they need. within is what the condition needs on an idle
// machine; a wait longer than that is logged, so a slow machine is seen
// before it becomes a failure. The poll starts at a millisecond and backs
// off to 20ms, so a condition that is costly to check (a call to a node)
// is not asked in a tight loop.
func WaitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(within * Slack)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within*Slack, what)
		}
		time.Sleep(pause)
		pause = min(2*pause, 20*time.Millisecond)
	}
	if d := time.Since(start); d > within {
		t.Logf("waited %v for %s, expected within %v: is the machine busy?", d.Round(time.Millisecond), what, within)
	}
}
