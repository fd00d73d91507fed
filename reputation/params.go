package reputation

import (
	"errors"
	"math"
	"time"
)

// Weights is how many observations one outcome counts as. Positive
// outcomes add to α, the others to β.
type Weights struct {
	Success     float64 // a provider's accepted result
	Failure     float64 // a provider refused or dropped an award, or reported its own fault
	Timeout     float64 // no acknowledgement or no result in time
	WrongResult float64 // a result verification rejected
	MissedStart float64 // started later than committed: a fraction of a failure
	Paid        float64 // a requester countersigned a receipt: a debt acknowledged, not yet paid
	Disputed    float64 // a requester refused to sign for a delivered result
	Settled     float64 // a requester settled its debt
}

// Of returns the weight of o (0 for an unknown outcome).
func (w Weights) Of(o Outcome) float64 {
	switch o {
	case Success:
		return w.Success
	case Failure:
		return w.Failure
	case Timeout:
		return w.Timeout
	case WrongResult:
		return w.WrongResult
	case MissedStart:
		return w.MissedStart
	case Paid:
		return w.Paid
	case Disputed:
		return w.Disputed
	case Settled:
		return w.Settled
	}
	return 0
}

// Params are a Book's knobs. Start from DefaultParams and change what you
// need; NewBook validates them. doc.go explains each one.
type Params struct {
	// HalfLife: evidence older by one half-life weighs half.
	HalfLife time.Duration
	// Weights of the outcomes, in observations.
	Weights Weights
	// Quantile q of the posterior used as its lower credible bound.
	Quantile float64
	// NewcomerEvidence: a peer with less evidence (α+β−2) for a
	// capability is a newcomer there.
	NewcomerEvidence float64

	// ReporterWeight: how many observations one report from a fully
	// trusted reporter counts as (the most any report counts).
	ReporterWeight float64
	// TrustFloor: a reporter whose first-hand lower bound is at or below
	// it weighs zero; trust grows linearly from there to 1.
	TrustFloor float64
	// ReporterCap: raw observations (before ReporterWeight and trust)
	// one reporter's reports on one subject can count for at most.
	ReporterCap float64
	// ThirdPartyCap: weighted observations all third parties together
	// can add to one subject, over all its capabilities.
	ThirdPartyCap float64
	// EvidenceMemory: how long evidence IDs are remembered so they count
	// once. Attestations older than this are refused.
	EvidenceMemory time.Duration

	// CreditFullTrust: the requester lower bound at which CreditLimit
	// reaches its maximum.
	CreditFullTrust float64

	// VerifyPriorMean and VerifyPriorStrength: the prior of Reliability,
	// the probability that a provider's result is right, used by the odds
	// rule. The mean is 1 − f for an assumed share f of faulty providers.
	VerifyPriorMean     float64
	VerifyPriorStrength float64

	// MinReliability: a peer whose Reliability from this node's own
	// first-hand evidence (at least NewcomerEvidence of it) is below it is
	// not eligible, whatever the job's minimum reputation. One wrong result takes a stranger to 0.3, two timeouts
	// to 0.3, one lost message to 0.45: the floor excludes a provider
	// caught lying or that keeps failing, never one unlucky run. 0 turns
	// the rule off (the design before it, which let a caught cheater keep
	// winning on price).
	MinReliability float64

	// LapseShare: Standing.CheckBound leaves out this node's timeouts of
	// a peer up to this much weight per unit of its first-hand positive
	// evidence (0.05: one lost message, weight 2, per 40 clean jobs).
	// 0: CheckBound is LowerBound.
	LapseShare float64
}

// DefaultParams returns the defaults documented in doc.go.
func DefaultParams() Params {
	const day = 24 * time.Hour
	return Params{
		HalfLife: 14 * day,
		Weights: Weights{
			Success: 1, Failure: 2, Timeout: 2, WrongResult: 8, MissedStart: 2,
			Paid: 0.5, Disputed: 2, Settled: 1,
		},
		Quantile:            0.05,
		NewcomerEvidence:    1,
		ReporterWeight:      0.5,
		TrustFloor:          0.5,
		ReporterCap:         10,
		ThirdPartyCap:       10,
		EvidenceMemory:      140 * day,
		CreditFullTrust:     0.9,
		VerifyPriorMean:     0.9,
		VerifyPriorStrength: 2,
		MinReliability:      0.4,
		LapseShare:          0.05,
	}
}

