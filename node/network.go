package node

import (
	"context"
	"fmt"
	"net/netip"
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

	"github.com/hayek-market/hayek/node/internal/gossip"
	"github.com/hayek-market/hayek/node/internal/wire"
)

// openNetwork makes the libp2p host, the DHT and gossipsub, whose own
// goroutines live until life ends; it returns the bootstrap peers.
func (n *Node) openNetwork(life context.Context, key crypto.PrivKey) ([]peer.AddrInfo, error) {
	cfg := n.cfg
	var err error
	// hayek's services get a host that counts the streams they open; the
	// DHT and gossipsub keep the bare one (they count their own traffic).
	bare, err := newHost(cfg, key)
	if err != nil {
		return nil, err
	}
	n.host = n.streamMetrics.CountStreams(bare, n.tasks)
	boot, err := bootstrapPeers(cfg.Network.Bootstrap, n.host.ID())
	if err != nil {
		return nil, err
	}
	n.dht, err = dht.New(life, bare,
		dht.Mode(dht.ModeServer),
		dht.ProtocolPrefix(DHTPrefix),
		dht.BootstrapPeers(boot...),
	)
	if err != nil {
		return nil, fmt.Errorf("node: DHT: %w", err)
	}
	if n.gossip, err = n.newGossip(life, bare); err != nil {
		return nil, err
	}
	n.run("gossip", n.gossip.Run)
	if err := n.rep.Start(n.gossip.PubSub(), n.gossip.Published); err != nil {
		return nil, err
	}
	n.run("evidence", n.rep.Run)
	return boot, nil
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

// bootstrapPeers are the configured bootstrap addresses, this node's own
// left out.
func bootstrapPeers(addrs []string, self peer.ID) ([]peer.AddrInfo, error) {
	var boot []peer.AddrInfo
	for _, a := range addrs {
		ai, err := peer.AddrInfoFromString(a)
		if err != nil {
			return nil, fmt.Errorf("node: bootstrap %q: %w", a, err)
		}
		if ai.ID != self {
			boot = append(boot, *ai)
		}
	}
	return boot, nil
}

// newGossip is gossipsub on the bare host, whose goroutines live until
// life ends.
func (n *Node) newGossip(life context.Context, bare host.Host) (*gossip.Service, error) {
	cfg := n.cfg
	return gossip.New(life, gossip.Deps{
		Host: bare, Verifier: n.verifier, Drops: n.drops, Now: n.now, Tasks: n.tasks, Metrics: n.metrics,
		Config: gossip.Config{
			Freshness: time.Duration(cfg.Gossip.Freshness), MaxCall: int(cfg.Gossip.MaxCall),
			CallRate: cfg.Gossip.CallRate, CallBurst: cfg.Gossip.CallBurst, Whitelist: cfg.Gossip.Whitelist,
		},
	})
}

// parsePrefix reads a subnet of the config (gossip.whitelist).
func parsePrefix(s string) (netip.Prefix, error) { return netip.ParsePrefix(s) }
