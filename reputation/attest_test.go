package reputation

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"
)

func attest(t testing.TB, b *Book, now time.Time, reporter string, rs ...Report) int {
	t.Helper()
	n, err := b.Attest(now, Attestation{Reporter: reporter, Reports: rs, Created: now.UnixMilli(), Seq: 1})
	if err != nil {
		t.Fatalf("Attest from %s: %v", reporter, err)
	}
	return n
}

// trusted gives reporter n first-hand successes as a provider, so that
// its reports weigh something.
func trusted(t testing.TB, b *Book, reporter string, n int) {
	t.Helper()
	mustRecord(t, b, t0, reporter, wasm, Success, n)
}

func TestStrangerWeighsNothing(t *testing.T) {
	b := newBook(t)
	if w := b.ReporterWeight("stranger"); w != 0 {
		t.Fatalf("stranger weight %v", w)
	}
	if n := attest(t, b, t0, "stranger", sybilReports("subject", "s", 50)...); n != 0 {
		t.Fatalf("a stranger's attestation added %d reports", n)
	}
	if st := b.Standing("subject", wasm, 0); st.Evidence != 0 {
		t.Fatalf("subject after a stranger's praise: %+v", st)
	}
	// Nor does a reporter this node knows only from others.
	trusted(t, b, "friend", 30)
	attest(t, b, t0, "friend", sybilReports("stranger", "f", 5)...)
	if w := b.ReporterWeight("stranger"); w != 0 {
		t.Fatalf("third-party praise made a reporter weigh %v", w)
	}
	// Nor does one it has caught cheating.
	mustRecord(t, b, t0, "cheat", wasm, Success, 10)
	mustRecord(t, b, t0, "cheat", wasm, WrongResult, 3)
	if w := b.ReporterWeight("cheat"); w != 0 {
		t.Fatalf("a caught cheat weighs %v", w)
	}
}

func TestReporterWeightFormula(t *testing.T) {
	b := newBook(t)
	p := b.Params()
	trusted(t, b, "r", 10) // first-hand Beta(11, 1)
	lb := math.Pow(p.Quantile, 1.0/11)
	want := p.ReporterWeight * (lb - p.TrustFloor) / (1 - p.TrustFloor)
	if w := b.ReporterWeight("r"); !near(w, want, 1e-9) {
		t.Fatalf("weight %v, want %v", w, want)
	}
	attest(t, b, t0, "r", receiptReport("s", wasm, Success, "x1"), Report{Subject: "s", Capability: wasm, Outcome: Timeout, Evidence: "job2"})
	got := b.Posterior("s", wasm)
	if !near(got.Alpha, 1+want, 1e-9) || !near(got.Beta, 1+2*want, 1e-9) {
		t.Fatalf("posterior %+v, want α=1+%v β=1+2·%v", got, want, want)
	}
	// Requester evidence counts toward trust too: a peer that pays is
	// someone this node has done business with.
	mustRecord(t, b, t0, "payer", CapRequester, Settled, 10)
	if w := b.ReporterWeight("payer"); !near(w, want, 1e-9) {
		t.Fatalf("payer weight %v, want %v", w, want)
	}
}

// A sybil swarm of reporters this node has no first-hand evidence on buys
// nothing; reporters it trusts a little buy a little; however many
// reporters there are, third parties add at most ThirdPartyCap.
func TestThirdPartyCap(t *testing.T) {
	b := newBook(t)
	p := b.Params()
	for i := range 1000 {
		attest(t, b, t0, fmt.Sprint("sybil", i), sybilReports("target", fmt.Sprint("s", i), 20)...)
	}
	if st := b.Standing("target", wasm, 0); st.Evidence != 0 {
		t.Fatalf("a swarm of strangers moved the target: %+v", st)
	}

	// One reporter trusted a little: a lower bound just above the floor.
	trusted(t, b, "slight", 5) // Beta(6, 1): lower bound 0.607
	w := b.ReporterWeight("slight")
	if w <= 0 || w > 0.15 {
		t.Fatalf("slight weight %v", w)
	}
	attest(t, b, t0, "slight", sybilReports("target", "slight", 1000)...)
	row := rowOf(t, b, "target", wasm)
	if !near(row.ThirdParty, w*p.ReporterCap, 1e-9) {
		t.Fatalf("a slightly trusted reporter's 1000 reports count %v, want w·ReporterCap = %v", row.ThirdParty, w*p.ReporterCap)
	}

	// Many trusted reporters, each with a flood: capped in total.
	for i := range 50 {
		r := fmt.Sprint("friend", i)
		trusted(t, b, r, 40)
		attest(t, b, t0, r, sybilReports("target", r, 100)...)
	}
	row = rowOf(t, b, "target", wasm)
	if !near(row.ThirdParty, p.ThirdPartyCap, 1e-9) || row.FirstHand != 0 || row.Reporters != 51 {
		t.Fatalf("target after 51 trusted reporters: %v", row)
	}
	if st := b.Standing("target", wasm, 0.8); st.Eligible {
		t.Fatalf("third parties alone made the target eligible at 0.8: %+v", st)
	}
}

