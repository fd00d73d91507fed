package gossip

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/internal/wire"
)

// Config is what validation and scoring take from the node's gossip
// configuration.
type Config struct {
	Freshness time.Duration // accepted clock skew of messages
	MaxCall   int           // size cap of a call for bids
	CallRate  float64       // calls per second per requester
	CallBurst int
	Whitelist []string // subnets exempt from the same-IP colocation penalty
}

// Deps are what the gossip service needs.
type Deps struct {
	Host     host.Host
	Verifier canon.Verifier
	Drops    *wire.Drops
	Now      func() time.Time
	// Tasks tracks the subscriptions' goroutines.
	Tasks *wire.Group
	// Metrics registers the gossip counters; nil keeps them unregistered.
	Metrics prometheus.Registerer
	Config
}

// Score thresholds of the auction topics' gossipsub. A peer below the
// graylist threshold has all its messages ignored.
var ScoreThresholds = pubsub.PeerScoreThresholds{
	GossipThreshold:             -10,
	PublishThreshold:            -50,
	GraylistThreshold:           -80,
	AcceptPXThreshold:           5,
	OpportunisticGraftThreshold: 2,
}

// Service owns the pubsub topics: joining them with validators and scores,
// publishing calls for bids, and the per-requester rate limits and replay
// cache behind validation.
type Service struct {
	d     Deps
	ps    *pubsub.PubSub
	trace *tracer

	mu     sync.Mutex
	topics map[string]*pubsub.Topic
	limits map[string]*rate.Limiter                       // per requester
	seen   map[[16]byte]seenCall                          // hash of requester/job/attempt → first seen, and how
	subs   map[string][]func(from peer.ID, dc *wire.Call) // by topic: who takes direct calls

	scoreMu sync.Mutex
	scores  map[peer.ID]*pubsub.PeerScoreSnapshot
}

// New starts gossipsub on the host; it runs until ctx ends.
func New(ctx context.Context, d Deps) (*Service, error) {
	g := &Service{d: d, topics: map[string]*pubsub.Topic{}, limits: map[string]*rate.Limiter{},
		seen: map[[16]byte]seenCall{}, subs: map[string][]func(peer.ID, *wire.Call){}, scores: map[peer.ID]*pubsub.PeerScoreSnapshot{},
		trace: newTracer(d.Metrics)}
	var whitelist []*net.IPNet
	for _, s := range d.Whitelist {
		_, ipn, err := net.ParseCIDR(s)
		if err != nil {
			return nil, fmt.Errorf("gossip: whitelist %q: %w", s, err)
		}
		whitelist = append(whitelist, ipn)
	}
	params := &pubsub.PeerScoreParams{
		Topics:                      map[string]*pubsub.TopicScoreParams{},
		SkipAtomicValidation:        true,
		AppSpecificScore:            func(peer.ID) float64 { return 0 },
		IPColocationFactorWeight:    -5,
		IPColocationFactorThreshold: 4,
		IPColocationFactorWhitelist: whitelist,
		BehaviourPenaltyWeight:      -10,
		BehaviourPenaltyThreshold:   6,
		BehaviourPenaltyDecay:       0.9,
		DecayInterval:               time.Second,
		DecayToZero:                 0.01,
		RetainScore:                 10 * time.Minute,
		// Delivery records live as long as message IDs are remembered.
		SeenMsgTTL: 2 * d.Freshness,
	}
	ps, err := pubsub.NewGossipSub(ctx, d.Host,
		// Every call carries the requester's own signature; pubsub's
		// signature would be checked again at every hop for nothing.
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
		pubsub.WithNoAuthor(),
		pubsub.WithMessageIdFn(func(m *pb.Message) string {
			h := sha256.Sum256(m.Data)
			return string(h[:20])
		}),
		pubsub.WithPeerScore(params, &ScoreThresholds),
		pubsub.WithPeerScoreInspect(pubsub.ExtendedPeerScoreInspectFn(g.inspect), time.Second),
		pubsub.WithMaxMessageSize(MaxMessage(d.MaxCall)),
		pubsub.WithValidateQueueSize(1024),
		// An exact copy arriving later than this is stale anyway.
		pubsub.WithSeenMessagesTTL(2*d.Freshness),
		pubsub.WithPeerOutboundQueueSize(512),
		pubsub.WithRawTracer(g.trace),
	)
	if err != nil {
		return nil, fmt.Errorf("gossip: gossipsub: %w", err)
	}
	g.ps = ps
	return g, nil
}

