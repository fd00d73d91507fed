package node

import (
	"time"

	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/internal/quote"
	"github.com/hayek-market/hayek/node/internal/wire"
)

// quoteService is the requester's side of quotes (the provider's is
// provider.Service.HandleQuote), named here so that the wiring of quotes
// stays in this file.
type quoteService = *quote.Service

// serveQuotes starts the quote service and serves the provider's answers
// to quotes on /hayek/quote/1.0.0.
func (n *Node) serveQuotes() {
	n.quotes = quote.New(quote.Deps{
		Host: n.host, Signer: n.signer, Verifier: n.verifier, Drops: n.drops, Now: n.now,
		Candidates: n.disc.Candidates, Known: n.knownOffers, Reputation: n.rep, Rand: n.randUint64,
		Config: quote.Config{Self: n.ID(), AllowSelf: n.cfg.Requester.AllowSelf, Freshness: time.Duration(n.cfg.Gossip.Freshness)},
	})
	n.streams.Serve(n.host, n.drops, wire.ProtoQuote, n.provider.HandleQuote)
}

// knownOffers are the unexpired offers discovery holds, whatever they
// sell: a quote reports those that lack the job's runtime.
func (n *Node) knownOffers() []market.Candidate {
	now := n.now().UnixMilli()
	var out []market.Candidate
	for p, ko := range n.disc.Known() {
		if ko.Offer.Expires > now {
			out = append(out, market.Candidate{Peer: p, Offer: ko.Offer})
		}
	}
	return out
}