// The cap holds across capabilities: a subject is a peer.
func TestThirdPartyCapAcrossCapabilities(t *testing.T) {
	b := newBook(t)
	p := b.Params()
	var caps []string
	for i := range 10 {
		caps = append(caps, fmt.Sprintf("gpu/model%d", i))
	}
	for i := range 10 {
		r := fmt.Sprint("friend", i)
		trusted(t, b, r, 100)
		var rs []Report
		for j, c := range caps {
			rs = append(rs, receiptReport("target", c, Success, fmt.Sprint(r, j)))
		}
		attest(t, b, t0, r, rs...)
	}
	total := 0.0
	for _, row := range b.Snapshot() {
		if row.Peer == "target" {
			total += row.ThirdParty
		}
	}
	if total > p.ThirdPartyCap+1e-9 {
		t.Fatalf("third-party weight on target over all capabilities %v > cap %v", total, p.ThirdPartyCap)
	}
}

func rowOf(t testing.TB, b *Book, peer, c string) Row {
	t.Helper()
	for _, r := range b.Snapshot() {
		if r.Peer == peer && r.Capability == c {
			return r
		}
	}
	t.Fatalf("no row for %s %s", peer, c)
	return Row{}
}

func TestAttestCountsEvidenceOnce(t *testing.T) {
	b := newBook(t)
	trusted(t, b, "r1", 30)
	trusted(t, b, "r2", 30)
	rep := receiptReport("s", wasm, Success, "receipt-A")
	if n := attest(t, b, t0, "r1", rep, rep); n != 1 {
		t.Fatalf("the same receipt twice in one batch counted %d times", n)
	}
	before := b.Posterior("s", wasm)
	if n := attest(t, b, t0, "r1", rep); n != 0 {
		t.Fatalf("a replayed report counted")
	}
	if n := attest(t, b, t0, "r2", rep); n != 0 {
		t.Fatalf("a receipt reported by a second reporter counted again")
	}
	if got := b.Posterior("s", wasm); got != before {
		t.Fatalf("duplicates moved the posterior: %+v → %+v", before, got)
	}
	// Receiptless negative reports count once per (reporter, job).
	neg := Report{Subject: "s", Capability: wasm, Outcome: Timeout, Evidence: "job7"}
	if n := attest(t, b, t0, "r1", neg, neg); n != 1 {
		t.Fatalf("r1's timeout counted %d times", n)
	}
	if n := attest(t, b, t0, "r2", neg); n != 1 {
		t.Fatalf("r2's timeout on the same job ID counted %d times, want 1 (its own job)", n)
	}
	// Gossip cannot pre-empt first-hand evidence: what this node sees
	// itself counts whatever others said with the same ID.
	attest(t, b, t0, "r1", Report{Subject: "s", Capability: wasm, Outcome: Failure, Evidence: "job-B"})
	if err := b.Record(t0, "s", wasm, Failure, "job-B"); err != nil {
		t.Fatalf("first-hand evidence pre-empted by a report: %v", err)
	}
}

