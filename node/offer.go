package node

import (
	"time"

	"github.com/hayek-market/hayek/market"
)

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
