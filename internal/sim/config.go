package sim

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/hayek-market/hayek/internal/units"
	"github.com/hayek-market/hayek/market"
)

// Kinds of provider populations.
const (
	KindHonest       = "honest"       // right results at its cost
	KindCheat        = "cheat"        // always a wrong result
	KindIntermittent = "intermittent" // a wrong result with probability Rate
	KindOnOff        = "onoff"        // honest for HonestJobs jobs, then cheats with probability Rate
	KindRing         = "ring"         // the ring's shared wrong result at Rate, mutual attestations, bad-mouthing
	KindSybil        = "sybil"        // fresh identities bidding below cost, cheating at Rate
	KindWhitewash    = "whitewash"    // cheats at Rate; once caught, returns under a new identity
	KindLazy         = "lazy"         // acknowledges awards, then times out with probability Rate
	KindFalseStart   = "falsestart"   // commits to start at once, starts late
)

var kinds = []string{KindHonest, KindCheat, KindIntermittent, KindOnOff, KindRing, KindSybil, KindWhitewash, KindLazy, KindFalseStart}

// Dishonest reports whether a kind is counted as an attacker.
func Dishonest(kind string) bool { return kind != KindHonest }

// Population is a group of providers that behave alike.
type Population struct {
	Name  string `toml:"name"`
	Kind  string `toml:"kind"`
	Count int    `toml:"count"`
	// CostMin..CostMax: what a run costs the provider (its price base is
	// drawn in this range, times PriceFactor).
	CostMin int64 `toml:"cost_min"`
	CostMax int64 `toml:"cost_max"`
	// PriceFactor scales the bid relative to the cost (sybils bid below
	// cost: 0.5). 0 means 1.
	PriceFactor float64 `toml:"price_factor"`
	// RunMin..RunMax: how long a run takes.
	RunMin units.Duration `toml:"run_min"`
	RunMax units.Duration `toml:"run_max"`
	Slots  int            `toml:"slots"`
	// Rate: the chance of cheating (intermittent, onoff after the switch,
	// sybil, whitewash) or of timing out (lazy).
	Rate float64 `toml:"rate"`
	// HonestJobs: onoff providers are honest for this many runs.
	HonestJobs int `toml:"honest_jobs"`
	// JoinAt: the share of the run's jobs after which the population
	// joins (a sybil flood arriving into an established market).
	JoinAt float64 `toml:"join_at"`
	// LateBy: how late a falsestart provider starts after committing to 0.
	LateBy units.Duration `toml:"late_by"`
	// Collude: the population's wrong results are all the same output
	// (as the ring's are), so its members agree when drawn as each
	// other's checkers.
	Collude bool `toml:"collude"`
	// Subnets: how many /24s the population's identities share (0: the
	// kind's default — one each, twenty for sybils).
	Subnets int `toml:"subnets"`
}

// Network is the simulated network between peers.
type Network struct {
	Latency units.Duration `toml:"latency"` // one-way base latency
	Jitter  units.Duration `toml:"jitter"`  // mean of an exponential extra delay
	Loss    float64        `toml:"loss"`    // probability a message is lost
}

