package reputation

import (
	"slices"
	"testing"
	"time"
)

// A provider's results are always checked until its lower bound reaches
// Proven, then at a rate falling linearly to 1 − Settled at Settled, then
// at 1 − bound, never below MinRate, more for dearer jobs.
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
		{28, 100, 0.966}, // 0.05^(1/29) = 0.9018: on the ramp, 1 − 0.036·0.95
		{40, 100, 0.439}, // 0.05^(1/41) = 0.9295: halfway down it
		{40, 200, 0.878}, // a job worth twice the reference: twice the rate
		{58, 100, 0.05},  // 0.05^(1/59) = 0.9505: settled, at the floor
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

// A provider on probation (below Trusted) must keep a first-hand
// reliability of ProbationReliability: an honest stranger whose first
// job was lost stays eligible, a provider that dropped three of six does
// not, and a trusted veteran is left to the book's floor.
func TestCheckPolicyProbation(t *testing.T) {
	p := DefaultCheckPolicy()
	b := newBook(t)
	barred := func(peer string) bool {
		return p.Probation(b.Standing(peer, wasm, 0), b.DirectReliability(peer, wasm))
	}
	if barred("stranger") {
		t.Error("a stranger is barred")
	}
	mustRecord(t, b, t0, "lost", wasm, Timeout, 1)
	if barred("lost") {
		t.Errorf("a stranger with one timeout (reliability %.3f) is barred", b.DirectReliability("lost", wasm))
	}
	mustRecord(t, b, t0, "lazy", wasm, Success, 3)
	mustRecord(t, b, t0, "lazy", wasm, Timeout, 3)
	if !barred("lazy") {
		t.Errorf("a provider that dropped half its six jobs (reliability %.3f) is not barred", b.DirectReliability("lazy", wasm))
	}
	mustRecord(t, b, t0, "veteran", wasm, Success, 40)
	mustRecord(t, b, t0, "veteran", wasm, Timeout, 12)
	if st := b.Standing("veteran", wasm, 0); st.LowerBound < p.Trusted || barred("veteran") {
		t.Errorf("a trusted veteran (bound %.3f) is barred by the probation floor", st.LowerBound)
	}
}

// A provider on probation caught three times is barred, even when its
// clean runs between catches keep its reliability above
// ProbationReliability; caught twice, its reliability decides; a trusted
// veteran is left to the book's floor.
func TestCheckPolicyProbationAgainst(t *testing.T) {
	p := DefaultCheckPolicy()
	b := newBook(t)
	barred := func(peer string) bool {
		return p.Probation(b.Standing(peer, wasm, 0), b.DirectReliability(peer, wasm))
	}
	mustRecord(t, b, t0, "twice", wasm, Success, 20)
	mustRecord(t, b, t0, "twice", wasm, WrongResult, 2)
	if barred("twice") {
		t.Errorf("caught twice in 22 jobs (against %.0f, reliability %.3f): barred", b.Standing("twice", wasm, 0).Against, b.DirectReliability("twice", wasm))
	}
	mustRecord(t, b, t0, "thrice", wasm, Success, 20)
	mustRecord(t, b, t0, "thrice", wasm, WrongResult, 3)
	if st := b.Standing("thrice", wasm, 0); st.Against != 24 || b.DirectReliability("thrice", wasm) < p.ProbationReliability || !barred("thrice") {
		t.Errorf("caught three times in 23 jobs (against %.0f, reliability %.3f): not barred", st.Against, b.DirectReliability("thrice", wasm))
	}
	if st := b.Standing("thrice", wasm, 0); st.LowerBound >= p.Trusted {
		t.Errorf("caught three times in 23 jobs: bound %.3f, not on probation", st.LowerBound)
	}
	mustRecord(t, b, t0, "veteran", wasm, Success, 200)
	mustRecord(t, b, t0, "veteran", wasm, WrongResult, 2)
	if st := b.Standing("veteran", wasm, 0); st.LowerBound < p.Trusted || barred("veteran") {
		t.Errorf("a trusted veteran caught twice (bound %.3f) is barred by the probation bar", st.LowerBound)
	}
}

