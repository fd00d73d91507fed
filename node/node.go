package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/exec/gpu"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/internal/agents"
	"github.com/hayek-market/hayek/node/internal/blobs"
	"github.com/hayek-market/hayek/node/internal/discovery"
	"github.com/hayek-market/hayek/node/internal/evidence"
	"github.com/hayek-market/hayek/node/internal/gossip"
	"github.com/hayek-market/hayek/node/internal/homecheck"
	"github.com/hayek-market/hayek/node/internal/jobspec"
	"github.com/hayek-market/hayek/node/internal/ledgerview"
	"github.com/hayek-market/hayek/node/internal/provider"
	"github.com/hayek-market/hayek/node/internal/receipts"
	"github.com/hayek-market/hayek/node/internal/requester"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/settlement"
)

// Version is the software version announced in offers and user agents.
var Version = "0.1.0-dev"

// Protocol IDs of hayek's streams.
const (
	ProtoOffer   = wire.ProtoOffer
	ProtoBid     = wire.ProtoBid
	ProtoAward   = wire.ProtoAward
	ProtoResult  = wire.ProtoResult
	ProtoData    = wire.ProtoData
	ProtoPing    = wire.ProtoPing
	ProtoReceipt = wire.ProtoReceipt
	ProtoCall    = wire.ProtoCall
	// DHTPrefix keeps hayek's DHT apart from the public IPFS DHT.
	DHTPrefix = wire.DHTPrefix
)

// Options are what New needs beyond the config. Zero values take the
// documented defaults.
type Options struct {
	Home     string         // node home: identity, blobs, caches, socket
	Config   Config         // DefaultConfig() if zero; otherwise taken as is (start from DefaultConfig)
	Key      crypto.PrivKey // loaded or created in Home if nil
	Executor exec.Executor  // a wasm executor caching under Home if nil
	Logger   *slog.Logger   // discards if nil
	Now      func() time.Time
	Seed     uint64 // seeds tie-breaks and job IDs; random if 0
	// CompileCache is where the wasm executor keeps compiled machine code
	// (default <Home>/cache/wasm). Nodes of one devnet share one, so a
	// module is compiled once per devnet rather than once per node.
	CompileCache string
	// Runtimes are executors of other runtimes (runtime/process,
	// runtime/docker) to sell whatever the config says: the caller owns
	// and closes them (a devnet shares one among its nodes). Without one,
	// the node makes its own when [provider.process] or [provider.docker]
	// turns it on.
	Runtimes map[market.Capability]exec.Executor
	// GPUs is a fake device set to sell instead of detecting any, for
	// tests: jobs of the native runtimes get its devices by environment
	// (CUDA_VISIBLE_DEVICES). DetectGPUs replaces running nvidia-smi.
	GPUs       []gpu.Device
	DetectGPUs gpu.Runner
}

// Node is one hayek peer: a libp2p host with the DHT and gossipsub, a
// provider that sells compute, and a requester that runs auctions for its
// local agents. Create it with New, close it with Close.
type Node struct {
	cfg   Config
	home  string
	log   *slog.Logger
	now   func() time.Time
	start time.Time

	host     host.Host
	dht      *dht.IpfsDHT
	signer   *wire.Signer
	verifier *wire.Verifier
	blobs    *blobs.Store
	data     *blobs.Service
	exec     exec.Executor
	ownExec  bool
	sell     *selling // nil when the node does not sell

	rngMu sync.Mutex
	rng   *rand.Rand

	gossip    *gossip.Service
	disc      *discovery.Finder
	offers    *discovery.Advertiser
	requester *requester.Service
	provider  *provider.Service
	ledger    *settlement.Ledger
	rep       *evidence.Service
	agents    *agents.Service
	views     *ledgerview.Views // the ledger's read-only views for the API
	drops     *wire.Drops
	streams   wire.Gate       // peers' inbound streams in service
	intake    *jobspec.Intake // job specs from submissions and quotes
	receipts  *receipts.Service
	quotes    quoteService

	metrics       *prometheus.Registry // this node's own: a devnet runs many nodes in one process
	streamMetrics *wire.StreamMetrics
	metricsAddr   string // the [metrics] listener's address, if any

	tasks   *wire.Group // the services' loops and every goroutine they start; teardown stops it before closing the stores
	closing atomic.Bool
	closed  chan struct{}
}

