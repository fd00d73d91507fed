package market

import (
	"strings"
	"time"

	"github.com/hayek-market/hayek/internal/canon"
)

// Envelope kinds of a quote: a dry-run call for bids, and a provider's
// answer to it.
const (
	KindQuote       = "quote"
	KindQuoteAnswer = "quote-answer"
)

// Reasons a provider drops out of a quote's funnel, or out of an auction,
// beyond its own decline codes: the requester's view of it.
const (
	ReasonReputation  = "reputation"  // below the job's minimum reputation
	ReasonUnreachable = "unreachable" // asked, and no valid answer came
)

// QuoteTTL is how long a provider's answer to a quote is good for: its
// price follows its load, so a quote says what it would bid now, not later.
const QuoteTTL = 30 * time.Second

// Quote asks one provider how it would answer a call for bids with these
// needs, without calling for bids: the provider signs what it would bid, or
// why it would decline, and reserves nothing (no bid is booked, no slot
// taken, nothing written to a ledger).
type Quote struct {
	ID        string `cbor:"id"` // random; answers name the quote by its CID
	Requester string `cbor:"requester"`
	Needs     Needs  `cbor:"needs"`
	Created   int64  `cbor:"created"` // Unix ms
}

// Sender implements canon.Message.
func (q Quote) Sender() string { return q.Requester }

// Call is the call for bids the quote stands for, inviting no one: the
// provider decides on it as it would on a call that invites it.
func (q Quote) Call() CallForBids {
	return CallForBids{Job: q.ID, Attempt: 1, Requester: q.Requester, Needs: q.Needs, WindowMs: 1, Created: q.Created}
}

// Validate checks a received quote with the rules of a call for bids, so a
// quote that passes can be priced exactly as a call would be.
func (q Quote) Validate() error {
	err := q.Call().Validate()
	if ve, ok := err.(*ValidationError); ok {
		ve.What = "quote"
		for _, f := range ve.Fields {
			if f.Field == "job" {
				f.Field = "id"
			}
		}
	}
	return err
}

// QuoteAnswer is a provider's signed answer to a quote: it would bid Price,
// starting within StartWithinMs (WouldBid), or it would decline with
// Reason. It is no bid: it binds the provider to nothing and is good only
// as information until Expires.
type QuoteAnswer struct {
	Quote         string        `cbor:"quote"` // CID of the quote's envelope
	Provider      string        `cbor:"provider"`
	Requester     string        `cbor:"requester"`
	WouldBid      bool          `cbor:"would_bid"`
	Price         int64         `cbor:"price"`
	StartWithinMs int64         `cbor:"start_within_ms"`
	Load          uint16        `cbor:"load"` // permille of slots in use
	Reason        DeclineReason `cbor:"reason"`
	Detail        string        `cbor:"detail"`
	Expires       int64         `cbor:"expires"` // Unix ms
	Created       int64         `cbor:"created"`
}

// Sender implements canon.Message.
func (a QuoteAnswer) Sender() string { return a.Provider }

// maxDetail bounds a decline's detail in a quote answer.
const maxDetail = 512

// Validate checks a received answer's fields: a would-bid has a price a
// call's max price could allow and a start a bid could name; a decline has
// a reason; either is good for at most a few minutes.
func (a QuoteAnswer) Validate() error {
	k := &checker{what: "quote answer"}
	if a.WouldBid {
		if a.Price <= 0 || a.Price > MaxPriceCap {
			k.add("price", a.Price, ErrRange, "must be between 1 and %d", int64(MaxPriceCap))
		}
		if a.StartWithinMs < 0 || a.StartWithinMs > MaxStartWithin.Milliseconds() {
			k.add("start_within_ms", a.StartWithinMs, ErrRange, "must be between 0 and %d", MaxStartWithin.Milliseconds())
		}
		if a.Reason != "" {
			k.add("reason", a.Reason, ErrInvalid, "a would-bid has no decline reason")
		}
	} else if a.Reason == "" || len(a.Reason) > 64 {
		k.add("reason", a.Reason, ErrInvalid, "a decline needs a reason of 1 to 64 bytes")
	}
	if a.Load > 1000 {
		k.add("load", a.Load, ErrRange, "permille: at most 1000")
	}
	if len(a.Detail) > maxDetail {
		k.add("detail", len(a.Detail), ErrTooLarge, "at most %d bytes", maxDetail)
	}
	if a.Expires <= a.Created || a.Expires-a.Created > (5*time.Minute).Milliseconds() {
		k.add("expires", a.Expires, ErrRange, "must be after created, by at most 5m")
	}
	return k.err()
}

// AnswerQuote answers a verified, fresh, valid quote with a signed
// QuoteAnswer: Decide's verdict, good for QuoteTTL. Unlike Answer it books
// nothing, so no award can ever follow a quote.
func (p *Provider) AnswerQuote(now time.Time, offer Offer, q Quote, quoteCID string, load Load, prep Prep) (canon.Envelope, error) {
	v := p.Decide(offer, q.Needs, load, prep)
	a := QuoteAnswer{Quote: quoteCID, Provider: p.cfg.Self, Requester: q.Requester, WouldBid: v.Bids(),
		Price: v.Price, StartWithinMs: v.StartWithinMs, Load: v.Load, Reason: v.Reason, Detail: v.Detail,
		Expires: now.Add(QuoteTTL).UnixMilli(), Created: now.UnixMilli()}
	if len(a.Detail) > maxDetail {
		a.Detail = strings.ToValidUTF8(a.Detail[:maxDetail], "")
	}
	return canon.Seal(p.signer, KindQuoteAnswer, a)
}
