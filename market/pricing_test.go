package market

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
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
		{"huge base fits", Pricing{Base: math.MaxInt64}, Needs{}, math.MaxInt64},
		{"negative needs are one unit", Pricing{PerSecond: 5}, Needs{TimeoutMs: -1000}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, err := c.p.Quote(c.n); err != nil || got != c.want {
				t.Fatalf("Quote = %d, %v; want %d", got, err, c.want)
			}
		})
	}
}

// A quote that does not fit is an error, never a made-up number.
func TestQuoteOverflow(t *testing.T) {
	for _, c := range []struct {
		p Pricing
		n Needs
	}{
		{Pricing{PerGiBSecond: math.MaxInt64}, Needs{TimeoutMs: MaxTimeout.Milliseconds(), MemoryBytes: MaxMemoryBytes}},
		{Pricing{Base: math.MaxInt64, PerSecond: 1}, Needs{TimeoutMs: 1000}},
		{Pricing{PerSecond: math.MaxInt64}, Needs{TimeoutMs: 2000}},
	} {
		if q, err := c.p.Quote(c.n); !errors.Is(err, ErrOverflow) {
			t.Errorf("Quote(%+v, %+v) = %d, %v; want ErrOverflow", c.p, c.n, q, err)
		}
		if fit, detail := (Offer{Pricing: c.p, Capabilities: []Capability{RuntimeWasm}, Limits: Limits{MaxMemoryBytes: MaxMemoryBytes,
			MaxTimeoutMs: MaxTimeout.Milliseconds()}}).Fits(c.n); fit != DeclinePrice || !strings.Contains(detail, "does not fit") {
			t.Errorf("an offer whose quote overflows fits: %q %q", fit, detail)
		}
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
		q, err := p.Quote(n)
		e := exactQuote(p, n)
		if err != nil || q < e || q > e+1 {
			t.Fatalf("Quote(%+v, %+v) = %d, exact ceiling %d", p, n, q, e)
		}
	}
}

func TestQuoteExactCeiling(t *testing.T) {
	p := Pricing{Base: 323, PerSecond: 152, PerGiBSecond: 964}
	n := Needs{MemoryBytes: 48 << 20, TimeoutMs: 3200} // 323 + 486.4 + 144.6 = 954 exactly
	if got, _ := p.Quote(n); got != 954 {
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
		if got, err := p.Bid(n, c.load); err != nil || got != c.want {
			t.Errorf("Bid at load %v = %d, %v; want %d", c.load, got, err, c.want)
		}
	}
	if got, err := (Pricing{}).Bid(n, 1); err != nil || got != 1 {
		t.Errorf("free bid = %d, %v; want 1", got, err)
	}
	// A factor like 1.1 is not exact in binary: rounding the rate to a
	// billionth keeps 10 × 1.1 at 11, not 12.
	if got, _ := (Pricing{Base: 10, Surge: 0.1}).Bid(n, 1); got != 11 {
		t.Errorf("10 at surge ×1.1 = %d, want 11", got)
	}
	// Large prices are multiplied exactly, not through a float64.
	big := int64(1<<60 + 1)
	if got, err := (Pricing{Base: big, Surge: 1}).Bid(n, 1); err != nil || got != 2*big {
		t.Errorf("%d doubled = %d, %v", big, got, err)
	}
	for _, c := range []Pricing{{Base: math.MaxInt64, Surge: 100}, {Base: math.MaxInt64/2 + 1, Surge: 1}} {
		if got, err := c.Bid(n, 1); !errors.Is(err, ErrOverflow) {
			t.Errorf("%+v at full load = %d, %v; want ErrOverflow", c, got, err)
		}
	}
	for _, surge := range []float64{-1, 101, math.NaN(), math.Inf(1)} {
		if got, err := (Pricing{Base: 10, Surge: surge}).Bid(n, 1); err == nil {
			t.Errorf("surge %v: bid %d, want an error", surge, got)
		}
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
		q, _ := p.Quote(n)
		for _, l := range loads {
			b, err := p.Bid(n, l)
			if err != nil || b < prev || b < q {
				t.Fatalf("%+v %+v: bid %d (%v) at load %v after %d, quote %d", p, n, b, err, l, prev, q)
			}
			prev = b
		}
	}
}

func TestBidNaNLoad(t *testing.T) {
	if got, _ := (Pricing{Base: 10, Surge: 1}).Bid(Needs{}, math.NaN()); got < 10 {
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
		{math.MaxInt64 - 1, 1, 1, math.MaxInt64},
		{MaxPriceCap, MaxStartWithin.Milliseconds(), MaxValueOfTime, MaxPriceCap + ceilDivExact(MaxValueOfTime, MaxStartWithin.Milliseconds())},
	} {
		if got, err := Score(c.price, c.start, c.vot); err != nil || got != c.want {
			t.Errorf("Score(%d, %d, %d) = %d, %v; want %d", c.price, c.start, c.vot, got, err, c.want)
		}
	}
	// Beyond the bounds a score fails rather than wrap or saturate: two
	// saturated scores would tie and change who wins unseen.
	for _, c := range [][3]int64{{math.MaxInt64, 1, 1}, {1, math.MaxInt64, math.MaxInt64}, {math.MaxInt64 - 1, 1000, 5},
		{1, MaxStartWithin.Milliseconds(), MaxValueOfTime + 1}} {
		if got, err := Score(c[0], c[1], c[2]); !errors.Is(err, ErrOverflow) {
			t.Errorf("Score(%d, %d, %d) = %d, %v; want ErrOverflow", c[0], c[1], c[2], got, err)
		}
	}
	if got, capped, err := SecondPrice(50, 3, 999, 700); err != nil || got != 700 || !capped {
		t.Errorf("above the max price: %d capped=%v %v, want 700 capped", got, capped, err)
	}
	if _, _, err := SecondPrice(math.MaxInt64, 2, 10, 700); !errors.Is(err, ErrOverflow) {
		t.Errorf("an overflowing start cost: %v", err)
	}
}

