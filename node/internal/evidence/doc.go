// Package evidence owns the node's reputation service: a reputation.Book
// fed with first-hand outcomes (Record, also written to the ledger by the
// caller, so Rebuild restores the book on restart) and with attestations
// gossiped on /hayek/reputation/1, weighed by what this node itself knows
// of each reporter, their receipts checked only when a subject's standing
// is needed. It is the market's Reputation and replica Decider, and the
// provider's credit limits. Rows is the book as the API shows it (GET
// /v1/rep; the node checks the caller is the operator).
//
// Shared catches (catch.go): ShareCatch signs and gossips at once, on
// /hayek/catch/1, a wrong result this node's adaptive check caught, with
// the signed results that prove it (market.Catch); a peer's catch is
// checked by the topic's validator (market.OpenCatch, freshness, replay,
// a per-reporter rate) and acted on only when this node trusts one of its
// checkers first-hand: the accused is then a Suspect, its results checked
// every time, for Config.CatchWindow. Nothing about anyone's record moves.
//
// Start joins the topics; Run receives peers' attestations and catches,
// decays the book and publishes this node's batches (Attest) until its
// context ends.
package evidence