func TestAttestRefuses(t *testing.T) {
	b := newBook(t)
	trusted(t, b, "r", 30)
	if _, err := b.Attest(t0, Attestation{Reports: sybilReports("s", "x", 1)}); !errors.Is(err, ErrMissing) {
		t.Fatalf("no reporter: %v", err)
	}
	if _, err := b.Attest(t0, Attestation{Reporter: self, Reports: sybilReports("s", "x", 1)}); !errors.Is(err, ErrSelf) {
		t.Fatalf("own attestation: %v", err)
	}
	old := t0.Add(-b.Params().EvidenceMemory - time.Hour)
	if _, err := b.Attest(t0, Attestation{Reporter: "r", Created: old.UnixMilli(), Reports: sybilReports("s", "x", 1)}); !errors.Is(err, ErrStale) {
		t.Fatalf("stale attestation: %v", err)
	}
	att := Attestation{Reporter: "r", Created: t0.UnixMilli(), Reports: []Report{
		receiptReport("r", wasm, Success, "a"),                                // about itself
		receiptReport("s", wasm, Paid, "b"),                                   // requester outcome on a provider capability
		{Subject: "s", Capability: wasm, Outcome: Success, Evidence: "c"},     // praise without a receipt
		{Subject: "s", Capability: wasm, Outcome: Failure},                    // no evidence
		receiptReport(self, wasm, WrongResult, "d"),                           // about this node: skipped quietly
		receiptReport("s", wasm, Success, "e"),                                // fine
		{Subject: "s", Capability: wasm, Outcome: WrongResult, Evidence: "f"}, // fine: negative, receiptless
	}}
	n, err := b.Attest(t0, att)
	if n != 2 {
		t.Fatalf("accepted %d, want 2", n)
	}
	for _, c := range []struct {
		idx  int
		want error
	}{{0, ErrSelfReport}, {1, ErrOutcome}, {2, ErrNoReceipt}, {3, ErrMissing}} {
		found := false
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			var re *ReportError
			if errors.As(e, &re) && re.Index == c.idx && errors.Is(re, c.want) {
				found = true
			}
		}
		if !found {
			t.Errorf("no %v for report %d in %v", c.want, c.idx, err)
		}
	}
	if len(err.(interface{ Unwrap() []error }).Unwrap()) != 4 {
		t.Errorf("errors: %v", err)
	}
	if st := b.Standing(self, wasm, 0); st.Evidence != 0 {
		t.Fatalf("a report about this node moved its own standing: %+v", st)
	}
	for _, r := range b.Snapshot() {
		if r.Peer == self {
			t.Fatalf("a report about this node was stored: %v", r)
		}
	}
}

// A reporter's weight is applied when the book is read: catching it
// cheating discounts everything it has said, and trusting it more later
// makes its old reports count more.
func TestReporterWeightIsCurrent(t *testing.T) {
	b := newBook(t)
	trusted(t, b, "r", 10)
	attest(t, b, t0, "r", sybilReports("s", "r", 4)...)
	w1 := b.ReporterWeight("r")
	if row := rowOf(t, b, "s", wasm); !near(row.ThirdParty, 4*w1, 1e-9) {
		t.Fatalf("third party %v, want %v", row.ThirdParty, 4*w1)
	}
	trusted(t, b, "r", 30)
	w2 := b.ReporterWeight("r")
	if row := rowOf(t, b, "s", wasm); w2 <= w1 || !near(row.ThirdParty, 4*w2, 1e-9) {
		t.Fatalf("after trusting r more: weight %v → %v, third party %v", w1, w2, row.ThirdParty)
	}
	mustRecord(t, b, t0, "r", wasm, WrongResult, 10)
	if row := rowOf(t, b, "s", wasm); row.ThirdParty != 0 || row.Reporters != 0 {
		t.Fatalf("a reporter caught cheating still counts: %v", row)
	}
}