// A provider caught three times lately is barred whatever its record
// (CaughtBar 24, Standing.Wrong): a trusted veteran's right results
// between catches no longer keep it eligible. Timeouts and failures do
// not count toward it, so an honest veteran with lost messages is not
// barred, and catches decay like any evidence.
func TestCheckPolicyCaughtBar(t *testing.T) {
	p := DefaultCheckPolicy()
	b := newBook(t)
	barred := func(peer string) bool {
		return p.Probation(b.Standing(peer, wasm, 0), b.DirectReliability(peer, wasm))
	}
	mustRecord(t, b, t0, "cheat", wasm, Success, 200)
	mustRecord(t, b, t0, "cheat", wasm, WrongResult, 3)
	st := b.Standing("cheat", wasm, 0)
	if st.Wrong != 24 || st.Against != 24 || st.LowerBound < p.Trusted || !barred("cheat") {
		t.Errorf("a trusted veteran caught three times (bound %.3f, wrong %.0f): not barred", st.LowerBound, st.Wrong)
	}
	mustRecord(t, b, t0, "lossy", wasm, Success, 200)
	mustRecord(t, b, t0, "lossy", wasm, Timeout, 10)
	mustRecord(t, b, t0, "lossy", wasm, Failure, 5)
	mustRecord(t, b, t0, "lossy", wasm, WrongResult, 2)
	st = b.Standing("lossy", wasm, 0)
	if st.Wrong != 16 || st.Against != 46 || barred("lossy") {
		t.Errorf("a veteran with 46 against, 16 of it wrong results (bound %.3f): barred", st.LowerBound)
	}
	b.Tick(t0.Add(b.Params().HalfLife))
	if st := b.Standing("cheat", wasm, 0); st.Wrong != 12 || barred("cheat") {
		t.Errorf("a half-life later (wrong %.1f): still barred", st.Wrong)
	}
}

// A check without a verdict blames nobody, unless the runs of trusted
// providers returned Contradictions different results (so that many
// trusted providers, less one, lied in it): then the trusted providers
// whose results were less credible than the best take a failure, and
// strangers never do.
func TestContradicted(t *testing.T) {
	trusted := func(ps ...string) func(string) bool {
		return func(q string) bool { return slices.Contains(ps, q) }
	}
	// The requester of internal/sim's TestOnOffSeed5: four switched
	// on-off veterans and one honest one, five results, the honest one
	// the most credible (0.51).
	captured := []Replica{{"o1", "w1", 0.707, "n1"}, {"o2", "w2", 0.838, "n2"}, {"o3", "w3", 0.924, "n3"}, {"o4", "w4", 0.878, "n4"}, {"h", "ok", 0.967, "n5"}}
	// Two veteran cheats (0.99) outweigh three agreeing honest runs, one
	// of them trusted: three trusted results.
	veterans := []Replica{{"o1", "w1", 0.99, "n1"}, {"o2", "w2", 0.99, "n2"}, {"h1", "ok", 0.967, "n3"}, {"h2", "ok", 0.9, "n4"}, {"h3", "ok", 0.9, "n5"}}
	for _, c := range []struct {
		name           string
		contradictions int
		runs           []Replica
		trusted        func(string) bool
		want           []string
	}{
		{"captured", 4, captured, trusted("o1", "o2", "o3", "o4", "h"), []string{"o1", "o2", "o3", "o4"}},
		{"strangers are not blamed", 4, captured, trusted("o2", "o3", "o4", "h"), []string{"o2", "o3", "o4"}},
		{"three trusted results: nobody", 4, captured, trusted("o3", "o4", "h"), nil},
		{"no trusted run: nobody", 4, captured, trusted(), nil},
		{"veterans against strangers", 4, veterans, trusted("o1", "o2", "h1"), nil},
		{"veterans against strangers, at 3", 3, veterans, trusted("o1", "o2", "h1"), []string{"o1", "o2"}},
		{"off", 0, captured, trusted("o1", "o2", "o3", "o4", "h"), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := DefaultCheckPolicy()
			p.Contradictions = c.contradictions
			d := JudgeCheck(c.runs, 0.01, 5)
			if d.Verdict != SampleUnresolved {
				t.Fatalf("JudgeCheck = %v (%s), want unresolved", d.Verdict, d.Reason)
			}
			if got := p.Contradicted(c.runs, d, c.trusted); !slices.Equal(got, c.want) {
				t.Errorf("Contradicted = %v, want %v (outvoted %v)", got, c.want, d.Outvoted)
			}
		})
	}
	d := SampleDecision{Verdict: SampleResolved, Outvoted: []string{"o1"}}
	if got := DefaultCheckPolicy().Contradicted(captured, d, trusted("o1", "o2", "o3", "o4", "h")); got != nil {
		t.Errorf("a verdict: Contradicted = %v, want nobody", got)
	}
}

