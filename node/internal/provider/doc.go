// Package provider owns the provider service: how this node sells compute.
// It answers calls for bids (market.Provider decides the bid or decline;
// answers are bounded overall and per requester, and a requester whose
// streams stall is paused), accepts awards that match its bids, fetches
// module and inputs from the requester, runs the job in the executor,
// delivers the signed result (small blobs inline, the rest served to the
// requester alone), countersigns the requester's receipt, and records a
// requester that never sends one as disputing. It answers quotes
// (HandleQuote, /hayek/quote/1.0.0) with market.Provider.AnswerQuote: the
// decision a call would get, signed, with nothing booked, per peer
// rate-limited. Test-only misbehaviour
// (Misbehave) lives here too.
//
// Its siblings are narrow interfaces in Deps: the ledger, the reputation
// service, the blob store and a fetch function, the gossip subscription,
// this node's own offer. AwardHandler and Subscribe are given the node's
// lifetime context, which runs end with; Drain stops new work and waits.
package provider
