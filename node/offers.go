package node

import (
	"bufio"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/internal/wire"
)

// offerService keeps this node's signed offer fresh, serves it on
// /hayek/offer/1.0.0, and keeps its provider records on the DHT: provided
// as soon as there are peers to hold them, reprovided well before they
// expire, and no longer once the node stops (it then answers "withdrawn").
type offerService struct {
	n       *Node
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

func newOfferService(n *Node) *offerService {
	return &offerService{n: n, provide: make(chan struct{}, 1)}
}

// reissue signs a new offer with the next sequence number.
func (s *offerService) reissue(withdrawn bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !withdrawn && s.stopped.Load() {
		return nil // withdrawn for good: never sell again by accident
	}
	// Sequence numbers come from the clock so they keep growing across
	// restarts: peers never go back to an older offer.
	now := s.n.now()
	s.seq = max(s.seq+1, uint64(now.UnixMilli()))
	o := s.n.offerFor(now, s.seq, withdrawn)
	env, err := canon.Seal(s.n.signer, market.KindOffer, o)
	if err != nil {
		return fmt.Errorf("node: sign offer: %w", err)
	}
	s.current.Store(&signedOffer{env: env, offer: o, enc: env.Encode()})
	return nil
}

// Offer is this node's current signed offer, if it sells.
func (s *offerService) Offer() (market.Offer, bool) {
	so := s.current.Load()
	if so == nil {
		return market.Offer{}, false
	}
	return so.offer, true
}

func (s *offerService) start() {
	if err := s.reissue(false); err != nil {
		s.n.log.Error("cannot sign offer", "err", err)
		return
	}
	n := s.n
	n.tasks.Go(func() {
		wire.Every(n.ctx, time.Duration(n.cfg.Offers.TTL)/2, func() {
			if !s.stopped.Load() {
				if err := s.reissue(false); err != nil {
					n.log.Error("cannot reissue offer", "err", err)
				}
			}
		})
	})
	n.tasks.Go(s.provideLoop)
}

// provideLoop puts provider records for every capability sold on the DHT,
// retrying with backoff while there are no peers to hold them, then
// reproviding on the configured interval.
func (s *offerService) provideLoop() {
	n := s.n
	backoff := 200 * time.Millisecond
	for {
		if s.stopped.Load() {
			return
		}
		err := s.provideAll()
		wait := time.Duration(n.cfg.Network.Reprovide)
		if err != nil {
			n.log.Debug("provide failed; retrying", "err", err, "in", backoff)
			wait = backoff
			backoff = min(backoff*2, 30*time.Second)
		} else {
			backoff = 200 * time.Millisecond
		}
		t := time.NewTimer(wait)
		select {
		case <-n.ctx.Done():
			t.Stop()
			return
		case <-s.provide:
			t.Stop()
		case <-t.C:
		}
	}
}

func (s *offerService) provideAll() error {
	n := s.n
	if len(n.dht.RoutingTable().ListPeers()) == 0 {
		return fmt.Errorf("no DHT peers yet")
	}
	for _, c := range n.cfg.Provider.Capabilities {
		ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
		err := n.dht.Provide(ctx, market.Capability(c).CID(), true)
		cancel()
		if err != nil {
			return fmt.Errorf("provide %s: %w", c, err)
		}
	}
	return nil
}

// nudge asks the provide loop to provide now (a peer joined).
func (s *offerService) nudge() {
	select {
	case s.provide <- struct{}{}:
	default:
	}
}

// withdraw stops reproviding and answers "withdrawn" from now on.
func (s *offerService) withdraw() {
	if s.current.Load() == nil {
		return
	}
	s.stopped.Store(true)
	if err := s.reissue(true); err != nil {
		s.n.log.Error("cannot sign withdrawal", "err", err)
	}
}

// handle serves the current signed offer, reissued first when half its
// life has passed (the reissue timer may lag behind the node's clock).
func (s *offerService) handle(st network.Stream) {
	defer st.Close()
	so := s.current.Load()
	if so == nil {
		st.Reset() // not selling
		return
	}
	if o := so.offer; !o.Withdrawn && s.n.now().UnixMilli() >= o.Expires-(o.Expires-o.Created)/2 {
		if err := s.reissue(false); err != nil {
			s.n.log.Error("cannot reissue offer", "err", err)
		}
		so = s.current.Load()
	}
	if err := wire.WriteFrame(st, so.enc); err != nil {
		st.Reset()
	}
}

// fetchOffer asks peer p for its signed offer and verifies it.
func (n *Node) fetchOffer(ctx context.Context, p string) (market.Offer, error) {
	pid, err := wire.DecodePeer(p)
	if err != nil {
		return market.Offer{}, err
	}
	st, err := n.host.NewStream(ctx, pid, ProtoOffer)
	if err != nil {
		return market.Offer{}, fmt.Errorf("node: ask %s for its offer: %w", wire.ShortID(p), err)
	}
	defer st.Close()
	if dl, ok := ctx.Deadline(); ok {
		st.SetDeadline(dl)
	}
	st.CloseWrite()
	b, err := wire.ReadFrame(bufio.NewReader(st), wire.MaxOfferFrame)
	if err != nil {
		n.drops.Add("offer/unreadable")
		return market.Offer{}, fmt.Errorf("node: offer from %s: %w", wire.ShortID(p), err)
	}
	env, err := canon.DecodeEnvelope(b)
	if err != nil {
		n.drops.Add("offer/malformed")
		return market.Offer{}, fmt.Errorf("node: offer from %s: %w", wire.ShortID(p), err)
	}
	var o market.Offer
	if err := env.Open(n.verifier, market.KindOffer, &o); err != nil {
		n.drops.Add("offer/bad_signature")
		return market.Offer{}, fmt.Errorf("node: offer from %s: %w", wire.ShortID(p), err)
	}
	if o.Provider != p {
		n.drops.Add("offer/wrong_provider")
		return market.Offer{}, fmt.Errorf("node: %s served an offer signed by %s", wire.ShortID(p), wire.ShortID(o.Provider))
	}
	if err := o.Validate(n.now()); err != nil {
		n.drops.Add("offer/invalid")
		return market.Offer{}, fmt.Errorf("node: offer from %s: %w", wire.ShortID(p), err)
	}
	return o, nil
}
