package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/exec/gpu"
	"github.com/hayek-market/hayek/exec/wasm"
	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
)

// DevnetOptions configure an in-process network of nodes on loopback.
type DevnetOptions struct {
	Nodes  int
	Dir    string // node i lives in Dir/node-<i>/
	Logger *slog.Logger
	// Configure adjusts node i's config after the devnet defaults.
	Configure func(i int, c *Config)
	// NoSockets skips the API sockets (tests that drive nodes directly).
	NoSockets bool
	Seed      uint64
	// QUIC adds a QUIC listener to every node beside TCP. Off by default:
	// in one process on shared cores, QUIC's user-space crypto and
	// per-packet syscalls cost about a tenth of the devnet's throughput,
	// which measures the market, not the transport.
	QUIC bool
	// CompileCache is the compiled-module cache the nodes share (default
	// DefaultCompileCache, shared by every devnet of this user, so a module
	// is compiled once per machine rather than once per node and run).
	// Tests warm it up front, so that no job's deadline pays for compiling
	// a sample module.
	CompileCache string
	// Now is the nodes' clock (time.Now if nil): tests share a fake one to
	// age offers, reputation and deadlines without waiting.
	Now func() time.Time
	// Process sells runtime/process on every node (they are all the
	// user's own), and Docker runtime/docker when an engine answers: one
	// executor of each, shared by the nodes. Either that cannot run here
	// is logged with the reason and left out.
	Process, Docker bool
	// GPUs gives node i a fake device set (tests of GPU allocation).
	GPUs func(i int) []gpu.Device
	// Runtimes are executors every node sells besides those above (tests
	// give fakes); the caller closes them.
	Runtimes map[market.Capability]exec.Executor
}

// Devnet is N complete nodes in one process: real TCP and QUIC on
// 127.0.0.1, real DHT, real gossipsub, each with its own home and socket.
type Devnet struct {
	Nodes []*Node
	// Runtimes are the executors beyond wasm the nodes share; Missing
	// says why one the options asked for is not there.
	Runtimes map[market.Capability]exec.Executor
	Missing  map[market.Capability]string
	Sockets  []string
	Homes    []string
	opts     DevnetOptions
	servers  []*api.Server
	serveWG  sync.WaitGroup
	cancel   context.CancelFunc
}

// DevnetConfig is the config of a devnet node: a loopback TCP listener on
// an ephemeral port and timers short enough for a local network.
func DevnetConfig() Config {
	c := DefaultConfig()
	c.Network.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	c.Network.ConnLow, c.Network.ConnHigh = 128, 512
	c.Network.Reprovide.Set("1m")
	c.Offers.TTL.Set("10m")
	c.Network.Discovery.Set("5s")
	c.Provider.Slots = 8
	// Generous money: a devnet is for running jobs, not for running out.
	c.Settlement.OperatorBudget = 1 << 50
	c.Settlement.CreditLimit = 1 << 50
	c.Settlement.CreditMax = 1 << 50
	c.Reputation.AttestEvery.Set("1s")
	return c
}

