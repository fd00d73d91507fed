package reputation

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRecordWeights(t *testing.T) {
	for _, c := range []struct {
		o           Outcome
		c           string
		alpha, beta float64
	}{
		{Success, wasm, 2, 1},
		{Failure, wasm, 1, 3},
		{Timeout, wasm, 1, 3},
		{WrongResult, wasm, 1, 9},
		{MissedStart, wasm, 1, 3},
		{Paid, CapRequester, 1.5, 1},
		{Disputed, CapRequester, 1, 3},
		{Settled, CapRequester, 2, 1},
	} {
		t.Run(string(c.o), func(t *testing.T) {
			b := newBook(t)
			if err := b.Record(t0, "p", c.c, c.o, "ev"); err != nil {
				t.Fatal(err)
			}
			got := b.Posterior("p", c.c)
			if !near(got.Alpha, c.alpha, 1e-12) || !near(got.Beta, c.beta, 1e-12) {
				t.Fatalf("posterior %+v, want α=%v β=%v", got, c.alpha, c.beta)
			}
		})
	}
}

func TestRecordRefuses(t *testing.T) {
	b := newBook(t)
	for _, c := range []struct {
		peer, c, ev string
		o           Outcome
		want        error
	}{
		{"", wasm, "ev", Success, ErrMissing},
		{"p", "", "ev", Success, ErrMissing},
		{"p", wasm, "", Success, ErrMissing},
		{self, wasm, "ev", Success, ErrSelf},
		{"p", wasm, "ev", Paid, ErrOutcome},
		{"p", CapRequester, "ev", Success, ErrOutcome},
		{"p", wasm, "ev", Outcome("great"), ErrOutcome},
	} {
		if err := b.Record(t0, c.peer, c.c, c.o, c.ev); !errorsIs(err, c.want) {
			t.Errorf("Record(%q, %q, %q, %q) = %v, want %v", c.peer, c.c, c.o, c.ev, err, c.want)
		}
	}
	if rows := b.Snapshot(); len(rows) != 0 {
		t.Fatalf("refused records left rows: %v", rows)
	}
}

func TestRecordCountsEvidenceOnce(t *testing.T) {
	b := newBook(t)
	if err := b.Record(t0, "p", wasm, Success, "r1"); err != nil {
		t.Fatal(err)
	}
	before := b.Posterior("p", wasm)
	if err := b.Record(t0, "p", wasm, Success, "r1"); !errorsIs(err, ErrDuplicate) {
		t.Fatalf("second Record = %v, want ErrDuplicate", err)
	}
	if got := b.Posterior("p", wasm); got != before {
		t.Fatalf("duplicate changed the posterior: %+v → %+v", before, got)
	}
	// A sampled re-run later proves the paid result wrong: the negative
	// side of the same receipt still counts, once.
	if err := b.Record(t0, "p", wasm, WrongResult, "r1"); err != nil {
		t.Fatal(err)
	}
	if err := b.Record(t0, "p", wasm, WrongResult, "r1"); !errorsIs(err, ErrDuplicate) {
		t.Fatalf("second wrong result = %v, want ErrDuplicate", err)
	}
	if got := b.Posterior("p", wasm); got != (Posterior{2, 9}) {
		t.Fatalf("posterior %+v, want {2 9}", got)
	}
	// A heavier outcome on the same job replaces a lighter one, and one
	// as heavy adds nothing: a missed start that became a failure counts
	// as one failure, one that proved a wrong result as one wrong result.
	if err := b.Record(t0, "q", wasm, MissedStart, "job9"); err != nil {
		t.Fatal(err)
	}
	if err := b.Record(t0, "q", wasm, Failure, "job9"); !errorsIs(err, ErrDuplicate) {
		t.Fatalf("failure after a missed start on one job = %v, want ErrDuplicate", err)
	}
	if got := b.Posterior("q", wasm); got != (Posterior{1, 3}) {
		t.Fatalf("posterior %+v, want {1 3}", got)
	}
	if err := b.Record(t0, "q", wasm, WrongResult, "job9"); err != nil {
		t.Fatal(err)
	}
	if err := b.Record(t0, "q", wasm, Timeout, "job9"); !errorsIs(err, ErrDuplicate) {
		t.Fatalf("timeout after a wrong result on one job = %v, want ErrDuplicate", err)
	}
	if got := b.Posterior("q", wasm); got != (Posterior{1, 9}) {
		t.Fatalf("posterior %+v, want {1 9}", got)
	}
	// The same evidence ID about another peer is other evidence.
	if err := b.Record(t0, "q", wasm, Success, "r1"); err != nil {
		t.Fatalf("r1 about q: %v", err)
	}
}