func ceilDivExact(vot, startMs int64) int64 {
	x := new(big.Int).Mul(big.NewInt(vot), big.NewInt(startMs))
	q, r := new(big.Int).QuoRem(x, big.NewInt(1000), new(big.Int))
	if r.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	return q.Int64()
}

// TestPriceProperties runs random auctions anywhere within the bounds a
// job spec and the requester enforce (price in (0, max price ≤
// MaxPriceCap], start within MaxStartWithin, value of time up to
// MaxValueOfTime) and checks that no computation overflows and that the
// prices are what docs/protocol.md says: the generalised second price
// against a losing bid (at least the winner's own price, at most the max
// price, the highest price at which the winner still ranks first), or
// without one the highest winning bid.
func TestPriceProperties(t *testing.T) {
	r := propRand(t)
	type bid struct{ price, start int64 }
	must := func(v int64, err error) int64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for i := range 50_000 {
		maxPrice := []int64{r.Int64N(1000) + 1, r.Int64N(MaxPriceCap) + 1, MaxPriceCap}[r.IntN(3)]
		vot := []int64{0, r.Int64N(10) + 1, r.Int64N(MaxValueOfTime) + 1, MaxValueOfTime}[r.IntN(4)]
		bids := make([]bid, 1+r.IntN(8))
		for k := range bids {
			bids[k] = bid{price: []int64{r.Int64N(maxPrice) + 1, maxPrice}[r.IntN(2)], start: r.Int64N(MaxStartWithin.Milliseconds() + 1)}
			if r.IntN(2) == 0 {
				bids[k].start = []int64{r.Int64N(100), MaxStartWithin.Milliseconds()}[r.IntN(2)]
			}
		}
		score := func(b bid) int64 { return must(Score(b.price, b.start, vot)) }
		slices.SortStableFunc(bids, func(a, b bid) int { return int(sign(score(a) - score(b))) })
		for k, b := range bids {
			if exact := exactScore(b.price, b.start, vot); score(b) != exact {
				t.Fatalf("Score(%d, %d, %d) = %d, exact %d", b.price, b.start, vot, score(b), exact)
			}
			if !new(big.Int).SetInt64(score(b)).IsInt64() || k > 0 && score(b) < score(bids[k-1]) {
				t.Fatal("scores out of order")
			}
		}
		// Winners: the best, or for replicas a random draw among the best
		// pool; the reference is the first bid after the pool.
		need := 1 + r.IntN(3)
		size := 1
		if need > 1 {
			size = 2 * need
		}
		pool := bids[:min(len(bids), size)]
		var ref *Bid
		if len(bids) > size {
			ref = &Bid{Provider: "ref", Price: bids[size].price, StartWithinMs: bids[size].start}
		}
		var winners []bid
		for _, k := range r.Perm(len(pool))[:min(need, len(pool))] {
			winners = append(winners, pool[k])
		}
		highest := winners[0]
		for _, w := range winners {
			if w.price > highest.price {
				highest = w
			}
		}
		for wi, w := range winners {
			rule, by := PriceSecond, ref
			if ref == nil {
				rule, by = PriceHighestWinning, nil
				if w != highest {
					by = &Bid{Provider: "highest", Price: highest.price, StartWithinMs: highest.start}
				}
			}
			p, basis, err := winnerPrice(rule, Bid{Provider: fmt.Sprint("w", wi), Price: w.price, StartWithinMs: w.start}, by, vot, maxPrice, len(pool) > 1)
			fail := func(what string) {
				t.Fatalf("auction %d (vot %d, max %d, bids %v, winner %v): price %d (%s) %s", i, vot, maxPrice, bids, w, p, basis, what)
			}
			switch {
			case err != nil:
				fail(err.Error())
			case p < w.price:
				fail("is below the winner's own bid")
			case p > maxPrice:
				fail("is above the max price")
			case rule == PriceHighestWinning && p != highest.price:
				fail("is not the highest winning bid")
			case rule == PriceSecond && must(Score(p, w.start, vot)) > score(bids[size]):
				fail("would make the winner lose its place in the pool")
			case rule == PriceSecond && p < maxPrice && must(Score(p+1, w.start, vot)) <= score(bids[size]):
				fail("is not the highest price at which the winner keeps its place")
			case basis.Rule != rule || rule == PriceSecond && (basis.Capped && p != maxPrice || !basis.Capped && basis.Bid+basis.StartAdjust != p):
				fail("has a wrong basis")
			}
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