// Random books, random third-party floods: strangers never change
// anything, the cap always holds, and a success (first-hand or reported)
// never lowers a mean or lower bound while a failure never raises them.
func TestThirdPartyProperty(t *testing.T) {
	rng := propRand(t)
	p := DefaultParams()
	for iter := range 40 {
		b := newBook(t)
		shadow := newBook(t) // the same without the strangers
		now := t0
		peers := []string{"a", "b", "c", "d", "e", "f"}
		for i := range 200 {
			now = now.Add(time.Duration(rng.Int64N(int64(time.Hour))))
			subj := peers[rng.IntN(len(peers))]
			switch rng.IntN(3) {
			case 0:
				os := []Outcome{Success, Success, Success, Failure, WrongResult, Timeout, MissedStart}
				o, ev := os[rng.IntN(len(os))], fmt.Sprint("e", rng.IntN(100))
				_ = b.Record(now, subj, wasm, o, ev)
				_ = shadow.Record(now, subj, wasm, o, ev)
			case 1:
				rep := peers[rng.IntN(len(peers))]
				var rs []Report
				for j := range 1 + rng.IntN(30) {
					if rng.IntN(2) == 0 {
						rs = append(rs, receiptReport(peers[rng.IntN(len(peers))], wasm, Success, fmt.Sprint(iter, i, j)))
					} else {
						rs = append(rs, Report{Subject: peers[rng.IntN(len(peers))], Capability: wasm, Outcome: Timeout, Evidence: fmt.Sprint(j)})
					}
				}
				att := Attestation{Reporter: rep, Reports: rs, Created: now.UnixMilli()}
				_, _ = b.Attest(now, att)
				_, _ = shadow.Attest(now, att)
			case 2:
				att := Attestation{Reporter: fmt.Sprint("stranger", rng.IntN(1000)), Created: now.UnixMilli(),
					Reports: sybilReports(subj, fmt.Sprint("sy", iter, i), 1+rng.IntN(50))}
				if n, _ := b.Attest(now, att); n != 0 {
					t.Fatalf("a stranger's attestation counted %d reports", n)
				}
			}
		}
		b.Tick(now)
		shadow.Tick(now)
		if !reflect.DeepEqual(b.Snapshot(), shadow.Snapshot()) {
			t.Fatalf("iteration %d: strangers' reports changed the book", iter)
		}
		perPeer := map[string]float64{}
		for _, r := range b.Snapshot() {
			perPeer[r.Peer] += r.ThirdParty
		}
		for peer, w := range perPeer {
			if w > p.ThirdPartyCap+1e-9 {
				t.Fatalf("iteration %d: third-party weight on %s is %v > %v", iter, peer, w, p.ThirdPartyCap)
			}
		}
		// Monotonicity, on a copy of the book for each probe.
		st := b.Export()
		for _, subj := range peers {
			for _, probe := range []struct {
				positive bool
				apply    func(*Book) error
			}{
				{true, func(c *Book) error { return c.Record(now, subj, wasm, Success, "probe") }},
				{false, func(c *Book) error { return c.Record(now, subj, wasm, WrongResult, "probe") }},
				{true, func(c *Book) error {
					_, err := c.Attest(now, Attestation{Reporter: otherThan(peers, subj, rng), Reports: []Report{receiptReport(subj, wasm, Success, "probe-r")}})
					return err
				}},
				{false, func(c *Book) error {
					_, err := c.Attest(now, Attestation{Reporter: otherThan(peers, subj, rng), Reports: []Report{{Subject: subj, Capability: wasm, Outcome: Failure, Evidence: "probe-j"}}})
					return err
				}},
			} {
				c, err := Restore(p, self, st)
				if err != nil {
					t.Fatal(err)
				}
				before := c.Standing(subj, wasm, 0)
				if err := probe.apply(c); err != nil {
					t.Fatal(err)
				}
				after := c.Standing(subj, wasm, 0)
				if probe.positive && (after.Mean < before.Mean-1e-12 || after.LowerBound < before.LowerBound-1e-12) ||
					!probe.positive && (after.Mean > before.Mean+1e-12 || after.LowerBound > before.LowerBound+1e-12) {
					t.Fatalf("iteration %d, %s: positive=%v moved %+v → %+v", iter, subj, probe.positive, before, after)
				}
			}
		}
	}
}

func otherThan(peers []string, p string, rng interface{ IntN(int) int }) string {
	for {
		if q := peers[rng.IntN(len(peers))]; q != p {
			return q
		}
	}
}

func TestThirdPartyDecays(t *testing.T) {
	b := newBook(t)
	trusted(t, b, "r", 1000)
	attest(t, b, t0, "r", sybilReports("s", "x", 4)...)
	w := b.ReporterWeight("r")
	th := rowOf(t, b, "s", wasm).ThirdParty
	b.Tick(t0.Add(b.Params().HalfLife))
	// Both the reports and the reporter's first-hand record have halved.
	w2 := b.ReporterWeight("r")
	if got := rowOf(t, b, "s", wasm).ThirdParty; !near(got, th/2*w2/w, 1e-9) {
		t.Fatalf("third party after a half-life %v, want %v", got, th/2*w2/w)
	}
}
