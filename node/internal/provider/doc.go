// Package provider owns the provider service: how this node sells compute.
// It answers calls for bids, gossiped or sent to it directly as an
// invitee — both arrive validated through the gossip service's Subscribe,
// each call once, and are answered alike (market.Provider decides the bid or decline;
// answers are bounded overall and per requester, and a requester whose
// streams stall is paused), accepts awards that match its bids, fetches
// module and inputs from the requester, runs the job in the executor of
// its runtime (Deps.Executors: wasm, and process and docker where sold),
// delivers the signed result (small blobs inline, the rest served to the
// requester alone), countersigns the requester's receipt, and records a
// requester that never sends one as disputing. It answers quotes
// (HandleQuote, /hayek/quote/1.0.0) with market.Provider.AnswerQuote: the
// decision a call would get, signed, with nothing booked, per peer
// rate-limited. Test-only misbehaviour
// (Misbehave) lives here too.
//
// Jobs that ask for GPUs get whole devices from Deps.GPUs (an
// exec/gpu.Allocator): taken when the award is checked, before the ack
// (none free: the award is refused busy), passed to a DeviceRunner
// executor as devices or else named in CUDA_VISIBLE_DEVICES, and given
// back when the run ends, however it ends. The cores jobs ask for are
// claimed against Config.CPUMilli the same way. A call the provider
// cannot serve now (slots, cores, GPUs taken) is declined busy; one it
// cannot serve at all (no GPU for the runtime, an image it does not
// allow) with the reason.
//
// Its siblings are narrow interfaces in Deps: the ledger, the reputation
// service, the blob store and a fetch function, the gossip subscription,
// this node's own offer. AwardHandler and Subscribe are given the node's
// lifetime context, which runs end with. Every goroutine it starts is
// tracked: answers, runs and dispute records go through Deps.Tasks (the
// node's group, which Close waits for); a run fetches its blobs in an
// errgroup it waits on, wire.FetchParallel at a time, the first failure
// cancelling the rest; Drain stops new work and waits for the runs,
// cancelling them when its context ends.
package provider