// Validate checks every field and reports all bad ones in a *ParamsError.
func (p Params) Validate() error {
	var e ParamsError
	bad := func(field string, v any, reason string) {
		e.Fields = append(e.Fields, &FieldError{Field: field, Value: v, Err: errors.New(reason)})
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	if p.HalfLife <= 0 {
		bad("half_life", p.HalfLife, "must be positive")
	}
	for _, w := range []struct {
		name string
		v    float64
	}{
		{"success", p.Weights.Success}, {"failure", p.Weights.Failure}, {"timeout", p.Weights.Timeout},
		{"wrong_result", p.Weights.WrongResult}, {"missed_start", p.Weights.MissedStart},
		{"paid", p.Weights.Paid}, {"disputed", p.Weights.Disputed}, {"settled", p.Weights.Settled},
	} {
		if !finite(w.v) || w.v <= 0 || w.v > 100 {
			bad("weights."+w.name, w.v, "must be above 0 and at most 100")
		}
	}
	if !finite(p.Quantile) || p.Quantile <= 0 || p.Quantile >= 0.5 {
		bad("quantile", p.Quantile, "must be between 0 and 0.5, e.g. 0.05")
	}
	if !finite(p.NewcomerEvidence) || p.NewcomerEvidence < 0 {
		bad("newcomer_evidence", p.NewcomerEvidence, "must be 0 or more")
	}
	if !finite(p.ReporterWeight) || p.ReporterWeight < 0 || p.ReporterWeight > 1 {
		bad("reporter_weight", p.ReporterWeight, "must be from 0 to 1: a report never counts more than first-hand evidence")
	}
	// A stranger's lower bound is the quantile itself: the floor must be
	// at least that for strangers to weigh zero.
	if !finite(p.TrustFloor) || p.TrustFloor < p.Quantile || p.TrustFloor >= 1 {
		bad("trust_floor", p.TrustFloor, "must be at least the quantile and below 1, so strangers weigh zero")
	}
	if !finite(p.ReporterCap) || p.ReporterCap < 0 {
		bad("reporter_cap", p.ReporterCap, "must be 0 or more")
	}
	if !finite(p.ThirdPartyCap) || p.ThirdPartyCap < 0 {
		bad("third_party_cap", p.ThirdPartyCap, "must be 0 or more")
	}
	if p.EvidenceMemory < p.HalfLife {
		bad("evidence_memory", p.EvidenceMemory, "must be at least one half-life (10 half-lives recommended)")
	}
	if !finite(p.CreditFullTrust) || p.CreditFullTrust <= p.Quantile || p.CreditFullTrust > 1 {
		bad("credit_full_trust", p.CreditFullTrust, "must be above the quantile and at most 1")
	}
	if !finite(p.VerifyPriorMean) || p.VerifyPriorMean <= 0 || p.VerifyPriorMean >= 1 {
		bad("verify_prior_mean", p.VerifyPriorMean, "must be between 0 and 1, e.g. 0.9")
	}
	if !finite(p.VerifyPriorStrength) || p.VerifyPriorStrength <= 0 {
		bad("verify_prior_strength", p.VerifyPriorStrength, "must be positive")
	}
	if !finite(p.MinReliability) || p.MinReliability < 0 || p.MinReliability >= p.VerifyPriorMean {
		bad("min_reliability", p.MinReliability, "must be from 0 to below verify_prior_mean, or strangers would be excluded")
	}
	if !finite(p.LapseShare) || p.LapseShare < 0 {
		bad("lapse_share", p.LapseShare, "must be 0 or more")
	}
	if len(e.Fields) > 0 {
		return &e
	}
	return nil
}
