// Package reputation will own Beta posteriors per (peer, capability) with
// decay toward the prior, the outcomes that update them (success, failure,
// timeout, wrong result, missed start commitment), signed attestations and
// how a receiver weighs them, and the verification outcomes of replicated
// and sampled jobs. It imports no other hayek package.
//
// Status: not built yet. The auction already asks for standings through
// market.Reputation; until this package fills it, market.NeutralReputation
// makes every peer eligible and equal.
package reputation
