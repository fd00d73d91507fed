package market

import (
	"fmt"
	"strings"
)

// Score is a bid's ranking value: its price plus the job's value of time
// for each second of committed start, rounded up. Lower ranks first. It
// fails with ErrOverflow rather than wrap or saturate: two saturated
// scores would tie and silently change who wins. Within the bounds a job
// spec and the auction enforce (price ≤ MaxPriceCap, value of time ≤
// MaxValueOfTime, start ≤ MaxStartWithin) it never fails.
func Score(price, startWithinMs, valueOfTime int64) (int64, error) {
	c, err := startCost(startWithinMs, valueOfTime)
	if err != nil {
		return 0, err
	}
	s, ok := add64(price, c)
	if !ok {
		return 0, fmt.Errorf("%w: score of price %d plus start cost %d", ErrOverflow, price, c)
	}
	return s, nil
}

// startCost is what a committed start costs the requester: value of time ×
// start, per second, rounded up.
func startCost(startWithinMs, valueOfTime int64) (int64, error) {
	p, ok := mul64(valueOfTime, startWithinMs)
	if !ok {
		return 0, fmt.Errorf("%w: value of time %d × start %dms", ErrOverflow, valueOfTime, startWithinMs)
	}
	return ceilDiv(p, 1000), nil
}

// SecondPrice is the generalised second price: the highest price at which
// a winner committing to start within winnerStartMs would still rank no
// worse than a bid scoring refScore, capped by maxPrice. capped reports
// that the cap bound.
func SecondPrice(winnerStartMs, valueOfTime, refScore, maxPrice int64) (price int64, capped bool, err error) {
	c, err := startCost(winnerStartMs, valueOfTime)
	if err != nil {
		return 0, false, err
	}
	p, ok := sub64(refScore, c)
	if !ok {
		return 0, false, fmt.Errorf("%w: score %d less start cost %d", ErrOverflow, refScore, c)
	}
	if p > maxPrice {
		return maxPrice, true, nil
	}
	return p, false, nil
}

// PriceRule is the rule that set a winner's price: a stable,
// machine-readable code carried in the signed award (Ranking.Rule), the
// auction's records and the award event's reason.
type PriceRule string

// Price rules.
const (
	// PriceSecond: the generalised second price against the best bid
	// outside the pool the winners came from — the runner-up when one run
	// is needed, the (2K+1)-th bid when K replicas are drawn among the 2K
	// best — capped by the max price.
	PriceSecond PriceRule = "second_price"
	// PriceHighestWinning: there was no bid outside the pool, so no losing
	// bid to set a price. Each winner is paid the highest winning bid; a
	// lone winner, its own bid. See docs/protocol.md for why not the max
	// price.
	PriceHighestWinning PriceRule = "highest_winning_bid"
)

// Known reports whether r is a rule this version applies.
func (r PriceRule) Known() bool { return r == PriceSecond || r == PriceHighestWinning }

// PriceBasis says why a winner is paid what it is. String gives the same
// in one line for people.
type PriceBasis struct {
	Rule PriceRule
	// From is the provider whose bid set the price (the winner's own under
	// PriceHighestWinning when its bid was the highest), Bid that bid's price.
	From string
	Bid  int64
	Own  bool // the winner's own bid set the price
	// Drawn: the winners were drawn at random among the best bids
	// (replication), so PriceSecond's reference is the best bid outside
	// that pool rather than a runner-up.
	Drawn bool
	// StartAdjust is what value of time added to (or took from) the
	// reference bid's price under PriceSecond: the winner commits to start
	// sooner (or later) than the reference did.
	StartAdjust int64
	// Capped: the rule gave more than the max price; MaxPrice was paid.
	Capped   bool
	MaxPrice int64
}

// String explains the price in one line, e.g. "second price: runner-up bid
// 40" or "no losing bid: paid the highest winning bid 35".
func (b PriceBasis) String() string {
	var s strings.Builder
	switch b.Rule {
	case PriceSecond:
		if b.Drawn {
			fmt.Fprintf(&s, "second price: best bid outside the replica pool %d", b.Bid)
		} else {
			fmt.Fprintf(&s, "second price: runner-up bid %d", b.Bid)
		}
		switch {
		case b.StartAdjust > 0:
			fmt.Fprintf(&s, ", +%d for starting sooner", b.StartAdjust)
		case b.StartAdjust < 0:
			fmt.Fprintf(&s, ", %d for starting later", b.StartAdjust)
		}
	case PriceHighestWinning:
		switch {
		case b.Own && b.Drawn:
			fmt.Fprintf(&s, "no losing bid: paid its own bid %d, the highest winning bid", b.Bid)
		case b.Own:
			fmt.Fprintf(&s, "no losing bid: paid its own bid %d", b.Bid)
		default:
			fmt.Fprintf(&s, "no losing bid: paid the highest winning bid %d", b.Bid)
		}
	default:
		return "price rule " + string(b.Rule)
	}
	if b.Capped {
		fmt.Fprintf(&s, ", capped at the max price %d", b.MaxPrice)
	}
	return s.String()
}

