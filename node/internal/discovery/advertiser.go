package discovery

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/prometheus/client_golang/prometheus"

	"golang.org/x/sync/errgroup"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/internal/wire"
)

// DHT is what the advertiser needs of the DHT.
type DHT interface {
	Provide(ctx context.Context, key cid.Cid, announce bool) error
}

// AdvertiserDeps are what the advertiser needs.
type AdvertiserDeps struct {
	DHT DHT
	// HasPeers reports whether the DHT has peers to hold provider records.
	HasPeers func() bool
	Signer   canon.Signer
	Log      *slog.Logger
	Now      func() time.Time
	// OfferFor builds this node's offer.
	OfferFor     func(now time.Time, seq uint64, withdrawn bool) market.Offer
	Capabilities []market.Capability
	TTL          time.Duration // an offer's lifetime; it is reissued every TTL/2
	Reprovide    time.Duration
	// Metrics registers the advertiser's counters; nil keeps them unregistered.
	Metrics prometheus.Registerer
}

// Advertiser keeps this node's signed offer fresh, serves it on
// /hayek/offer/1.0.0, and keeps its provider records on the DHT: provided
// as soon as there are peers to hold them, reprovided well before they
// expire, and no longer once the node stops (it then answers "withdrawn").
type Advertiser struct {
	d       AdvertiserDeps
	m       advertiserMetrics
	mu      sync.Mutex
	seq     uint64
	current atomic.Pointer[signedOffer]
	stopped atomic.Bool
	provide chan struct{} // nudges the provide loop
}

type signedOffer struct {
	env   canon.Envelope
	offer market.Offer
	enc   []byte
}

// NewAdvertiser returns an advertiser with no offer yet: Start signs the
// first, Run keeps it fresh and provided.
func NewAdvertiser(d AdvertiserDeps) *Advertiser {
	return &Advertiser{d: d, m: newAdvertiserMetrics(d.Metrics), provide: make(chan struct{}, 1)}
}

// reissue signs a new offer with the next sequence number.
func (s *Advertiser) reissue(withdrawn bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !withdrawn && s.stopped.Load() {
		return nil // withdrawn for good: never sell again by accident
	}
	// Sequence numbers come from the clock so they keep growing across
	// restarts: peers never go back to an older offer.
	now := s.d.Now()
	s.seq = max(s.seq+1, uint64(now.UnixMilli()))
	o := s.d.OfferFor(now, s.seq, withdrawn)
	env, err := canon.Seal(s.d.Signer, market.KindOffer, o)
	if err != nil {
		return fmt.Errorf("discovery: sign offer: %w", err)
	}
	s.current.Store(&signedOffer{env: env, offer: o, enc: env.Encode()})
	return nil
}

// Offer is this node's current signed offer, if it sells.
func (s *Advertiser) Offer() (market.Offer, bool) {
	so := s.current.Load()
	if so == nil {
		return market.Offer{}, false
	}
	return so.offer, true
}

// Start signs the first offer and reports whether it could; without one
// there is nothing to run.
func (s *Advertiser) Start() bool {
	if err := s.reissue(false); err != nil {
		s.d.Log.Error("cannot sign offer", "err", err)
		return false
	}
	return true
}

// Run reissues the offer every TTL/2 and provides it until ctx ends.
func (s *Advertiser) Run(ctx context.Context) error {
	var g errgroup.Group
	g.Go(func() error {
		wire.Every(ctx, s.d.TTL/2, func() {
			if !s.stopped.Load() {
				if err := s.reissue(false); err != nil {
					s.d.Log.Error("cannot reissue offer", "err", err)
				}
			}
		})
		return nil
	})
	s.provideLoop(ctx)
	return g.Wait()
}

// provideLoop puts provider records for every capability sold on the DHT,
// retrying with backoff while there are no peers to hold them, then
// reproviding on the configured interval.
func (s *Advertiser) provideLoop(ctx context.Context) {
	backoff := 200 * time.Millisecond
	for {
		if s.stopped.Load() {
			return
		}
		err := s.provideAll(ctx)
		wait := s.d.Reprovide
		if err != nil {
			s.d.Log.Debug("provide failed; retrying", "err", err, "in", backoff)
			wait = backoff
			backoff = min(backoff*2, 30*time.Second)
		} else {
			backoff = 200 * time.Millisecond
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.provide:
			t.Stop()
		case <-t.C:
		}
	}
}

