// Package node owns a hayek peer's network life and wires the pure parts
// (market, exec) to it. Only this package and those under it import libp2p
// (imports_test.go holds the rule; docs/architecture.md says who owns what).
//
// A Node is started with New and stopped with Close. It owns:
//
//   - a libp2p host: persisted Ed25519 identity (<home>/identity.key, 0600),
//     TCP and QUIC listeners, Noise and TLS, yamux, a connection manager and
//     a resource manager with limits on hayek's own protocols;
//   - a Kademlia DHT in server mode under the prefix /hayek (it never joins
//     the public IPFS DHT), bootstrapped from the configured peers, which
//     are dialled again while the node is isolated (node/internal/discovery,
//     the Bootstrapper);
//   - gossipsub with application-level signatures (pubsub's own signing is
//     StrictNoSign with content-hash message IDs), an inline validator per
//     auction topic (size cap, canonical envelope, signature, topic,
//     freshness, replay, per-requester rate limit), and peer scoring with
//     the invalid-message and behaviour penalties on, the mesh-delivery
//     penalty off, and loopback/testnet subnets whitelisted from the same-IP
//     penalty (node/internal/gossip);
//   - the offer service: the node's signed offer, reissued before it
//     expires, served on /hayek/offer/1.0.0, provided on the DHT under each
//     capability's CID as soon as there are peers and reprovided on an
//     interval; on Close the offer is reissued as withdrawn and reproviding
//     stops (node/internal/discovery, the Advertiser);
//   - discovery: DHT provider records are hints; each provider found is
//     asked for its signed offer, which is verified and cached; lookups are
//     cached per capability and refreshed in the background
//     (node/internal/discovery, the Finder);
//   - the requester: one goroutine per job drives a market.Job machine,
//     publishing its calls for bids, receiving bids and declines on
//     /hayek/bid/1.0.0, sending awards and reading acks on
//     /hayek/award/1.0.0, receiving results on /hayek/result/1.0.0 and
//     faulting winners whose connection is lost; it queues jobs beyond
//     the market's capacity, pays and records what they owe, re-runs
//     sampled ones and keeps finished jobs in a pebble job store under
//     <home>/jobs (node/internal/requester);
//   - the provider: answers calls with market.Provider, checks awards,
//     fetches module and inputs by CID over /hayek/data/1.0.0, runs the job
//     in the executor of the job's runtime — wasm always, exec/process and
//     exec/docker when [provider.process] and [provider.docker] turn them
//     on and they work here, GPUs from exec/gpu (runtimes.go finds what
//     is sold at start and logs why anything is not) —, and delivers the signed
//     result, with small blobs inline and the rest served to the requester
//     alone; it countersigns the receipts of what it delivered
//     (node/internal/provider);
//   - the ledger (ledger.go): opened under <home>/ledger, the operator's
//     account made the first time (agents.EnsureOperator), holds orphaned
//     by a restart released (requester.ReleaseOrphans);
//   - receipts (node/internal/receipts): /hayek/receipt/1.0.0's receiving
//     side (receipts go to the provider service to countersign,
//     settlements from creditors are recorded) and SettleDebt, the
//     creditor's signed settlement sent to the debtor on it; the payer's
//     side — receipts, outcomes and the release of a job's hold in one
//     synced append — is the requester's;
//   - agents (node/internal/agents): tokens, budgets, limits and
//     policies, all governance entries of the ledger; each job's admission
//     (the hold before its auction) and placement; approval is the
//     requester's;
//   - reputation (node/internal/evidence): a reputation.Book fed with first-hand
//     outcomes and with attestations on /hayek/reputation/1, the market's
//     Reputation and replica Decider, credit limits, and the catches
//     requesters share on /hayek/catch/1 (suspects the requester checks
//     every time);
//   - job intake (node/internal/jobspec): a submitted request turned into
//     a job spec, its blobs resolved and its module checked before any
//     auction, for both Submit and Quote;
//   - test-only misbehaviour of a provider (node/internal/provider);
//   - a content-addressed blob store under <home>/blobs, served and
//     fetched over /hayek/data/1.0.0 (node/internal/blobs);
//   - the api.Backend and api.Admin the local sockets serve (backend.go,
//     agents.go delegating to node/internal/agents, ledger_api.go to
//     node/internal/ledgerview after its operator check, audit.go to the
//     requester, which assembles a job's audit bundle); what they show of
//     jobs comes from the requester service, SettleDebt is the receipts
//     service's.
//
// New only wires, in named steps: the stores (ledger.go), the executors
// (runtimes.go), the network (network.go), the services, each built from
// a dependencies struct (services.go), their handlers, and their loops. A
// service's loop (Run) runs in the node's task group (wire.Group, an errgroup:
// a loop's error stops the node's background work and is returned by
// Close). Close withdraws the offer, drains the provider, cancels the
// requester's jobs, then stops the group — ending every loop and every
// goroutine they started — and only then closes the stores.
//
// What every protocol shares — protocol IDs, frame caps, framing, the
// signer and verifier, the inbox signed messages come in through, drop
// counters, the per-peer stream gate, tracked goroutines and periodic
// work — lives in node/internal/wire.
//
// Every peer message is a canon.Envelope, decoded strictly and verified
// against the sender's peer ID before use (wire.Inbox, which also checks
// the signer is the peer that sent it and the message is fresh);
// messages that fail are dropped and counted by reason (Node.Drops, GET
// /v1/status). Stream frames are
// length-prefixed and capped per protocol.
//
// Quotes (quote.go, node/internal/quote) price a job spec as a dry-run
// auction: candidates filtered as an auction filters its invitees, the
// rest asked on /hayek/quote/1.0.0, which the provider answers by the
// rules it answers calls with, booking nothing; the answer is the funnel
// of who would bid and why the others would not. Nothing is held and
// nothing is written to a ledger.
//
// An audit bundle is checked offline by node/internal/audit, which cmd
// reaches through VerifyAudit (offline.go). The home must be private to
// the node's user: node/internal/homecheck checks it at start, and
// CheckHome (home.go) is its check for tools.
//
// Devnet starts N complete nodes in one process on loopback; the CLI's
// devnet, demo and bench commands and the integration tests use it.
package node
