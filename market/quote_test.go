package market

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/canon"
)

// A quote is answered by the rules an auction is answered by: for every
// situation, the signed quote answer says what Answer would have sent an
// invitation (the same price and start, or the same decline reason), and
// it books nothing, so no award can follow it.
func TestAnswerQuoteAgreesWithAnswer(t *testing.T) {
	for _, c := range []struct {
		name   string
		mut    func(*provFixture)
		load   Load
		prep   Prep
		reason DeclineReason // "": would bid
	}{
		{"bid", nil, Load{Slots: 4}, Prep{}, ""},
		{"bid at load, fetching", nil, Load{Running: 2, Slots: 4}, Prep{FetchBytes: 1 << 20}, ""},
		{"runtime missing", func(f *provFixture) { f.offer.Capabilities = []Capability{"gpu/nvidia/h100"} }, Load{Slots: 4}, Prep{}, DeclineRuntime},
		{"memory", func(f *provFixture) { f.call.Needs.MemoryBytes = 1<<30 + 1 }, Load{Slots: 4}, Prep{}, DeclineTooLarge},
		{"price above max", func(f *provFixture) { f.call.Needs.MaxPrice = 50 }, Load{Slots: 4}, Prep{}, DeclinePrice},
		{"price above max at load", func(f *provFixture) { f.call.Needs.MaxPrice = 120 }, Load{Running: 3, Slots: 4}, Prep{}, DeclinePrice},
		{"credit limit", nil, Load{Slots: 4, RequesterOwes: 950, CreditLimit: 1000}, Prep{}, DeclineRequester},
		{"busy", nil, Load{Running: 4, Slots: 4}, Prep{}, DeclineBusy},
		{"withdrawn", func(f *provFixture) { f.offer.Withdrawn = true }, Load{Slots: 4}, Prep{}, DeclineWithdrawn},
		{"start too far", nil, Load{Slots: 4}, Prep{FetchBytes: 1 << 50}, DeclineTooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newProvFixture(t, nil)
			if c.mut != nil {
				c.mut(f)
				f.seal(t)
			}
			q := Quote{ID: "q-1", Requester: "req", Needs: f.call.Needs, Created: fzNow.UnixMilli()}
			if err := q.Validate(); err != nil {
				t.Fatalf("quote: %v", err)
			}
			qenv, err := canon.Seal(f.keys.Signer("req"), KindQuote, q)
			if err != nil {
				t.Fatal(err)
			}
			env, err := f.p.AnswerQuote(fzNow, f.offer, q, qenv.CID(), c.load, c.prep)
			if err != nil {
				t.Fatal(err)
			}
			if f.p.Outstanding() != 0 {
				t.Fatalf("a quote booked %d bids", f.p.Outstanding())
			}
			var a QuoteAnswer
			if err := env.Open(f.keys, KindQuoteAnswer, &a); err != nil {
				t.Fatalf("answer does not open: %v", err)
			}
			if err := a.Validate(); err != nil {
				t.Fatalf("own answer invalid: %v", err)
			}
			if a.Quote != qenv.CID() || a.Provider != "p1" || a.Requester != "req" || a.Created != fzNow.UnixMilli() ||
				a.Expires != fzNow.Add(QuoteTTL).UnixMilli() {
				t.Fatalf("answer %+v does not answer the quote", a)
			}
			if a.WouldBid != (c.reason == "") || a.Reason != c.reason {
				t.Fatalf("would bid %v, reason %q (%s); want reason %q", a.WouldBid, a.Reason, a.Detail, c.reason)
			}

			// The auction's answer to the same needs in the same state.
			benv, send, err := f.p.Answer(fzNow, f.offer, f.call, f.callCID, c.load, c.prep)
			if err != nil || !send {
				t.Fatalf("Answer: %v %v", send, err)
			}
			if c.reason != "" {
				var d Decline
				if err := benv.Open(f.keys, KindDecline, &d); err != nil || d.Reason != a.Reason || d.Detail != a.Detail {
					t.Fatalf("auction declines %+v (%v), quote says %q %q", d, err, a.Reason, a.Detail)
				}
				return
			}
			var b Bid
			if err := benv.Open(f.keys, KindBid, &b); err != nil || b.Price != a.Price || b.StartWithinMs != a.StartWithinMs || b.Load != a.Load {
				t.Fatalf("auction bids %+v (%v), quote says %d within %dms", b, err, a.Price, a.StartWithinMs)
			}
		})
	}
}

func TestQuoteValidate(t *testing.T) {
	f := newProvFixture(t, nil)
	q := Quote{ID: "q-1", Requester: "req", Needs: f.call.Needs, Created: fzNow.UnixMilli()}
	if err := q.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := q
	bad.ID, bad.Needs.MaxPrice, bad.Needs.Capabilities = "", 0, nil
	err := bad.Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.What != "quote" {
		t.Fatalf("err = %v", err)
	}
	var fields []string
	for _, f := range ve.Fields {
		fields = append(fields, f.Field)
	}
	if got := strings.Join(fields, ","); got != "id,needs.capabilities,needs.max_price" {
		t.Fatalf("fields %s", got)
	}
}

