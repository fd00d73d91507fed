package evidence

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/internal/wire"
)

// Shared catches (reputation's doc, design choice 15). A requester whose
// adaptive check catches a wrong result gossips a signed market.Catch at
// once on CatchTopic: the accused's signed result and its checkers'
// contradicting ones, each with the reporter's award. A receiver acts only
// when it has itself paid one of those checkers and found it right
// (trusts), whatever it thinks of the reporter, and acting only adds
// checks: the accused is a suspect, its results checked at rate 1 until
// the window ends. Its record is never touched, so a false accusation
// costs the receiver some checks and the accused nothing.

// CatchTopic carries catches. Not the attestations' topic: a catch is
// sent at once, not batched, and its validator checks a proof rather than
// a sequence.
const CatchTopic = "/hayek/catch/1"

// Bounds of catches: a frame (a catch holds at most 1 + MaxCatchCheckers
// awards and results), what each reporter may send, what is remembered.
const (
	maxCatch        = 64 << 10
	catchBurst      = 5           // catches a reporter may send at once
	catchEvery      = time.Minute // then one per
	maxCatchPeers   = 4096        // reporters rate-limited at once
	maxCatchSeen    = 4096        // catches remembered against replay
	maxSuspects     = 4096        // providers under suspicion at once
	catchSeenWindow = 2           // × Freshness: how long a catch is remembered
)

// catches is the service's state of shared catches.
type catches struct {
	topic *pubsub.Topic
	sub   *pubsub.Subscription

	mu       sync.Mutex
	seen     map[string]time.Time     // reporter/job/accused → when received
	limits   map[string]*rate.Limiter // per reporter
	suspects map[string]time.Time     // provider → checked at rate 1 until then
	dirty    bool                     // suspects changed since last saved (suspects.go)

	sent, received, acted atomic.Int64
}

// CatchStats counts catches: sent by this node, received valid from
// others, and acted on (a checker trusted here). Drops are in Drops under
// catch/<reason>.
type CatchStats struct{ Sent, Received, Acted int64 }

// CatchStats reports the counters.
func (s *Service) CatchStats() CatchStats {
	c := &s.catch
	return CatchStats{Sent: c.sent.Load(), Received: c.received.Load(), Acted: c.acted.Load()}
}

// sharing reports whether catches are shared at all (CatchWindow > 0).
func (s *Service) sharing() bool { return s.d.CatchWindow > 0 }

// startCatches joins CatchTopic.
func (s *Service) startCatches(ps *pubsub.PubSub) error {
	if !s.sharing() {
		return nil
	}
	if err := ps.RegisterTopicValidator(CatchTopic, s.validateCatch, pubsub.WithValidatorInline(true)); err != nil {
		return fmt.Errorf("evidence: validator for %s: %w", CatchTopic, err)
	}
	t, err := ps.Join(CatchTopic)
	if err != nil {
		return fmt.Errorf("evidence: join %s: %w", CatchTopic, err)
	}
	if s.d.CatchScore != nil {
		if err := t.SetScoreParams(s.d.CatchScore); err != nil {
			return fmt.Errorf("evidence: score params for %s: %w", CatchTopic, err)
		}
	}
	sub, err := t.Subscribe()
	if err != nil {
		return fmt.Errorf("evidence: subscribe %s: %w", CatchTopic, err)
	}
	s.catch.topic, s.catch.sub = t, sub
	return nil
}

// ShareCatch signs c (its Reporter and Created are set here) and gossips
// it at once. Nothing is sent while sharing is off.
func (s *Service) ShareCatch(ctx context.Context, c market.Catch) {
	if !s.sharing() || s.catch.topic == nil {
		return
	}
	b := s.sealCatch(c)
	if b == nil {
		return
	}
	if err := s.catch.topic.Publish(ctx, b); err != nil {
		s.d.Log.Warn("cannot publish catch", "job", c.Job, "err", err)
		return
	}
	s.catch.sent.Add(1)
	if s.published != nil {
		s.published(CatchTopic)
	}
}

// catchCap is the largest catch this node sends: maxCatch, or less when
// the gossip router carries less.
func (s *Service) catchCap() int {
	if m := s.d.MaxGossip; m > 0 && m < maxCatch {
		return m
	}
	return maxCatch
}

// sealCatch signs c as this node's, now, dropping checkers from the end
// while it is over the frame cap; nil if it cannot be sent.
func (s *Service) sealCatch(c market.Catch) []byte {
	c.Reporter, c.Created = s.self, s.d.Now().UnixMilli()
	for {
		env, err := canon.Seal(s.d.Signer, market.KindCatch, c)
		if err != nil {
			s.d.Log.Error("cannot sign catch", "err", err)
			return nil
		}
		if b := env.Encode(); len(b) <= s.catchCap() {
			s.d.Log.Debug("catch sealed", "job", c.Job, "checkers", len(c.Checkers), "bytes", len(b))
			return b
		}
		// Awards repeat the job's run spec: a job with many inputs may
		// not fit with every checker. One is proof enough, more reach
		// more receivers.
		if len(c.Checkers) <= 1 {
			s.d.Log.Warn("catch too large to share", "job", c.Job)
			return nil
		}
		c.Checkers = c.Checkers[:len(c.Checkers)-1]
	}
}

// Suspect reports whether a catch this node acted on makes peer's
// results checked every time now.
func (s *Service) Suspect(peer string) bool {
	c := &s.catch
	c.mu.Lock()
	defer c.mu.Unlock()
	until, ok := c.suspects[peer]
	if ok && !s.d.Now().Before(until) {
		delete(c.suspects, peer)
		return false
	}
	return ok
}

// caughtMsg is what the validator hands the receiving loop.
type caughtMsg struct {
	catch market.Catch
	proof market.CatchProof
}

