package node

import (
	"context"
	"fmt"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"golang.org/x/sync/singleflight"

	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/internal/wire"
)

// discovery finds providers of capabilities: DHT provider records are only
// hints, so every provider found is asked for its signed offer, which is
// verified and cached until it nears expiry. Lookups are cached per
// capability and refreshed in the background, so an auction rarely waits
// for the DHT.
type discovery struct {
	n  *Node
	sf singleflight.Group

	mu      sync.Mutex
	offers  map[string]*knownOffer             // by provider
	lookups map[market.Capability]*lookupState // by capability
}

type knownOffer struct {
	offer   market.Offer
	fetched time.Time
}

type lookupState struct {
	last   time.Time // last completed lookup
	wanted time.Time // last time someone needed it
	found  int
}

func newDiscovery(n *Node) *discovery {
	return &discovery{n: n, offers: map[string]*knownOffer{}, lookups: map[market.Capability]*lookupState{}}
}

func (d *discovery) start() {
	n := d.n
	n.tasks.Go(func() {
		wire.Every(n.ctx, time.Duration(n.cfg.Network.Discovery), func() {
			d.refresh()
		})
	})
}

// refresh looks up again every capability wanted in the last ten
// minutes, and keeps the offers of connected providers fresh however long
// the node has been idle: an offer is fetched again once half its life
// has passed, so the next job never finds it expired.
func (d *discovery) refresh() {
	now := d.n.now()
	d.mu.Lock()
	var caps []market.Capability
	for c, ls := range d.lookups {
		if now.Sub(ls.wanted) < 10*time.Minute {
			caps = append(caps, c)
		}
	}
	d.mu.Unlock()
	for _, c := range caps {
		if _, err := d.lookup(d.n.ctx, c); err != nil {
			d.n.log.Debug("background discovery failed", "capability", c, "err", err)
		}
	}
	d.refetchAging(d.n.ctx)
}

// refetchAging fetches again the offers past half their life whose
// providers are connected, and forgets offers long expired whose providers
// are gone.
func (d *discovery) refetchAging(ctx context.Context) {
	n := d.n
	now := n.now().UnixMilli()
	d.mu.Lock()
	var aging []string
	for p, ko := range d.offers {
		life := ko.offer.Expires - ko.offer.Created
		switch {
		case p == n.ID():
		case now < ko.offer.Expires-life/2:
		case n.connected(p):
			aging = append(aging, p)
		case now > ko.offer.Expires+life:
			delete(d.offers, p) // expired a lifetime ago, and gone
		}
	}
	d.mu.Unlock()
	d.fetchAll(ctx, aging)
}

// fetchAll fetches and stores the offers of peers, 16 at a time; a peer
// that does not answer keeps its cached offer until that expires.
func (d *discovery) fetchAll(ctx context.Context, peers []string) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, p := range peers {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			octx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if o, err := d.n.fetchOffer(octx, p); err == nil {
				d.store(o)
			} else {
				d.n.log.Debug("cannot refresh offer", "peer", wire.ShortID(p), "err", err)
			}
		}()
	}
	wg.Wait()
}

// askConnected asks every connected peer that speaks the offer protocol
// for its offer: the last resort when the DHT has no record of anyone
// selling what a job needs (records can lag behind who is in fact here).
func (d *discovery) askConnected(ctx context.Context) {
	n := d.n
	var peers []string
	for _, p := range n.host.Network().Peers() {
		if protos, err := n.host.Peerstore().SupportsProtocols(p, ProtoOffer); err == nil && len(protos) > 0 && !d.freshOffer(p.String()) {
			peers = append(peers, p.String())
		}
	}
	d.fetchAll(ctx, peers)
}

func (n *Node) connected(p string) bool {
	pid, err := peer.Decode(p)
	return err == nil && n.host.Network().Connectedness(pid) == network.Connected
}

// Candidates returns providers whose verified offers sell every capability
// in caps (the first is looked up on the DHT). Unexpired cached offers are
// used at once, refreshed in the background when the lookup is stale. With
// none, Candidates looks now — on the DHT, then among connected peers — so
// that an offer that expired while the node was idle is never the reason a
// job finds no provider while its provider is reachable.
func (d *discovery) Candidates(ctx context.Context, caps []market.Capability) ([]market.Candidate, error) {
	primary := caps[0]
	now := d.n.now()
	d.mu.Lock()
	ls, ok := d.lookups[primary]
	if !ok {
		ls = &lookupState{}
		d.lookups[primary] = ls
	}
	ls.wanted = now
	fresh := !ls.last.IsZero() && now.Sub(ls.last) < time.Duration(d.n.cfg.Network.Discovery)
	d.mu.Unlock()
	if out := d.cached(caps); usable(out) {
		if !fresh {
			d.n.tasks.Go(func() { d.lookup(d.n.ctx, primary) })
		}
		return out, nil
	}
	_, err := d.lookup(ctx, primary)
	if out := d.cached(caps); usable(out) {
		return out, nil
	}
	d.askConnected(ctx)
	out := d.cached(caps)
	if usable(out) {
		return out, nil
	}
	return out, err
}

// usable reports whether any candidate has not withdrawn its offer.
func usable(cs []market.Candidate) bool {
	for _, c := range cs {
		if !c.Offer.Withdrawn {
			return true
		}
	}
	return false
}