// TopicScore is the peer scoring of a topic: the auction topics', and
// other services' topics whose invalid messages should cost their
// forwarder as much.
func TopicScore() *pubsub.TopicScoreParams {
	return &pubsub.TopicScoreParams{
		SkipAtomicValidation: true,
		TopicWeight:          1,
		// Time in mesh and first deliveries reward staying and forwarding.
		TimeInMeshWeight:             0.01,
		TimeInMeshQuantum:            time.Second,
		TimeInMeshCap:                100,
		FirstMessageDeliveriesWeight: 0.5,
		FirstMessageDeliveriesDecay:  0.9,
		FirstMessageDeliveriesCap:    20,
		// The mesh-delivery penalty is off: auction topics are quiet, and
		// silence is not misbehaviour.
		// Invalid messages (bad signature, garbage) are penalised
		// quadratically: a few push a peer below the graylist threshold.
		InvalidMessageDeliveriesWeight: -10,
		InvalidMessageDeliveriesDecay:  0.9,
	}
}

// MaxMessage is the largest message the router carries on any topic,
// with calls for bids capped at maxCall: a call and room for its
// envelope. Other services' topics share it.
func MaxMessage(maxCall int) int { return maxCall + 4<<10 }

// PubSub is the router, for other services' topics.
func (g *Service) PubSub() *pubsub.PubSub { return g.ps }

// Run forgets old replay keys and idle rate limiters until ctx ends.
func (g *Service) Run(ctx context.Context) error {
	wire.Every(ctx, 5*time.Second, func() { g.expire(g.d.Now()) })
	return nil
}

func (g *Service) inspect(m map[peer.ID]*pubsub.PeerScoreSnapshot) {
	g.scoreMu.Lock()
	g.scores = m
	g.scoreMu.Unlock()
}

// Score is gossipsub's current score of a peer, as last inspected.
func (g *Service) Score(p peer.ID) (float64, bool) {
	g.scoreMu.Lock()
	defer g.scoreMu.Unlock()
	s, ok := g.scores[p]
	if !ok {
		return 0, false
	}
	return s.Score, true
}

// topic joins (once) the auction topic of capability c.
func (g *Service) topic(c market.Capability) (*pubsub.Topic, error) {
	name := c.Topic()
	g.mu.Lock()
	defer g.mu.Unlock()
	if t, ok := g.topics[name]; ok {
		return t, nil
	}
	err := g.ps.RegisterTopicValidator(name, func(ctx context.Context, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
		return g.validateCall(name, from, m)
	}, pubsub.WithValidatorInline(true))
	if err != nil {
		return nil, fmt.Errorf("gossip: validator for %s: %w", name, err)
	}
	t, err := g.ps.Join(name)
	if err != nil {
		return nil, fmt.Errorf("gossip: join %s: %w", name, err)
	}
	err = t.SetScoreParams(TopicScore())
	if err != nil {
		return nil, fmt.Errorf("gossip: score params for %s: %w", name, err)
	}
	g.topics[name] = t
	g.trace.Join(name) // a publisher that never subscribes counts under its topic too
	return t, nil
}

// validateCall runs inline on every call for bids received or published
// on a topic: the one validation a call gets however it arrived (see
// check). Garbage and forgeries are rejected (the forwarding peer is
// penalised); stale, replayed and rate-limited calls are ignored. A call
// this node already took in directly is forwarded but not delivered again.
func (g *Service) validateCall(topic string, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
	dc, v := g.check(m.Data, viaGossip, wire.Expect{What: "call", Kind: market.KindCall},
		func(c market.CallForBids) string {
			if c.Needs.Capabilities[0].Topic() != topic {
				return "call/malformed"
			}
			return ""
		})
	switch v {
	case accepted:
		m.ValidatorData = dc
		return pubsub.ValidationAccept
	case forwardOnly:
		return pubsub.ValidationAccept // ValidatorData nil: Subscribe skips it
	case rejected:
		return pubsub.ValidationReject
	}
	return pubsub.ValidationIgnore
}

// via is how a call reached this node.
type via uint8

const (
	viaGossip via = 1 << iota
	viaDirect
)

// verdict is what check decided about a call.
type verdict int

const (
	accepted    verdict = iota // deliver it
	rejected                   // garbage or a forgery: penalise who sent it
	ignored                    // stale, replayed, rate-limited: drop quietly
	forwardOnly                // already taken in directly: relay the gossip copy, deliver nothing
)

