package market

import (
	"fmt"
	"time"

	"github.com/hayek-market/hayek/internal/canon"
)

// ProviderConfig tunes how a provider answers calls for bids.
type ProviderConfig struct {
	Self string
	// StartBaseMs is the committed start time when module and inputs are
	// already here: the award round trip and instantiation.
	StartBaseMs int64
	// FetchBytesPerSec estimates how fast missing blobs arrive, and
	// PrepareBytesPerSec how fast a module not yet compiled is prepared,
	// to commit to a start time that holds.
	FetchBytesPerSec   int64
	PrepareBytesPerSec int64
	// BidUnasked makes the provider bid on calls that do not invite it.
	BidUnasked bool
}

// DefaultProviderConfig returns conservative defaults.
func DefaultProviderConfig(self string) ProviderConfig {
	return ProviderConfig{Self: self, StartBaseMs: 50, FetchBytesPerSec: 20 << 20, PrepareBytesPerSec: 2 << 20}
}

// AwardMargin is how long after its call's bid window a bid stays open for
// an award: the award is sent when the auction closes, so this covers its
// delivery on a slow network, not a second auction.
const AwardMargin = 5 * time.Second

// Load is a provider's occupancy when a call arrives, and what it lets
// the calling requester owe it.
type Load struct {
	Running int
	Slots   int
	// RequesterOwes is the requester's debt to this provider (its
	// bilateral balance, positive when owed), CreditLimit what the provider
	// lets it owe; 0 means no limit.
	RequesterOwes int64
	CreditLimit   int64
	// GPUsBusy: the GPUs the call asks for exist here but other jobs hold
	// them now. GPUsUnusable says why this provider's GPUs cannot serve
	// the call's runtime ("" when they can).
	GPUsBusy     bool
	GPUsUnusable string
	// ImageNotAllowed: the call names an image this provider does not
	// run.
	ImageNotAllowed bool
	// CPUMilliFree is how many thousandths of a core the jobs running
	// here leave unclaimed; a call asking for more is declined busy. It
	// counts only with CPUMilliKnown (a provider that tracks it).
	CPUMilliFree  int64
	CPUMilliKnown bool
}

func (l Load) fraction() float64 {
	if l.Slots <= 0 {
		return 1
	}
	return float64(l.Running) / float64(l.Slots)
}

// Provider decides a provider's answers: bids, declines, and whether an
// award is acceptable. Like Job it does no I/O and reads no clock.
type Provider struct {
	cfg    ProviderConfig
	signer canon.Signer
	book   map[bookKey]bookEntry
}

type bookKey struct {
	requester, job string
	attempt        uint32
}

// bookEntry is what an open bid must be checked against; it is kept lean
// because a busy provider holds one per call of the last few seconds.
type bookEntry struct {
	bidCID  string
	price   int64
	start   int64
	needs   Needs // without capabilities
	runtime Capability
	expires time.Time
}

// NewProvider returns a provider that signs with signer.
func NewProvider(cfg ProviderConfig, signer canon.Signer) *Provider {
	return &Provider{cfg: cfg, signer: signer, book: map[bookKey]bookEntry{}}
}

// Prep is what a provider must do before a job can start: bytes to fetch
// and module bytes to prepare (compile). Both lengthen the committed start.
type Prep struct {
	FetchBytes   int64
	PrepareBytes int64
}

// Answer decides how to answer a verified, fresh call for bids. It returns
// the signed bid or decline, and send=false when the provider stays silent
// (a call that does not invite it).
func (p *Provider) Answer(now time.Time, offer Offer, call CallForBids, callCID string, load Load, prep Prep) (env canon.Envelope, send bool, err error) {
	invited := call.Invited(p.cfg.Self)
	if !invited && !p.cfg.BidUnasked {
		return canon.Envelope{}, false, nil
	}
	decline := func(r DeclineReason, detail string) (canon.Envelope, bool, error) {
		if !invited {
			return canon.Envelope{}, false, nil
		}
		env, err := canon.Seal(p.signer, KindDecline, Decline{
			Job: call.Job, Attempt: call.Attempt, Call: callCID, Provider: p.cfg.Self, Requester: call.Requester,
			Reason: r, Detail: detail, Created: now.UnixMilli(),
		})
		return env, err == nil, err
	}
	v := p.Decide(offer, call.Needs, load, prep)
	if !v.Bids() {
		return decline(v.Reason, v.Detail)
	}
	bid := Bid{
		Job: call.Job, Attempt: call.Attempt, Call: callCID, Provider: p.cfg.Self, Requester: call.Requester,
		Price: v.Price, StartWithinMs: v.StartWithinMs, Load: v.Load, Created: now.UnixMilli(),
	}
	env, err = canon.Seal(p.signer, KindBid, bid)
	if err != nil {
		return canon.Envelope{}, false, err
	}
	// An award comes right after the auction closes; a bid older than its
	// window and AwardMargin cannot win any more.
	window := time.Duration(call.WindowMs)*time.Millisecond + AwardMargin
	needs := call.Needs
	needs.Capabilities = nil
	p.book[bookKey{call.Requester, call.Job, call.Attempt}] = bookEntry{bidCID: env.CID(), price: bid.Price,
		start: bid.StartWithinMs, needs: needs, runtime: call.Needs.Runtime(), expires: now.Add(window)}
	return env, true, nil
}