// winnerPrice is what a winner that bid own is paid under rule. ref is the
// bid that sets the price: under PriceSecond the best bid outside the pool
// (required); under PriceHighestWinning the highest winning bid, nil when
// it is own. drawn says the winners were drawn among the best bids. Both
// the requester (Job) and the winner (Provider.CheckAward) call it, so
// they cannot disagree on a price; an error (without the package prefix:
// callers wrap it) says why the inputs cannot have come from an honest
// auction.
func winnerPrice(rule PriceRule, own Bid, ref *Bid, vot, maxPrice int64, drawn bool) (int64, PriceBasis, error) {
	basis := PriceBasis{Rule: rule, Drawn: drawn, MaxPrice: maxPrice}
	if own.Price <= 0 || own.Price > maxPrice {
		return 0, basis, fmt.Errorf("winning bid %d outside (0, %d]", own.Price, maxPrice)
	}
	if ref != nil && ref.Provider == own.Provider {
		return 0, basis, fmt.Errorf("the bid that sets the price is the winner's own")
	}
	switch rule {
	case PriceSecond:
		if ref == nil {
			return 0, basis, fmt.Errorf("second price without the bid that sets it")
		}
		ws, err := Score(own.Price, own.StartWithinMs, vot)
		if err != nil {
			return 0, basis, err
		}
		rs, err := Score(ref.Price, ref.StartWithinMs, vot)
		if err != nil {
			return 0, basis, err
		}
		if rs < ws {
			return 0, basis, fmt.Errorf("the bid that sets the price scored %d, better than the winner's %d: it should have won", rs, ws)
		}
		p, capped, err := SecondPrice(own.StartWithinMs, vot, rs, maxPrice)
		if err != nil {
			return 0, basis, err
		}
		// Scores are ordered, so p ≥ own.Price: a winner is never paid
		// below its bid.
		basis.From, basis.Bid, basis.Capped = ref.Provider, ref.Price, capped
		if !capped {
			basis.StartAdjust = p - ref.Price
		}
		return p, basis, nil
	case PriceHighestWinning:
		if ref == nil {
			basis.From, basis.Bid, basis.Own = own.Provider, own.Price, true
			return own.Price, basis, nil
		}
		switch {
		case !drawn:
			return 0, basis, fmt.Errorf("a single winner paid by another winning bid")
		case ref.Price < own.Price:
			return 0, basis, fmt.Errorf("bid %d is not the highest winning bid: the winner's own is %d", ref.Price, own.Price)
		case ref.Price > maxPrice:
			return 0, basis, fmt.Errorf("winning bid %d above the max price %d", ref.Price, maxPrice)
		}
		basis.From, basis.Bid = ref.Provider, ref.Price
		return ref.Price, basis, nil
	}
	return 0, basis, fmt.Errorf("unknown price rule %q", rule)
}

// ceilDiv rounds a/b up (b > 0).
func ceilDiv(a, b int64) int64 {
	q := a / b
	if a > 0 && a%b != 0 {
		q++
	}
	return q
}

// mul64, add64 and sub64 are int64 arithmetic that reports overflow
// instead of wrapping.
func mul64(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	c := a * b
	if c/b != a || (a == -1 && b == minInt64) || (b == -1 && a == minInt64) {
		return 0, false
	}
	return c, true
}

func add64(a, b int64) (int64, bool) {
	c := a + b
	if (c > a) != (b > 0) {
		return 0, false
	}
	return c, true
}

func sub64(a, b int64) (int64, bool) {
	c := a - b
	if (c < a) != (b > 0) {
		return 0, false
	}
	return c, true
}

const (
	maxInt64 = 1<<63 - 1
	minInt64 = -1 << 63
)

// addSizes sums byte counts, saturating at the largest int64. Sizes are
// not money: a saturated total is still above every limit it is checked
// against, so it is refused as it should be.
func addSizes(a, b int64) int64 {
	if c, ok := add64(a, b); ok {
		return c
	}
	if b > 0 {
		return maxInt64
	}
	return minInt64
}
