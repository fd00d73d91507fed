package gossip

import (
	"bufio"
	"errors"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/internal/wire"
)

// HandleCall serves /hayek/call/1.0.0: a requester's call for bids sent
// straight to one of its invitees. It is taken in by the same check as a
// gossiped call, with two rules of its own: the peer on the stream must
// be the call's requester (a relayed copy is gossip's business), and the
// call must name this node as an invitee. It is delivered to the
// subscriber of its capability, as a gossiped one would be; the answer
// goes back on /hayek/bid/1.0.0. Nothing is written on the stream.
func (g *Service) HandleCall(st network.Stream) {
	defer st.Close()
	b, err := wire.ReadFrame(bufio.NewReader(st), g.d.MaxCall)
	if err != nil {
		if errors.Is(err, wire.ErrFrameTooLarge) {
			g.d.Drops.Add("call/oversized")
		} else {
			g.d.Drops.Add("call/unreadable")
		}
		st.Reset()
		return
	}
	g.Direct(st.Conn().RemotePeer(), b)
}

// Direct takes in frame b, a call for bids peer from sent directly, and
// delivers it to its capability's subscribers if it passes. It reports
// whether it did.
func (g *Service) Direct(from peer.ID, b []byte) bool {
	self := g.d.Host.ID().String()
	var fns []func(peer.ID, *wire.Call)
	dc, v := g.check(b, viaDirect, wire.Expect{What: "call", Kind: market.KindCall, From: from.String()},
		func(c market.CallForBids) string {
			if !c.Invited(self) {
				return "call/not_invited"
			}
			g.mu.Lock()
			fns = append(fns, g.subs[c.Needs.Capabilities[0].Topic()]...)
			g.mu.Unlock()
			if len(fns) == 0 {
				return "call/not_sold"
			}
			return ""
		})
	if v != accepted {
		return false
	}
	for _, fn := range fns {
		fn(from, dc)
	}
	return true
}
