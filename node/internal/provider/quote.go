package provider

import (
	"bufio"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"golang.org/x/time/rate"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/internal/wire"
)

// Quotes cost a signature each and reserve nothing, so each peer gets a
// small allowance: a requester asks a provider once per quote its agents
// ask for, and the requester's node limits those per agent.
const (
	quoteRate  = 2  // quotes per second per peer
	quoteBurst = 10 // quotes at once per peer
	// maxQuoteLimiters bounds the peers remembered; beyond it the
	// allowances start over (a flood of fresh identities must not grow
	// memory, and each still meets the stream gate).
	maxQuoteLimiters = 10_000
)

// quoteLimits holds each peer's allowance of quotes.
type quoteLimits struct {
	mu  sync.Mutex
	per map[string]*rate.Limiter
}

func (l *quoteLimits) allow(peer string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.per == nil || len(l.per) >= maxQuoteLimiters {
		l.per = map[string]*rate.Limiter{}
	}
	lim, ok := l.per[peer]
	if !ok {
		lim = rate.NewLimiter(quoteRate, quoteBurst)
		l.per[peer] = lim
	}
	return lim.AllowN(now, 1)
}

// HandleQuote serves /hayek/quote/1.0.0: a requester's signed quote (a
// dry-run call for bids) is answered with a signed market.QuoteAnswer, as
// market.Provider.AnswerQuote decides it from this node's offer, load and
// the requester's debt — the inputs of a real answer — without booking a
// bid or writing anything.
func (p *Service) HandleQuote(st network.Stream) {
	defer st.Close()
	d := p.d
	from := st.Conn().RemotePeer().String()
	b, err := wire.ReadFrame(bufio.NewReader(st), wire.MaxQuoteFrame)
	if err != nil {
		d.Drops.Add("quote/unreadable")
		st.Reset()
		return
	}
	if !p.quotes.allow(from, d.Now()) {
		d.Drops.Add("quote/rate")
		st.Reset()
		return
	}
	env, err := canon.DecodeEnvelope(b)
	if err != nil {
		d.Drops.Add("quote/malformed")
		st.Reset()
		return
	}
	var q market.Quote
	if !d.Drops.Open(d.Verifier, env, market.KindQuote, "quote", &q) {
		st.Reset()
		return
	}
	now := d.Now()
	switch {
	case q.Requester != from:
		d.Drops.Add("quote/wrong_sender")
	case market.Fresh(q.Created, now, d.Freshness) != nil:
		d.Drops.Add("quote/stale")
	case q.Validate() != nil:
		d.Drops.Add("quote/invalid")
	default: // a quote from this node itself comes only over the loopback, for a local job: answered too
		ans, err := p.answerQuote(q, env.CID())
		if err != nil {
			d.Log.Error("cannot answer quote", "err", err)
			st.Reset()
			return
		}
		if err := wire.WriteFrame(st, ans.Encode()); err != nil {
			st.Reset()
		}
		return
	}
	st.Reset()
}

func (p *Service) answerQuote(q market.Quote, quoteCID string) (canon.Envelope, error) {
	offer, ok := p.d.OwnOffer()
	if !ok || p.draining.Load() {
		offer.Withdrawn = true // not selling, or stopping
	}
	now := p.d.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.policy.AnswerQuote(now, offer, q, quoteCID, p.loadFor(q.Requester, q.Needs), p.prep(q.Needs))
}
