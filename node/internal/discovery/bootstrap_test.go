package discovery

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/hayek-market/hayek/node/api/apitest"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/node/internal/wire/wiretest"
)

// A node whose bootstrap peer cannot be reached at start is isolated;
// once the peer can be reached, Run joins it, refreshes the DHT and
// tells the advertiser.
func TestBootstrapperRejoins(t *testing.T) {
	mn := mocknet.New()
	t.Cleanup(func() { mn.Close() })
	k1, _ := wiretest.Identity(t, 5)
	k2, _ := wiretest.Identity(t, 6)
	h, err := mn.AddPeer(k1, ma.StringCast("/ip4/10.0.0.1/tcp/4001"))
	if err != nil {
		t.Fatal(err)
	}
	boot, err := mn.AddPeer(k2, ma.StringCast("/ip4/10.0.0.2/tcp/4001"))
	if err != nil {
		t.Fatal(err)
	}
	var refreshed, joined atomic.Int32
	b := NewBootstrapper(BootstrapDeps{
		Host: h, Peers: []peer.AddrInfo{{ID: boot.ID(), Addrs: boot.Addrs()}},
		DHTBootstrap: func(context.Context) error { refreshed.Add(1); return nil },
		Joined:       func() { joined.Add(1) },
		Log:          slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if c := b.Connect(t.Context()); c != 0 {
		t.Fatalf("%d bootstrap peers reached with no link to them", c)
	}
	tasks, _ := wire.NewGroup(t.Context())
	tasks.Run(b.Run)
	t.Cleanup(func() { tasks.Stop() })
	if err := mn.LinkAll(); err != nil {
		t.Fatal(err)
	}
	apitest.WaitFor(t, 10*time.Second, "the node to rejoin its bootstrap peer", func() bool {
		return len(h.Network().Peers()) == 1 && joined.Load() == 1
	})
	if refreshed.Load() != 1 {
		t.Fatalf("the DHT was refreshed %d times on rejoining, want once", refreshed.Load())
	}
}

// With no bootstrap peer there is nothing to keep: Run returns at once.
func TestBootstrapperWithoutPeers(t *testing.T) {
	if err := NewBootstrapper(BootstrapDeps{}).Run(t.Context()); err != nil {
		t.Fatal(err)
	}
}
