// Package sim is hayek's market-integrity simulator (`hayek sim`): a
// deterministic discrete-event simulation of hundreds of providers and
// tens of thousands of jobs, with honest providers and attackers of every
// kind, that measures whether lying pays.
//
// It runs the real cores, not re-implementations: every job is a
// market.Job and every provider a market.Provider, exchanging signed
// calls, bids, declines, awards, acks and results (canon envelopes) over
// a simulated network with latency, jitter and loss; every requester
// keeps a reputation.Book fed exactly as node/internal/requester
// feeds its own (Success, MissedStart, WrongResult, Failure,
// Timeout), decides replica groups with the odds rule (reputation.Decide
// through the same market.Decider adapter the node uses), samples with
// reputation.ShouldSample and JudgeSample, and books every hold,
// countersigned receipt, release and settlement in its own
// settlement.Ledger (pebble, in memory). Providers rate requesters in
// their own books (Paid, Disputed, Settled) and decline calls from those
// over the credit limit the book gives them.
//
// What is simulated: time (a virtual clock and an event queue: nothing
// sleeps), the network (messages are delivered after latency plus an
// exponential jitter, or lost), discovery (a DHT lookup returns a random
// sample of the providers online), execution (a run takes a drawn
// duration; its output is a CID that honest providers agree on) and
// signatures (keys: a hash of signer and message, checked by the real
// envelope and receipt code; nobody forges in a simulation).
//
// Populations (Config.Populations, kinds in config.go): honest providers
// with drawn costs and speeds; always-cheat; intermittent cheats at a
// rate; on-off cheats that build a record first; a ring that returns one
// shared wrong output, attests for its members (receipt-backed praise from
// self-dealing) and bad-mouths honest providers (receiptless timeouts); a
// sybil flood of fresh identities bidding below cost; whitewashers that
// return under a new identity once caught; lazy providers that accept and
// time out; providers that commit to start at once and start late. Some
// requesters do not pay: they refuse to sign for half their results and
// never settle.
//
// Verification is fixed ("none", "replicate:K", "sample:P": what a
// requester can choose today) or "adaptive", the design issue 10 led to:
// each job runs once and its result is checked before delivery at the
// rate reputation.CheckPolicy gives its provider, by checkers drawn at
// random (never chosen by price) among the requester's trusted providers
// that have not run the job, or among those discovery found while it
// trusts too few or all of them have — never in the subnet of a run so
// far — judged with reputation.JudgeCheck (runs of one subnet one voice;
// a check without a verdict whose trusted runs returned four results
// fails the trusted providers it outvoted, CheckPolicy.Contradicted,
// and has every result checked for a day of a provider whose result more
// cohorts contradicted than returned, SampleDecision.Outnumbered);
// a provider caught CheckPolicy.CaughtBar's worth lately is barred,
// veteran or not;
// a result under check earns its provider nothing until the verdict,
// and the provider's next results are checked until then; a provider
// without a record holds one unjudged award per requester, and is
// barred below reputation.CheckPolicy's ProbationReliability;
// reputation.SubnetGuard bars newcomers from subnets, and blocks of them,
// caught cheating; beyond a probation share of jobs (Config.Probation),
// only trusted providers may win; and a provider whose result would be
// checked whatever the draw is not hired while fewer than two of the
// requester's other trusted providers will work for it (the rest
// declined its calls over its unpaid credit): its check could not be
// staffed, nor, while one of them still declines it, a provider whose
// contradicted result found no tie-break there. A result's check rate
// reads its provider's record without its lost messages, up to
// reputation.Params.LapseShare; a requester whose checks end without a
// verdict three times in a row, its trusted providers contradicting each
// other, draws its checkers in the wider market for ten minutes and
// checks every result of those providers meanwhile. Each honest
// provider has an address block of its own, each attacking population
// one block for all its identities (Population.Subnets narrows it;
// Population.Collude gives a population one shared wrong output).
// Config.ShareCatches (on, as in
// the node) shares catches: a requester that catches a wrong result tells
// the others at once, and those that trust a checker that contradicted
// it check the cheat's results every time for a day. This policy lives
// in the simulated requester
// (requester.go, repview.go); the node runs it for jobs with verify
// "adaptive" (node/internal/requester, adaptive.go and probation.go),
// and node/simagree_test.go checks that both reach the same awards and
// verdicts for one population.
//
// Run(ctx, cfg) is deterministic: one seeded PCG drives the network and
// the populations, each Job gets its own seeded rand, and events at the
// same instant run in the order they were scheduled. Report holds the
// figures (JSON keys wrong_per_10k, dishonest_award_share, … seed);
// WriteTable and WriteJSON print them.
package sim