// Config is a simulation: the market, its requesters and its provider
// populations. ParseConfig reads it from TOML; DefaultConfig is the
// setting of the goals in issue 10.
type Config struct {
	Seed uint64 `toml:"seed"`
	Jobs int    `toml:"jobs"`
	// BurnIn: the share of jobs before "after burn-in" metrics start.
	BurnIn float64 `toml:"burn_in"`
	// Requesters submit the jobs; NonPaying of them never settle and
	// refuse to sign for half of their results.
	Requesters int `toml:"requesters"`
	NonPaying  int `toml:"non_paying"`
	// Interval is the mean gap between two job submissions, market-wide.
	Interval units.Duration `toml:"interval"`
	// MaxPrice of every job; ValueOfTime of a share TimeShare of them.
	MaxPrice    int64   `toml:"max_price"`
	ValueOfTime int64   `toml:"value_of_time"`
	TimeShare   float64 `toml:"time_share"`
	// Verify: "adaptive" (reputation.Policy picks per job), or a fixed
	// spec for every job: "none", "replicate:K", "sample:P".
	Verify  string  `toml:"verify"`
	Epsilon float64 `toml:"epsilon"`
	// Probation: under adaptive verification, the share of jobs open to
	// providers this requester has not proven yet (the rest require the
	// CheckPolicy's Proven lower bound).
	Probation     float64 `toml:"probation"`
	MinReputation float64 `toml:"min_reputation"`
	// Discovery is how many providers a DHT lookup returns for a job.
	Discovery int `toml:"discovery"`
	// Ledger keeps every requester's real settlement ledger (in memory):
	// holds, countersigned receipts, releases, settlements.
	Ledger bool `toml:"ledger"`
	// SettleEvery: honest requesters settle their debts this often.
	SettleEvery units.Duration `toml:"settle_every"`
	// CreditBase and CreditMax are what providers let requesters owe.
	CreditBase int64 `toml:"credit_base"`
	CreditMax  int64 `toml:"credit_max"`
	// Legacy runs the design before issue 10, for the before/after
	// table: the reputation parameters of then (legacyParams) and none of
	// the adaptive policy (a fixed Verify).
	Legacy bool `toml:"legacy"`
	// ShareCatches: under adaptive verification, a requester that
	// catches a wrong result tells the others, who check the cheat's
	// results at rate 1 if they trust one of the checkers whose results
	// contradicted it (requester.shareCatch). The node does the same
	// (node/internal/evidence/catch.go, [reputation] catch_window, on by
	// default), so it is on by default here too; only adaptive jobs
	// check, so the earlier designs' columns do not use it.
	ShareCatches bool `toml:"share_catches"`

	Network     Network      `toml:"network"`
	Populations []Population `toml:"population"`
}

// DefaultConfig is the goals' setting: 200 honest providers (costs 50 to
// 150) and 20% dishonest ones of every kind, undercutting them (45 to 65:
// an attacker that never wins tests nothing), a flood of 100 sybils after a quarter of
// the run, 20,000 jobs from 10 requesters (one of them not paying).
func DefaultConfig() Config {
	ms := func(n int) units.Duration { return units.Duration(time.Duration(n) * time.Millisecond) }
	dis := func(name, kind string, n int, rate float64) Population {
		return Population{Name: name, Kind: kind, Count: n, CostMin: 45, CostMax: 65, RunMin: ms(500), RunMax: ms(3000), Slots: 4, Rate: rate}
	}
	onoff := dis("onoff", KindOnOff, 7, 1)
	onoff.HonestJobs = 40
	sybil := dis("sybil", KindSybil, 100, 1)
	sybil.PriceFactor, sybil.JoinAt = 0.5, 0.25
	fs := dis("falsestart", KindFalseStart, 7, 0)
	fs.LateBy = ms(2000)
	return Config{
		Seed: 1, Jobs: 20_000, BurnIn: 0.25, Requesters: 10, NonPaying: 1,
		Interval: ms(250), MaxPrice: 400, ValueOfTime: 20, TimeShare: 0.3,
		Verify: "adaptive", Epsilon: 0.001, Probation: 0.1, MinReputation: 0, Discovery: 40, Ledger: true,
		ShareCatches: true,
		SettleEvery:  units.Duration(time.Hour), CreditBase: 2_000, CreditMax: 50_000,
		Network: Network{Latency: ms(20), Jitter: ms(10), Loss: 0.001},
		Populations: []Population{
			{Name: "honest", Kind: KindHonest, Count: 200, CostMin: 50, CostMax: 150, RunMin: ms(500), RunMax: ms(3000), Slots: 4},
			dis("cheat", KindCheat, 7, 1),
			dis("intermittent", KindIntermittent, 7, 0.2),
			onoff,
			dis("ring", KindRing, 8, 1),
			dis("whitewash", KindWhitewash, 7, 1),
			dis("lazy", KindLazy, 7, 0.5),
			fs,
			sybil,
		},
	}
}