// Verdict is what a provider would answer a call: a bid (Reason empty) at
// Price, committing to start within StartWithinMs, or a decline with Reason
// and Detail.
type Verdict struct {
	Price         int64
	StartWithinMs int64
	Load          uint16 // permille of slots in use
	Reason        DeclineReason
	Detail        string
}

// Bids reports whether the verdict is a bid.
func (v Verdict) Bids() bool { return v.Reason == "" }

// Decide is Answer's decision without its effects: whether this provider
// would bid on a job with these needs now, and at what price and start, or
// why not. It signs nothing and books nothing, so a quote (a dry-run call)
// is answered by the very rules an auction is.
func (p *Provider) Decide(offer Offer, needs Needs, load Load, prep Prep) Verdict {
	decline := func(r DeclineReason, detail string) Verdict { return Verdict{Reason: r, Detail: detail} }
	if reason, detail := offer.Fits(needs); reason != "" {
		return decline(reason, detail)
	}
	if needs.Image != "" && load.ImageNotAllowed {
		return decline(DeclineImage, fmt.Sprintf("%s is not among the images this provider runs; ship it as an archive instead", needs.Image))
	}
	if load.Running >= load.Slots {
		return decline(DeclineBusy, fmt.Sprintf("all %d slots in use", load.Slots))
	}
	if needs.GPUs != nil && load.GPUsUnusable != "" {
		return decline(DeclineNoGPU, load.GPUsUnusable)
	}
	if n := needs.CPUMilli; n > 0 && load.CPUMilliKnown && n > load.CPUMilliFree {
		return decline(DeclineBusy, fmt.Sprintf("the job needs %s CPUs; running jobs leave %s free", FormatCPUs(n), FormatCPUs(max(load.CPUMilliFree, 0))))
	}
	if needs.GPUs != nil && load.GPUsBusy {
		return decline(DeclineBusy, fmt.Sprintf("the %s the job needs are held by other jobs", needs.GPUs))
	}
	price, err := offer.Pricing.Bid(needs, load.fraction())
	switch {
	case err != nil:
		return decline(DeclinePrice, fmt.Sprintf("price at current load does not fit in an int64 (%v), far above the max price %d", err, needs.MaxPrice))
	case price > needs.MaxPrice:
		return decline(DeclinePrice, fmt.Sprintf("price %d at current load > max price %d", price, needs.MaxPrice))
	}
	// price > 0, so only a debt near the largest int64 overflows: far
	// past any credit limit.
	if owes, ok := add64(load.RequesterOwes, price); load.CreditLimit > 0 && (!ok || owes > load.CreditLimit) {
		return decline(DeclineRequester, fmt.Sprintf("requester owes %d; with this job's %d it would pass its credit limit of %d: settle first",
			load.RequesterOwes, price, load.CreditLimit))
	}
	start, ok := p.committedStart(prep)
	if !ok {
		return decline(DeclineTooLarge, fmt.Sprintf("cannot commit to start within %v: %d bytes to fetch, %d to prepare",
			MaxStartWithin, prep.FetchBytes, prep.PrepareBytes))
	}
	return Verdict{Price: price, StartWithinMs: start, Load: uint16(load.fraction() * 1000)}
}

// committedStart is the start this provider commits to: the base, plus
// fetching and preparing at the configured rates. ok is false when it
// would pass MaxStartWithin (no requester would take the bid).
func (p *Provider) committedStart(prep Prep) (int64, bool) {
	start := p.cfg.StartBaseMs
	for _, c := range []struct{ bytes, rate int64 }{{prep.FetchBytes, p.cfg.FetchBytesPerSec}, {prep.PrepareBytes, p.cfg.PrepareBytesPerSec}} {
		if c.rate <= 0 || c.bytes <= 0 {
			continue
		}
		ms, ok := mul64(c.bytes, 1000)
		if !ok {
			return 0, false
		}
		if start, ok = add64(start, ms/c.rate); !ok {
			return 0, false
		}
	}
	return start, start >= 0 && start <= MaxStartWithin.Milliseconds()
}

// Expire forgets bids that can no longer be awarded.
func (p *Provider) Expire(now time.Time) {
	for k, e := range p.book {
		if now.After(e.expires) {
			delete(p.book, k)
		}
	}
}

// Outstanding is the number of bids that may still be awarded.
func (p *Provider) Outstanding() int { return len(p.book) }