func TestRecordDecaysFirst(t *testing.T) {
	b := newBook(t)
	h := b.Params().HalfLife
	mustRecord(t, b, t0, "p", wasm, Success, 8)
	mustRecord(t, b, t0, "p", wasm, Failure, 2) // β = 5
	b.Tick(t0.Add(h))
	if got := b.Posterior("p", wasm); !near(got.Alpha, 5, 1e-9) || !near(got.Beta, 3, 1e-9) {
		t.Fatalf("one half-life later: %+v, want {5 3}", got)
	}
	mustRecord(t, b, t0.Add(2*h), "p", wasm, Success, 1) // decays 8→2 first, then +1
	if got := b.Posterior("p", wasm); !near(got.Alpha, 4, 1e-9) || !near(got.Beta, 2, 1e-9) {
		t.Fatalf("two half-lives later plus one success: %+v, want {4 2}", got)
	}
	// A clock that goes back is ignored: evidence is added at the book's
	// time, not undecayed.
	mustRecord(t, b, t0, "p", wasm, Success, 1)
	if got := b.Posterior("p", wasm); !near(got.Alpha, 5, 1e-9) || !b.Now().Equal(t0.Add(2*h)) {
		t.Fatalf("after a record in the past: %+v at %v", got, b.Now())
	}
}

func TestStanding(t *testing.T) {
	b := newBook(t)
	st := b.Standing("stranger", wasm, 0)
	if !st.Eligible || !st.Newcomer || st.Evidence != 0 || !near(st.Mean, 0.5, 1e-12) || !near(st.LowerBound, 0.05, 1e-12) {
		t.Fatalf("stranger at min 0: %+v", st)
	}
	st = b.Standing("stranger", wasm, 0.3)
	if st.Eligible || !strings.Contains(st.Reason, "no record on runtime/wasm yet") {
		t.Fatalf("stranger at min 0.3: %+v", st)
	}

	mustRecord(t, b, t0, "good", wasm, Success, 20)
	st = b.Standing("good", wasm, 0.8)
	want := math.Pow(0.05, 1.0/21)
	if !st.Eligible || st.Newcomer || !near(st.LowerBound, want, 1e-9) || st.Score != st.Mean || st.Evidence != 20 {
		t.Fatalf("good at min 0.8: %+v (want lower bound %v)", st, want)
	}
	if st := b.Standing("good", wasm, 0.9); st.Eligible || !strings.Contains(st.Reason, "below the minimum 0.90") {
		t.Fatalf("good at min 0.9: %+v", st)
	}
	if st := b.Standing("good", "gpu/nvidia/h100", 0); !st.Newcomer {
		t.Fatalf("reputation leaked across capabilities: %+v", st)
	}
	if st := b.Standing(self, wasm, 0.99); !st.Eligible || st.Newcomer {
		t.Fatalf("own standing: %+v", st)
	}
	// Less than one observation is a newcomer still: two, decayed over
	// two half-lives, are half of one.
	mustRecord(t, b, t0, "late", wasm, MissedStart, 1)
	b.Tick(t0.Add(2 * DefaultParams().HalfLife))
	if st := b.Standing("late", wasm, 0); !st.Newcomer || !st.Eligible {
		t.Fatalf("half an observation: %+v", st)
	}
}

