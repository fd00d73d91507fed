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
		{0, 100, 1},     // a stranger
		{12, 100, 1},    // lower bound 0.79: not proven yet
		{13, 100, 0.19}, // 0.05^(1/14) = 0.8074
		{13, 200, 0.39}, // a job worth twice the reference: twice the rate
		{58, 100, 0.05}, // 0.05^(1/59) = 0.9505: at the floor
		{500, 10, 0.05},
	} {
		if got := rate(c.clean, c.value); !near(got, c.want, 0.01) {
			t.Errorf("%d clean jobs, value %d: rate %.4f, want %.2f", c.clean, c.value, got, c.want)
		}
	}
	cheat := "cheat"
	mustRecord(t, b, t0, cheat, wasm, Success, 100)
	mustRecord(t, b, t0, cheat, wasm, WrongResult, 1)
	// A veteran caught once is checked more (its bound fell from 0.97 to
	// 0.87), not always: 100 clean jobs still speak for it. This is what
	// lets an on-off cheat collect a few more wrong results (README).
	if got := p.Rate(b.Standing(cheat, wasm, 0), 100); !near(got, 0.13, 0.01) {
		t.Errorf("a veteran caught once is checked at %.3f, want about 0.13", got)
	}
}

// A subnet where a wrong result was caught is barred to newcomers for
// the quarantine, and only that subnet.
func TestSubnetGuard(t *testing.T) {
	g := NewSubnetGuard(24 * time.Hour)
	g.Caught("10.0.0.0/24", t0)
	g.Caught("", t0) // no subnet known: nothing to bar
	for _, c := range []struct {
		subnet string
		at     time.Duration
		bars   bool
	}{
		{"10.0.0.0/24", 0, true},
		{"10.0.0.0/24", 23 * time.Hour, true},
		{"10.0.0.0/24", 24 * time.Hour, false},
		{"10.0.1.0/24", 0, false},
		{"", 0, false},
	} {
		if got := g.Bars(c.subnet, t0.Add(c.at)); got != c.bars {
			t.Errorf("Bars(%q) after %v = %v, want %v", c.subnet, c.at, got, c.bars)
		}
	}
}

// A caught cheat is not eligible, whatever the job's minimum; a stranger
// and an unlucky honest provider are; attestations never bar.
func TestMinReliability(t *testing.T) {
	b := newBook(t)
	mustRecord(t, b, t0, "cheat", wasm, WrongResult, 1)
	mustRecord(t, b, t0, "unlucky", wasm, Timeout, 1)
	mustRecord(t, b, t0, "veteran", wasm, Success, 20)
	mustRecord(t, b, t0, "veteran", wasm, Timeout, 1)
	for peer, want := range map[string]bool{"cheat": false, "unlucky": true, "veteran": true, "stranger": true} {
		if st := b.Standing(peer, wasm, 0); st.Eligible != want {
			t.Errorf("%s: eligible %v (%s), want %v", peer, st.Eligible, st.Reason, want)
		}
	}
	legacy := DefaultParams()
	legacy.MinReliability = 0
	lb, err := NewBook(legacy, self)
	if err != nil {
		t.Fatal(err)
	}
	mustRecord(t, lb, t0, "cheat", wasm, WrongResult, 1)
	if st := lb.Standing("cheat", wasm, 0); !st.Eligible {
		t.Errorf("with MinReliability 0 a caught cheat is eligible (the old design): %s", st.Reason)
	}
}
