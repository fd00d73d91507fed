package discovery

import (
	"context"
	"fmt"
	"golang.org/x/sync/errgroup"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"log/slog"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/internal/wire"
)

// Router finds provider records: the DHT.
type Router interface {
	FindProvidersAsync(ctx context.Context, key cid.Cid, count int) <-chan peer.AddrInfo
}

// FinderDeps are what the finder needs.
type FinderDeps struct {
	Host     host.Host
	Router   Router
	Verifier canon.Verifier
	Drops    *wire.Drops
	Log      *slog.Logger
	Now      func() time.Time
	Tasks    *wire.Group // tracks background lookups
	// Self is this node's peer ID; its own offer comes from OwnOffer.
	Self     string
	OwnOffer func() (market.Offer, bool)
	// AllowSelf counts this node's own slots in Capacity.
	AllowSelf bool
	// Every is how often wanted lookups are refreshed.
	Every time.Duration
	// Stored is called after an offer is stored (more capacity may let
	// queued jobs go); nil for nothing.
	Stored func()
	// Metrics registers the finder's counters; nil keeps them unregistered.
	Metrics prometheus.Registerer
}

// Finder finds providers of capabilities: DHT provider records are only
// hints, so every provider found is asked for its signed offer, which is
// verified and cached until it nears expiry. Lookups are cached per
// capability and refreshed in the background, so an auction rarely waits
// for the DHT.
type Finder struct {
	d  FinderDeps
	m  finderMetrics
	sf singleflight.Group
	// stale receives capabilities whose lookup Candidates found stale; Run
	// looks them up again in the background.
	stale chan market.Capability

	mu      sync.Mutex
	offers  map[string]*KnownOffer             // by provider
	lookups map[market.Capability]*lookupState // by capability
}

// KnownOffer is a verified offer and when it was fetched.
type KnownOffer struct {
	Offer   market.Offer
	Fetched time.Time
}

type lookupState struct {
	last   time.Time // last completed lookup
	wanted time.Time // last time someone needed it
	found  int
}

// NewFinder returns a finder with an empty cache. Run it for background
// refreshes.
func NewFinder(d FinderDeps) *Finder {
	return &Finder{d: d, m: newFinderMetrics(d.Metrics), offers: map[string]*KnownOffer{}, lookups: map[market.Capability]*lookupState{},
		stale: make(chan market.Capability, 64)}
}

// Run refreshes wanted lookups and aging offers every d.Every, and looks
// up again the capabilities Candidates found stale, until ctx ends.
func (d *Finder) Run(ctx context.Context) error {
	// Refreshes run apart, so that a slow one never holds up the lookup of
	// a stale capability.
	d.d.Tasks.Go(func() { wire.Every(ctx, d.d.Every, func() { d.Refresh(ctx) }) })
	for {
		select {
		case <-ctx.Done():
			return nil
		case c := <-d.stale:
			d.d.Tasks.Go(func() { d.Lookup(ctx, c) })
		}
	}
}

// Refresh looks up again every capability wanted in the last ten
// minutes, and keeps the offers of connected providers fresh however long
// the node has been idle: an offer is fetched again once half its life
// has passed, so the next job never finds it expired.
func (d *Finder) Refresh(ctx context.Context) {
	now := d.d.Now()
	d.mu.Lock()
	var caps []market.Capability
	for c, ls := range d.lookups {
		if now.Sub(ls.wanted) < 10*time.Minute {
			caps = append(caps, c)
		}
	}
	d.mu.Unlock()
	for _, c := range caps {
		if _, err := d.Lookup(ctx, c); err != nil {
			d.d.Log.Debug("background discovery failed", "capability", c, "err", err)
		}
	}
	d.refetchAging(ctx)
}

// refetchAging fetches again the offers past half their life whose
// providers are connected, and forgets offers long expired whose providers
// are gone.
func (d *Finder) refetchAging(ctx context.Context) {
	now := d.d.Now().UnixMilli()
	d.mu.Lock()
	var aging []string
	for p, ko := range d.offers {
		life := ko.Offer.Expires - ko.Offer.Created
		switch {
		case p == d.d.Self:
		case now < ko.Offer.Expires-life/2:
		case d.connected(p):
			aging = append(aging, p)
		case now > ko.Offer.Expires+life:
			delete(d.offers, p) // expired a lifetime ago, and gone
		}
	}
	d.mu.Unlock()
	d.fetchAll(ctx, aging)
}

