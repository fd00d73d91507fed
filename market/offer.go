package market

import (
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/hayek-market/hayek/internal/units"
)

// Pricing is a provider's price formula for one job, in the smallest money
// unit. A job's quote is
//
//	Base + PerSecond × timeout(s) + PerGiBSecond × memory(GiB) × timeout(s)
//
// rounded up: a provider reserves the job's declared limits, so it prices
// them. Surge raises bids with current load: price × (1 + Surge × load),
// with load in [0, 1].
type Pricing struct {
	Base         int64   `cbor:"base" json:"base" toml:"base"`
	PerSecond    int64   `cbor:"per_second" json:"per_second" toml:"per_second"`
	PerGiBSecond int64   `cbor:"per_gib_second" json:"per_gib_second" toml:"per_gib_second"`
	Surge        float64 `cbor:"surge" json:"surge" toml:"surge"`
}

// Quote is the unloaded price of running a job with these needs, rounded
// up exactly: integer arithmetic, since a float sum can land one unit off.
// A price that does not fit in an int64 is ErrOverflow: it is above every
// max price, and saying so beats a made-up number.
func (p Pricing) Quote(n Needs) (int64, error) {
	const gib = 1 << 30
	b := func(v int64) *big.Int { return big.NewInt(max(v, 0)) }
	// price × 1000 × 2^30 = base×1000×2^30 + per_s×ms×2^30 + per_gib_s×bytes×ms
	num := new(big.Int).Mul(b(p.Base), big.NewInt(1000*gib))
	t := new(big.Int).Mul(b(p.PerSecond), b(n.TimeoutMs))
	num.Add(num, t.Mul(t, big.NewInt(gib)))
	m := new(big.Int).Mul(b(p.PerGiBSecond), b(n.MemoryBytes))
	num.Add(num, m.Mul(m, b(n.TimeoutMs)))
	q := ceilQuo(num, big.NewInt(1000*gib))
	if !q.IsInt64() {
		return 0, fmt.Errorf("%w: the quote for %v at %s is %s", ErrOverflow,
			time.Duration(n.TimeoutMs)*time.Millisecond, units.FormatSize(n.MemoryBytes), q)
	}
	return max(q.Int64(), 1), nil // nothing is free: a zero price would make ranking meaningless
}

// surgeScale is the precision of the surge factor: a billionth.
const surgeScale = 1_000_000_000

// Bid is the price bid for a job at the given load in [0, 1]: the quote ×
// (1 + Surge × load), rounded up. The factor is a rate, computed in
// floating point and rounded to a billionth; the money is multiplied
// exactly, so a large quote is not rounded to float64's 53 bits. It fails
// with ErrOverflow when the price does not fit in an int64, and on a surge
// outside [0, 100] (an offer that never validated).
func (p Pricing) Bid(n Needs, load float64) (int64, error) {
	if !(load > 0) { // also NaN
		load = 0
	}
	load = math.Min(load, 1)
	q, err := p.Quote(n)
	if err != nil {
		return 0, err
	}
	if !(p.Surge >= 0 && p.Surge <= 100) {
		return 0, fmt.Errorf("market: surge %v outside [0, 100]", p.Surge)
	}
	if p.Surge == 0 || load == 0 {
		return q, nil
	}
	f := int64(math.Round((1 + p.Surge*load) * surgeScale)) // ≤ 101 × 10⁹
	price := ceilQuo(new(big.Int).Mul(big.NewInt(q), big.NewInt(f)), big.NewInt(surgeScale))
	if !price.IsInt64() {
		return 0, fmt.Errorf("%w: quote %d with surge ×%v", ErrOverflow, q, 1+p.Surge*load)
	}
	return price.Int64(), nil
}

// ceilQuo is a/b rounded up, for a ≥ 0 and b > 0.
func ceilQuo(a, b *big.Int) *big.Int {
	q, r := new(big.Int).QuoRem(a, b, new(big.Int))
	if r.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	return q
}

// Validate checks the formula's ranges.
func (p Pricing) validate(c *checker, prefix string) {
	if p.Base < 0 {
		c.add(prefix+"base", p.Base, ErrRange, "must be ≥ 0")
	}
	if p.PerSecond < 0 {
		c.add(prefix+"per_second", p.PerSecond, ErrRange, "must be ≥ 0")
	}
	if p.PerGiBSecond < 0 {
		c.add(prefix+"per_gib_second", p.PerGiBSecond, ErrRange, "must be ≥ 0")
	}
	if p.Surge < 0 || p.Surge > 100 || math.IsNaN(p.Surge) {
		c.add(prefix+"surge", p.Surge, ErrRange, "must be between 0 and 100")
	}
	if p.Base == 0 && p.PerSecond == 0 && p.PerGiBSecond == 0 {
		c.add(prefix+"base", p.Base, ErrRange, "at least one of base, per_second, per_gib_second must be > 0")
	}
}

// Limits are the largest jobs a provider accepts.
type Limits struct {
	MaxMemoryBytes int64 `cbor:"max_memory" json:"max_memory"`
	MaxTimeoutMs   int64 `cbor:"max_timeout_ms" json:"max_timeout_ms"`
	MaxModuleBytes int64 `cbor:"max_module" json:"max_module"`
	MaxInputBytes  int64 `cbor:"max_input" json:"max_input"`
	MaxOutputBytes int64 `cbor:"max_output" json:"max_output"`
	Slots          int   `cbor:"slots" json:"slots"` // jobs run at once
}

