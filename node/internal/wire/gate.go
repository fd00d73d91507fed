package wire

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Every stream a peer opens to this node is served under two limits, so
// that no peer — nor a handful of identities — can starve the node or the
// honest peers it serves:
//
//   - a per-peer cap on the streams of each protocol in service at once
//     (PerPeerStreams): beyond it the stream is reset at once (and
//     counted), so one peer's stalled streams can never fill what other
//     peers need;
//   - a short deadline for the request to arrive (RequestTimeout). A
//     handler that has a long answer to send (a blob) sets a new deadline
//     for it, scaled to its size, once the request is read and checked.
//
// libp2p's resource manager bounds the streams of each protocol and peer
// below these (see the node's host), and the connection manager the peers.

// Gate counts each peer's streams in service, per protocol, and serves
// hayek's protocols behind those counts. The zero value is ready to use.
type Gate struct {
	// Metrics, when set before the first Serve, counts the streams served.
	Metrics *StreamMetrics

	mu sync.Mutex
	in map[gateKey]int
}

type gateKey struct {
	proto protocol.ID
	peer  peer.ID
}

func (g *Gate) enter(k gateKey, limit int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.in == nil {
		g.in = map[gateKey]int{}
	}
	if g.in[k] >= limit {
		return false
	}
	g.in[k]++
	return true
}

func (g *Gate) leave(k gateKey) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.in[k]--; g.in[k] <= 0 {
		delete(g.in, k)
	}
}

// Serve registers hd for proto on h behind the per-peer cap and the
// request deadline; streams refused are counted in drops.
func (g *Gate) Serve(h host.Host, drops *Drops, proto protocol.ID, hd network.StreamHandler) {
	limit := PerPeerStreams[proto]
	if limit == 0 {
		panic("node: no per-peer stream limit for " + string(proto))
	}
	name := ProtoName(proto)
	h.SetStreamHandler(proto, func(st network.Stream) {
		k := gateKey{proto, st.Conn().RemotePeer()}
		if !g.enter(k, limit) {
			drops.Add(name + "/peer_streams")
			st.Reset()
			return
		}
		defer g.leave(k)
		g.Metrics.serve(proto)
		st.SetDeadline(time.Now().Add(RequestTimeout(proto)))
		hd(st)
	})
}