func TestQuoteAnswerValidate(t *testing.T) {
	ok := QuoteAnswer{Quote: "q", Provider: "p1", Requester: "req", WouldBid: true, Price: 10, StartWithinMs: 50,
		Load: 250, Expires: fzNow.Add(QuoteTTL).UnixMilli(), Created: fzNow.UnixMilli()}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*QuoteAnswer){
		"free":            func(a *QuoteAnswer) { a.Price = 0 },
		"negative start":  func(a *QuoteAnswer) { a.StartWithinMs = -1 },
		"start past hour": func(a *QuoteAnswer) { a.StartWithinMs = 2 * time.Hour.Milliseconds() },
		"bid with reason": func(a *QuoteAnswer) { a.Reason = DeclineBusy },
		"decline without": func(a *QuoteAnswer) { a.WouldBid = false },
		"load":            func(a *QuoteAnswer) { a.Load = 1001 },
		"detail":          func(a *QuoteAnswer) { a.Detail = strings.Repeat("x", maxDetail+1) },
		"expired at once": func(a *QuoteAnswer) { a.Expires = a.Created },
		"good for a day":  func(a *QuoteAnswer) { a.Expires = a.Created + (24 * time.Hour).Milliseconds() },
	} {
		a := ok
		mut(&a)
		if a.Validate() == nil {
			t.Errorf("%s: accepted %+v", name, a)
		}
	}
}

func FuzzOpenQuote(f *testing.F) {
	fzAddSeeds(f, "FuzzOpenQuote")
	f.Fuzz(func(t *testing.T, data []byte) {
		ids := newFzIDs()
		q, raw, ok := fzOpen[Quote](t, ids, data, KindQuote)
		if !ok {
			return
		}
		if q.Validate() != nil {
			return // the provider drops it before deciding
		}
		env, _ := canon.DecodeEnvelope(raw)
		offer := fzOffer("p1", 100)
		for _, load := range []Load{{Slots: 4}, {Running: 3, Slots: 4, RequesterOwes: 500, CreditLimit: 600}, {Running: 4, Slots: 4}} {
			p := NewProvider(DefaultProviderConfig("p1"), ids.Signer("p1"))
			out, err := p.AnswerQuote(fzNow, offer, q, env.CID(), load, prepFor(false, q.Needs))
			if err != nil {
				t.Fatalf("answer: %v", err)
			}
			if p.Outstanding() != 0 {
				t.Fatal("a quote booked a bid")
			}
			var a QuoteAnswer
			if err := out.Open(ids, KindQuoteAnswer, &a); err != nil {
				t.Fatalf("own answer does not open: %v", err)
			}
			if err := a.Validate(); err != nil {
				t.Fatalf("own answer invalid: %v (%+v)", err, a)
			}
			v := p.Decide(offer, q.Needs, load, prepFor(false, q.Needs))
			if a.WouldBid != v.Bids() || a.Price != v.Price || a.Reason != v.Reason || a.Quote != env.CID() || a.Requester != q.Requester {
				t.Fatalf("answer %+v, verdict %+v", a, v)
			}
			if a.WouldBid && a.Price > q.Needs.MaxPrice {
				t.Fatalf("would bid %d above the max price %d", a.Price, q.Needs.MaxPrice)
			}
		}
	})
}

func FuzzOpenQuoteAnswer(f *testing.F) {
	fzAddSeeds(f, "FuzzOpenQuoteAnswer")
	f.Fuzz(func(t *testing.T, data []byte) {
		ids := newFzIDs()
		a, _, ok := fzOpen[QuoteAnswer](t, ids, data, KindQuoteAnswer)
		if !ok {
			return
		}
		if a.Validate() == nil && a.WouldBid && (a.Price <= 0 || a.StartWithinMs < 0 || a.Reason != "") {
			t.Fatalf("accepted %+v", a)
		}
	})
}

// fzQuoteSeeds are the seeds of the quote targets.
func fzQuoteSeeds(t testing.TB, target string, ids fzIDs, w *fzWorld) []fzNamed {
	seal := func(kind string, m canon.Message) []byte { return fzSeal(t, ids, kind, m).Encode() }
	q := Quote{ID: "q-fz", Requester: fzReq, Needs: w.call.Needs, Created: fzNow.UnixMilli()}
	var out []fzNamed
	add := func(name string, b []byte) { out = append(out, fzNamed{name, b}) }
	switch target {
	case "FuzzOpenQuote":
		add("quote", seal(KindQuote, q))
		c := q
		c.Needs.MaxPrice = 50
		add("quote-price", seal(KindQuote, c))
		c = q
		c.Needs.Capabilities = append(c.Needs.Capabilities, "gpu/nvidia/h100")
		add("quote-gpu", seal(KindQuote, c))
		c = q
		c.Needs.MemoryBytes = 8 << 30
		add("quote-memory", seal(KindQuote, c))
		c = q
		c.ID = ""
		add("quote-no-id", seal(KindQuote, c))
		add("quote-as-call", fzRelabel(fzSeal(t, ids, KindQuote, q), KindCall))
	case "FuzzOpenQuoteAnswer":
		a := QuoteAnswer{Quote: canon.DocCID(seal(KindQuote, q)).String(), Provider: "p1", Requester: fzReq, WouldBid: true,
			Price: 120, StartWithinMs: 300, Load: 250, Expires: fzNow.Add(QuoteTTL).UnixMilli(), Created: fzNow.UnixMilli()}
		add("answer-bid", seal(KindQuoteAnswer, a))
		d := a
		d.WouldBid, d.Price, d.StartWithinMs, d.Reason, d.Detail = false, 0, 0, DeclinePrice, "price floor 120 > max price 50"
		add("answer-decline", seal(KindQuoteAnswer, d))
		d.Reason = ""
		add("answer-decline-no-reason", seal(KindQuoteAnswer, d))
		b := a
		b.Expires = b.Created + (time.Hour).Milliseconds()
		add("answer-long-lived", seal(KindQuoteAnswer, b))
		add("answer-as-bid", fzRelabel(fzSeal(t, ids, KindQuoteAnswer, a), KindBid))
	}
	return out
}