// Offer is a provider's signed advertisement, served on /hayek/offer/1.0.0.
// DHT provider records only hint that a peer sells a capability; the signed
// offer is the truth, and Withdrawn says the provider has stopped selling.
type Offer struct {
	Provider     string       `cbor:"provider" json:"provider"`
	Seq          uint64       `cbor:"seq" json:"seq"` // grows with every reissue
	Capabilities []Capability `cbor:"caps" json:"capabilities"`
	Pricing      Pricing      `cbor:"pricing" json:"pricing"`
	Limits       Limits       `cbor:"limits" json:"limits"`
	Version      string       `cbor:"version" json:"version"`
	Created      int64        `cbor:"created" json:"created_ms"` // Unix ms
	Expires      int64        `cbor:"expires" json:"expires_ms"` // Unix ms
	Withdrawn    bool         `cbor:"withdrawn" json:"withdrawn"`
	// Resources are the machine's CPUs, memory, architecture and GPUs.
	// Absent from offers of providers that do not state them (older
	// versions): their limits alone then say what fits.
	Resources *Resources `cbor:"resources,omitempty" json:"resources,omitempty"`
}

// Sender implements canon.Message.
func (o Offer) Sender() string { return o.Provider }

// KindOffer is the envelope kind of offers.
const KindOffer = "offer"

// Validate checks an offer received from a peer at time now.
func (o Offer) Validate(now time.Time) error {
	c := &checker{what: "offer"}
	if o.Provider == "" {
		c.add("provider", nil, ErrRequired, "")
	}
	if !o.Withdrawn {
		if len(o.Capabilities) == 0 || len(o.Capabilities) > 32 {
			c.add("capabilities", len(o.Capabilities), ErrRange, "must name 1 to 32 capabilities")
		}
		seen := map[Capability]bool{}
		for i, k := range o.Capabilities {
			if err := k.Validate(); err != nil {
				c.add(fmt.Sprintf("capabilities[%d]", i), k, ErrInvalid, "%w", err)
			} else if seen[k] {
				c.add(fmt.Sprintf("capabilities[%d]", i), k, ErrInvalid, "listed twice")
			}
			seen[k] = true
		}
		o.Pricing.validate(c, "pricing.")
		l := o.Limits
		for _, f := range []struct {
			name string
			v    int64
		}{{"max_memory", l.MaxMemoryBytes}, {"max_timeout_ms", l.MaxTimeoutMs}, {"max_module", l.MaxModuleBytes},
			{"max_input", l.MaxInputBytes}, {"max_output", l.MaxOutputBytes}, {"slots", int64(l.Slots)}} {
			if f.v <= 0 {
				c.add("limits."+f.name, f.v, ErrRange, "must be > 0")
			}
		}
		if o.Resources != nil {
			o.Resources.validate(c, o.Capabilities)
		}
	}
	if o.Expires <= o.Created || o.Expires-o.Created > (7*24*time.Hour).Milliseconds() {
		c.add("expires", o.Expires, ErrRange, "must be after created, by at most 7 days")
	}
	if ms := now.UnixMilli(); o.Expires <= ms {
		c.add("expires", time.UnixMilli(o.Expires).UTC(), ErrRange, "offer has expired")
	}
	if len(o.Version) > 64 {
		c.add("version", len(o.Version), ErrTooLarge, "at most 64 bytes")
	}
	return c.err()
}

// Sells reports whether the offer includes capability k.
func (o Offer) Sells(k Capability) bool {
	for _, c := range o.Capabilities {
		if c == k {
			return true
		}
	}
	return false
}

// Fits says why a job with these needs cannot run under this offer, or
// returns "" when it can. Reasons are decline codes.
func (o Offer) Fits(n Needs) (reason DeclineReason, detail string) {
	if o.Withdrawn {
		return DeclineWithdrawn, "the provider has withdrawn its offer"
	}
	for i, k := range n.Capabilities {
		if !o.Sells(k) {
			if i == 0 && KnownRuntime(k) {
				return DeclineRuntime, fmt.Sprintf("does not sell %s", k)
			}
			return DeclineCapability, fmt.Sprintf("does not sell %s", k)
		}
	}
	if reason, detail := o.fitsResources(n); reason != "" {
		return reason, detail
	}
	l := o.Limits
	switch {
	case n.MemoryBytes > l.MaxMemoryBytes:
		return DeclineTooLarge, fmt.Sprintf("memory %s > limit %s", units.FormatSize(n.MemoryBytes), units.FormatSize(l.MaxMemoryBytes))
	case n.TimeoutMs > l.MaxTimeoutMs:
		return DeclineTooLarge, fmt.Sprintf("timeout %v > limit %v", time.Duration(n.TimeoutMs)*time.Millisecond, time.Duration(l.MaxTimeoutMs)*time.Millisecond)
	case n.ModuleBytes > l.MaxModuleBytes:
		return DeclineTooLarge, fmt.Sprintf("module %s > limit %s", units.FormatSize(n.ModuleBytes), units.FormatSize(l.MaxModuleBytes))
	case n.InputBytes > l.MaxInputBytes:
		return DeclineTooLarge, fmt.Sprintf("inputs %s > limit %s", units.FormatSize(n.InputBytes), units.FormatSize(l.MaxInputBytes))
	}
	q, err := o.Pricing.Quote(n)
	switch {
	case err != nil:
		return DeclinePrice, fmt.Sprintf("price floor does not fit in an int64, far above the max price %d", n.MaxPrice)
	case q > n.MaxPrice:
		return DeclinePrice, fmt.Sprintf("price floor %d > max price %d", q, n.MaxPrice)
	}
	return "", ""
}