// A timeout costs a provider standing, not checks: CheckPolicy.Rate reads
// Standing.CheckBound, the lower bound without this node's own timeouts
// up to Params.LapseShare of the clean record, for a provider at
// Trusted; below it the full record decides, and a provider that times
// out often is hardly excused. A failure or a wrong result is not a
// lapse. Lapses survive Export and Restore.
func TestCheckPolicyRateLapses(t *testing.T) {
	p := DefaultCheckPolicy()
	b := newBook(t)
	mustRecord(t, b, t0, "vet", wasm, Success, 58)
	mustRecord(t, b, t0, "vet", wasm, Timeout, 1)
	st := b.Standing("vet", wasm, 0)
	if full := p.Rate(Standing{LowerBound: st.LowerBound}, 0); full < 0.99 || !near(st.CheckBound, 0.9505, 0.001) || p.Rate(st, 0) != p.MinRate {
		t.Errorf("58 clean jobs and a timeout: bound %.4f (rate %.3f), check bound %.4f, rate %.3f; want 0.9505, %.2f",
			st.LowerBound, full, st.CheckBound, p.Rate(st, 0), p.MinRate)
	}
	mustRecord(t, b, t0, "failed", wasm, Success, 58)
	mustRecord(t, b, t0, "failed", wasm, Failure, 1)
	if st := b.Standing("failed", wasm, 0); st.CheckBound != st.LowerBound || p.Rate(st, 0) < 0.99 {
		t.Errorf("a failure excused: bound %.4f, check bound %.4f, rate %.3f", st.LowerBound, st.CheckBound, p.Rate(st, 0))
	}
	mustRecord(t, b, t0, "slack", wasm, Success, 40)
	mustRecord(t, b, t0, "slack", wasm, Timeout, 5)
	if st := b.Standing("slack", wasm, 0); st.CheckBound >= p.Proven || p.Rate(st, 0) != 1 {
		t.Errorf("40 clean jobs and 5 timeouts: check bound %.4f, rate %.3f; want one timeout excused (LapseShare), rate 1", st.CheckBound, p.Rate(st, 0))
	}
	mustRecord(t, b, t0, "lazy", wasm, Success, 5)
	mustRecord(t, b, t0, "lazy", wasm, Timeout, 2)
	if st := b.Standing("lazy", wasm, 0); st.CheckBound-st.LowerBound > 0.02 || p.Rate(st, 0) != 1 {
		t.Errorf("a lazy provider: bound %.4f, check bound %.4f, rate %.3f; want hardly excused, rate 1", st.LowerBound, st.CheckBound, p.Rate(st, 0))
	}
	later := t0.Add(3 * 24 * time.Hour)
	b.Tick(later)
	r, err := Restore(b.Params(), "me", b.Export())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Standing("vet", wasm, 0), b.Standing("vet", wasm, 0); !near(got.CheckBound, want.CheckBound, 1e-9) || got.CheckBound == got.LowerBound {
		t.Errorf("restored check bound %.6f (bound %.6f), want %.6f", got.CheckBound, got.LowerBound, want.CheckBound)
	}
}

// A check without a verdict names the providers whose digest fewer
// cohorts returned than another that at least two did (Outnumbered):
// internal/sim's seed 29, where a veteran cheat's wrong result (capped at
// 0.995, odds 199) and a fellow's outweighed three agreeing strangers.
// Runs of one cohort are one voice, and a check where no digest has two
// voices outnumbers nobody.
func TestOutnumbered(t *testing.T) {
	for _, c := range []struct {
		name string
		runs []Replica
		want []string
	}{
		{"seed 29", []Replica{{"i1", "w1", 0.995, "n1"}, {"i0", "w0", 0.995, "n0"}, {"h1", "ok", 0.9, "n3"}, {"h2", "ok", 0.9, "n4"}, {"h3", "ok", 0.9, "n5"}},
			[]string{"i1", "i0"}},
		{"one veteran", []Replica{{"v", "w", 0.999, "n1"}, {"h1", "ok", 0.9, "n3"}, {"h2", "ok", 0.9, "n4"}, {"h3", "ok", 0.9, "n5"}, {"h4", "x", 0.5, "n6"}},
			[]string{"v", "h4"}},
		{"every digest one voice", []Replica{{"v", "w", 0.995, "n1"}, {"a", "a", 0.9, "n2"}, {"b", "b", 0.9, "n3"}, {"c", "c", 0.9, "n4"}, {"d", "d", 0.9, "n5"}},
			nil},
		{"one cohort is one voice", []Replica{{"v", "w", 0.995, "n1"}, {"w", "w2", 0.995, "n2"}, {"s1", "ok", 0.9, "n3"}, {"s2", "ok", 0.9, "n3"}, {"s3", "x", 0.9, "n4"}},
			nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := JudgeCheck(c.runs, 0.01, 5)
			if d.Verdict != SampleUnresolved {
				t.Fatalf("JudgeCheck = %v (%s), want unresolved", d.Verdict, d.Reason)
			}
			if !slices.Equal(d.Outnumbered, c.want) {
				t.Errorf("Outnumbered = %v, want %v", d.Outnumbered, c.want)
			}
		})
	}
}
