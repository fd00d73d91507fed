// Package quote owns quotes: what a job would cost and who could run it,
// asked of the market without submitting the job. Quote runs the
// requester's side of an auction dry: discovery's candidates for the job's
// runtime are checked against their signed offers and this node's view of
// their reputation, exactly as an auction picks its invitees, and the rest
// are asked over /hayek/quote/1.0.0 with one signed market.Quote. Each
// provider answers with a signed market.QuoteAnswer (what it would bid, or
// why it would decline) that books nothing on its side; this side writes
// nothing either — no hold, no ledger entry, no job. The answer is a funnel
// (found, fit, eligible, asked, reachable, would bid) with a reason for
// every provider that dropped out.
//
// Quotes are rate-limited per agent here and per peer by providers. The
// service is driven by Quote alone: it starts no goroutine that outlives a
// call. Its siblings are given as Deps: the host, the signer and verifier,
// drop counters, the clock, discovery's Candidates and the reputation
// standings.
package quote