// fetchParallel bounds the offers asked for at once.
const fetchParallel = 16

// fetchAll fetches and stores the offers of peers, fetchParallel at a time; a peer
// that does not answer keeps its cached offer until that expires.
func (d *Finder) fetchAll(ctx context.Context, peers []string) {
	var g errgroup.Group
	g.SetLimit(fetchParallel)
	for _, p := range peers {
		g.Go(func() error {
			octx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if o, err := FetchOffer(octx, d.fetchDeps(), p); err == nil {
				d.store(o)
			} else {
				d.d.Log.Debug("cannot refresh offer", "peer", wire.ShortID(p), "err", err)
			}
			return nil
		})
	}
	g.Wait()
}

// askConnected asks every connected peer that speaks the offer protocol
// for its offer: the last resort when the DHT has no record of anyone
// selling what a job needs (records can lag behind who is in fact here).
// A peer whose protocols are not known yet (identify has not finished: it
// connected a moment ago) is asked too; the stream's own negotiation says
// whether it speaks the protocol.
func (d *Finder) askConnected(ctx context.Context) {
	h := d.d.Host
	var peers []string
	for _, p := range h.Network().Peers() {
		if d.freshOffer(p.String()) {
			continue
		}
		known, err := h.Peerstore().GetProtocols(p)
		if err != nil {
			continue
		}
		if len(known) > 0 {
			if protos, err := h.Peerstore().SupportsProtocols(p, wire.ProtoOffer); err != nil || len(protos) == 0 {
				continue
			}
		}
		peers = append(peers, p.String())
	}
	d.fetchAll(ctx, peers)
}

func (d *Finder) connected(p string) bool {
	pid, err := peer.Decode(p)
	return err == nil && d.d.Host.Network().Connectedness(pid) == network.Connected
}

