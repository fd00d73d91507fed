package market

import (
	"flag"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// propSeed seeds the randomized property tests of this package; a failure
// prints the seed to rerun it with: go test ./market -run TestX -seed=N
var propSeed = flag.Uint64("seed", 1, "seed of randomized property tests")

func propRand(t *testing.T) *rand.Rand {
	t.Helper()
	t.Logf("seed %d (rerun with -seed=%d)", *propSeed, *propSeed)
	return rand.New(rand.NewPCG(*propSeed, 0x6861796b))
}

func TestQuote(t *testing.T) {
	const gib = 1 << 30
	for _, c := range []struct {
		name string
		p    Pricing
		n    Needs
		want int64
	}{
		{"base only", Pricing{Base: 10}, Needs{TimeoutMs: 1000, MemoryBytes: gib}, 10},
		{"per second rounds up", Pricing{PerSecond: 3}, Needs{TimeoutMs: 1500}, 5},
		{"exact seconds", Pricing{PerSecond: 1000}, Needs{TimeoutMs: 1}, 1},
		{"a thousandth is one unit", Pricing{PerSecond: 1}, Needs{TimeoutMs: 1}, 1},
		{"free is one unit", Pricing{}, Needs{TimeoutMs: 1000, MemoryBytes: gib}, 1},
		{"per GiB-second", Pricing{PerGiBSecond: 1000}, Needs{TimeoutMs: 2000, MemoryBytes: gib / 2}, 1000},
		{"one wasm page", Pricing{PerGiBSecond: 1}, Needs{TimeoutMs: 1000, MemoryBytes: 64 << 10}, 1},
		{"all terms", Pricing{Base: 1, PerSecond: 2, PerGiBSecond: 3}, Needs{TimeoutMs: 1500, MemoryBytes: gib}, 9}, // 1+3+4.5
		{"saturates", Pricing{PerGiBSecond: math.MaxInt64}, Needs{TimeoutMs: MaxTimeout.Milliseconds(), MemoryBytes: MaxMemoryBytes}, maxMoney},
		{"huge base saturates", Pricing{Base: math.MaxInt64}, Needs{}, maxMoney},
		{"negative needs are one unit", Pricing{PerSecond: 5}, Needs{TimeoutMs: -1000}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.p.Quote(c.n); got != c.want {
				t.Fatalf("Quote = %d, want %d", got, c.want)
			}
		})
	}
}

// exactQuote is the documented formula in exact arithmetic, rounded up, at
// least 1.
func exactQuote(p Pricing, n Needs) int64 {
	const den = 1000 << 30
	num := new(big.Int).Mul(big.NewInt(p.Base), big.NewInt(den))
	num.Add(num, new(big.Int).Mul(big.NewInt(p.PerSecond), big.NewInt(n.TimeoutMs<<30)))
	g := new(big.Int).Mul(big.NewInt(p.PerGiBSecond), big.NewInt(n.MemoryBytes))
	num.Add(num, g.Mul(g, big.NewInt(n.TimeoutMs)))
	q, r := new(big.Int).QuoRem(num, big.NewInt(den), new(big.Int))
	if r.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	return max(q.Int64(), 1)
}

func randPricing(r *rand.Rand) (Pricing, Needs) {
	p := Pricing{Base: r.Int64N(1000), PerSecond: r.Int64N(1000), PerGiBSecond: r.Int64N(1000), Surge: r.Float64() * 3}
	n := Needs{MemoryBytes: (r.Int64N(64) + 1) << 20, TimeoutMs: r.Int64N(100) * 100}
	if r.IntN(2) == 0 {
		n.MemoryBytes, n.TimeoutMs = r.Int64N(MaxMemoryBytes)+1, r.Int64N(MaxTimeout.Milliseconds())+1
	}
	return p, n
}

// Quote rounds up, never down: a provider is never paid less than its own
// formula, and never more than one unit above it.
func TestQuoteRoundsUp(t *testing.T) {
	r := propRand(t)
	for range 100_000 {
		p, n := randPricing(r)
		q, e := p.Quote(n), exactQuote(p, n)
		if q < e || q > e+1 {
			t.Fatalf("Quote(%+v, %+v) = %d, exact ceiling %d", p, n, q, e)
		}
	}
}

func TestQuoteExactCeiling(t *testing.T) {
	p := Pricing{Base: 323, PerSecond: 152, PerGiBSecond: 964}
	n := Needs{MemoryBytes: 48 << 20, TimeoutMs: 3200} // 323 + 486.4 + 144.6 = 954 exactly
	if got := p.Quote(n); got != 954 {
		t.Fatalf("Quote = %d, want 954", got)
	}
}

