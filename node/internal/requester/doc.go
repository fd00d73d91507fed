// Package requester owns the requester service: how this node buys
// compute for its agents. Submit takes a validated spec (the node checks
// the agent's limits and holds the job's max cost through Deps.Admit);
// each job then gets one goroutine that drives a market.Job machine,
// carrying out what it asks — discovery, calls for bids (call.go: sent
// to each invitee on /hayek/call/1.0.0, one tracked goroutine per
// invitee, and gossiped on the auction topic too only when the market is
// thin: fewer invitees than B, per Config.CallGossip), awards sent on
// /hayek/award/1.0.0 — and feeding it the
// bids and declines that arrive on /hayek/bid/1.0.0 (HandleBid), the
// results on /hayek/result/1.0.0 (ResultHandler) and the faults of
// winners whose connection is lost (Run).
//
// It also owns, per job:
//
//   - the queue (queue.go): jobs beyond what the known providers can take
//     wait in state queued, first in first out;
//   - the payer's side of settlement (settle.go, bill.go): a receipt per paid run,
//     countersigned by its provider over /hayek/receipt/1.0.0, appended
//     with the job's outcomes and the release of its hold in one synced
//     ledger append, and the evidence recorded and attested;
//   - sampling (sampling.go): hidden re-runs of jobs drawn for
//     "sample:P", paid from the job's hold;
//   - adaptive verification (adaptive.go, probation.go): a job with
//     verify "adaptive" is held back after its run while hidden check
//     runs, drawn at random among trusted providers, are judged by
//     reputation.JudgeCheck, at the rate reputation.CheckPolicy gives its
//     provider; providers without a record hold one unjudged award at a
//     time, and newcomers from a subnet caught cheating are barred
//     (reputation.SubnetGuard), and a check without a verdict fails the
//     trusted providers it outvoted when trusted runs returned four
//     results (reputation.CheckPolicy.Contradicted) and checks every
//     result of a provider whose result more subnets contradicted than
//     returned for a day (Service.disputeOutnumbered), and a provider
//     caught three times lately is barred however long its record
//     (reputation.CheckPolicy.CaughtBar), and after three checks in a
//     row without a verdict, trusted providers contradicting each other,
//     checkers are drawn in the wider market for ten minutes
//     (probation.checkEnded), and the check rate reads a record without
//     its lost messages up to reputation.Params.LapseShare, and a
//     provider whose result would be checked every time is not hired
//     while fewer than two other trusted providers would check it (the
//     rest declined this node over its unpaid credit: Service.hireable),
//     nor one whose contradicted result found no tie-break for that
//     reason while any still declines — the rules hayek sim measured; a
//     verdict
//     that outvotes a run is told to other requesters at once
//     (Deps.ShareCatch, with the signed results as proof), and a provider
//     another requester caught (Deps.Suspect) has every result checked;
//   - approval: jobs above their agent's threshold wait for Decide;
//   - the audit bundle (audit.go, audit_views.go): the job's signed
//     messages with its ledger entries and its agent's governance before
//     it; how an entry and a policy are shown comes from Deps;
//   - the job store (jobstore.go): finished jobs in a pebble database, so
//     history survives restarts while memory keeps live jobs and a few
//     recent ones.
//
// The API reads jobs only through this package's methods (api.go), which
// read under the job's lock or return snapshots (deep copies): a job's
// goroutine keeps changing the original.
//
// Its siblings are narrow interfaces and functions in Deps: the ledger,
// the reputation service, the blob store, blob fetching, discovery's
// candidates and capacity, gossip's publish and auction count, the node's
// admission and whether it is closing, and the API's views of a ledger
// entry and an agent policy. Jobs and their sends run in Deps.Tasks and end
// with its context; Shutdown cancels unfinished jobs and waits for them;
// Close closes the job store once Tasks has stopped.
package requester