func (s *Advertiser) provideAll(ctx context.Context) error {
	if !s.d.HasPeers() {
		return fmt.Errorf("no DHT peers yet")
	}
	for _, c := range s.d.Capabilities {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		ctx, stopCounting := countQueries(ctx, s.m.queries)
		err := s.d.DHT.Provide(ctx, c.CID(), true)
		stopCounting()
		cancel()
		if err != nil {
			s.m.provides.WithLabelValues("error").Inc()
			return fmt.Errorf("provide %s: %w", c, err)
		}
		s.m.provides.WithLabelValues("ok").Inc()
	}
	return nil
}

// Nudge asks the provide loop to provide now (a peer joined).
func (s *Advertiser) Nudge() {
	select {
	case s.provide <- struct{}{}:
	default:
	}
}

// Withdraw stops reproviding and answers "withdrawn" from now on.
func (s *Advertiser) Withdraw() {
	if s.current.Load() == nil {
		return
	}
	s.stopped.Store(true)
	if err := s.reissue(true); err != nil {
		s.d.Log.Error("cannot sign withdrawal", "err", err)
	}
}

// Handle serves the current signed offer, reissued first when half its
// life has passed (the reissue timer may lag behind the node's clock).
func (s *Advertiser) Handle(st network.Stream) {
	defer st.Close()
	so := s.current.Load()
	if so == nil {
		st.Reset() // not selling
		return
	}
	if o := so.offer; !o.Withdrawn && s.d.Now().UnixMilli() >= o.Expires-(o.Expires-o.Created)/2 {
		if err := s.reissue(false); err != nil {
			s.d.Log.Error("cannot reissue offer", "err", err)
		}
		so = s.current.Load()
	}
	if err := wire.WriteFrame(st, so.enc); err != nil {
		st.Reset()
	}
}

// FetchDeps are what FetchOffer needs.
type FetchDeps struct {
	Host     host.Host
	Verifier canon.Verifier
	Drops    *wire.Drops
	Now      func() time.Time
}

// FetchOffer asks peer p for its signed offer and verifies it.
func FetchOffer(ctx context.Context, d FetchDeps, p string) (market.Offer, error) {
	pid, err := wire.DecodePeer(p)
	if err != nil {
		return market.Offer{}, err
	}
	st, err := d.Host.NewStream(ctx, pid, wire.ProtoOffer)
	if err != nil {
		return market.Offer{}, fmt.Errorf("discovery: ask %s for its offer: %w", wire.ShortID(p), err)
	}
	defer st.Close()
	if dl, ok := ctx.Deadline(); ok {
		st.SetDeadline(dl)
	}
	st.CloseWrite()
	b, err := wire.ReadFrame(bufio.NewReader(st), wire.MaxOfferFrame)
	if err != nil {
		d.Drops.Add("offer/unreadable")
		return market.Offer{}, fmt.Errorf("discovery: offer from %s: %w", wire.ShortID(p), err)
	}
	in := wire.Inbox{Verifier: d.Verifier, Drops: d.Drops, Now: d.Now}
	var o market.Offer
	if _, err := in.OpenFrame(b, wire.Expect{What: "offer", Kind: market.KindOffer, From: p, WrongFrom: "wrong_provider"}, &o); err != nil {
		if errors.Is(err, wire.ErrWrongSender) {
			return market.Offer{}, fmt.Errorf("discovery: %s served an offer signed by %s", wire.ShortID(p), wire.ShortID(o.Provider))
		}
		return market.Offer{}, fmt.Errorf("discovery: offer from %s: %w", wire.ShortID(p), err)
	}
	if err := o.Validate(d.Now()); err != nil {
		d.Drops.Add("offer/invalid")
		return market.Offer{}, fmt.Errorf("discovery: offer from %s: %w", wire.ShortID(p), err)
	}
	return o, nil
}
