package reputation

import (
	"math"
	"time"

	"gonum.org/v1/gonum/stat/distuv"
)

// Posterior is a Beta(α, β) belief that a peer's next outcome on a
// capability will be good. The prior is Beta(1, 1): uniform, mean ½.
type Posterior struct {
	Alpha float64 `json:"alpha"`
	Beta  float64 `json:"beta"`
}

// Prior is Beta(1, 1), the belief about a stranger.
func Prior() Posterior { return Posterior{Alpha: 1, Beta: 1} }

// Mean is α / (α + β): the expected probability of a good outcome.
func (p Posterior) Mean() float64 { return p.Alpha / (p.Alpha + p.Beta) }

// LowerBound is the q-quantile of the posterior: the probability of a
// good outcome is above it with credibility 1 − q. q outside (0, 1) is
// clamped to 0 or 1.
func (p Posterior) LowerBound(q float64) float64 {
	switch {
	case !(q > 0): // also NaN
		return 0
	case q >= 1:
		return 1
	}
	return distuv.Beta{Alpha: p.Alpha, Beta: p.Beta}.Quantile(q)
}

// Evidence is α + β − 2: how many (weighted, decayed) observations the
// posterior rests on beyond the prior.
func (p Posterior) Evidence() float64 { return p.Alpha + p.Beta - 2 }

// Decay moves the posterior toward the prior as elapsed time passes:
// the evidence beyond the prior is multiplied by 2^(−elapsed/halfLife).
// It never goes past the prior, and a negative elapsed time changes
// nothing.
func (p Posterior) Decay(elapsed, halfLife time.Duration) Posterior {
	f := decayFactor(elapsed, halfLife)
	return Posterior{Alpha: 1 + (p.Alpha-1)*f, Beta: 1 + (p.Beta-1)*f}
}

// Observe adds an outcome of weight w: to α when positive, to β when not.
func (p Posterior) Observe(positive bool, w float64) Posterior {
	if positive {
		p.Alpha += w
	} else {
		p.Beta += w
	}
	return p
}

func decayFactor(elapsed, halfLife time.Duration) float64 {
	if elapsed <= 0 || halfLife <= 0 {
		return 1
	}
	return math.Exp2(-float64(elapsed) / float64(halfLife))
}

// tally is decaying evidence: positive and negative observations as of
// At. Evidence is decayed lazily, when it is read or added to.
type tally struct {
	Pos, Neg float64
	// Wrong is the part of Neg that wrong results weigh (first-hand
	// tallies only): Standing.Wrong.
	Wrong float64
	At    time.Time
}

// at returns the tally decayed to now (never undecayed: a clock that
// went back leaves it as it is).
func (t tally) at(now time.Time, halfLife time.Duration) tally {
	if !now.After(t.At) {
		return t
	}
	f := decayFactor(now.Sub(t.At), halfLife)
	return tally{Pos: t.Pos * f, Neg: t.Neg * f, Wrong: t.Wrong * f, At: now}
}

func (t *tally) add(now time.Time, halfLife time.Duration, positive bool, w float64) {
	*t = t.at(now, halfLife)
	if positive {
		t.Pos += w
	} else {
		t.Neg += w
	}
}

func (t tally) mass() float64 { return t.Pos + t.Neg }

// posterior is the prior plus the tally.
func (t tally) posterior() Posterior { return Posterior{Alpha: 1 + t.Pos, Beta: 1 + t.Neg} }