// CheckAward verifies a verified award against the bid this provider made:
// its own signed bid, the price (recomputed from the rule and the signed
// bid that set it, exactly as the requester's Job computes it), and that
// the job to run is the one it bid on. On success the bid is taken from
// the book, so an award is accepted once.
//
// What a winner cannot check is that no losing bid was left out: a
// requester that hides every losing bid pays the winner the highest
// winning bid (alone, its own) instead of the second price. The winner is
// never paid below its own bid either way; docs/protocol.md says more.
func (p *Provider) CheckAward(a Award, v canon.Verifier) (Bid, error) {
	if a.Provider != p.cfg.Self {
		return Bid{}, fmt.Errorf("market: award is for %s, not us", short(a.Provider))
	}
	k := bookKey{a.Requester, a.Job, a.Attempt}
	e, ok := p.book[k]
	if !ok {
		return Bid{}, fmt.Errorf("market: award for job %s attempt %d: the bid has expired or was taken (%w)", a.Job, a.Attempt, ErrNoOpenBid)
	}
	wenv, err := canon.DecodeEnvelope(a.WinningBid)
	if err != nil {
		return Bid{}, fmt.Errorf("market: award's winning bid: %w", err)
	}
	if wenv.CID() != e.bidCID {
		return Bid{}, fmt.Errorf("market: award's winning bid is not the bid we made")
	}
	n := e.needs
	var ref *Bid
	if len(a.PriceBid) > 0 {
		renv, err := canon.DecodeEnvelope(a.PriceBid)
		if err != nil {
			return Bid{}, fmt.Errorf("market: award's price-setting bid: %w", err)
		}
		var r Bid
		if err := renv.Open(v, KindBid, &r); err != nil {
			return Bid{}, fmt.Errorf("market: award's price-setting bid: %w", err)
		}
		if r.Job != a.Job || r.Attempt != a.Attempt || r.Requester != a.Requester || r.Provider == p.cfg.Self {
			return Bid{}, fmt.Errorf("market: award's price-setting bid is for another auction")
		}
		if r.Price <= 0 || r.Price > n.MaxPrice || r.StartWithinMs < 0 || r.StartWithinMs > MaxStartWithin.Milliseconds() {
			return Bid{}, fmt.Errorf("market: award's price-setting bid (price %d, start %dms) could not have been ranked", r.Price, r.StartWithinMs)
		}
		ref = &r
	}
	mine := Bid{Provider: p.cfg.Self, Price: e.price, StartWithinMs: e.start}
	want, basis, err := winnerPrice(a.Ranking.Rule, mine, ref, n.ValueOfTime, n.MaxPrice, a.Ranking.Pool > 1)
	if err != nil {
		return Bid{}, fmt.Errorf("market: award's price: %w", err)
	}
	if a.Price != want {
		return Bid{}, fmt.Errorf("market: award pays %d; by its rule it should pay %d (%s)", a.Price, want, basis)
	}
	run := a.Run
	switch {
	case run.Module.CID != n.Module || run.Module.Size != n.ModuleBytes:
		return Bid{}, fmt.Errorf("market: award runs module %s, we bid on %s", run.Module.CID, n.Module)
	case run.RunRuntime() != e.runtime || (run.Runtime == RuntimeWasm):
		return Bid{}, fmt.Errorf("market: award runs %s, we bid on %s", run.RunRuntime(), e.runtime)
	case run.MemoryBytes != n.MemoryBytes || run.TimeoutMs != n.TimeoutMs || run.CPUMilli != n.CPUMilli || !sameGPUs(run.GPUs, n.GPUs):
		return Bid{}, fmt.Errorf("market: award's limits differ from the call's")
	case runInputBytes(run) != n.InputBytes || !sizesValid(run):
		return Bid{}, fmt.Errorf("market: award's inputs total %d bytes, the call said %d", runInputBytes(run), n.InputBytes)
	case run.MaxOutputBytes < 1 || run.MaxOutputBytes > MaxInputBytes:
		return Bid{}, fmt.Errorf("market: award's output limit %d is out of range", run.MaxOutputBytes)
	}
	// The winning bid is ours byte for byte (same CID): decode it rather
	// than keep a copy of every open bid.
	var own Bid
	if err := canon.Unmarshal(wenv.Body, &own); err != nil {
		return Bid{}, fmt.Errorf("market: award's winning bid: %w", err)
	}
	delete(p.book, k)
	return own, nil
}

func sameGPUs(a, b *GPUs) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func sizesValid(r RunSpec) bool {
	if r.Stdin != nil && r.Stdin.Size < 0 {
		return false
	}
	for _, in := range r.Inputs {
		if in.Size < 0 {
			return false
		}
	}
	return true
}

func runInputBytes(r RunSpec) int64 {
	var n int64
	if r.Stdin != nil {
		n = addSizes(n, r.Stdin.Size)
	}
	for _, in := range r.Inputs {
		n = addSizes(n, in.Size)
	}
	return n
}