func TestBid(t *testing.T) {
	n := Needs{TimeoutMs: 1000}
	p := Pricing{Base: 100, Surge: 0.5}
	for _, c := range []struct {
		load float64
		want int64
	}{{0, 100}, {-1, 100}, {0.5, 125}, {1, 150}, {7, 150}, {0.001, 101}, {math.Inf(1), 150}, {math.Inf(-1), 100}} {
		if got := p.Bid(n, c.load); got != c.want {
			t.Errorf("Bid at load %v = %d, want %d", c.load, got, c.want)
		}
	}
	if got := (Pricing{Base: math.MaxInt64, Surge: 100}).Bid(n, 1); got != maxMoney {
		t.Errorf("saturated bid = %d, want %d", got, maxMoney)
	}
	if got := (Pricing{}).Bid(n, 1); got != 1 {
		t.Errorf("free bid = %d, want 1", got)
	}
}

// A busier provider never bids less, and never less than its quote.
func TestBidMonotoneInLoad(t *testing.T) {
	r := propRand(t)
	for range 20_000 {
		p, n := randPricing(r)
		loads := []float64{r.Float64(), r.Float64(), r.Float64(), 0, 1, r.Float64()*3 - 1}
		slices.Sort(loads)
		prev := int64(0)
		for _, l := range loads {
			b := p.Bid(n, l)
			if b < prev || b < p.Quote(n) || b > maxMoney {
				t.Fatalf("%+v %+v: bid %d at load %v after %d, quote %d", p, n, b, l, prev, p.Quote(n))
			}
			prev = b
		}
	}
}

func TestBidNaNLoad(t *testing.T) {
	if got := (Pricing{Base: 10, Surge: 1}).Bid(Needs{}, math.NaN()); got < 10 {
		t.Fatalf("Bid at NaN load = %d", got)
	}
}

func TestScore(t *testing.T) {
	for _, c := range []struct {
		price, start, vot, want int64
	}{
		{10, 0, 0, 10},
		{10, 5000, 0, 10},
		{10, 1000, 3, 13},
		{10, 1, 3, 11}, // 3/1000 of a unit rounds up
		{10, 1500, 3, 15},
		{math.MaxInt64, 1, 1, math.MaxInt64},
		{1, math.MaxInt64, math.MaxInt64, math.MaxInt64},
		{math.MaxInt64 - 1, 1000, 5, math.MaxInt64},
	} {
		if got := Score(c.price, c.start, c.vot); got != c.want {
			t.Errorf("Score(%d, %d, %d) = %d, want %d", c.price, c.start, c.vot, got, c.want)
		}
	}
	if got := SecondPrice(50, 3, 999, false, 700); got != 700 {
		t.Errorf("without a runner-up the winner is paid the max price, got %d", got)
	}
}

// TestSecondPriceProperties runs random auctions within the bounds a job
// spec and the requester enforce (price in (0, max price], start within an
// hour, value of time up to its cap) and checks the generalised second
// price: at least the winner's own price, at most the max price, the
// highest price at which the winner still ranks first.
func TestSecondPriceProperties(t *testing.T) {
	r := propRand(t)
	type bid struct{ price, start int64 }
	for i := range 50_000 {
		maxPrice := r.Int64N(1000) + 1
		if r.IntN(3) == 0 {
			maxPrice = r.Int64N(math.MaxInt64/4) + 1
		}
		vot := []int64{0, r.Int64N(10) + 1, r.Int64N(math.MaxInt64>>40) + 1}[r.IntN(3)]
		bids := make([]bid, 2+r.IntN(7))
		for k := range bids {
			bids[k] = bid{price: r.Int64N(maxPrice) + 1, start: r.Int64N(time.Hour.Milliseconds() + 1)}
			if r.IntN(2) == 0 {
				bids[k].start = r.Int64N(100)
			}
		}
		slices.SortStableFunc(bids, func(a, b bid) int {
			return int(sign(Score(a.price, a.start, vot) - Score(b.price, b.start, vot)))
		})
		w, ru := bids[0], bids[1]
		ws, rs := Score(w.price, w.start, vot), Score(ru.price, ru.start, vot)
		p := SecondPrice(w.start, vot, rs, true, maxPrice)
		fail := func(what string) {
			t.Fatalf("auction %d (vot %d, max %d, bids %v): price %d %s", i, vot, maxPrice, bids, p, what)
		}
		if exact := exactScore(w.price, w.start, vot); ws != exact {
			t.Fatalf("Score(%d, %d, %d) = %d, exact %d", w.price, w.start, vot, ws, exact)
		}
		switch {
		case p < w.price:
			fail("is below the winner's own bid")
		case p > maxPrice:
			fail("is above the max price")
		case Score(p, w.start, vot) > rs:
			fail("would make the winner lose to the runner-up")
		case p < maxPrice && Score(p+1, w.start, vot) <= rs:
			fail("is not the highest price at which the winner still ranks first")
		}
	}
}

func sign(x int64) int64 {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}

func exactScore(price, start, vot int64) int64 {
	x := new(big.Int).Mul(big.NewInt(vot), big.NewInt(start))
	q, rem := new(big.Int).QuoRem(x, big.NewInt(1000), new(big.Int))
	if rem.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	return q.Add(q, big.NewInt(price)).Int64()
}
