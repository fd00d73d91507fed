package node

import (
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Every stream a peer opens to this node is served under two limits, so
// that no peer — nor a handful of identities — can starve the node or the
// honest peers it serves:
//
//   - a per-peer cap on the streams of each protocol in service at once:
//     beyond it the stream is reset at once (and counted), so one peer's
//     stalled streams can never fill what other peers need;
//   - a short deadline for the request to arrive (requestTimeout). A
//     handler that has a long answer to send (a blob) sets a new deadline
//     for it, scaled to its size, once the request is read and checked.
//
// libp2p's resource manager bounds the streams of each protocol and peer
// below these (node.go), and the connection manager the peers.

// requestTimeout is how long a peer has to send its request on a new
// stream: every request is one frame, most of them small. A result frame
// may carry a megabyte or two of inline outputs, an award its arguments.
func requestTimeout(p protocol.ID) time.Duration {
	switch p {
	case ProtoResult:
		return 30 * time.Second
	case ProtoAward:
		return 10 * time.Second
	}
	return 5 * time.Second
}

// perPeerStreams caps the streams of one protocol a single peer may have in
// service at once. An honest peer needs few: a provider fetches a job's
// blobs fetchParallel at a time, a requester's awards and a provider's
// bids are one short stream per job.
var perPeerStreams = map[protocol.ID]int{
	ProtoOffer:   4,
	ProtoBid:     64,
	ProtoAward:   64,
	ProtoResult:  16,
	ProtoData:    2 * fetchParallel,
	ProtoPing:    4,
	ProtoReceipt: 32,
}

// streamGate counts each peer's streams in service, per protocol.
type streamGate struct {
	mu sync.Mutex
	in map[gateKey]int
}

type gateKey struct {
	proto protocol.ID
	peer  peer.ID
}

func (g *streamGate) enter(k gateKey, limit int) bool {
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

func (g *streamGate) leave(k gateKey) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.in[k]--; g.in[k] <= 0 {
		delete(g.in, k)
	}
}

// serve registers h for proto behind the per-peer cap and the request
// deadline.
func (n *Node) serve(proto protocol.ID, h network.StreamHandler) {
	limit := perPeerStreams[proto]
	if limit == 0 {
		panic("node: no per-peer stream limit for " + string(proto))
	}
	name := strings.Split(strings.TrimPrefix(string(proto), "/hayek/"), "/")[0]
	n.host.SetStreamHandler(proto, func(st network.Stream) {
		k := gateKey{proto, st.Conn().RemotePeer()}
		if !n.streams.enter(k, limit) {
			n.drops.add(name + "/peer_streams")
			st.Reset()
			return
		}
		defer n.streams.leave(k)
		st.SetDeadline(time.Now().Add(requestTimeout(proto)))
		h(st)
	})
}