// Candidates returns providers whose verified offers sell every capability
// in caps (the first is looked up on the DHT). Unexpired cached offers are
// used at once, refreshed in the background when the lookup is stale. With
// none, Candidates looks now — on the DHT, then among connected peers — so
// that an offer that expired while the node was idle is never the reason a
// job finds no provider while its provider is reachable.
func (d *Finder) Candidates(ctx context.Context, caps []market.Capability) ([]market.Candidate, error) {
	primary := caps[0]
	now := d.d.Now()
	d.mu.Lock()
	ls, ok := d.lookups[primary]
	if !ok {
		ls = &lookupState{}
		d.lookups[primary] = ls
	}
	ls.wanted = now
	fresh := !ls.last.IsZero() && now.Sub(ls.last) < d.d.Every
	d.mu.Unlock()
	if out := d.Cached(caps); usable(out) {
		if !fresh {
			select {
			case d.stale <- primary:
			default: // lookups are already waiting; one of them will do
			}
		}
		return out, nil
	}
	_, err := d.Lookup(ctx, primary)
	if out := d.Cached(caps); usable(out) {
		return out, nil
	}
	d.askConnected(ctx)
	out := d.Cached(caps)
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

// Cached lists unexpired offers selling all of caps, cheapest first.
func (d *Finder) Cached(caps []market.Capability) []market.Candidate {
	now := d.d.Now().UnixMilli()
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []market.Candidate
	for p, ko := range d.offers {
		if ko.Offer.Expires <= now {
			continue
		}
		sellsAll := true
		for _, c := range caps {
			sellsAll = sellsAll && ko.Offer.Sells(c)
		}
		if sellsAll || ko.Offer.Withdrawn {
			out = append(out, market.Candidate{Peer: p, Offer: ko.Offer})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Peer < out[j].Peer })
	for i := range out {
		out[i].Subnet = d.subnet(out[i].Peer)
	}
	return out
}

// subnet names the network a peer is reached in: its /24 (IPv4) or /48
// (IPv6), from the address of a live connection, else a known address.
// Replicas of a job can be kept in distinct subnets, so one operator's
// machines in one rack cannot fill a replica group.
func (d *Finder) subnet(p string) string {
	h := d.d.Host
	pid, err := peer.Decode(p)
	if err != nil {
		return ""
	}
	addrs := h.Peerstore().Addrs(pid)
	for _, c := range h.Network().ConnsToPeer(pid) {
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

// Lookup finds c's providers on the DHT and fetches their offers. It
// returns how many verified offers it holds for c. Concurrent lookups of
// the same capability share one query.
func (d *Finder) Lookup(ctx context.Context, c market.Capability) (int, error) {
	v, err, _ := d.sf.Do(string(c), func() (any, error) {
		return d.doLookup(ctx, c)
	})
	if err != nil {
		return 0, err
	}
	return v.(int), nil
}

func (d *Finder) doLookup(ctx context.Context, c market.Capability) (int, error) {
	h := d.d.Host
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	qctx, stopCounting := countQueries(qctx, d.m.queries)
	defer stopCounting()
	var g errgroup.Group // a peer that fails is forgotten, not an error of the lookup
	g.SetLimit(fetchParallel)
	var mu sync.Mutex
	found := 0
	var lastErr error
	d.m.finds.Inc()
	for ai := range d.d.Router.FindProvidersAsync(qctx, c.CID(), 0) {
		d.m.found.Inc()
		if ai.ID == h.ID() {
			if o, ok := d.d.OwnOffer(); ok {
				d.store(o)
			}
			continue
		}
		if len(ai.Addrs) > 0 {
			h.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.TempAddrTTL)
		}
		if d.freshOffer(ai.ID.String()) {
			mu.Lock()
			found++
			mu.Unlock()
			continue
		}
		g.Go(func() error {
			p := ai.ID
			octx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			o, err := FetchOffer(octx, d.fetchDeps(), p.String())
			if err != nil {
				d.forget(p.String())
				mu.Lock()
				lastErr = err
				mu.Unlock()
				return nil
			}
			d.store(o)
			mu.Lock()
			found++
			mu.Unlock()
			return nil
		})
	}
	g.Wait()
	d.mu.Lock()
	ls := d.lookups[c]
	if ls == nil {
		ls = &lookupState{}
		d.lookups[c] = ls
	}
	ls.last, ls.found = d.d.Now(), found
	d.mu.Unlock()
	if found == 0 && lastErr != nil {
		return 0, fmt.Errorf("discovery: %s: %w", c, lastErr)
	}
	return found, nil
}

// freshOffer reports whether a cached offer from p is valid for at least
// another quarter of its lifetime.
func (d *Finder) freshOffer(p string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	ko, ok := d.offers[p]
	if !ok || ko.Offer.Withdrawn {
		return false
	}
	life := ko.Offer.Expires - ko.Offer.Created
	return d.d.Now().UnixMilli() < ko.Offer.Expires-life/4
}

func (d *Finder) store(o market.Offer) {
	d.mu.Lock()
	if old, ok := d.offers[o.Provider]; ok && old.Offer.Seq > o.Seq {
		d.mu.Unlock()
		return // never go back to an older offer
	}
	d.offers[o.Provider] = &KnownOffer{Offer: o, Fetched: d.d.Now()}
	d.mu.Unlock()
	if d.d.Stored != nil {
		d.d.Stored()
	}
}

// Capacity is the number of jobs the known market runs at once: the slots
// of every unexpired, unwithdrawn offer from another provider (this node's
// own too when it may win its own jobs).
func (d *Finder) Capacity() int {
	now := d.d.Now().UnixMilli()
	self, allowSelf := d.d.Self, d.d.AllowSelf
	d.mu.Lock()
	defer d.mu.Unlock()
	slots := 0
	for p, ko := range d.offers {
		if ko.Offer.Withdrawn || ko.Offer.Expires <= now || (p == self && !allowSelf) {
			continue
		}
		slots += max(ko.Offer.Limits.Slots, 1)
	}
	return slots
}

func (d *Finder) forget(p string) {
	d.mu.Lock()
	delete(d.offers, p)
	d.mu.Unlock()
}

// Known returns every cached offer.
func (d *Finder) Known() map[string]KnownOffer {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]KnownOffer, len(d.offers))
	for p, ko := range d.offers {
		out[p] = *ko
	}
	return out
}

func (d *Finder) fetchDeps() FetchDeps {
	return FetchDeps{Host: d.d.Host, Verifier: d.d.Verifier, Drops: d.d.Drops, Now: d.d.Now}
}
