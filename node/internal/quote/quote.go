package quote

import (
	"bufio"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/wire"
)

// MaxAsk is the most providers one quote asks, cheapest offers first.
const MaxAsk = 64

// ReasonNotAsked is the funnel's reason for a provider beyond MaxAsk;
// the others are the decline codes, market.ReasonReputation and
// market.ReasonUnreachable, which a failed auction reports too.
const ReasonNotAsked = "not_asked"

// ReasonPlacement is the funnel's reason for a provider the job's
// placement or its agent's policy forbids.
const ReasonPlacement = "placement"

// Placement narrows a quote to where the job may run.
type Placement struct {
	// Permit says why a provider may not run the job, "" when it may.
	Permit func(peer string) string
	// Own, for a local job, is this node's own offer: the only candidate,
	// asked though the node does not otherwise quote itself.
	Own *market.Candidate
}

// Config tunes the service.
type Config struct {
	Self      string // this node's peer ID
	AllowSelf bool   // ask this node's own provider too
	Freshness time.Duration
	// Timeout bounds asking providers (default 3s): a provider that has
	// not answered by then is unreachable.
	Timeout time.Duration
	// AgentRate and AgentBurst are each agent's allowance of quotes (per
	// second, at once); defaults 1 and 5.
	AgentRate  float64
	AgentBurst int
}

// Deps are what the service needs.
type Deps struct {
	Host     host.Host
	Signer   canon.Signer
	Verifier canon.Verifier
	Drops    *wire.Drops
	Now      func() time.Time
	// Candidates is discovery's: providers whose verified offers sell caps.
	Candidates func(ctx context.Context, caps []market.Capability) ([]market.Candidate, error)
	// Known lists every provider discovery holds an offer of, whatever it
	// sells, so that those lacking the job's runtime are reported; nil
	// reports only the runtime's providers.
	Known      func() []market.Candidate
	Reputation market.Reputation
	// Rand names quotes (crypto/rand when nil).
	Rand func() uint64
	Config
}

// Service answers quotes.
type Service struct {
	d Deps

	mu     sync.Mutex
	agents map[string]*rate.Limiter
}

// maxAgents bounds the agents' limiters remembered.
const maxAgents = 10_000

// New returns the service.
func New(d Deps) *Service {
	if d.Timeout <= 0 {
		d.Timeout = 3 * time.Second
	}
	if d.AgentRate <= 0 {
		d.AgentRate = 1
	}
	if d.AgentBurst <= 0 {
		d.AgentBurst = 5
	}
	return &Service{d: d, agents: map[string]*rate.Limiter{}}
}

func (s *Service) allow(agent string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	lim, ok := s.agents[agent]
	if !ok {
		if len(s.agents) >= maxAgents {
			clear(s.agents)
		}
		lim = rate.NewLimiter(rate.Limit(s.d.AgentRate), s.d.AgentBurst)
		s.agents[agent] = lim
	}
	return lim.AllowN(s.d.Now(), 1)
}

// Quote asks the market what spec (valid, with defaults) would cost on
// behalf of agent, and why providers that would not bid would not.
func (s *Service) Quote(ctx context.Context, agent string, spec market.JobSpec) (api.Quote, error) {
	return s.QuotePlaced(ctx, agent, spec, Placement{})
}

// QuotePlaced is Quote for a job with a placement: providers it forbids
// are in the funnel with ReasonPlacement and are never asked.
func (s *Service) QuotePlaced(ctx context.Context, agent string, spec market.JobSpec, pl Placement) (api.Quote, error) {
	if !s.allow(agent) {
		return api.Quote{}, api.Errorf(api.CodeRateLimited, "%s asks for quotes faster than the node answers them (%g a second, %d at once); ask again in a moment",
			agent, s.d.AgentRate, s.d.AgentBurst)
	}
	now := s.d.Now()
	needs := spec.Needs()
	caps := spec.AllCapabilities()
	q := api.Quote{Reasons: map[string]int{}, Providers: []api.QuoteProvider{}, QuotedAt: now.UTC()}
	for _, c := range caps {
		q.Capabilities = append(q.Capabilities, string(c))
	}
	ask := s.sift(&q, s.candidates(ctx, spec, caps, pl), spec, needs, pl)
	q.ValidUntil = now.Add(market.QuoteTTL).UTC()
	if len(ask) == 0 {
		return q, nil
	}
	env, err := canon.Seal(s.d.Signer, market.KindQuote, market.Quote{ID: s.newID(), Requester: s.d.Self, Needs: needs, Created: now.UnixMilli()})
	if err != nil {
		return api.Quote{}, fmt.Errorf("quote: sign: %w", err)
	}
	answers := make([]*market.QuoteAnswer, len(ask))
	ctx, cancel := context.WithTimeout(ctx, s.d.Timeout)
	defer cancel()
	var g errgroup.Group // every peer is asked to the end: one failing cuts nobody short
	for i, a := range ask {
		g.Go(func() error { answers[i] = s.ask(ctx, a.c.Peer, env); return nil })
	}
	g.Wait()
	s.tally(&q, ask, answers, needs)
	return q, nil
}