// StartDevnet starts the nodes, connects them, and serves each node's API.
// It returns once every node has started; call Ready to wait until every
// node can discover every other's offer.
func StartDevnet(ctx context.Context, o DevnetOptions) (*Devnet, error) {
	if o.Nodes < 1 {
		return nil, fmt.Errorf("node: a devnet needs at least 1 node, got %d", o.Nodes)
	}
	if o.Dir == "" {
		return nil, errors.New("node: DevnetOptions.Dir is required")
	}
	d := &Devnet{opts: o, Runtimes: map[market.Capability]exec.Executor{}, Missing: map[market.Capability]string{}}
	d.startRuntimes(ctx)
	sctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	ok := false
	defer func() {
		if !ok {
			cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
			d.Close(cctx)
			ccancel()
		}
	}()
	for i := 0; i < o.Nodes; i++ {
		cfg := DevnetConfig()
		if o.QUIC {
			cfg.Network.Listen = append(cfg.Network.Listen, "/ip4/127.0.0.1/udp/0/quic-v1")
		}
		if i > 0 {
			// Everyone joins through node 0, and through the node before
			// it, so the network does not hang on a single peer.
			cfg.Network.Bootstrap = []string{d.Nodes[0].Addrs()[0]}
			if i > 1 {
				cfg.Network.Bootstrap = append(cfg.Network.Bootstrap, d.Nodes[i-1].Addrs()[0])
			}
		}
		if o.Configure != nil {
			o.Configure(i, &cfg)
		}
		home := filepath.Join(o.Dir, fmt.Sprintf("node-%d", i))
		log := o.Logger
		if log != nil {
			log = log.With("node", i)
		}
		seed := o.Seed
		if seed != 0 {
			seed += uint64(i)
		}
		cc := o.CompileCache
		if cc == "" {
			cc = DefaultCompileCache()
		}
		if cc == "" {
			cc = filepath.Join(o.Dir, "wasm-cache")
		}
		var gpus []gpu.Device
		if o.GPUs != nil {
			gpus = o.GPUs(i)
		}
		n, err := New(ctx, Options{Home: home, Config: cfg, Logger: log, Seed: seed, CompileCache: cc, Now: o.Now,
			Runtimes: d.Runtimes, GPUs: gpus})
		if err != nil {
			return nil, fmt.Errorf("node: devnet node %d: %w", i, err)
		}
		d.Nodes = append(d.Nodes, n)
		d.Homes = append(d.Homes, home)
		if !o.NoSockets {
			sock := filepath.Join(home, "hayek.sock")
			srv := api.NewServer(n, api.WithLogger(n.log), api.WithBlobLimit(int64(cfg.API.MaxBlob)))
			d.servers = append(d.servers, srv)
			d.Sockets = append(d.Sockets, sock)
			d.serveWG.Add(1)
			go func() {
				defer d.serveWG.Done()
				if err := srv.Serve(sctx, sock); err != nil && sctx.Err() == nil {
					n.log.Error("API server stopped", "err", err)
				}
			}()
			select {
			case <-srv.Ready():
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	ok = true
	return d, nil
}

// Ready waits until every node can discover the offers of every other
// selling node and hears the auction topic from them.
func (d *Devnet) Ready(ctx context.Context) error {
	sellers := 0
	for _, n := range d.Nodes {
		if n.cfg.Provider.Sell {
			sellers++
		}
	}
	caps := []market.Capability{market.RuntimeWasm}
	for {
		ready := true
		for _, n := range d.Nodes {
			want := sellers
			if n.cfg.Provider.Sell {
				want-- // its own offer is not a candidate
			}
			if _, err := n.disc.Lookup(ctx, caps[0]); err != nil && ctx.Err() != nil {
				return ctx.Err()
			}
			got := 0
			for _, c := range n.disc.Cached(caps) {
				if c.Peer != n.ID() && !c.Offer.Withdrawn {
					got++
				}
			}
			if got < want || len(n.gossip.TopicPeers(market.RuntimeWasm)) < min(want, 1) {
				ready = false
				break
			}
		}
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node: devnet not ready: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Close stops every node gracefully and removes the sockets.
func (d *Devnet) Close(ctx context.Context) error {
	var errs []error
	for _, s := range d.servers {
		s.Close()
	}
	if d.cancel != nil {
		d.cancel()
	}
	d.serveWG.Wait()
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, n := range d.Nodes {
		wg.Add(1)
		go func(n *Node) {
			defer wg.Done()
			if err := n.Close(ctx); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}(n)
	}
	wg.Wait()
	for _, s := range d.Sockets {
		os.Remove(s)
	}
	for rt, e := range d.Runtimes {
		if d.opts.Runtimes[rt] == nil {
			errs = append(errs, e.Close(ctx))
		}
	}
	return errors.Join(errs...)
}

// startRuntimes starts the executors the options ask for and the host can
// run, saying why any cannot.
func (d *Devnet) startRuntimes(ctx context.Context) {
	log := d.opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	for rt, e := range d.opts.Runtimes {
		d.Runtimes[rt] = e
	}
	if d.opts.Process {
		e, err := newProcessExecutor(ctx, DefaultConfig().Provider.Process)
		if err != nil {
			log.Warn("devnet: not selling runtime/process", "err", err)
			d.Missing[market.RuntimeProcess] = err.Error()
		} else {
			d.Runtimes[market.RuntimeProcess] = e
		}
	}
	if d.opts.Docker {
		e, err := newDockerExecutor(ctx, DefaultConfig().Provider.Docker)
		if err != nil {
			log.Warn("devnet: not selling runtime/docker", "err", err)
			d.Missing[market.RuntimeDocker] = err.Error()
		} else {
			d.Runtimes[market.RuntimeDocker] = e
		}
	}
}

// Sells reports whether the devnet's nodes sell runtime rt.
func (d *Devnet) Sells(rt market.Capability) bool {
	return rt == market.RuntimeWasm || d.Runtimes[rt] != nil
}

// DefaultCompileCache is where local devnets keep compiled modules:
// hayek/compile-cache in the user's cache directory (like Go's build
// cache; wazero keys each entry by its version and the CPU, so entries
// never go stale), or "" when there is none.
func DefaultCompileCache() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "hayek", "compile-cache")
}

// WarmCompileCache compiles modules into the compiled-module cache in dir,
// for devnets started later with DevnetOptions.CompileCache = dir: their
// providers then load machine code instead of compiling it inside a job's
// deadline. Compiling a 3 MB Go-built module takes seconds, and minutes
// under the race detector on a loaded machine.
func WarmCompileCache(ctx context.Context, dir string, modules ...[]byte) error {
	wc := wasm.DefaultConfig()
	wc.CacheDir = dir
	e, err := wasm.New(ctx, wc)
	if err != nil {
		return fmt.Errorf("node: warm compile cache: %w", err)
	}
	defer e.Close(ctx)
	for _, m := range modules {
		if err := e.Precompile(ctx, canon.BlobCID(m).String(), m); err != nil {
			return fmt.Errorf("node: warm compile cache: %w", err)
		}
	}
	return nil
}
