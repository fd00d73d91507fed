package reputation

import (
	"testing"
	"time"
)

// A provider's results are always checked until its lower bound reaches
// Proven, then at 1 − bound, never below MinRate, more for dearer jobs.
func TestCheckPolicyRate(t *testing.T) {
	p := DefaultCheckPolicy()
	p.RefValue = 100
	b := newBook(t)
	n := 0
	rate := func(clean int, value int64) float64 {
		n++
		peer := "p" + time.Duration(n).String()
		mustRecord(t, b, t0, peer, wasm, Success, clean)
		return p.Rate(b.Standing(peer, wasm, 0), value)
	}
	for _, c := range []struct {
		clean int
		value int64
		want  float64
	}{
		{0, 100, 1},      // a stranger
		{27, 100, 1},     // lower bound 0.05^(1/28) = 0.8985: not proven yet
		{28, 100, 0.098}, // 0.05^(1/29) = 0.9018
		{28, 200, 0.196}, // a job worth twice the reference: twice the rate
		{58, 100, 0.05},  // 0.05^(1/59) = 0.9505: at the floor
		{500, 10, 0.05},
	} {
		if got := rate(c.clean, c.value); !near(got, c.want, 0.01) {
			t.Errorf("%d clean jobs, value %d: rate %.4f, want %.2f", c.clean, c.value, got, c.want)
		}
	}
	cheat := "cheat"
	mustRecord(t, b, t0, cheat, wasm, Success, 100)
	mustRecord(t, b, t0, cheat, wasm, WrongResult, 1)
	// A veteran caught once is checked every time again: its bound fell
	// from 0.97 to 0.87, below Proven, and it must earn spot-checking
	// anew.
	if got := p.Rate(b.Standing(cheat, wasm, 0), 100); got != 1 {
		t.Errorf("a veteran caught once is checked at %.3f, want 1", got)
	}
}