// New starts a node: it listens, joins the DHT through the bootstrap peers,
// subscribes to the topics of what it sells and advertises its offer. The
// node runs until Close; ctx only bounds startup.
//
// New only wires: it opens the stores, builds the host and each service
// from its dependencies, registers the stream handlers and runs the
// services' loops in the node's task group (wire.Group, an errgroup).
// The lifetime context the handlers and loops are handed is the group's:
// Close stops the group, which ends them all, before the stores close.
func New(ctx context.Context, o Options) (*Node, error) {
	cfg, err := o.config()
	if err != nil {
		return nil, err
	}
	key := o.Key
	if key == nil {
		if key, _, err = LoadOrCreateIdentity(o.Home); err != nil {
			return nil, err
		}
	}
	n, err := newNode(o, cfg, key)
	if err != nil {
		return nil, err
	}
	tasks, life := wire.NewGroup(context.Background())
	n.tasks = tasks
	ok := false
	defer func() {
		if !ok {
			n.teardown()
		}
	}()
	if err := n.openStores(ctx); err != nil {
		return nil, err
	}
	if err := n.openExecutor(ctx, o); err != nil {
		return nil, err
	}
	boot, err := n.openNetwork(life, key)
	if err != nil {
		return nil, err
	}
	if err := n.newServices(filepath.Join(o.Home, "jobs")); err != nil {
		return nil, err
	}
	n.serve(life)
	if err := n.join(ctx, life, boot); err != nil {
		return nil, err
	}
	if err := n.serveMetrics(life); err != nil {
		return nil, err
	}
	ok = true
	if cfg.Provider.Sell {
		n.log.Info("node started", "addrs", n.Addrs(), "selling", fmt.Sprint(n.soldCapabilities()))
	} else {
		n.log.Info("node started", "addrs", n.Addrs(), "selling", "nothing (provider.sell = false)")
	}
	return n, nil
}