// candidates are the providers a quote considers: those selling the
// runtime, and every other offer held, so that providers lacking the
// runtime or another capability the job needs are found, and say so,
// rather than missing from the funnel. A local job has its own offer
// alone.
func (s *Service) candidates(ctx context.Context, spec market.JobSpec, caps []market.Capability, pl Placement) []market.Candidate {
	if pl.Own != nil {
		return []market.Candidate{*pl.Own}
	}
	cands, _ := s.d.Candidates(ctx, caps[:1])
	if s.d.Known != nil {
		for _, k := range s.d.Known() {
			if !k.Offer.Sells(spec.Runtime) && !slices.ContainsFunc(cands, func(c market.Candidate) bool { return c.Peer == k.Peer }) {
				cands = append(cands, k)
			}
		}
	}
	return cands
}

// asked is a provider a quote asks, with the price its offer quotes.
type asked struct {
	c     market.Candidate
	quote int64
}

// drop puts a provider that would not bid in the funnel, with why.
func drop(q *api.Quote, p api.QuoteProvider) {
	q.Providers = append(q.Providers, p)
	q.Reasons[p.Reason]++
}

// sift filters the candidates as an auction filters its invitees
// (placement, offer, reputation), counting each stage into q, and returns
// the MaxAsk cheapest of the rest to ask.
func (s *Service) sift(q *api.Quote, cands []market.Candidate, spec market.JobSpec, needs market.Needs, pl Placement) []asked {
	var ask []asked
	for _, c := range cands {
		if c.Peer == s.d.Self && !s.d.AllowSelf && pl.Own == nil {
			continue
		}
		q.Found++
		if pl.Permit != nil {
			if why := pl.Permit(c.Peer); why != "" {
				drop(q, api.QuoteProvider{Provider: c.Peer, Stage: api.StagePlacement, Reason: ReasonPlacement, Detail: why})
				continue
			}
		}
		if reason, detail := c.Offer.Fits(needs); reason != "" {
			drop(q, api.QuoteProvider{Provider: c.Peer, Stage: api.StageOffer, Reason: string(reason), Detail: detail})
			continue
		}
		q.Fit++
		if st := s.d.Reputation.Standing(c.Peer, spec.Runtime, spec.MinReputation); !st.Eligible {
			drop(q, api.QuoteProvider{Provider: c.Peer, Stage: api.StageReputation, Reason: market.ReasonReputation, Detail: st.Reason})
			continue
		}
		q.Eligible++
		price, _ := c.Offer.Pricing.Quote(needs) // Fits checked it
		ask = append(ask, asked{c, price})
	}
	slices.SortFunc(ask, func(a, b asked) int { return cmp.Or(cmp.Compare(a.quote, b.quote), cmp.Compare(a.c.Peer, b.c.Peer)) })
	if len(ask) > MaxAsk {
		for _, a := range ask[MaxAsk:] {
			drop(q, api.QuoteProvider{Provider: a.c.Peer, Stage: api.StageNotAsked, Reason: ReasonNotAsked,
				Detail: fmt.Sprintf("a quote asks the %d cheapest offers", MaxAsk)})
		}
		ask = ask[:MaxAsk]
	}
	q.Asked = len(ask)
	return ask
}

