package reputation

import (
	"math"
	"testing"
	"time"
)

func TestPosteriorTable(t *testing.T) {
	for _, c := range []struct {
		name         string
		p            Posterior
		mean, lb, ev float64
		tolLB        float64
	}{
		{"prior", Prior(), 0.5, 0.05, 0, 1e-12},
		// Beta(a, 1): CDF x^a, so the q-quantile is q^(1/a).
		{"ten successes", Posterior{11, 1}, 11.0 / 12, math.Pow(0.05, 1.0/11), 10, 1e-9},
		// Beta(1, b): the q-quantile is 1 − (1−q)^(1/b).
		{"five failures", Posterior{1, 11}, 1.0 / 12, 1 - math.Pow(0.95, 1.0/11), 10, 1e-9},
		{"mixed", Posterior{31, 11}, 31.0 / 42, 0.62149394518034, 40, 1e-9}, // by numerical integration
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.p.Mean(); !near(got, c.mean, 1e-12) {
				t.Errorf("Mean = %v, want %v", got, c.mean)
			}
			if got := c.p.LowerBound(0.05); !near(got, c.lb, c.tolLB) {
				t.Errorf("LowerBound = %v, want %v", got, c.lb)
			}
			if got := c.p.Evidence(); !near(got, c.ev, 1e-12) {
				t.Errorf("Evidence = %v, want %v", got, c.ev)
			}
		})
	}
	if lb := (Posterior{3, 2}).LowerBound(0); lb != 0 {
		t.Errorf("LowerBound(0) = %v, want 0", lb)
	}
	if lb := (Posterior{3, 2}).LowerBound(1); lb != 1 {
		t.Errorf("LowerBound(1) = %v, want 1", lb)
	}
}

func TestDecayTable(t *testing.T) {
	h := 14 * 24 * time.Hour
	p := Posterior{Alpha: 9, Beta: 5} // 8 and 4 observations
	for _, c := range []struct {
		name        string
		elapsed     time.Duration
		alpha, beta float64
	}{
		{"none", 0, 9, 5},
		{"backwards", -time.Hour, 9, 5},
		{"one half-life", h, 5, 3},
		{"two half-lives", 2 * h, 3, 2},
		{"forever", 1000 * h, 1, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := p.Decay(c.elapsed, h)
			if !near(got.Alpha, c.alpha, 1e-12) || !near(got.Beta, c.beta, 1e-12) {
				t.Fatalf("Decay = %+v, want α=%v β=%v", got, c.alpha, c.beta)
			}
		})
	}
}

// Decay moves a posterior toward the prior and never past it: α and β
// stay between 1 and where they were, the mean moves monotonically
// toward ½ as time passes, and evidence shrinks.
func TestDecayTowardPriorProperty(t *testing.T) {
	rng := propRand(t)
	h := time.Duration(1+rng.IntN(1000)) * time.Hour
	for range 2000 {
		p := Posterior{Alpha: 1 + rng.ExpFloat64()*20, Beta: 1 + rng.ExpFloat64()*20}
		prevMean, prevEv := p.Mean(), p.Evidence()
		for e := time.Duration(0); e < 30*h; e += time.Duration(rng.Int64N(int64(h))) {
			d := p.Decay(e, h)
			if d.Alpha < 1 || d.Alpha > p.Alpha || d.Beta < 1 || d.Beta > p.Beta {
				t.Fatalf("Decay(%v) of %+v = %+v: outside [prior, start]", e, p, d)
			}
			if math.Abs(d.Mean()-0.5) > math.Abs(prevMean-0.5)+1e-12 || (d.Mean()-0.5)*(p.Mean()-0.5) < 0 {
				t.Fatalf("Decay(%v) of %+v: mean %v moved away from ½ or past it (was %v)", e, p, d.Mean(), prevMean)
			}
			if d.Evidence() > prevEv+1e-12 {
				t.Fatalf("Decay(%v) of %+v: evidence grew %v → %v", e, p, prevEv, d.Evidence())
			}
			prevMean, prevEv = d.Mean(), d.Evidence()
		}
	}
}

// More successes never lower the mean or the lower bound, more failures
// never raise them, and the lower bound stays below the mean.
func TestMonotoneInEvidenceProperty(t *testing.T) {
	rng := propRand(t)
	for range 2000 {
		p := Posterior{Alpha: 1 + rng.ExpFloat64()*30, Beta: 1 + rng.ExpFloat64()*30}
		w := rng.Float64() * 4
		up, down := p.Observe(true, w), p.Observe(false, w)
		m, lb := p.Mean(), p.LowerBound(0.05)
		if lb >= m {
			t.Fatalf("%+v: lower bound %v not below mean %v", p, lb, m)
		}
		if up.Mean() < m || up.LowerBound(0.05) < lb-1e-12 {
			t.Fatalf("%+v: a success of weight %v lowered mean or bound: %v→%v, %v→%v", p, w, m, up.Mean(), lb, up.LowerBound(0.05))
		}
		if down.Mean() > m || down.LowerBound(0.05) > lb+1e-12 {
			t.Fatalf("%+v: a failure of weight %v raised mean or bound: %v→%v, %v→%v", p, w, m, down.Mean(), lb, down.LowerBound(0.05))
		}
	}
}

// With consistent evidence the lower bound climbs strictly toward 1.
func TestLowerBoundRisesWithConsistentEvidence(t *testing.T) {
	p := Prior()
	prev := p.LowerBound(0.05)
	for i := 1; i <= 200; i++ {
		p = p.Observe(true, 1)
		lb := p.LowerBound(0.05)
		if lb <= prev || lb >= p.Mean() {
			t.Fatalf("after %d successes: lower bound %v (was %v, mean %v)", i, lb, prev, p.Mean())
		}
		prev = lb
	}
	if prev < 0.98 {
		t.Fatalf("after 200 successes the lower bound is only %v", prev)
	}
}

func TestParams(t *testing.T) {
	if err := DefaultParams().Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	p := DefaultParams()
	p.HalfLife = 0
	p.Weights.WrongResult = -1
	p.TrustFloor = 0.01 // below the quantile: strangers would weigh something
	p.ReporterWeight = 2
	err := p.Validate()
	var pe *ParamsError
	if !errorsAs(err, &pe) || len(pe.Fields) != 4 {
		t.Fatalf("Validate = %v, want 4 field errors", err)
	}
	if !errorsIs(err, ErrParams) {
		t.Fatalf("Validate = %v, not ErrParams", err)
	}
	if f := pe.Fields[0]; !errorsIs(f, ErrParams) || f.Err == nil || !errorsIs(f, f.Err) {
		t.Fatalf("field error %v does not unwrap to both ErrParams and its cause", f)
	}
	if _, err := NewBook(p, self); !errorsIs(err, ErrParams) {
		t.Fatalf("NewBook with bad params = %v", err)
	}
	if _, err := NewBook(DefaultParams(), ""); !errorsIs(err, ErrMissing) {
		t.Fatalf("NewBook without self = %v", err)
	}
}
