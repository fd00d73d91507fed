package api

import "time"

// Quote is the answer to POST /v1/quote: a dry run of the job's auction.
// Providers found for its runtime are checked as the auction would check
// them (their signed offers, then this node's view of their reputation),
// the rest are asked over /hayek/quote/1.0.0, and each answers with what it
// would bid — or why it would not — signed, and reserving nothing. The
// counts are a funnel: Found ≥ Fit ≥ Eligible ≥ Asked ≥ Reachable ≥
// WouldBid, and Reasons says, by reason, why each of the others dropped out.
type Quote struct {
	Capabilities []string `json:"capabilities"` // what the job needs, its runtime first
	Found        int      `json:"found"`        // providers discovery knows: for the runtime, and others whose offers it holds
	Fit          int      `json:"fit"`          // whose signed offers fit the job (capabilities, limits, price floor)
	Eligible     int      `json:"eligible"`     // of those, with the reputation the job asks for
	Asked        int      `json:"asked"`        // of those, asked for a quote (at most 64, cheapest offers first)
	Reachable    int      `json:"reachable"`    // answered with a signed quote
	WouldBid     int      `json:"would_bid"`    // would bid now, at or below the max price
	// Price and StartWithinMs are the ranges of the would-bid prices and
	// committed starts; nil when nobody would bid.
	Price         *Range `json:"price,omitempty"`
	StartWithinMs *Range `json:"start_within_ms,omitempty"`
	// ExpectedStartMs is the committed start of the bid that would rank
	// first (price + value of time × start), with reputation breaking ties
	// as the auction does not here: a guide, not a promise.
	ExpectedStartMs int64 `json:"expected_start_ms,omitempty"`
	// Reasons counts why providers dropped out of the funnel: the decline
	// codes of offers and answers (runtime_missing, capability_missing, too_large,
	// price_floor, requester_limit, busy, withdrawn), reputation (below the
	// job's min_reputation), unreachable (no valid answer in time) and
	// not_asked (beyond the 64 asked).
	Reasons   map[string]int  `json:"reasons"`
	Providers []QuoteProvider `json:"providers"`
	QuotedAt  time.Time       `json:"quoted_at"`
	// ValidUntil is when the earliest would-bid expires (providers' prices
	// follow their load); QuotedAt plus 30s when nobody would bid.
	ValidUntil time.Time `json:"valid_until"`
}

// Range is the least and the greatest of some amounts.
type Range struct {
	Min int64 `json:"min"`
	Max int64 `json:"max"`
}

// QuoteProvider is one provider's place in a quote's funnel.
type QuoteProvider struct {
	Provider string `json:"provider"`
	// Stage is how far it got: offer (its offer does not fit), reputation
	// (below the job's minimum), not_asked, unreachable, declined, or bid.
	Stage         string    `json:"stage"`
	Price         int64     `json:"price,omitempty"` // would bid this (stage bid)
	StartWithinMs int64     `json:"start_within_ms,omitempty"`
	Load          uint16    `json:"load_permille,omitempty"`
	Reason        string    `json:"reason,omitempty"` // why not, a reason of Quote.Reasons
	Detail        string    `json:"detail,omitempty"`
	ExpiresAt     time.Time `json:"expires_at,omitzero"` // when its signed answer lapses
}

// Quote stages.
const (
	StageOffer       = "offer"
	StagePlacement   = "placement" // the job's placement or its agent's policy forbids it
	StageReputation  = "reputation"
	StageNotAsked    = "not_asked"
	StageUnreachable = "unreachable"
	StageDeclined    = "declined"
	StageBid         = "bid"
)