func TestCreditLimit(t *testing.T) {
	b := newBook(t)
	mustRecord(t, b, t0, "some", CapRequester, Paid, 10)
	mustRecord(t, b, t0, "long", CapRequester, Settled, 100)
	mustRecord(t, b, t0, "bad", CapRequester, Disputed, 3)
	mustRecord(t, b, t0, "prov", wasm, Success, 100) // a good provider is not thereby a good requester
	q := b.Params().Quantile
	lbSome := math.Pow(q, 1.0/6) // Beta(6, 1)
	lbBad := 1 - math.Pow(1-q, 1.0/7)
	for _, c := range []struct {
		peer      string
		base, max int64
		want      int64
	}{
		{"stranger", 100, 1000, 100},
		{"prov", 100, 1000, 100},
		{"some", 100, 1000, 100 + int64(math.Round(900*(lbSome-q)/(0.9-q)))},
		{"long", 100, 1000, 1000},
		{"bad", 100, 1000, int64(math.Round(100 * lbBad / q))},
		{"long", 100, 50, 100}, // max below base
		{"stranger", -5, 10, 0},
		{"long", 0, math.MaxInt64, math.MaxInt64},
		{"some", math.MaxInt64 - 10, math.MaxInt64, math.MaxInt64 - 10 + int64(math.Round(10*(lbSome-q)/(0.9-q)))},
	} {
		if got := b.CreditLimit(c.peer, c.base, c.max); got != c.want {
			t.Errorf("CreditLimit(%s, %d, %d) = %d, want %d", c.peer, c.base, c.max, got, c.want)
		}
	}
}

func TestReliability(t *testing.T) {
	b := newBook(t)
	if r := b.Reliability("stranger", wasm); !near(r, 0.9, 1e-12) {
		t.Fatalf("stranger reliability %v, want the verification prior 0.9", r)
	}
	mustRecord(t, b, t0, "honest", wasm, Success, 10)
	mustRecord(t, b, t0, "cheat", wasm, WrongResult, 1)
	if r := b.Reliability("honest", wasm); !near(r, (10+1.8)/12, 1e-12) {
		t.Fatalf("honest reliability %v", r)
	}
	if r := b.Reliability("cheat", wasm); !near(r, 1.8/10, 1e-12) {
		t.Fatalf("cheat reliability %v", r)
	}
}

