package node

import (
	"context"
	"path/filepath"
	"time"

	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/internal/agents"
	"github.com/hayek-market/hayek/node/internal/blobs"
	"github.com/hayek-market/hayek/node/internal/discovery"
	"github.com/hayek-market/hayek/node/internal/evidence"
	"github.com/hayek-market/hayek/node/internal/gossip"
	"github.com/hayek-market/hayek/node/internal/jobspec"
	"github.com/hayek-market/hayek/node/internal/ledgerview"
	"github.com/hayek-market/hayek/node/internal/provider"
	"github.com/hayek-market/hayek/node/internal/receipts"
	"github.com/hayek-market/hayek/reputation"
)

// Each service built from the node's config and the services built
// before it (newServices says in which order; the requester's is in
// node.go).

// newEvidence is the reputation service over the ledger.
func (n *Node) newEvidence() (*evidence.Service, error) {
	cfg := n.cfg
	return evidence.New(evidence.Deps{
		Signer: n.signer, Verifier: n.verifier, Ledger: n.ledger, Drops: n.drops, Log: n.log, Now: n.now,
		Config: evidence.Config{
			HalfLife: time.Duration(cfg.Reputation.HalfLife), AttestEvery: time.Duration(cfg.Reputation.AttestEvery),
			Freshness: time.Duration(cfg.Gossip.Freshness), Epsilon: cfg.Reputation.Epsilon,
			CreditLimit: cfg.Settlement.CreditLimit, CreditMax: cfg.Settlement.CreditMax,
			CatchWindow: time.Duration(cfg.Reputation.CatchWindow), CatchTrust: reputation.DefaultCheckPolicy().Trusted,
			MaxGossip: gossip.MaxMessage(int(cfg.Gossip.MaxCall)), CatchScore: gossip.TopicScore(),
			SuspectsFile: filepath.Join(n.home, "suspects.json"),
		},
	})
}

// newAdvertiser keeps this node's offer of caps and its provider records.
func (n *Node) newAdvertiser(caps []market.Capability) *discovery.Advertiser {
	cfg := n.cfg
	return discovery.NewAdvertiser(discovery.AdvertiserDeps{
		DHT: n.dht, HasPeers: func() bool { return len(n.dht.RoutingTable().ListPeers()) > 0 },
		Signer: n.signer, Log: n.log, Now: n.now, OfferFor: n.offerFor,
		Capabilities: caps, TTL: time.Duration(cfg.Offers.TTL), Reprovide: time.Duration(cfg.Network.Reprovide),
		Metrics: n.metrics,
	})
}

// newFinder finds providers; what it stores may let queued jobs go.
func (n *Node) newFinder() *discovery.Finder {
	cfg := n.cfg
	return discovery.NewFinder(discovery.FinderDeps{
		Host: n.host, Router: n.dht, Verifier: n.verifier, Drops: n.drops, Log: n.log, Now: n.now, Tasks: n.tasks,
		Self: n.ID(), OwnOffer: n.offers.Offer, AllowSelf: cfg.Requester.AllowSelf,
		Every: time.Duration(cfg.Network.Discovery), Metrics: n.metrics,
		Stored: func() {
			if r := n.requester; r != nil {
				r.Poke() // more capacity may let queued jobs go
			}
		},
	})
}

// newAgents is the agents service; a revoked agent's jobs are the
// requester's to cancel (built after it, so reached through n).
func (n *Node) newAgents() *agents.Service {
	return agents.New(agents.Deps{Ledger: n.ledger, Now: n.now, Self: n.ID(), Own: n.ownCandidate, SpecError: jobspec.Errors,
		CancelAgentJobs: func(ctx context.Context, agent, reason string) { n.requester.CancelAgentJobs(ctx, agent, reason) }})
}

// newProvider sells caps with what setupSelling found; its fetches go
// through the data service (built after it, so reached through n).
func (n *Node) newProvider(caps []market.Capability) *provider.Service {
	cfg := n.cfg
	return provider.New(provider.Deps{
		Host: n.host, Signer: n.signer, Verifier: n.verifier, Drops: n.drops, Log: n.log, Now: n.now, Tasks: n.tasks,
		Executors: n.sell.executorsOrNil(), GPUs: n.sell.allocator(), GPURuntimes: n.sell.gpuRuntimesOrNil(),
		Blobs: n.blobs, Fetch: func(ctx context.Context, p, job string, b market.Blob) ([]byte, error) {
			return n.data.Fetch(ctx, p, job, b)
		},
		Ledger: n.ledger, Rep: n.rep, Gossip: n.gossip, OwnOffer: n.offers.Offer, Metrics: n.metrics,
		Config: provider.Config{
			Capabilities: caps, Slots: cfg.Provider.Slots, StartBase: time.Duration(cfg.Provider.StartBase),
			BidUnasked: cfg.Provider.BidUnasked, AllowSelf: cfg.Requester.AllowSelf,
			Freshness: time.Duration(cfg.Gossip.Freshness),
			Misbehave: provider.Misbehave{
				WrongOutputRate: cfg.Misbehave.WrongOutputRate, DropRate: cfg.Misbehave.DropRate,
				Slowness: time.Duration(cfg.Misbehave.Slowness), FalseStart: cfg.Misbehave.FalseStart,
			},
			Seed:     n.randUint64(),
			CPUMilli: n.sell.cpuMilli(), AllowedImages: cfg.Provider.Docker.AllowedImages,
		},
	})
}

// newReceipts serves /hayek/receipt/1.0.0 with the provider's
// countersigning, and sends the operator's settlements.
func (n *Node) newReceipts() *receipts.Service {
	return receipts.New(receipts.Deps{
		Host: n.host, Signer: n.signer, Verifier: n.verifier, Drops: n.drops, Log: n.log, Now: n.now, Tasks: n.tasks,
		Ledger: n.ledger, Rep: n.rep, Countersign: n.provider.Countersign,
		OperatorOnly: agents.OperatorOnly, LedgerError: agents.LedgerError, Entry: ledgerview.Entry,
	})
}

// newData serves and fetches blobs to those the requester and the
// provider authorise, and collects those no live job pins.
func (n *Node) newData() *blobs.Service {
	cfg := n.cfg
	return blobs.New(blobs.Deps{
		Host: n.host, Store: n.blobs, Signer: n.signer, Verifier: n.verifier, Drops: n.drops, Log: n.log, Now: n.now,
		Freshness: time.Duration(cfg.Gossip.Freshness),
		Authorize: []blobs.Authorizer{blobs.AuthorizeFunc(n.requester.AuthorizeFetch), n.provider},
		GCEvery:   time.Duration(cfg.Storage.GCEvery), Retention: time.Duration(cfg.Storage.BlobRetention),
		Pins: n.pinnedBlobs,
	})
}