// cached lists unexpired offers selling all of caps, cheapest first.
func (d *discovery) cached(caps []market.Capability) []market.Candidate {
	now := d.n.now().UnixMilli()
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []market.Candidate
	for p, ko := range d.offers {
		if ko.offer.Expires <= now {
			continue
		}
		sellsAll := true
		for _, c := range caps {
			sellsAll = sellsAll && ko.offer.Sells(c)
		}
		if sellsAll || ko.offer.Withdrawn {
			out = append(out, market.Candidate{Peer: p, Offer: ko.offer})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Peer < out[j].Peer })
	for i := range out {
		out[i].Subnet = d.n.subnet(out[i].Peer)
	}
	return out
}

// subnet names the network a peer is reached in: its /24 (IPv4) or /48
// (IPv6), from the address of a live connection, else a known address.
// Replicas of a job can be kept in distinct subnets, so one operator's
// machines in one rack cannot fill a replica group.
func (n *Node) subnet(p string) string {
	pid, err := peer.Decode(p)
	if err != nil {
		return ""
	}
	addrs := n.host.Peerstore().Addrs(pid)
	for _, c := range n.host.Network().ConnsToPeer(pid) {
		addrs = append([]ma.Multiaddr{c.RemoteMultiaddr()}, addrs...)
	}
	for _, a := range addrs {
		ip, err := manet.ToIP(a)
		if err != nil {
			continue
		}
		bits := 48
		if ip4 := ip.To4(); ip4 != nil {
			ip, bits = ip4, 24
		}
		return (&net.IPNet{IP: ip.Mask(net.CIDRMask(bits, len(ip)*8)), Mask: net.CIDRMask(bits, len(ip)*8)}).String()
	}
	return ""
}

// lookup finds c's providers on the DHT and fetches their offers. It
// returns how many verified offers it holds for c. Concurrent lookups of
// the same capability share one query.
func (d *discovery) lookup(ctx context.Context, c market.Capability) (int, error) {
	v, err, _ := d.sf.Do(string(c), func() (any, error) {
		return d.doLookup(ctx, c)
	})
	if err != nil {
		return 0, err
	}
	return v.(int), nil
}

func (d *discovery) doLookup(ctx context.Context, c market.Capability) (int, error) {
	n := d.n
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	found := 0
	var lastErr error
	sem := make(chan struct{}, 16)
	for ai := range n.dht.FindProvidersAsync(qctx, c.CID(), 0) {
		if ai.ID == n.host.ID() {
			if o, ok := n.offers.Offer(); ok {
				d.store(o)
			}
			continue
		}
		if len(ai.Addrs) > 0 {
			n.host.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.TempAddrTTL)
		}
		if d.freshOffer(ai.ID.String()) {
			mu.Lock()
			found++
			mu.Unlock()
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(p peer.ID) {
			defer wg.Done()
			defer func() { <-sem }()
			octx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			o, err := n.fetchOffer(octx, p.String())
			if err != nil {
				d.forget(p.String())
				mu.Lock()
				lastErr = err
				mu.Unlock()
				return
			}
			d.store(o)
			mu.Lock()
			found++
			mu.Unlock()
		}(ai.ID)
	}
	wg.Wait()
	d.mu.Lock()
	ls := d.lookups[c]
	if ls == nil {
		ls = &lookupState{}
		d.lookups[c] = ls
	}
	ls.last, ls.found = n.now(), found
	d.mu.Unlock()
	if found == 0 && lastErr != nil {
		return 0, fmt.Errorf("node: discovery of %s: %w", c, lastErr)
	}
	return found, nil
}

// freshOffer reports whether a cached offer from p is valid for at least
// another quarter of its lifetime.
func (d *discovery) freshOffer(p string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	ko, ok := d.offers[p]
	if !ok || ko.offer.Withdrawn {
		return false
	}
	life := ko.offer.Expires - ko.offer.Created
	return d.n.now().UnixMilli() < ko.offer.Expires-life/4
}

func (d *discovery) store(o market.Offer) {
	d.mu.Lock()
	if old, ok := d.offers[o.Provider]; ok && old.offer.Seq > o.Seq {
		d.mu.Unlock()
		return // never go back to an older offer
	}
	d.offers[o.Provider] = &knownOffer{offer: o, fetched: d.n.now()}
	d.mu.Unlock()
	if r := d.n.requester; r != nil {
		r.queue.poke() // more capacity may let queued jobs go
	}
}

// capacity is the number of jobs the known market runs at once: the slots
// of every unexpired, unwithdrawn offer from another provider (this node's
// own too when it may win its own jobs).
func (d *discovery) capacity() int {
	now := d.n.now().UnixMilli()
	self, allowSelf := d.n.ID(), d.n.cfg.Requester.AllowSelf
	d.mu.Lock()
	defer d.mu.Unlock()
	slots := 0
	for p, ko := range d.offers {
		if ko.offer.Withdrawn || ko.offer.Expires <= now || (p == self && !allowSelf) {
			continue
		}
		slots += max(ko.offer.Limits.Slots, 1)
	}
	return slots
}

func (d *discovery) forget(p string) {
	d.mu.Lock()
	delete(d.offers, p)
	d.mu.Unlock()
}

// known returns every cached offer.
func (d *discovery) known() map[string]knownOffer {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]knownOffer, len(d.offers))
	for p, ko := range d.offers {
		out[p] = *ko
	}
	return out
}