// validateCatch checks a catch inline, before it is forwarded: whoever
// trusts its checkers may act on it, so every node checks its proof.
func (s *Service) validateCatch(ctx context.Context, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
	cm, res := s.checkCatch(m.Data)
	if cm != nil {
		m.ValidatorData = cm
	}
	return res
}

// checkCatch is validateCatch's decision on a frame: size, the reporter's
// signature, freshness, replay, the reporter's rate, then the proof —
// each refusal counted under catch/<reason>.
func (s *Service) checkCatch(b []byte) (*caughtMsg, pubsub.ValidationResult) {
	d := s.d
	if len(b) > maxCatch {
		d.Drops.Add("catch/oversized")
		return nil, pubsub.ValidationReject
	}
	in := wire.Inbox{Verifier: d.Verifier, Drops: d.Drops, Now: d.Now, Freshness: d.Freshness}
	var c market.Catch
	if _, err := in.OpenFrame(b, wire.Expect{What: "catch", Kind: market.KindCatch}, &c); err != nil {
		return nil, pubsub.ValidationReject
	}
	if c.Reporter == s.self {
		return nil, pubsub.ValidationAccept // our own, published locally
	}
	if in.Fresh("catch", c.Created) != nil {
		return nil, pubsub.ValidationIgnore
	}
	now := d.Now()
	if !s.admitCatch(c, now) {
		return nil, pubsub.ValidationIgnore
	}
	p, err := market.OpenCatch(d.Verifier, c)
	if err != nil {
		if errors.Is(err, canon.ErrBadSignature) {
			d.Drops.Add("catch/forged")
		} else {
			d.Drops.Add("catch/bad_proof")
		}
		return nil, pubsub.ValidationReject
	}
	return &caughtMsg{catch: c, proof: p}, pubsub.ValidationAccept
}

// admitCatch refuses a catch seen already (the same reporter, job and
// accused) or one past its reporter's rate, counting why.
func (s *Service) admitCatch(c market.Catch, now time.Time) bool {
	k := &s.catch
	var accused market.Result
	if env, err := canon.DecodeEnvelope(c.Accused.Result); err == nil {
		_ = canon.Unmarshal(env.Body, &accused) // OpenCatch verifies it
	}
	key := c.Reporter + "/" + c.Job + "/" + accused.Provider
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.seen == nil {
		k.seen, k.limits = map[string]time.Time{}, map[string]*rate.Limiter{}
	}
	if _, ok := k.seen[key]; ok {
		s.d.Drops.Add("catch/replayed")
		return false
	}
	l := k.limits[c.Reporter]
	if l == nil {
		if len(k.limits) >= maxCatchPeers {
			clear(k.limits) // forgetting lets reporters send a burst again, no more
		}
		l = rate.NewLimiter(rate.Every(catchEvery), catchBurst)
		k.limits[c.Reporter] = l
	}
	if !l.AllowN(now, 1) {
		s.d.Drops.Add("catch/rate")
		return false
	}
	if len(k.seen) >= maxCatchSeen {
		for x, t := range k.seen {
			if now.Sub(t) > catchSeenWindow*s.d.Freshness {
				delete(k.seen, x)
			}
		}
		if len(k.seen) >= maxCatchSeen {
			s.d.Drops.Add("catch/full")
			return false
		}
	}
	k.seen[key] = now
	return true
}

// receiveCatch acts on a valid catch from another node: if this node
// trusts one of its checkers first-hand, the accused becomes a suspect
// until the window ends. Nothing is recorded about anyone.
func (s *Service) receiveCatch(cm *caughtMsg) {
	k := &s.catch
	k.received.Add(1)
	if cm.proof.Accused == s.self || !s.vouches(cm.proof) {
		return
	}
	now := s.d.Now()
	until := now.Add(s.d.CatchWindow)
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.suspects == nil {
		k.suspects = map[string]time.Time{}
	}
	if _, ok := k.suspects[cm.proof.Accused]; !ok && len(k.suspects) >= maxSuspects {
		// Full: forget the expired, else the suspicions that end first.
		wire.TrimUntil(k.suspects, now, maxSuspects-1)
	}
	if until.After(k.suspects[cm.proof.Accused]) {
		k.suspects[cm.proof.Accused] = until
		k.dirty = true
	}
	k.acted.Add(1)
	s.d.Log.Info("a catch elsewhere: checking every result of the accused", "accused", wire.ShortID(cm.proof.Accused),
		"reporter", wire.ShortID(cm.catch.Reporter), "job", cm.catch.Job, "until", until)
}

// vouches reports whether this node trusts one of a catch's checkers from
// its own dealings: its standing at least CatchTrust (CheckPolicy's
// Trusted, the bar to check this node's own jobs) and its first-hand
// reliability above a stranger's — paid, and found right, here. Third-
// party reports raise the standing but not the first-hand reliability,
// so a reporter's friends vouch for nothing.
func (s *Service) vouches(p market.CatchProof) bool {
	capability := string(p.Capability)
	prior := s.book.Params().VerifyPriorMean
	for _, c := range p.Checkers {
		if c == s.self {
			continue // this node's own word is no evidence to itself
		}
		if s.book.DirectReliability(c, capability) > prior && s.BookStanding(c, capability, 0).LowerBound >= s.d.CatchTrust {
			return true
		}
	}
	return false
}

// runCatches receives catches until ctx ends.
func (s *Service) runCatches(ctx context.Context) error {
	sub := s.catch.sub
	if sub == nil {
		return nil
	}
	defer sub.Cancel()
	for {
		m, err := sub.Next(ctx)
		if err != nil {
			return nil
		}
		if cm, ok := m.ValidatorData.(*caughtMsg); ok {
			s.receiveCatch(cm)
		}
	}
}
