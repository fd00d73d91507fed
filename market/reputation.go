package market

// Standing is what the requester believes about a provider for one
// capability, as far as the auction needs it.
type Standing struct {
	Eligible bool    // may win this auction (e.g. lower credible bound ≥ the job's minimum)
	Reason   string  // why not, when not eligible
	Newcomer bool    // no evidence yet: at most one newcomer is ranked per auction
	Score    float64 // breaks ties between equal bids; higher is better
}

// Reputation supplies standings to the auction. The reputation package fills
// it with Bayesian posteriors; until then NeutralReputation treats every peer
// alike.
type Reputation interface {
	Standing(peer string, c Capability, minReputation float64) Standing
}

// NeutralReputation makes every peer eligible and equal.
type NeutralReputation struct{}

// Standing implements Reputation.
func (NeutralReputation) Standing(string, Capability, float64) Standing {
	return Standing{Eligible: true, Score: 0.5}
}
