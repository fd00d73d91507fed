package discovery

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/sync/errgroup"
)

// A node whose bootstrap peers are all unreachable at start (a peer that
// is restarting, a network that is not up yet) must not stay alone: while
// it has no peer at all it dials its bootstrap peers again with a backoff
// from bootstrapBase to bootstrapMax, and `hayek status` says it is
// isolated meanwhile.
const (
	bootstrapBase = time.Second
	bootstrapMax  = time.Minute
)

// BootstrapDeps are what the bootstrapper needs.
type BootstrapDeps struct {
	Host  host.Host
	Peers []peer.AddrInfo // the configured bootstrap peers, this node left out
	// DHTBootstrap refreshes the DHT's routing table once peers are back.
	DHTBootstrap func(ctx context.Context) error
	// Joined is told when the node was isolated and reached a bootstrap
	// peer again (the advertiser's Nudge: its records can be provided now).
	Joined func()
	Log    *slog.Logger
}

// Bootstrapper connects the node to its bootstrap peers at start, and
// again (Run) whenever it has lost every peer.
type Bootstrapper struct{ d BootstrapDeps }

// NewBootstrapper returns a bootstrapper of the peers in d.
func NewBootstrapper(d BootstrapDeps) *Bootstrapper { return &Bootstrapper{d: d} }

// Connect dials the bootstrap peers in parallel and reports how many
// answered.
func (b *Bootstrapper) Connect(ctx context.Context) int {
	var g errgroup.Group // an unreachable peer is not an error of the whole
	var connected atomic.Int32
	for _, ai := range b.d.Peers {
		g.Go(func() error {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := b.d.Host.Connect(cctx, ai); err != nil {
				b.d.Log.Debug("bootstrap peer unreachable", "peer", ai.ID, "err", err)
				return nil
			}
			connected.Add(1)
			return nil
		})
	}
	g.Wait()
	return int(connected.Load())
}

// Run redials the bootstrap peers whenever the node has no peer, with a
// growing pause, until ctx ends.
func (b *Bootstrapper) Run(ctx context.Context) error {
	if len(b.d.Peers) == 0 {
		return nil
	}
	wait := bootstrapBase
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if len(b.d.Host.Network().Peers()) > 0 {
			wait = bootstrapBase
			t.Reset(bootstrapMax) // look again later: peers can all leave
			continue
		}
		if c := b.Connect(ctx); c > 0 {
			b.d.Log.Info("reached bootstrap peers; no longer isolated", "connected", c)
			if err := b.d.DHTBootstrap(ctx); err != nil {
				b.d.Log.Warn("DHT bootstrap", "err", err)
			}
			b.d.Joined()
			wait = bootstrapBase
			t.Reset(bootstrapMax)
			continue
		}
		b.d.Log.Warn("isolated: no bootstrap peer reachable; retrying", "in", wait)
		t.Reset(wait)
		wait = min(2*wait, bootstrapMax)
	}
}
