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

	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/exec/gpu"
	"github.com/hayek-market/hayek/exec/wasm"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/internal/blobs"
	"github.com/hayek-market/hayek/node/internal/discovery"
	"github.com/hayek-market/hayek/node/internal/evidence"
	"github.com/hayek-market/hayek/node/internal/gossip"
	"github.com/hayek-market/hayek/node/internal/provider"
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
	requester *requester
	provider  *provider.Service
	jobs      *jobStore
	ledger    *settlement.Ledger
	rep       *evidence.Service
	rates     agentRates
	admission admission
	drops     *wire.Drops
	streams   wire.Gate // peers' inbound streams in service
	checked   checkedModules

	ctx     context.Context // lives until Close; background work derives from it
	tasks   *wire.Group     // background work; teardown waits for it before closing the stores
	closing atomic.Bool
	closed  chan struct{}
}

// New starts a node: it listens, joins the DHT through the bootstrap peers,
// subscribes to the topics of what it sells and advertises its offer. The
// node runs until Close; ctx only bounds startup.
func New(ctx context.Context, o Options) (*Node, error) {
	if o.Home == "" {
		return nil, errors.New("node: Options.Home is required")
	}
	// A zero Config means the defaults. Anything else is taken as given and
	// validated: a partly filled config is refused naming what is missing,
	// never silently replaced (start from DefaultConfig and change fields).
	cfg := o.Config
	if reflect.ValueOf(cfg).IsZero() {
		cfg = DefaultConfig()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Home, 0o700); err != nil {
		return nil, fmt.Errorf("node: create home %s: %w", o.Home, err)
	}
	if err := privateHome(o.Home); err != nil {
		return nil, err
	}
	key := o.Key
	if key == nil {
		var err error
		if key, _, err = LoadOrCreateIdentity(o.Home); err != nil {
			return nil, err
		}
	}
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
		rates:  agentRates{seen: map[string][]time.Time{}},
	}
	n.tasks, n.ctx = wire.NewGroup(context.Background())
	ok := false
	defer func() {
		if !ok {
			n.teardown()
		}
	}()

	if err := n.openLedger(ctx); err != nil {
		return nil, err
	}
	if err := n.releaseOrphans(ctx); err != nil {
		return nil, fmt.Errorf("node: release orphaned holds: %w", err)
	}
	if n.rep, err = evidence.New(evidence.Deps{
		Signer: n.signer, Verifier: n.verifier, Ledger: n.ledger, Drops: n.drops, Log: n.log, Now: n.now,
		Config: evidence.Config{
			HalfLife: time.Duration(cfg.Reputation.HalfLife), AttestEvery: time.Duration(cfg.Reputation.AttestEvery),
			Freshness: time.Duration(cfg.Gossip.Freshness), Epsilon: cfg.Reputation.Epsilon,
			CreditLimit: cfg.Settlement.CreditLimit, CreditMax: cfg.Settlement.CreditMax,
		},
	}); err != nil {
		return nil, err
	}
	if err := n.rep.Rebuild(ctx); err != nil {
		return nil, err
	}
	if act := cfg.Misbehave.Active(); len(act) > 0 {
		n.log.Warn("THIS NODE IS CONFIGURED TO MISBEHAVE AS A PROVIDER (testing only)", "misbehave", act)
	}

	if o.Executor != nil {
		n.exec = o.Executor
	} else if cfg.Provider.Sell {
		wc := wasm.DefaultConfig()
		wc.CacheDir = o.CompileCache
		if wc.CacheDir == "" {
			wc.CacheDir = filepath.Join(o.Home, "cache", "wasm")
		}
		wc.MaxCachedModules = cfg.Provider.ModuleCache
		if n.exec, err = wasm.New(ctx, wc); err != nil {
			return nil, fmt.Errorf("node: wasm executor: %w", err)
		}
		n.ownExec = true
	}
	if cfg.Provider.Sell {
		if n.sell, err = n.setupSelling(ctx, o, n.exec); err != nil {
			return nil, err
		}
	}

	if n.host, err = newHost(cfg, key); err != nil {
		return nil, err
	}
	var boot []peer.AddrInfo
	for _, a := range cfg.Network.Bootstrap {
		ai, err := peer.AddrInfoFromString(a)
		if err != nil {
			return nil, fmt.Errorf("node: bootstrap %q: %w", a, err)
		}
		if ai.ID != n.host.ID() {
			boot = append(boot, *ai)
		}
	}
	n.dht, err = dht.New(n.ctx, n.host,
		dht.Mode(dht.ModeServer),
		dht.ProtocolPrefix(DHTPrefix),
		dht.BootstrapPeers(boot...),
	)
	if err != nil {
		return nil, fmt.Errorf("node: DHT: %w", err)
	}
	if n.gossip, err = gossip.New(n.ctx, gossip.Deps{
		Host: n.host, Verifier: n.verifier, Drops: n.drops, Now: n.now, Tasks: n.tasks,
		Config: gossip.Config{
			Freshness: time.Duration(cfg.Gossip.Freshness), MaxCall: int(cfg.Gossip.MaxCall),
			CallRate: cfg.Gossip.CallRate, CallBurst: cfg.Gossip.CallBurst, Whitelist: cfg.Gossip.Whitelist,
		},
	}); err != nil {
		return nil, err
	}
	n.tasks.Go(func() { n.gossip.Run(n.ctx) })
	if err := n.rep.Start(n.gossip.PubSub()); err != nil {
		return nil, err
	}
	n.tasks.Go(func() { n.rep.Run(n.ctx) })
	caps := n.soldCapabilities()
	n.offers = discovery.NewAdvertiser(discovery.AdvertiserDeps{
		DHT: n.dht, HasPeers: func() bool { return len(n.dht.RoutingTable().ListPeers()) > 0 },
		Signer: n.signer, Log: n.log, Now: n.now, OfferFor: n.offerFor,
		Capabilities: caps, TTL: time.Duration(cfg.Offers.TTL), Reprovide: time.Duration(cfg.Network.Reprovide),
	})
	n.disc = discovery.NewFinder(discovery.FinderDeps{
		Host: n.host, Router: n.dht, Verifier: n.verifier, Drops: n.drops, Log: n.log, Now: n.now, Tasks: n.tasks,
		Self: n.ID(), OwnOffer: n.offers.Offer, AllowSelf: cfg.Requester.AllowSelf,
		Every: time.Duration(cfg.Network.Discovery),
		Stored: func() {
			if r := n.requester; r != nil {
				r.queue.poke() // more capacity may let queued jobs go
			}
		},
	})
	n.requester = newRequester(n)
	if n.jobs, err = openJobStore(filepath.Join(o.Home, "jobs")); err != nil {
		return nil, err
	}
	if err := n.requester.open(n.jobs); err != nil {
		return nil, err
	}
	n.provider = provider.New(provider.Deps{
		Host: n.host, Signer: n.signer, Verifier: n.verifier, Drops: n.drops, Log: n.log, Now: n.now, Tasks: n.tasks,
		Executors: n.sell.executorsOrNil(), GPUs: n.sell.allocator(), GPURuntimes: n.sell.gpuRuntimesOrNil(),
		Blobs: n.blobs, Fetch: func(ctx context.Context, p, job string, b market.Blob) ([]byte, error) {
			return n.data.Fetch(ctx, p, job, b)
		},
		Ledger: n.ledger, Rep: n.rep, Gossip: n.gossip, OwnOffer: n.offers.Offer,
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
	n.data = blobs.New(blobs.Deps{
		Host: n.host, Store: n.blobs, Signer: n.signer, Verifier: n.verifier, Drops: n.drops, Log: n.log, Now: n.now,
		Freshness: time.Duration(cfg.Gossip.Freshness),
		Authorize: []blobs.Authorizer{blobs.AuthorizeFunc(n.requester.authorizeFetch), n.provider},
		GCEvery:   time.Duration(cfg.Storage.GCEvery), Retention: time.Duration(cfg.Storage.BlobRetention),
		Pins: n.pinnedBlobs,
	})
	n.streams.Serve(n.host, n.drops, ProtoOffer, n.offers.Handle)
	n.streams.Serve(n.host, n.drops, ProtoBid, n.requester.handleBid)
	n.streams.Serve(n.host, n.drops, ProtoResult, n.requester.handleResult)
	n.streams.Serve(n.host, n.drops, ProtoAward, n.provider.AwardHandler(n.ctx))
	n.streams.Serve(n.host, n.drops, ProtoData, n.data.HandleData)
	n.streams.Serve(n.host, n.drops, ProtoPing, wire.HandlePing)
	n.streams.Serve(n.host, n.drops, ProtoReceipt, n.handleReceipt)

	// Join the network: connect to bootstrap peers (in parallel, tolerating
	// failures: a node must start even when a bootstrap peer is down, and
	// keeps trying in the background).
	if len(boot) > 0 && n.connectBootstrap(ctx, boot) == 0 {
		n.log.Warn("isolated: no bootstrap peer reachable; retrying in the background", "bootstrap", len(boot))
	}
	if err := n.dht.Bootstrap(n.ctx); err != nil {
		return nil, fmt.Errorf("node: DHT bootstrap: %w", err)
	}
	if cfg.Provider.Sell {
		if err := n.provider.Subscribe(n.ctx); err != nil {
			return nil, err
		}
		n.tasks.Go(func() { n.provider.Run(n.ctx) })
		if n.offers.Start() {
			n.tasks.Go(func() { n.offers.Run(n.ctx) })
		}
	}
	n.tasks.Go(func() { n.disc.Run(n.ctx) })
	n.tasks.Go(func() { n.keepBootstrapped(boot) })
	n.requester.watchConnections()
	n.tasks.Go(func() { n.data.Run(n.ctx) })
	ok = true
	if cfg.Provider.Sell {
		n.log.Info("node started", "addrs", n.Addrs(), "selling", fmt.Sprint(caps))
	} else {
		n.log.Info("node started", "addrs", n.Addrs(), "selling", "nothing (provider.sell = false)")
	}
	return n, nil
}

func newHost(cfg Config, key crypto.PrivKey) (host.Host, error) {
	cm, err := connmgr.NewConnManager(cfg.Network.ConnLow, cfg.Network.ConnHigh, connmgr.WithGracePeriod(time.Minute))
	if err != nil {
		return nil, fmt.Errorf("node: connection manager: %w", err)
	}
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	// hayek's own protocols: a generous but finite number of streams.
	for _, p := range wire.Protocols {
		limits.AddProtocolLimit(p, rcmgr.BaseLimit{Streams: 4096, StreamsInbound: 2048, StreamsOutbound: 2048, Memory: 256 << 20},
			rcmgr.BaseLimitIncrease{})
		limits.AddProtocolPeerLimit(p, rcmgr.BaseLimit{Streams: 512, StreamsInbound: 256, StreamsOutbound: 256, Memory: 64 << 20},
			rcmgr.BaseLimitIncrease{})
	}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits.AutoScale()))
	if err != nil {
		return nil, fmt.Errorf("node: resource manager: %w", err)
	}
	h, err := libp2p.New(
		libp2p.Identity(key),
		libp2p.ListenAddrStrings(cfg.Network.Listen...),
		// No SO_REUSEPORT: a second node on the same port must fail with
		// "address already in use", not share the port silently.
		libp2p.Transport(tcp.NewTCPTransport, tcp.DisableReuseport()),
		libp2p.Transport(quic.NewTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Security(libp2ptls.ID, libp2ptls.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ConnectionManager(cm),
		libp2p.ResourceManager(rm),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
		libp2p.UserAgent("hayek/"+Version),
	)
	if err != nil {
		return nil, fmt.Errorf("node: libp2p host (listen %v): %w", cfg.Network.Listen, err)
	}
	return h, nil
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
	n.requester.shutdown(ctx)
	return n.teardown()
}

// teardown releases everything New acquired, in reverse order.
func (n *Node) teardown() error {
	n.tasks.Stop()
	if n.provider != nil {
		n.provider.Wait() // runs end with n.ctx
	}
	if n.requester != nil {
		n.requester.wg.Wait() // job goroutines write to the job store as they end
	}
	var errs []error
	if n.dht != nil {
		errs = append(errs, n.dht.Close())
	}
	if n.host != nil {
		errs = append(errs, n.host.Close())
	}
	if n.jobs != nil {
		errs = append(errs, n.jobs.close())
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

// offerFor builds this node's offer from its config.
func (n *Node) offerFor(now time.Time, seq uint64, withdrawn bool) market.Offer {
	p := n.cfg.Provider
	var res *market.Resources
	if n.sell != nil {
		r := n.sell.resources
		res = &r
	}
	return market.Offer{
		Provider: n.ID(), Seq: seq, Capabilities: n.soldCapabilities(), Pricing: p.Pricing, Resources: res,
		Limits: market.Limits{
			MaxMemoryBytes: int64(p.MaxMemory), MaxTimeoutMs: time.Duration(p.MaxTimeout).Milliseconds(),
			MaxModuleBytes: int64(p.MaxModule), MaxInputBytes: int64(p.MaxInput), MaxOutputBytes: int64(p.MaxOutput),
			Slots: p.Slots,
		},
		Version: Version, Created: now.UnixMilli(),
		Expires: now.Add(time.Duration(n.cfg.Offers.TTL)).UnixMilli(), Withdrawn: withdrawn,
	}
}

// soldCapabilities is what the node advertises: what works of what the
// config sells.
func (n *Node) soldCapabilities() []market.Capability {
	if n.sell != nil {
		return n.sell.caps
	}
	caps := make([]market.Capability, len(n.cfg.Provider.Capabilities))
	for i, c := range n.cfg.Provider.Capabilities {
		caps[i] = market.Capability(c)
	}
	return caps
}

// Score is gossipsub's current score of a peer, as last inspected.
func (n *Node) Score(p peer.ID) (float64, bool) { return n.gossip.Score(p) }

// Ping measures one bare request/response round trip on a new stream to p.
func (n *Node) Ping(ctx context.Context, p string) (time.Duration, error) {
	return wire.Ping(ctx, n.host, p)
}

// Drops returns the dropped-message counters.
func (n *Node) Drops() map[string]int64 { return n.drops.Snapshot() }