// tally counts the answers (answers[i] is ask[i]'s, nil when it gave no
// valid one) into q: who would bid, the price and start ranges, how long
// the quote holds, and the start of the bid an auction would rank first.
func (s *Service) tally(q *api.Quote, ask []asked, answers []*market.QuoteAnswer, needs market.Needs) {
	var best *api.QuoteProvider
	var bestScore int64
	for i, a := range answers {
		p := ask[i].c.Peer
		if a == nil {
			drop(q, api.QuoteProvider{Provider: p, Stage: api.StageUnreachable, Reason: market.ReasonUnreachable,
				Detail: "no valid signed answer within " + s.d.Timeout.String()})
			continue
		}
		q.Reachable++
		exp := time.UnixMilli(a.Expires).UTC()
		if !a.WouldBid {
			drop(q, api.QuoteProvider{Provider: p, Stage: api.StageDeclined, Reason: string(a.Reason), Detail: a.Detail,
				Load: a.Load, ExpiresAt: exp})
			continue
		}
		if a.Price > needs.MaxPrice { // a provider above the max price would not be paid it
			drop(q, api.QuoteProvider{Provider: p, Stage: api.StageDeclined, Reason: string(market.DeclinePrice),
				Detail: fmt.Sprintf("would bid %d > max price %d", a.Price, needs.MaxPrice), ExpiresAt: exp})
			continue
		}
		q.WouldBid++
		qp := api.QuoteProvider{Provider: p, Stage: api.StageBid, Price: a.Price, StartWithinMs: a.StartWithinMs, Load: a.Load, ExpiresAt: exp}
		q.Providers = append(q.Providers, qp)
		if q.Price == nil {
			q.Price, q.StartWithinMs = &api.Range{Min: a.Price, Max: a.Price}, &api.Range{Min: a.StartWithinMs, Max: a.StartWithinMs}
			q.ValidUntil = exp
		}
		q.Price.Min, q.Price.Max = min(q.Price.Min, a.Price), max(q.Price.Max, a.Price)
		q.StartWithinMs.Min, q.StartWithinMs.Max = min(q.StartWithinMs.Min, a.StartWithinMs), max(q.StartWithinMs.Max, a.StartWithinMs)
		if exp.Before(q.ValidUntil) {
			q.ValidUntil = exp
		}
		if score, err := market.Score(a.Price, a.StartWithinMs, needs.ValueOfTime); err == nil && (best == nil || score < bestScore) {
			best, bestScore = &qp, score
		}
	}
	if best != nil {
		q.ExpectedStartMs = best.StartWithinMs
	}
}

// ask sends the quote to p and returns its verified answer, or nil.
func (s *Service) ask(ctx context.Context, p string, env canon.Envelope) *market.QuoteAnswer {
	pid, err := wire.DecodePeer(p)
	if err != nil {
		return nil
	}
	st, err := s.d.Host.NewStream(ctx, pid, wire.ProtoQuote)
	if err != nil {
		return nil
	}
	defer st.Close()
	if dl, ok := ctx.Deadline(); ok {
		st.SetDeadline(dl)
	}
	if err := wire.WriteFrame(st, env.Encode()); err != nil {
		st.Reset()
		return nil
	}
	st.CloseWrite()
	b, err := wire.ReadFrame(bufio.NewReader(st), wire.MaxQuoteAnswer)
	if err != nil {
		st.Reset()
		return nil
	}
	a, ok := s.open(b, p, env.CID())
	if !ok {
		return nil
	}
	return &a
}

// open verifies an answer from p to the quote quoteCID, counting what it
// drops.
func (s *Service) open(b []byte, p, quoteCID string) (market.QuoteAnswer, bool) {
	in := wire.Inbox{Verifier: s.d.Verifier, Drops: s.d.Drops, Now: s.d.Now, Freshness: s.d.Freshness}
	var a market.QuoteAnswer
	if _, err := in.OpenFrame(b, wire.Expect{What: "quote_answer", Kind: market.KindQuoteAnswer, From: p,
		WrongFrom: "wrong_quote"}, &a); err != nil {
		return a, false
	}
	switch {
	case a.Requester != s.d.Self || a.Quote != quoteCID:
		s.d.Drops.Add("quote_answer/wrong_quote")
	case in.Fresh("quote_answer", a.Created) != nil: // counted as stale
	case a.Validate() != nil:
		s.d.Drops.Add("quote_answer/invalid")
	default:
		return a, true
	}
	return a, false
}

func (s *Service) newID() string {
	var b [16]byte
	if s.d.Rand != nil {
		binary.BigEndian.PutUint64(b[:8], s.d.Rand())
		binary.BigEndian.PutUint64(b[8:], s.d.Rand())
	} else {
		rand.Read(b[:])
	}
	return "q-" + hex.EncodeToString(b[:])
}
