// Package evidence owns the node's reputation service: a reputation.Book
// fed with first-hand outcomes (Record, also written to the ledger by the
// caller, so Rebuild restores the book on restart) and with attestations
// gossiped on /hayek/reputation/1, weighed by what this node itself knows
// of each reporter, their receipts checked only when a subject's standing
// is needed. It is the market's Reputation and replica Decider, and the
// provider's credit limits. Rows is the book as the API shows it (GET
// /v1/rep; the node checks the caller is the operator).
//
// Start joins the topic; Run receives peers' attestations, decays the book
// and publishes this node's batches (Attest) until its context ends.
package evidence