// ParseConfig reads a TOML configuration over the defaults: fields left
// out keep DefaultConfig's values, and a [[population]] list replaces the
// default populations whole.
func ParseConfig(r io.Reader) (Config, error) {
	c := DefaultConfig()
	c.Populations = nil
	md, err := toml.NewDecoder(r).Decode(&c)
	if err != nil {
		return Config{}, fmt.Errorf("sim: config: %w", err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return Config{}, fmt.Errorf("sim: config: unknown keys %s", strings.Join(keys, ", "))
	}
	if len(c.Populations) == 0 {
		c.Populations = DefaultConfig().Populations
	}
	for i := range c.Populations {
		c.Populations[i].defaults()
	}
	return c, c.Validate()
}

func (p *Population) defaults() {
	if p.Name == "" {
		p.Name = p.Kind
	}
	if p.CostMin == 0 {
		p.CostMin = 50
	}
	if p.CostMax == 0 {
		p.CostMax = p.CostMin
	}
	if p.RunMin == 0 {
		p.RunMin = units.Duration(time.Second)
	}
	if p.RunMax == 0 {
		p.RunMax = p.RunMin
	}
	if p.Slots == 0 {
		p.Slots = 4
	}
}

// ErrConfig is what every configuration error wraps.
var ErrConfig = errors.New("sim: invalid configuration")

// Validate reports every bad field.
func (c Config) Validate() error {
	var errs []error
	bad := func(field string, v any, why string) {
		errs = append(errs, fmt.Errorf("%w: %s = %v: %s", ErrConfig, field, v, why))
	}
	if c.Jobs < 1 {
		bad("jobs", c.Jobs, "must be at least 1")
	}
	if c.BurnIn < 0 || c.BurnIn >= 1 {
		bad("burn_in", c.BurnIn, "must be in [0, 1)")
	}
	if c.Requesters < 1 || c.NonPaying < 0 || c.NonPaying >= c.Requesters {
		bad("requesters", c.Requesters, "must be at least 1, with 0 ≤ non_paying < requesters")
	}
	if c.Interval <= 0 {
		bad("interval", c.Interval, "must be positive")
	}
	if c.MaxPrice < 1 || c.MaxPrice > market.MaxPriceCap/16 {
		bad("max_price", c.MaxPrice, "out of range")
	}
	if c.ValueOfTime < 0 || c.ValueOfTime > market.MaxValueOfTime || c.TimeShare < 0 || c.TimeShare > 1 {
		bad("value_of_time", c.ValueOfTime, "value_of_time out of range or time_share outside [0, 1]")
	}
	if c.Verify != "adaptive" {
		if _, err := market.ParseVerify(c.Verify); err != nil {
			bad("verify", c.Verify, "want adaptive, none, replicate:K or sample:P")
		}
	}
	if c.Probation < 0 || c.Probation > 1 {
		bad("probation", c.Probation, "must be in [0, 1]")
	}
	if !(c.Epsilon > 0 && c.Epsilon < 1) {
		bad("epsilon", c.Epsilon, "must be between 0 and 1")
	}
	if c.Discovery < 2 {
		bad("discovery", c.Discovery, "must be at least 2")
	}
	if c.SettleEvery <= 0 || c.CreditBase < 0 || c.CreditMax < c.CreditBase {
		bad("settle_every", c.SettleEvery, "settle_every must be positive and 0 ≤ credit_base ≤ credit_max")
	}
	if c.Network.Loss < 0 || c.Network.Loss >= 1 || c.Network.Latency < 0 || c.Network.Jitter < 0 {
		bad("network", c.Network, "loss in [0, 1), latencies ≥ 0")
	}
	total := 0
	for i, p := range c.Populations {
		f := fmt.Sprintf("population[%d]", i)
		known := false
		for _, k := range kinds {
			known = known || k == p.Kind
		}
		if !known {
			bad(f+".kind", p.Kind, "want one of "+strings.Join(kinds, ", "))
		}
		if p.Count < 0 || p.CostMin < 1 || p.CostMax < p.CostMin || p.RunMin <= 0 || p.RunMax < p.RunMin || p.Slots < 1 {
			bad(f, p.Name, "count ≥ 0, 1 ≤ cost_min ≤ cost_max, 0 < run_min ≤ run_max, slots ≥ 1")
		}
		if p.Rate < 0 || p.Rate > 1 || p.JoinAt < 0 || p.JoinAt >= 1 || p.PriceFactor < 0 || p.Subnets < 0 || p.Subnets > 256 {
			bad(f, p.Name, "rate in [0, 1], join_at in [0, 1), price_factor ≥ 0, subnets in [0, 256]")
		}
		total += p.Count
	}
	if total < 2 {
		bad("population", total, "at least 2 providers")
	}
	return errors.Join(errs...)
}
