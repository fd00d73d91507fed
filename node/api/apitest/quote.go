package apitest

import (
	"context"
	"time"

	"github.com/hayek-market/hayek/node/api"
)

// Quote answers with a market of two providers: providerOne would bid 10
// within 50ms; a second one declines on price unless the max price reaches
// 40. Like the real node, it holds and records nothing but the caller.
func (f *Node) Quote(ctx context.Context, req api.SubmitRequest) (api.Quote, error) {
	f.saw(ctx)
	if err := validate(req); err != nil {
		return api.Quote{}, err
	}
	now := time.Now().UTC()
	q := api.Quote{Capabilities: []string{"runtime/wasm"}, Found: 2, Fit: 2, Eligible: 2, Asked: 2, Reachable: 2,
		Reasons: map[string]int{}, QuotedAt: now, ValidUntil: now.Add(30 * time.Second)}
	add := func(p api.QuoteProvider) {
		q.Providers = append(q.Providers, p)
		if p.Stage != api.StageBid {
			q.Reasons[p.Reason]++
			return
		}
		q.WouldBid++
		if q.Price == nil {
			q.Price, q.StartWithinMs, q.ExpectedStartMs = &api.Range{Min: p.Price, Max: p.Price}, &api.Range{Min: p.StartWithinMs, Max: p.StartWithinMs}, p.StartWithinMs
		}
		q.Price.Min, q.Price.Max = min(q.Price.Min, p.Price), max(q.Price.Max, p.Price)
		q.StartWithinMs.Min, q.StartWithinMs.Max = min(q.StartWithinMs.Min, p.StartWithinMs), max(q.StartWithinMs.Max, p.StartWithinMs)
	}
	for _, p := range []struct {
		id           string
		price, start int64
	}{{providerOne, 10, 50}, {providerTwo, 40, 20}} {
		if req.MaxPrice >= p.price {
			add(api.QuoteProvider{Provider: p.id, Stage: api.StageBid, Price: p.price, StartWithinMs: p.start, ExpiresAt: q.ValidUntil})
		} else {
			add(api.QuoteProvider{Provider: p.id, Stage: api.StageDeclined, Reason: "price_floor", Detail: "price above the max price"})
		}
	}
	return q, nil
}