// check is the one validation path of a call for bids, gossiped or sent
// directly: size, envelope and signature (and, through ex, the signer),
// fields, the caller's own rule (topic, invitation) returning a drop
// reason, freshness, replay and the requester's rate limit. The replay
// set is shared by both ways in, so a call that arrives both ways is
// delivered once.
func (g *Service) check(b []byte, how via, ex wire.Expect, rule func(market.CallForBids) string) (*wire.Call, verdict) {
	d := g.d
	if len(b) > d.MaxCall {
		d.Drops.Add("call/oversized")
		return nil, rejected
	}
	in := wire.Inbox{Verifier: d.Verifier, Drops: d.Drops, Now: d.Now, Freshness: d.Freshness}
	var c market.CallForBids
	env, err := in.OpenFrame(b, ex, &c)
	if err != nil {
		return nil, rejected
	}
	if c.Validate() != nil {
		d.Drops.Add("call/malformed")
		return nil, rejected
	}
	if reason := rule(c); reason != "" {
		d.Drops.Add(reason)
		return nil, rejected
	}
	if in.Fresh("call", c.Created) != nil {
		return nil, ignored
	}
	now := d.Now()
	key := replayKey(c)
	g.mu.Lock()
	defer g.mu.Unlock()
	if s, dup := g.seen[key]; dup {
		if how == viaGossip && s.via == viaDirect {
			// Taken in directly: relay it so peers beyond the invitees
			// hear of it, but hand it to no one here again.
			s.via |= viaGossip
			g.seen[key] = s
			d.Drops.Add("call/seen_direct")
			return nil, forwardOnly
		}
		if how == viaDirect && s.via&viaDirect == 0 {
			// The requester gossiped it too (a thin market) and gossip
			// was faster: expected, not a replay.
			s.via |= viaDirect
			g.seen[key] = s
			d.Drops.Add("call/seen_gossip")
			return nil, ignored
		}
		d.Drops.Add("call/replayed")
		return nil, ignored
	}
	lim, ok := g.limits[c.Requester]
	if !ok {
		lim = rate.NewLimiter(rate.Limit(d.CallRate), d.CallBurst)
		g.limits[c.Requester] = lim
	}
	if !lim.AllowN(now, 1) {
		d.Drops.Add("call/rate_limited")
		return nil, ignored
	}
	g.seen[key] = seenCall{at: now.UnixMilli(), via: how}
	return &wire.Call{Call: c, CID: env.CID()}, accepted
}

// seenCall is when a call's replay key was first seen and how it has
// arrived since.
type seenCall struct {
	at  int64 // Unix ms
	via via
}

// replayKey identifies a call for replay detection: the same requester, job
// and attempt seen twice is a replay, however it was re-signed. Exact
// copies are already dropped by pubsub's own seen-message cache.
func replayKey(c market.CallForBids) [16]byte {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%d", c.Requester, c.Job, c.Attempt)
	var k [16]byte
	copy(k[:], h.Sum(nil))
	return k
}

// expire forgets replay keys older than twice the freshness window (older
// calls are rejected as stale anyway) and idle rate limiters.
func (g *Service) expire(now time.Time) {
	horizon := now.Add(-2 * g.d.Freshness).UnixMilli()
	g.mu.Lock()
	defer g.mu.Unlock()
	for k, s := range g.seen {
		if s.at < horizon {
			delete(g.seen, k)
		}
	}
	for k, l := range g.limits {
		if l.TokensAt(now) >= float64(g.d.CallBurst) {
			delete(g.limits, k)
		}
	}
}

// Publish sends a signed call for bids on its capability's topic.
func (g *Service) Publish(ctx context.Context, env canon.Envelope, c market.Capability) error {
	t, err := g.topic(c)
	if err != nil {
		return err
	}
	if err := t.Publish(ctx, env.Encode()); err != nil {
		return err
	}
	g.Published(c.Topic())
	return nil
}

// Auction counts one call for bids this node sent as a requester, however
// it went out (to its invitees, gossiped, or both).
func (g *Service) Auction() { g.trace.auctions.Inc() }

// Published counts a message this node published on topic: pubsub tells
// its tracers of others' messages only. The reputation service publishes
// on its own topic and calls it.
func (g *Service) Published(topic string) {
	g.trace.published.WithLabelValues(g.trace.topic(topic)).Inc()
}

// Subscribe delivers validated calls for capability c to fn until ctx
// ends: those gossiped on c's topic and those sent directly on
// /hayek/call/1.0.0 (HandleCall), each once.
func (g *Service) Subscribe(ctx context.Context, c market.Capability, fn func(from peer.ID, dc *wire.Call)) error {
	t, err := g.topic(c)
	if err != nil {
		return err
	}
	sub, err := t.Subscribe(pubsub.WithBufferSize(1024))
	if err != nil {
		return fmt.Errorf("gossip: subscribe %s: %w", c.Topic(), err)
	}
	g.mu.Lock()
	g.subs[c.Topic()] = append(g.subs[c.Topic()], fn)
	g.mu.Unlock()
	if !g.d.Tasks.Go(func() {
		defer sub.Cancel()
		for {
			m, err := sub.Next(ctx)
			if err != nil {
				return
			}
			dc, ok := m.ValidatorData.(*wire.Call)
			if !ok {
				continue
			}
			fn(m.ReceivedFrom, dc)
		}
	}) {
		sub.Cancel()
	}
	return nil
}

// TopicPeers lists the peers known to subscribe to c's topic.
func (g *Service) TopicPeers(c market.Capability) []peer.ID {
	t, err := g.topic(c)
	if err != nil {
		return nil
	}
	return t.ListPeers()
}