// config is the validated configuration, with the home made and private.
func (o Options) config() (Config, error) {
	if o.Home == "" {
		return Config{}, errors.New("node: Options.Home is required")
	}
	// A zero Config means the defaults. Anything else is taken as given and
	// validated: a partly filled config is refused naming what is missing,
	// never silently replaced (start from DefaultConfig and change fields).
	cfg := o.Config
	if reflect.ValueOf(cfg).IsZero() {
		cfg = DefaultConfig()
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	if err := os.MkdirAll(o.Home, 0o700); err != nil {
		return Config{}, fmt.Errorf("node: create home %s: %w", o.Home, err)
	}
	if err := homecheck.Private(o.Home); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// newNode is the node before it opens anything but its blob store: its
// identity, clock, randomness, logger, drop counters and metrics registry.
func newNode(o Options, cfg Config, key crypto.PrivKey) (*Node, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	seed := o.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	vf := wire.NewVerifier()
	sg, err := wire.NewSigner(key, vf)
	if err != nil {
		return nil, fmt.Errorf("node: identity: %w", err)
	}
	bs, err := blobs.NewStore(filepath.Join(o.Home, "blobs"), 256<<20, now)
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg: cfg, home: o.Home, log: log.With("peer", wire.ShortID(sg.ID())), now: now, start: now(),
		signer: sg, verifier: vf, blobs: bs,
		rng:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		drops:  wire.NewDrops(),
		closed: make(chan struct{}),
	}
	n.metrics = newMetrics(n.drops)
	n.streamMetrics = wire.NewStreamMetrics(n.metrics)
	n.streams.Metrics = n.streamMetrics
	return n, nil
}

// newServices builds the offer, discovery, intake, agents, requester,
// provider, receipts and data services, each from its dependencies
// (services.go; the requester's is below). A service is handed those built
// before it; one built after it (the requester for discovery and agents,
// the data service for the provider) it reaches through the node, only
// once the node runs. The order also fixes the draws of the node's seeded
// randomness.
func (n *Node) newServices(jobsDir string) error {
	caps := n.soldCapabilities()
	n.offers = n.newAdvertiser(caps)
	n.disc = n.newFinder()
	n.intake = jobspec.New(jobspec.Deps{Blobs: n.blobs, DefaultVerify: n.cfg.Requester.Verify})
	n.agents = n.newAgents()
	n.views = ledgerview.New(ledgerview.Deps{Ledger: n.ledger, Agent: n.agents.View, CreditLimit: n.rep.CreditLimit})
	var err error
	if n.requester, err = n.newRequester(jobsDir); err != nil {
		return err
	}
	n.provider = n.newProvider(caps)
	n.receipts = n.newReceipts()
	n.data = n.newData()
	n.registerNodeMetrics()
	return nil
}

// serve registers every protocol's stream handler; the work the handlers
// start ends with life.
func (n *Node) serve(life context.Context) {
	n.streams.Serve(n.host, n.drops, ProtoOffer, n.offers.Handle)
	n.streams.Serve(n.host, n.drops, ProtoBid, n.requester.HandleBid)
	n.streams.Serve(n.host, n.drops, ProtoResult, n.requester.ResultHandler(life))
	n.streams.Serve(n.host, n.drops, ProtoAward, n.provider.AwardHandler(life))
	n.streams.Serve(n.host, n.drops, ProtoData, n.data.HandleData)
	n.streams.Serve(n.host, n.drops, ProtoPing, wire.HandlePing)
	n.streams.Serve(n.host, n.drops, ProtoReceipt, n.receipts.Handler(life))
	n.streams.Serve(n.host, n.drops, ProtoCall, n.gossip.HandleCall)
	n.serveQuotes()
}

// join connects to the bootstrap peers (in parallel, tolerating failures:
// a node must start even when a bootstrap peer is down, and keeps trying
// in the background), bootstraps the DHT and runs the services' loops.
func (n *Node) join(ctx, life context.Context, boot []peer.AddrInfo) error {
	bs := discovery.NewBootstrapper(discovery.BootstrapDeps{
		Host: n.host, Peers: boot, DHTBootstrap: n.dht.Bootstrap, Joined: n.offers.Nudge, Log: n.log,
	})
	if len(boot) > 0 && bs.Connect(ctx) == 0 {
		n.log.Warn("isolated: no bootstrap peer reachable; retrying in the background", "bootstrap", len(boot))
	}
	if err := n.dht.Bootstrap(life); err != nil {
		return fmt.Errorf("node: DHT bootstrap: %w", err)
	}
	if n.cfg.Provider.Sell {
		if err := n.provider.Subscribe(life); err != nil {
			return err
		}
		n.run("provider", n.provider.Run)
		if n.offers.Start() {
			n.run("offers", n.offers.Run)
		}
	}
	n.run("discovery", n.disc.Run)
	n.run("bootstrap", bs.Run)
	n.run("requester", n.requester.Run)
	n.run("data", n.data.Run)
	return nil
}

// run runs a service's loop in the node's task group. A loop that fails
// stops the group, and with it the node's background work: Close reports
// the error.
func (n *Node) run(name string, loop func(ctx context.Context) error) {
	n.tasks.Run(func(ctx context.Context) error {
		if err := loop(ctx); err != nil && ctx.Err() == nil {
			n.log.Error("service failed; the node's background work stops", "service", name, "err", err)
			return fmt.Errorf("node: %s: %w", name, err)
		}
		return nil
	})
}

// newRequester wires the requester service to the node's other services.
func (n *Node) newRequester(dir string) (*requester.Service, error) {
	rc := n.cfg.Requester
	jc := market.DefaultJobConfig(n.ID())
	jc.BidWindow = time.Duration(rc.BidWindow)
	jc.MaxInvitees = rc.MaxInvitees
	jc.AckTimeout = time.Duration(rc.AckTimeout)
	jc.ResultGrace = time.Duration(rc.ResultGrace)
	jc.MaxAttempts = rc.MaxAttempts
	jc.AllowSelf = rc.AllowSelf
	jc.DistinctSubnets = n.cfg.Reputation.DistinctSubnets
	return requester.New(requester.Deps{
		Host: n.host, Signer: n.signer, Verifier: n.verifier, Drops: n.drops, Log: n.log, Now: n.now,
		Rand: n.randUint64, Tasks: n.tasks, Ledger: n.ledger, Rep: n.rep, Blobs: n.blobs,
		Fetch: func(ctx context.Context, p, job string, b market.Blob) ([]byte, error) {
			return n.data.Fetch(ctx, p, job, b)
		},
		Candidates: n.disc.Candidates, Capacity: n.disc.Capacity, Publish: n.gossip.Publish, Auction: n.gossip.Auction, Own: n.ownCandidate,
		Admit: n.agents.Admit, Closing: n.closing.Load, EntryView: ledgerview.Entry, AgentPolicy: agents.APIPolicy,
		ShareCatch: n.rep.ShareCatch, Suspect: n.rep.Suspect,
		Config: requester.Config{
			Job: jc, MaxActive: rc.MaxActive, Freshness: time.Duration(n.cfg.Gossip.Freshness),
			ReceiptTimeout: time.Duration(n.cfg.Settlement.ReceiptTimeout), Dir: dir,
			BarsFile:      filepath.Join(n.home, "subnet-bars.json"),
			CallGossip:    rc.CallGossip,
			SharedSubnets: n.cfg.Gossip.Whitelist,
		},
	})
}

// ID is the node's peer ID.
func (n *Node) ID() string { return n.signer.ID() }

// PeerID is the node's libp2p peer ID.
func (n *Node) PeerID() peer.ID { return n.host.ID() }

// Addrs are the node's listen addresses, each ending in /p2p/<peer ID> so
// another node can bootstrap from them.
func (n *Node) Addrs() []string {
	var out []string
	for _, a := range n.host.Addrs() {
		out = append(out, a.String()+"/p2p/"+n.host.ID().String())
	}
	return out
}

// Isolated reports whether the node has no peer at all although it was
// given bootstrap peers (a node started alone is a network of one, not
// isolated).
func (n *Node) Isolated() bool {
	return len(n.cfg.Network.Bootstrap) > 0 && len(n.host.Network().Peers()) == 0
}

// Host is the libp2p host, for tests and the devnet.
func (n *Node) Host() host.Host { return n.host }

// Config is the node's configuration.
func (n *Node) Config() Config { return n.cfg }

// Connect dials a peer by multiaddr (ending in /p2p/<peer ID>).
func (n *Node) Connect(ctx context.Context, addr string) error {
	ai, err := peer.AddrInfoFromString(addr)
	if err != nil {
		return fmt.Errorf("node: %q is not a peer address: %w", addr, err)
	}
	return n.host.Connect(ctx, *ai)
}

func (n *Node) randUint64() uint64 {
	n.rngMu.Lock()
	defer n.rngMu.Unlock()
	return n.rng.Uint64()
}

// Close stops the node gracefully: it withdraws its offer (peers asking are
// told "withdrawn"), stops reproviding, declines new work, lets running jobs
// finish until ctx ends, fails its own unfinished jobs, and closes the host.
func (n *Node) Close(ctx context.Context) error {
	if !n.closing.CompareAndSwap(false, true) {
		<-n.closed
		return nil
	}
	defer close(n.closed)
	n.offers.Withdraw()
	n.provider.Drain(ctx)
	n.requester.Shutdown(ctx)
	return n.teardown()
}

// teardown releases everything New acquired, in reverse order.
func (n *Node) teardown() error {
	errs := []error{n.tasks.Stop()}
	if n.dht != nil {
		errs = append(errs, n.dht.Close())
	}
	if n.host != nil {
		errs = append(errs, n.host.Close())
	}
	if n.requester != nil {
		errs = append(errs, n.requester.Close()) // its jobs ended with n.tasks
	}
	if n.ledger != nil {
		errs = append(errs, n.ledger.Close())
	}
	if n.ownExec && n.exec != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, n.exec.Close(ctx))
		cancel()
	}
	if n.sell != nil {
		// Containers are removed through the engine, which can be slow.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		errs = append(errs, n.sell.closeOwned(ctx, n.log))
		cancel()
	}
	return errors.Join(errs...)
}

// Closing reports whether Close has begun.
func (n *Node) Closing() bool { return n.closing.Load() }

// Score is gossipsub's current score of a peer, as last inspected.
func (n *Node) Score(p peer.ID) (float64, bool) { return n.gossip.Score(p) }

// Ping measures one bare request/response round trip on a new stream to p.
func (n *Node) Ping(ctx context.Context, p string) (time.Duration, error) {
	return wire.Ping(ctx, n.host, p)
}

// Drops returns the dropped-message counters.
func (n *Node) Drops() map[string]int64 { return n.drops.Snapshot() }
