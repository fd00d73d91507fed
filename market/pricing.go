package market

import "fmt"

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
