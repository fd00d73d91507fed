package market

import "math"

// Score is a bid's ranking value: its price plus the job's value of time
// for each second of committed start. Lower ranks first.
func Score(price, startWithinMs, valueOfTime int64) int64 {
	p := satMul(valueOfTime, startWithinMs)
	if p == math.MaxInt64 {
		return math.MaxInt64 // saturated: the cost of waiting dwarfs any price
	}
	return satAdd(price, ceilDiv(p, 1000))
}

// SecondPrice is what the winner is paid under the generalised second
// price: the highest price at which it would still have ranked first against
// the runner-up, capped by the max price. With no runner-up the winner is
// paid the max price (the reserve).
func SecondPrice(winnerStartMs, valueOfTime, runnerUpScore int64, hasRunnerUp bool, maxPrice int64) int64 {
	if !hasRunnerUp {
		return maxPrice
	}
	p := runnerUpScore - ceilDiv(satMul(valueOfTime, winnerStartMs), 1000)
	return min(p, maxPrice)
}

func ceilDiv(a, b int64) int64 {
	q := a / b
	if a > 0 && a%b != 0 {
		q++
	}
	return q
}

func satMul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}

func satAdd(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	if b < 0 && a < math.MinInt64-b {
		return math.MinInt64
	}
	return a + b
}
