package sim

import "github.com/hayek-market/hayek/reputation"

// legacyParams are the reputation parameters before issue 10: no floor
// on reliability, so a provider caught lying stays eligible and keeps
// winning whenever it bids lowest, a wrong result weighing 4
// observations and a missed start 0.5.
func legacyParams() reputation.Params {
	p := reputation.DefaultParams()
	p.MinReliability = 0
	p.Weights.WrongResult = 4
	p.Weights.MissedStart = 0.5
	return p
}
