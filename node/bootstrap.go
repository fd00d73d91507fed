package node

import (
	"context"
	"sync/atomic"
	"time"

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

// connectBootstrap dials the bootstrap peers in parallel and reports how
// many answered.
func (n *Node) connectBootstrap(ctx context.Context, boot []peer.AddrInfo) int {
	var g errgroup.Group // an unreachable peer is not an error of the whole
	var connected atomic.Int32
	for _, ai := range boot {
		g.Go(func() error {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := n.host.Connect(cctx, ai); err != nil {
				n.log.Debug("bootstrap peer unreachable", "peer", ai.ID, "err", err)
				return nil
			}
			connected.Add(1)
			return nil
		})
	}
	g.Wait()
	return int(connected.Load())
}

// keepBootstrapped redials the bootstrap peers whenever the node has no
// peer, with a growing pause, until ctx ends.
func (n *Node) keepBootstrapped(ctx context.Context, boot []peer.AddrInfo) error {
	if len(boot) == 0 {
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
		if len(n.host.Network().Peers()) > 0 {
			wait = bootstrapBase
			t.Reset(bootstrapMax) // look again later: peers can all leave
			continue
		}
		if c := n.connectBootstrap(ctx, boot); c > 0 {
			n.log.Info("reached bootstrap peers; no longer isolated", "connected", c)
			if err := n.dht.Bootstrap(ctx); err != nil {
				n.log.Warn("DHT bootstrap", "err", err)
			}
			n.offers.Nudge()
			wait = bootstrapBase
			t.Reset(bootstrapMax)
			continue
		}
		n.log.Warn("isolated: no bootstrap peer reachable; retrying", "in", wait)
		t.Reset(wait)
		wait = min(2*wait, bootstrapMax)
	}
}

// Isolated reports whether the node has no peer at all although it was
// given bootstrap peers (a node started alone is a network of one, not
// isolated).
func (n *Node) Isolated() bool {
	return len(n.cfg.Network.Bootstrap) > 0 && len(n.host.Network().Peers()) == 0
}