func TestSnapshot(t *testing.T) {
	b := newBook(t)
	mustRecord(t, b, t0, "b", wasm, Success, 3)
	mustRecord(t, b, t0, "a", CapRequester, Paid, 2)
	mustRecord(t, b, t0, "a", wasm, Failure, 1)
	var got []string
	for _, r := range b.Snapshot() {
		got = append(got, r.String())
	}
	want := []string{
		"a requester α=2.000 β=1.000 mean=0.667 lb=0.224 ev=1.000 first=1.000 third=0.000",
		"a runtime/wasm α=1.000 β=3.000 mean=0.250 lb=0.017 ev=2.000 first=2.000 third=0.000",
		"b runtime/wasm α=4.000 β=1.000 mean=0.800 lb=0.473 ev=3.000 first=3.000 third=0.000",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Snapshot:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestExportRestore(t *testing.T) {
	rng := propRand(t)
	b := newBook(t)
	now := t0
	for i := range 300 {
		now = now.Add(time.Duration(rng.Int64N(int64(6 * time.Hour))))
		peer := fmt.Sprintf("p%d", rng.IntN(8))
		if rng.IntN(3) == 0 {
			rep := fmt.Sprintf("p%d", rng.IntN(8))
			_, _ = b.Attest(now, Attestation{Reporter: rep, Created: now.UnixMilli(),
				Reports: []Report{receiptReport(peer, wasm, Success, fmt.Sprint("x", i))}})
			continue
		}
		os := []Outcome{Success, Success, Failure, WrongResult, MissedStart}
		_ = b.Record(now, peer, wasm, os[rng.IntN(len(os))], fmt.Sprint("e", rng.IntN(200)))
	}
	st := b.Export()
	r, err := Restore(b.Params(), self, st)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Export(), st) {
		t.Fatal("restored book exports another state")
	}
	if !reflect.DeepEqual(rowsAt(r, now), rowsAt(b, now)) {
		t.Fatal("restored book shows other rows")
	}
	later := now.Add(30 * 24 * time.Hour)
	r.Tick(later)
	b.Tick(later)
	if !reflect.DeepEqual(rowsAt(r, later), rowsAt(b, later)) {
		t.Fatal("restored book decays differently")
	}
	bad := st
	bad.Tallies = append([]StateTally(nil), st.Tallies...)
	bad.Tallies[0].Pos = math.NaN()
	if _, err := Restore(b.Params(), self, bad); err == nil {
		t.Fatal("Restore took a NaN tally")
	}
}

// rowsAt is the snapshot without the Updated times (whose location may
// differ after a round trip).
func rowsAt(b *Book, now time.Time) []string {
	b.Tick(now)
	var out []string
	for _, r := range b.Snapshot() {
		out = append(out, fmt.Sprintf("%s %d", r, r.Updated.UnixNano()))
	}
	return out
}

func TestTickForgets(t *testing.T) {
	b := newBook(t)
	p := b.Params()
	mustRecord(t, b, t0, "p", wasm, Success, 5)
	if err := b.Record(t0, "p", wasm, Success, "r1"); err != nil {
		t.Fatal(err)
	}
	b.Tick(t0.Add(p.EvidenceMemory + time.Hour))
	if n := len(b.Export().Evidence); n != 0 {
		t.Fatalf("%d evidence IDs remembered past the evidence memory", n)
	}
	if rows := b.Snapshot(); len(rows) != 1 || rows[0].Evidence > 6*math.Exp2(-10) {
		t.Fatalf("after ten half-lives: %v", rows)
	}
	b.Tick(t0.Add(20 * p.HalfLife))
	if rows := b.Snapshot(); len(rows) != 0 {
		t.Fatalf("after twenty half-lives the peer is still there: %v", rows)
	}
}

// Auctions read standings while receipts and attestations arrive.
func TestBookConcurrent(t *testing.T) {
	b := newBook(t)
	trusted(t, b, "r", 20)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			_ = b.Record(t0.Add(time.Duration(i)*time.Second), fmt.Sprint("p", i%5), wasm, Success, fmt.Sprint("c", i))
			_, _ = b.Attest(t0, Attestation{Reporter: "r", Reports: sybilReports(fmt.Sprint("p", i%5), fmt.Sprint("a", i), 2)})
			b.Tick(t0.Add(time.Duration(i) * time.Minute))
		}
	}()
	for i := range 200 {
		_ = b.Standing(fmt.Sprint("p", i%5), wasm, 0.5)
		_ = b.Reliability(fmt.Sprint("p", i%5), wasm)
		_ = b.Snapshot()
	}
	<-done
}

// BenchmarkStanding reads a subject that 50 trusted reporters attested.
func BenchmarkStanding(b *testing.B) {
	bk := newBook(b)
	for i := range 50 {
		r := fmt.Sprint("r", i)
		mustRecord(b, bk, t0, r, wasm, Success, 20)
		if _, err := bk.Attest(t0, Attestation{Reporter: r, Reports: sybilReports("s", r, 20)}); err != nil {
			b.Fatal(err)
		}
	}
	mustRecord(b, bk, t0, "s", wasm, Success, 30)
	for b.Loop() {
		bk.Standing("s", wasm, 0.5)
	}
}
