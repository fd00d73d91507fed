// Package market owns what is bought and sold and how: capability keys and
// their DHT CIDs, providers' signed offers and their pricing, agents' job
// specs (validated with field-level errors), the signed peer messages of an
// auction (call for bids, bid, decline, award, ack, result, cancel, data
// request), and the two state machines that run an auction.
//
// # The requester's machine: Job
//
// Job is a pure state machine in the style of etcd's raft: no network, no
// clock, no goroutines. The node (package node) owns one per job it
// requests and drives it:
//
//	j := market.NewJob(id, spec, cfg, signer, reputation, rng, now)
//	for {
//		rd := j.Ready()
//		if rd.Discover { /* find providers, then */ j.Candidates(now, cands) }
//		for _, env := range rd.Calls { /* send to each invitee (/hayek/call/1.0.0), gossip it when the market is thin */ }
//		for _, o := range rd.Awards { /* send over /hayek/award/1.0.0 */ }
//		for _, o := range rd.Cancels { /* tell the provider to stop */ }
//		/* publish rd.Events; if rd.Done != nil the job is over */
//		/* wait for a message or j.NextTimer(), then feed it: */
//		j.Bid(now, bid, env) / j.Decline / j.Ack / j.Result / j.Fault / j.Tick(now) / j.Cancel
//	}
//
// Inputs must already be verified (signature, freshness, size): the node
// decodes envelopes with canon and checks signatures before feeding them.
// An input that does not fit the current state returns an error saying why
// and changes nothing; the node counts it as a dropped message.
//
// The auction closes when every invitee has answered or the bid window
// ends (close: rank, then award). Eligible bids (Reputation decides; at
// most one newcomer is ranked) rank by Score = price + value of time ×
// committed start, then standing, committed start, then a hash of job and
// peer ID (equal bids spread over providers from job to job, and anyone
// can recompute the order).
//
// # Prices
//
// Each award names its PriceRule and carries the signed bid that set the
// price. PriceSecond: a bid ranked below the winners' pool (the runner-up,
// or for replicas the best bid outside the 2K they were drawn from) sets
// the generalised second price, SecondPrice, capped by the max price.
// PriceHighestWinning: no such bid, so each winner is paid the highest
// winning bid — a lone winner its own — rather than the max price, which
// made thin markets pay many times the going rate. docs/protocol.md gives
// the incentive argument. PriceBasis (on AttemptRecord, ReplicaResult and
// Outcome) says why a price is what it is; its String is one line for
// people. The Provider checks its award with the same computation.
//
// # Money never wraps
//
// Amounts are int64. Score, SecondPrice, Pricing.Quote and Pricing.Bid
// return ErrOverflow rather than wrap or saturate; JobSpec.Validate keeps
// max_price ≤ MaxPriceCap (so max price × MaxJobRuns fits) and value of
// time ≤ MaxValueOfTime, and bids start within MaxStartWithin, so within a
// valid job nothing overflows. JobSpec.MaxCost is the hold a job needs —
// max price × Verification.MaxRuns — computed with checks: the node holds
// exactly that before any auction.
//
// # Errors
//
// Validation returns a *ValidationError listing every *FieldError
// {Field, Value, Err}; Err unwraps to one of the kind sentinels
// (ErrRequired, ErrInvalid, ErrRange, ErrTooLarge) and to the cause, if
// any (e.g. ErrOverflow). A job that cannot complete ends with an Outcome
// whose Code is a FailCode: branch on it, never on Message.
//
// A signed result ends the job whatever its exit code: a job's own failure
// (non-zero exit, trap, exceeded limit, bad module) is a result. Only a
// provider's fault — no acknowledgement in time, no result by the deadline,
// a reported fetch or executor failure, or a fault the node observes (lost
// connection, outputs that cannot be fetched) — drops the provider and
// re-auctions the job among the others, at most MaxAttempts times; then
// the job fails with each attempt's fault. An auction without eligible bids
// gets one retry when some invitees were silent (a call can be lost), and
// otherwise fails with every decline's reason.
//
// # The provider's machine: Provider
//
// Provider answers verified calls for bids with a signed Bid or Decline
// (runtime or capability missing, no_gpu, gpu_model, vram, busy — slots
// full or the job's GPUs held —, price floor, too large, withdrawn),
// keeps the
// bids it made, and checks awards against them with CheckAward: its own
// bid, the second price against the runner-up's signed bid, and that the
// job to run is the one it bid on.
//
// # Runtimes and resources
//
// A job runs in runtime/wasm, runtime/process or runtime/docker (its
// primary capability); native runtimes take more memory than wasm's 4
// GiB (MemoryRange), CPUs and whole GPUs (JobSpec.GPUs). Offers state the
// machine (Resources: cores, memory, architecture, GPU models with their
// count and memory), and Offer.Fits judges a job against them before
// anyone is invited. Every field added for this is omitted when unset, so
// a plain wasm job's messages encode as they did before.
//
// # Replication
//
// A job with verify "replicate:K" awards K distinct providers (in distinct
// subnets when JobConfig.DistinctSubnets: then only the best bid of each
// subnet competes), drawn at random among the 2K best eligible bids so no
// bidder can count on filling a group by being cheapest; each is paid as
// above. When fewer than K distinct providers can run the job — seen in
// Candidates, or when the first auction closes — the job fails at once
// with FailTooFewProviders and nothing runs. When every replica has
// answered, the Decider (the
// reputation package's odds rule, or MajorityDecider) accepts a result
// digest (Result.Digest: status, exit code, stdout, outputs), or asks for
// more replicas up to Verification.MaxRuns, or fails the job. Runs stopped
// by a limit agree only when every run was. Outcome.Paid lists the runs
// to pay (the accepted group; outvoted limit runs too, a limit being the
// job's own), Outcome.Losers the results verification rejected (unpaid,
// evidence against their providers). "sample:P" is the caller's: the
// node re-runs a delivered job elsewhere with probability P. "adaptive"
// is the caller's too: the machine runs it as "none" (one winner), and
// the node checks the result on other providers before accepting it, at
// the rate reputation.CheckPolicy gives the winner; its hold covers
// MaxCheckRuns runs.
//
// # Quotes
//
// Provider.Decide is Answer's decision without its effects (the Verdict: a
// price and committed start, or a decline reason), and AnswerQuote signs
// it as a QuoteAnswer to a Quote — a dry-run call for bids. A quote books
// nothing, so a provider answers quotes and calls by one set of rules. A
// job that finds no provider or no bid ends with the same funnel
// (Outcome.Reasons: decline codes, ReasonReputation, ReasonUnreachable).
//
// Behaviour is pinned by the datadriven scripts in testdata/job; run
// `go test ./market -run Scripts -rewrite` to regenerate them after a
// deliberate change and review the diff.
package market
