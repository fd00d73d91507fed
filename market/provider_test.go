package market

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/internal/canon/canontest"
)

// provFixture: requester "req" calls for bids on job "job-p"; p1 is the
// Provider under test, p2 and p3 its competitors.
type provFixture struct {
	keys    *canontest.Keyring
	cfg     ProviderConfig
	p       *Provider
	offer   Offer
	call    CallForBids
	callCID string
}

func newProvFixture(t *testing.T, tune func(*ProviderConfig)) *provFixture {
	t.Helper()
	keys := canontest.NewKeyring()
	for _, id := range []string{"req", "p1", "p2", "p3"} {
		keys.Signer(id)
	}
	cfg := DefaultProviderConfig("p1")
	if tune != nil {
		tune(&cfg)
	}
	f := &provFixture{keys: keys, cfg: cfg, p: NewProvider(cfg, keys.Signer("p1")), offer: fzOffer("p1", 100)}
	f.call = CallForBids{
		Job: "job-p", Attempt: 1, Requester: "req",
		Needs: Needs{Capabilities: []Capability{RuntimeWasm}, MemoryBytes: 64 << 20, TimeoutMs: 2000, Module: fzModule,
			ModuleBytes: 4 << 20, InputBytes: 1<<20 + 100, MaxPrice: 1000, ValueOfTime: 3},
		Invitees: []string{"p1", "p2"}, WindowMs: 1000, Created: fzNow.UnixMilli(),
	}
	f.seal(t)
	return f
}

// seal signs the (possibly modified) call and records its CID.
func (f *provFixture) seal(t *testing.T) {
	t.Helper()
	env, err := canon.Seal(f.keys.Signer("req"), KindCall, f.call)
	if err != nil {
		t.Fatal(err)
	}
	f.callCID = env.CID()
}

func (f *provFixture) answer(t *testing.T, load Load, cached bool) (canon.Envelope, bool) {
	t.Helper()
	env, send, err := f.p.Answer(fzNow, f.offer, f.call, f.callCID, load, prepFor(cached, f.call.Needs))
	if err != nil {
		t.Fatalf("Answer: %v", err)
	}
	return env, send
}

// ourBid answers the call with a bid (uncached, idle: 120 starting within
// 300ms) and returns it.
func (f *provFixture) ourBid(t *testing.T) (canon.Envelope, Bid) {
	t.Helper()
	env, send := f.answer(t, Load{Slots: 4}, false)
	var b Bid
	if !send || env.Kind != KindBid || env.Open(f.keys, KindBid, &b) != nil {
		t.Fatalf("no bid: %v %q", send, env.Kind)
	}
	if b.Price != 120 || b.StartWithinMs != 300 {
		t.Fatalf("fixture bid %d within %dms, want 120 within 300ms", b.Price, b.StartWithinMs)
	}
	return env, b
}

func (f *provFixture) otherBid(t *testing.T, provider string, price, startMs int64, mut func(*Bid)) []byte {
	t.Helper()
	b := Bid{Job: f.call.Job, Attempt: f.call.Attempt, Call: f.callCID, Provider: provider, Requester: "req",
		Price: price, StartWithinMs: startMs, Created: fzNow.UnixMilli()}
	if mut != nil {
		mut(&b)
	}
	env, err := canon.Seal(f.keys.Signer(provider), KindBid, b)
	if err != nil {
		t.Fatal(err)
	}
	return env.Encode()
}

// award is what an honest requester sends: the job p1 bid on, at price,
// set by the runner-up's bid (second price) or, without one, by our own.
func (f *provFixture) award(ours canon.Envelope, runnerUp []byte, price int64) Award {
	n := f.call.Needs
	rk := Ranking{ValueOfTime: n.ValueOfTime, MaxPrice: n.MaxPrice, Rule: PriceSecond, Bids: 2, Replicas: 1, Pool: 1}
	if runnerUp == nil {
		rk.Rule, rk.Bids = PriceHighestWinning, 1
	}
	return Award{
		Job: f.call.Job, Attempt: f.call.Attempt, Requester: "req", Provider: "p1", Price: price,
		WinningBid: ours.Encode(), PriceBid: runnerUp, Ranking: rk,
		Run: RunSpec{
			Module: Blob{CID: n.Module, Size: n.ModuleBytes}, Stdin: &Blob{CID: fzInput, Size: 100},
			Inputs:      []Input{{Name: "data.bin", Blob: Blob{CID: fzInput, Size: 1 << 20}}},
			MemoryBytes: n.MemoryBytes, TimeoutMs: n.TimeoutMs, MaxOutputBytes: 1 << 20,
		},
		ResultBy: fzNow.Add(time.Minute).UnixMilli(), Created: fzNow.UnixMilli(),
	}
}

func TestProviderAnswer(t *testing.T) {
	for _, c := range []struct {
		name   string
		tune   func(*ProviderConfig)
		mut    func(*provFixture)
		load   Load
		send   bool
		reason DeclineReason // "" with send: a bid
	}{
		{"bid when invited", nil, nil, Load{Running: 0, Slots: 4}, true, ""},
		{"bid at load", nil, nil, Load{Running: 2, Slots: 4}, true, ""},
		{"silent when not invited", nil, func(f *provFixture) { f.call.Invitees = []string{"p2"} }, Load{Running: 0, Slots: 4}, false, ""},
		{"silent when not invited even if busy", nil, func(f *provFixture) { f.call.Invitees = nil }, Load{Running: 4, Slots: 4}, false, ""},
		{"bid unasked", func(c *ProviderConfig) { c.BidUnasked = true },
			func(f *provFixture) { f.call.Invitees = []string{"p2"} }, Load{Running: 0, Slots: 4}, true, ""},
		{"no unasked declines", func(c *ProviderConfig) { c.BidUnasked = true },
			func(f *provFixture) { f.call.Invitees, f.call.Needs.MemoryBytes = []string{"p2"}, 2<<30 }, Load{Running: 0, Slots: 4}, false, ""},
		{"capability missing", nil, func(f *provFixture) {
			f.call.Needs.Capabilities = append(f.call.Needs.Capabilities, "gpu/nvidia/h100")
		}, Load{Running: 0, Slots: 4}, true, DeclineCapability},
		{"runtime not sold", nil, func(f *provFixture) { f.offer.Capabilities = []Capability{"gpu/nvidia/h100"} },
			Load{Running: 0, Slots: 4}, true, DeclineRuntime},
		{"no gpu", nil, func(f *provFixture) { f.call.Needs.GPUs = &GPUs{Count: 1} }, Load{Running: 0, Slots: 4}, true, DeclineNoGPU},
		{"gpu model", nil, func(f *provFixture) {
			f.offer.Resources = &Resources{CPUs: 4, MemoryBytes: 8 << 30, Arch: "amd64", GPUs: []GPUOffered{{Model: "l4", Count: 1, VRAMMiB: 24 << 10}}}
			f.call.Needs.GPUs = &GPUs{Count: 1, Model: "h100"}
		}, Load{Running: 0, Slots: 4}, true, DeclineGPUModel},
		{"vram", nil, func(f *provFixture) {
			f.offer.Resources = &Resources{CPUs: 4, MemoryBytes: 8 << 30, Arch: "amd64", GPUs: []GPUOffered{{Model: "l4", Count: 1, VRAMMiB: 24 << 10}}}
			f.call.Needs.GPUs = &GPUs{Count: 1, MinVRAMMiB: 40 << 10}
		}, Load{Running: 0, Slots: 4}, true, DeclineVRAM},
		{"gpus held by other jobs", nil, func(f *provFixture) {
			f.offer.Resources = &Resources{CPUs: 4, MemoryBytes: 8 << 30, Arch: "amd64", GPUs: []GPUOffered{{Model: "l4", Count: 1, VRAMMiB: 24 << 10}}}
			f.call.Needs.GPUs = &GPUs{Count: 1}
		}, Load{Running: 0, Slots: 4, GPUsBusy: true}, true, DeclineBusy},
		{"gpus not for this runtime", nil, func(f *provFixture) {
			f.offer.Resources = &Resources{CPUs: 4, MemoryBytes: 8 << 30, Arch: "amd64", GPUs: []GPUOffered{{Model: "l4", Count: 1, VRAMMiB: 24 << 10}}}
			f.call.Needs.GPUs = &GPUs{Count: 1}
		}, Load{Running: 0, Slots: 4, GPUsUnusable: "GPUs go to runtime/docker jobs only"}, true, DeclineNoGPU},
		{"image not allowed", nil, func(f *provFixture) {
			f.call.Needs.Capabilities[0], f.call.Needs.Image = RuntimeDocker, testDigest
			f.offer.Capabilities = []Capability{RuntimeDocker}
		}, Load{Running: 0, Slots: 4, ImageNotAllowed: true}, true, DeclineImage},
		{"image allowed", nil, func(f *provFixture) {
			f.call.Needs.Capabilities[0], f.call.Needs.Image = RuntimeDocker, testDigest
			f.offer.Capabilities = []Capability{RuntimeDocker}
		}, Load{Running: 0, Slots: 4}, true, ""},
		{"cpus taken by running jobs", nil, func(f *provFixture) { f.call.Needs.CPUMilli = 2000 },
			Load{Running: 1, Slots: 4, CPUMilliKnown: true, CPUMilliFree: 1500}, true, DeclineBusy},
		{"cpus free", nil, func(f *provFixture) { f.call.Needs.CPUMilli = 1500 },
			Load{Running: 0, Slots: 4, CPUMilliKnown: true, CPUMilliFree: 1500}, true, ""},
		{"cpus not tracked", nil, func(f *provFixture) { f.call.Needs.CPUMilli = 64000 },
			Load{Running: 0, Slots: 4}, true, ""},
		{"gpus free", nil, func(f *provFixture) {
			f.offer.Resources = &Resources{CPUs: 4, MemoryBytes: 8 << 30, Arch: "amd64", GPUs: []GPUOffered{{Model: "l4", Count: 1, VRAMMiB: 24 << 10}}}
			f.call.Needs.GPUs = &GPUs{Count: 1}
		}, Load{Running: 0, Slots: 4}, true, ""},
		{"too much memory", nil, func(f *provFixture) { f.call.Needs.MemoryBytes = 1<<30 + 1 }, Load{Running: 0, Slots: 4}, true, DeclineTooLarge},
		{"too long", nil, func(f *provFixture) { f.call.Needs.TimeoutMs = 60_001 }, Load{Running: 0, Slots: 4}, true, DeclineTooLarge},
		{"module too big", nil, func(f *provFixture) { f.call.Needs.ModuleBytes = 64<<20 + 1 }, Load{Running: 0, Slots: 4}, true, DeclineTooLarge},
		{"inputs too big", nil, func(f *provFixture) { f.call.Needs.InputBytes = 64<<20 + 1 }, Load{Running: 0, Slots: 4}, true, DeclineTooLarge},
		{"price floor", nil, func(f *provFixture) { f.call.Needs.MaxPrice = 119 }, Load{Running: 0, Slots: 4}, true, DeclinePrice},
		{"price at the floor", nil, func(f *provFixture) { f.call.Needs.MaxPrice = 120 }, Load{Running: 0, Slots: 4}, true, ""},
		{"price at load above max", nil, func(f *provFixture) { f.call.Needs.MaxPrice = 120 }, Load{Running: 1, Slots: 4}, true, DeclinePrice},
		{"busy", nil, nil, Load{Running: 4, Slots: 4}, true, DeclineBusy},
		{"no slots", nil, nil, Load{Running: 0, Slots: 0}, true, DeclineBusy},
		{"withdrawn", nil, func(f *provFixture) { f.offer.Withdrawn = true }, Load{Running: 0, Slots: 4}, true, DeclineWithdrawn},
		{"withdrawn before busy", nil, func(f *provFixture) { f.offer.Withdrawn = true }, Load{Running: 4, Slots: 4}, true, DeclineWithdrawn},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newProvFixture(t, c.tune)
			if c.mut != nil {
				c.mut(f)
				f.seal(t)
			}
			env, send := f.answer(t, c.load, false)
			if send != c.send {
				t.Fatalf("send = %v, want %v (%q)", send, c.send, env.Kind)
			}
			if !send {
				if f.p.Outstanding() != 0 || env.Kind != "" {
					t.Fatalf("silent, yet booked %d bids / envelope %q", f.p.Outstanding(), env.Kind)
				}
				return
			}
			if c.reason != "" {
				var d Decline
				if err := env.Open(f.keys, KindDecline, &d); err != nil {
					t.Fatalf("not a decline: %v", err)
				}
				want := Decline{Job: "job-p", Attempt: 1, Call: f.callCID, Provider: "p1", Requester: "req",
					Reason: c.reason, Detail: d.Detail, Created: fzNow.UnixMilli()}
				if d != want || d.Detail == "" {
					t.Fatalf("decline %+v, want %+v with a detail", d, want)
				}
				if f.p.Outstanding() != 0 {
					t.Fatal("a decline booked a bid")
				}
				return
			}
			var b Bid
			if err := env.Open(f.keys, KindBid, &b); err != nil {
				t.Fatalf("not a bid: %v", err)
			}
			price, err := f.offer.Pricing.Bid(f.call.Needs, c.load.fraction())
			if err != nil {
				t.Fatal(err)
			}
			want := Bid{Job: "job-p", Attempt: 1, Call: f.callCID, Provider: "p1", Requester: "req",
				Price: price, StartWithinMs: 300,
				Load: uint16(c.load.Running * 1000 / c.load.Slots), Created: fzNow.UnixMilli()}
			if b != want {
				t.Fatalf("bid %+v, want %+v", b, want)
			}
			if f.p.Outstanding() != 1 {
				t.Fatalf("%d bids booked", f.p.Outstanding())
			}
		})
	}
}

// The committed start covers fetching what is not cached, at the
// configured rate.
func TestProviderCommittedStart(t *testing.T) {
	for _, c := range []struct {
		name   string
		rate   int64
		cached bool
		want   int64
	}{
		{"cached", 20 << 20, true, 50},
		{"not cached", 20 << 20, false, 50 + (4<<20+1<<20+100)*1000/(20<<20)},
		{"slow link", 1 << 20, false, 50 + (4<<20+1<<20+100)*1000/(1<<20)},
		{"unknown rate", 0, false, 50},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newProvFixture(t, func(cfg *ProviderConfig) { cfg.FetchBytesPerSec = c.rate })
			env, _ := f.answer(t, Load{Slots: 4}, c.cached)
			var b Bid
			if err := env.Open(f.keys, KindBid, &b); err != nil {
				t.Fatal(err)
			}
			if b.StartWithinMs != c.want {
				t.Fatalf("start within %dms, want %dms", b.StartWithinMs, c.want)
			}
		})
	}
}

func TestProviderExpire(t *testing.T) {
	f := newProvFixture(t, nil)
	ours, _ := f.ourBid(t)
	// The margin after the window is the provider's to choose; the window
	// itself must be honoured, and a bid must not live for ever.
	f.p.Expire(fzNow.Add(time.Duration(f.call.WindowMs) * time.Millisecond))
	if f.p.Outstanding() != 1 {
		t.Fatal("forgot a bid whose auction may still be open")
	}
	f.p.Expire(fzNow.Add(time.Hour))
	if f.p.Outstanding() != 0 {
		t.Fatal("kept a bid an hour after its window")
	}
	if _, err := f.p.CheckAward(f.award(ours, nil, 1000), f.keys); err == nil {
		t.Fatal("accepted an award on an expired bid")
	}
}

func TestProviderCheckAwardAccepts(t *testing.T) {
	// Our bid: 120 within 300ms; value of time 3/s, so our score is 121.
	for _, c := range []struct {
		name     string
		runnerUp func(f *provFixture) []byte
		price    int64
		mut      func(a *Award)
	}{
		{"alone, at its own bid", nil, 120, nil},
		{"replicas, at the highest winning bid", func(f *provFixture) []byte { return f.otherBid(t, "p2", 300, 5000, nil) }, 300,
			func(a *Award) { a.Ranking.Rule, a.Ranking.Replicas, a.Ranking.Pool = PriceHighestWinning, 2, 2 }},
		{"replicas, ours the highest winning bid", nil, 120, func(a *Award) { a.Ranking.Replicas, a.Ranking.Pool = 2, 3 }},
		{"replicas, second price against the pool", func(f *provFixture) []byte { return f.otherBid(t, "p3", 400, 0, nil) }, 399,
			func(a *Award) { a.Ranking.Replicas, a.Ranking.Pool = 2, 4 }},
		{"second price", func(f *provFixture) []byte { return f.otherBid(t, "p2", 200, 50, nil) }, 200, nil},                  // 201 − 1
		{"value of time", func(f *provFixture) []byte { return f.otherBid(t, "p2", 150, 3000, nil) }, 158, nil},               // 159 − 1
		{"capped at the max price", func(f *provFixture) []byte { return f.otherBid(t, "p2", 1000, 60_000, nil) }, 1000, nil}, // 1180 − 1
		{"tie", func(f *provFixture) []byte { return f.otherBid(t, "p2", 120, 300, nil) }, 120, nil},
		{"uninvited runner-up", func(f *provFixture) []byte { return f.otherBid(t, "p3", 300, 0, nil) }, 299, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newProvFixture(t, nil)
			ours, own := f.ourBid(t)
			var ru []byte
			if c.runnerUp != nil {
				ru = c.runnerUp(f)
			}
			a := f.award(ours, ru, c.price)
			if c.mut != nil {
				c.mut(&a)
			}
			got, err := f.p.CheckAward(a, f.keys)
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if got != own {
				t.Fatalf("returned %+v, our bid is %+v", got, own)
			}
			if _, err := f.p.CheckAward(a, f.keys); err == nil {
				t.Fatal("the same award was accepted twice")
			}
			if f.p.Outstanding() != 0 {
				t.Fatal("the accepted bid is still open")
			}
		})
	}
}

func TestProviderCheckAwardRejects(t *testing.T) {
	for _, c := range []struct {
		name string
		mut  func(t *testing.T, f *provFixture, a *Award)
		is   error // when set, the error must wrap it
		msg  string
	}{
		{"award for someone else", func(t *testing.T, f *provFixture, a *Award) { a.Provider = "p2" }, nil, "not us"},
		{"another runtime", func(t *testing.T, f *provFixture, a *Award) { a.Run.Runtime = RuntimeDocker }, nil, "award runs runtime/docker"},
		{"wasm named, not implied", func(t *testing.T, f *provFixture, a *Award) { a.Run.Runtime = RuntimeWasm }, nil, "award runs"},
		{"gpus the call did not ask for", func(t *testing.T, f *provFixture, a *Award) { a.Run.GPUs = &GPUs{Count: 1} }, nil, "limits differ"},
		{"cpus the call did not ask for", func(t *testing.T, f *provFixture, a *Award) { a.Run.CPUMilli = 500 }, nil, "limits differ"},
		{"no bid on that job", func(t *testing.T, f *provFixture, a *Award) { a.Job = "job-other" }, ErrNoOpenBid, "no open bid"},
		{"no bid on that attempt", func(t *testing.T, f *provFixture, a *Award) { a.Attempt = 2 }, ErrNoOpenBid, "no open bid"},
		{"another requester", func(t *testing.T, f *provFixture, a *Award) { a.Requester = "p3" }, ErrNoOpenBid, "no open bid"},
		{"winning bid is p2's", func(t *testing.T, f *provFixture, a *Award) {
			a.WinningBid = f.otherBid(t, "p2", 120, 300, nil)
		}, nil, "not the bid we made"},
		{"winning bid re-signed", func(t *testing.T, f *provFixture, a *Award) {
			a.WinningBid = f.otherBid(t, "p1", 120, 300, func(b *Bid) { b.Created++ })
		}, nil, "not the bid we made"},
		{"winning bid garbage", func(t *testing.T, f *provFixture, a *Award) { a.WinningBid = []byte{0x01} }, nil, "winning bid"},
		{"winning bid missing", func(t *testing.T, f *provFixture, a *Award) { a.WinningBid = nil }, nil, "winning bid"},
		{"runner-up forged", func(t *testing.T, f *provFixture, a *Award) {
			env, _ := canon.DecodeEnvelope(a.PriceBid)
			env.Sig[3] ^= 0x10
			a.PriceBid = env.Encode()
		}, canon.ErrBadSignature, "price-setting bid"},
		{"runner-up by an unknown peer", func(t *testing.T, f *provFixture, a *Award) {
			b := Bid{Job: "job-p", Attempt: 1, Call: f.callCID, Provider: "p9", Requester: "req", Price: 200, StartWithinMs: 50}
			env, _ := canon.Seal(canontest.NewKeyring().Signer("p9"), KindBid, b)
			a.PriceBid = env.Encode()
		}, canon.ErrBadSignature, "price-setting bid"},
		{"runner-up not a bid", func(t *testing.T, f *provFixture, a *Award) {
			env, _ := canon.Seal(f.keys.Signer("p2"), KindDecline, Decline{Job: "job-p", Attempt: 1, Provider: "p2", Requester: "req"})
			a.PriceBid = env.Encode()
		}, canon.ErrWrongKind, "price-setting bid"},
		{"runner-up garbage", func(t *testing.T, f *provFixture, a *Award) { a.PriceBid = []byte{0xa0} }, nil, "price-setting bid"},
		{"runner-up for another job", func(t *testing.T, f *provFixture, a *Award) {
			a.PriceBid = f.otherBid(t, "p2", 200, 50, func(b *Bid) { b.Job = "job-other" })
		}, nil, "another auction"},
		{"runner-up for another attempt", func(t *testing.T, f *provFixture, a *Award) {
			a.PriceBid = f.otherBid(t, "p2", 200, 50, func(b *Bid) { b.Attempt = 2 })
		}, nil, "another auction"},
		{"runner-up to another requester", func(t *testing.T, f *provFixture, a *Award) {
			a.PriceBid = f.otherBid(t, "p2", 200, 50, func(b *Bid) { b.Requester = "p3" })
		}, nil, "another auction"},
		{"runner-up is our own bid", func(t *testing.T, f *provFixture, a *Award) { a.PriceBid = a.WinningBid }, nil, "another auction"},
		{"runner-up starts after an hour", func(t *testing.T, f *provFixture, a *Award) {
			a.PriceBid = f.otherBid(t, "p2", 200, MaxStartWithin.Milliseconds()+1, nil)
		}, nil, "could not have been ranked"},
		{"runner-up outranks us", func(t *testing.T, f *provFixture, a *Award) {
			a.PriceBid, a.Price = f.otherBid(t, "p2", 100, 50, nil), 99
		}, nil, "should have won"},
		{"runner-up outranks us on time", func(t *testing.T, f *provFixture, a *Award) {
			a.PriceBid, a.Price = f.otherBid(t, "p2", 120, 0, nil), 119
		}, nil, "should have won"},
		{"runner-up outranks a replica", func(t *testing.T, f *provFixture, a *Award) {
			a.PriceBid, a.Price, a.Ranking.Replicas, a.Ranking.Pool = f.otherBid(t, "p2", 100, 50, nil), 99, 2, 4
		}, nil, "should have won"},
		{"price one above", func(t *testing.T, f *provFixture, a *Award) { a.Price = 201 }, nil, "should pay 200"},
		{"price one below", func(t *testing.T, f *provFixture, a *Award) { a.Price = 199 }, nil, "should pay 200"},
		{"max price despite a runner-up", func(t *testing.T, f *provFixture, a *Award) { a.Price = 1000 }, nil, "should pay 200"},
		{"second price without a runner-up", func(t *testing.T, f *provFixture, a *Award) { a.PriceBid, a.Price = nil, 120 }, nil, "without the bid"},
		{"max price when alone", func(t *testing.T, f *provFixture, a *Award) {
			a.PriceBid, a.Price, a.Ranking.Rule = nil, 1000, PriceHighestWinning
		}, nil, "should pay 120"},
		{"a lone winner paid by another bid", func(t *testing.T, f *provFixture, a *Award) { a.Ranking.Rule = PriceHighestWinning }, nil, "single winner"},
		{"highest winning bid below ours", func(t *testing.T, f *provFixture, a *Award) {
			a.PriceBid, a.Price, a.Ranking.Rule, a.Ranking.Pool = f.otherBid(t, "p2", 100, 50, nil), 120, PriceHighestWinning, 2
		}, nil, "not the highest winning bid"},
		{"unknown rule", func(t *testing.T, f *provFixture, a *Award) { a.Ranking.Rule = "first_price" }, nil, "unknown price rule"},
		{"no rule", func(t *testing.T, f *provFixture, a *Award) { a.Ranking.Rule = "" }, nil, "unknown price rule"},
		{"module swapped", func(t *testing.T, f *provFixture, a *Award) { a.Run.Module.CID = fzInput }, nil, "runs module"},
		{"module size", func(t *testing.T, f *provFixture, a *Award) { a.Run.Module.Size++ }, nil, "runs module"},
		{"more memory", func(t *testing.T, f *provFixture, a *Award) { a.Run.MemoryBytes *= 2 }, nil, "limits differ"},
		{"longer timeout", func(t *testing.T, f *provFixture, a *Award) { a.Run.TimeoutMs++ }, nil, "limits differ"},
		{"bigger stdin", func(t *testing.T, f *provFixture, a *Award) { a.Run.Stdin.Size = 1 << 30 }, nil, "inputs total"},
		{"no stdin", func(t *testing.T, f *provFixture, a *Award) { a.Run.Stdin = nil }, nil, "inputs total"},
		{"extra input", func(t *testing.T, f *provFixture, a *Award) {
			a.Run.Inputs = append(a.Run.Inputs, Input{Name: "more", Blob: Blob{CID: fzInput, Size: 1}})
		}, nil, "inputs total"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newProvFixture(t, nil)
			ours, _ := f.ourBid(t)
			good := f.award(ours, f.otherBid(t, "p2", 200, 50, nil), 200)
			bad := good
			bad.Run.Stdin = &Blob{CID: good.Run.Stdin.CID, Size: good.Run.Stdin.Size}
			c.mut(t, f, &bad)
			_, err := f.p.CheckAward(bad, f.keys)
			if err == nil {
				t.Fatal("accepted")
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %v does not wrap %v", err, c.is)
			}
			if !strings.HasPrefix(err.Error(), "market: ") || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q, want it to mention %q", err, c.msg)
			}
			// A rejected award leaves the bid open for the real one.
			if _, err := f.p.CheckAward(good, f.keys); err != nil {
				t.Fatalf("the honest award after a rejected one: %v", err)
			}
		})
	}
}

// An award of a native job with GPUs names its runtime, CPUs and GPUs;
// the provider takes it only when they are the call's.
func TestProviderCheckAwardNative(t *testing.T) {
	f := newProvFixture(t, nil)
	f.offer.Capabilities = []Capability{RuntimeDocker, "gpu/nvidia/l4"}
	f.offer.Resources = &Resources{CPUs: 4, MemoryBytes: 8 << 30, Arch: "amd64", GPUs: []GPUOffered{{Model: "l4", Count: 2, VRAMMiB: 24 << 10}}}
	f.call.Needs.Capabilities = []Capability{RuntimeDocker}
	f.call.Needs.CPUMilli, f.call.Needs.GPUs = 2000, &GPUs{Count: 2, Model: "l4"}
	f.seal(t)
	ours, bid := f.ourBid(t)
	a := f.award(ours, nil, bid.Price)
	a.Run.Runtime, a.Run.CPUMilli, a.Run.GPUs = RuntimeDocker, 2000, &GPUs{Count: 2, Model: "l4"}
	for _, bad := range []func(*Award){
		func(a *Award) { a.Run.Runtime = "" },
		func(a *Award) { a.Run.Runtime = RuntimeProcess },
		func(a *Award) { a.Run.GPUs = nil },
		func(a *Award) { a.Run.GPUs = &GPUs{Count: 1, Model: "l4"} },
		func(a *Award) { a.Run.CPUMilli = 0 },
	} {
		b := a
		bad(&b)
		if _, err := f.p.CheckAward(b, f.keys); err == nil {
			t.Fatalf("accepted %+v", b.Run)
		}
	}
	if _, err := f.p.CheckAward(a, f.keys); err != nil {
		t.Fatal(err)
	}
}

func TestProviderCheckAwardWithoutBid(t *testing.T) {
	f := newProvFixture(t, nil)
	ours, _ := f.ourBid(t)
	fresh := NewProvider(f.cfg, f.keys.Signer("p1"))
	if _, err := fresh.CheckAward(f.award(ours, nil, 1000), f.keys); err == nil {
		t.Fatal("a provider that never bid accepted an award")
	}
}

// TestProviderAcceptsJobAwards runs random auctions end to end, single runs
// and replica groups, thick and thin: providers answer the Job's call, the
// Job awards, and every winner's CheckAward accepts exactly the price the
// requester computed, while the others refuse it.
func TestProviderAcceptsJobAwards(t *testing.T) {
	r := propRand(t)
	allPeers := []string{"p1", "p2", "p3", "p4", "p5", "p6"}
	awarded := 0
	defer func() {
		if awarded < 100 {
			t.Errorf("only %d of 200 auctions ended in an award: the property was hardly tested", awarded)
		}
	}()
	for i := range 200 {
		keys := canontest.NewKeyring()
		spec := fzSpec()
		spec.ValueOfTime = []int64{0, 1, 50, 10_000, MaxValueOfTime}[r.IntN(5)]
		spec.MaxPrice = []int64{150 + r.Int64N(400), MaxPriceCap}[r.IntN(2)]
		spec.Verify = []string{"none", "replicate:2", "replicate:3"}[r.IntN(3)]
		peers := allPeers[:1+r.IntN(len(allPeers))]
		j := NewJob("job-e2e", spec, DefaultJobConfig("req"), keys.Signer("req"), NeutralReputation{},
			rand.New(rand.NewPCG(uint64(i), 1)), fzNow)
		var cands []Candidate
		offers := map[string]Offer{}
		provs := map[string]*Provider{}
		for _, p := range peers {
			o := fzOffer(p, 50+r.Int64N(100))
			o.Pricing.Surge = r.Float64()
			offers[p] = o
			cfg := DefaultProviderConfig(p)
			cfg.FetchBytesPerSec = []int64{0, 1 << 20, 20 << 20}[r.IntN(3)]
			provs[p] = NewProvider(cfg, keys.Signer(p))
			cands = append(cands, Candidate{Peer: p, Offer: o})
		}
		j.Candidates(fzNow, cands)
		rd := j.Ready()
		if len(rd.Calls) != 1 {
			continue // every quote above the max price: nobody to ask
		}
		var call CallForBids
		if err := rd.Calls[0].Open(keys, KindCall, &call); err != nil {
			t.Fatal(err)
		}
		for _, p := range call.Invitees {
			load := Load{Running: r.IntN(4), Slots: 4}
			env, send, err := provs[p].Answer(fzNow, offers[p], call, rd.Calls[0].CID(), load, prepFor(r.IntN(2) == 0, call.Needs))
			if err != nil || !send {
				t.Fatalf("%s: %v %v", p, send, err)
			}
			switch env.Kind {
			case KindBid:
				var b Bid
				if err := env.Open(keys, KindBid, &b); err != nil {
					t.Fatal(err)
				}
				if err := j.Bid(fzNow, b, env.Encode()); err != nil {
					t.Fatalf("auction %d: the job refused an honest bid: %v", i, err)
				}
			case KindDecline:
				var d Decline
				if err := env.Open(keys, KindDecline, &d); err != nil {
					t.Fatal(err)
				}
				if err := j.Decline(fzNow, d); err != nil {
					t.Fatalf("auction %d: %v", i, err)
				}
			}
		}
		rd = j.Ready()
		if len(rd.Awards) == 0 {
			if j.State() == StateAuction {
				t.Fatalf("auction %d still open after every invitee answered", i)
			}
			continue
		}
		awarded++
		for _, out := range rd.Awards {
			var a Award
			if err := out.Env.Open(keys, KindAward, &a); err != nil {
				t.Fatal(err)
			}
			for _, p := range peers {
				if p == out.To {
					continue
				}
				if _, err := provs[p].CheckAward(a, keys); err == nil {
					t.Fatalf("auction %d: %s accepted the award to %s", i, p, out.To)
				}
			}
			if _, err := provs[out.To].CheckAward(a, keys); err != nil {
				t.Fatalf("auction %d (seed %d): winner %s refused the requester's award at %d: %v", i, *propSeed, out.To, a.Price, err)
			}
		}
	}
}

// prepFor is the preparation of a provider that has everything (cached) or
// must fetch module and inputs but not compile (the executor is not asked).
func prepFor(cached bool, n Needs) Prep {
	if cached {
		return Prep{}
	}
	return Prep{FetchBytes: n.ModuleBytes + n.InputBytes}
}

func TestCommittedStartCoversPreparation(t *testing.T) {
	f := newProvFixture(t, nil)
	cfg := DefaultProviderConfig("p1")
	p := NewProvider(cfg, f.keys.Signer("p1"))
	env, _, err := p.Answer(fzNow, f.offer, f.call, f.callCID, Load{Slots: 4}, Prep{FetchBytes: 2 << 20, PrepareBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	var b Bid
	if err := env.Open(f.keys, KindBid, &b); err != nil {
		t.Fatal(err)
	}
	want := cfg.StartBaseMs + (2<<20)*1000/cfg.FetchBytesPerSec + (4<<20)*1000/cfg.PrepareBytesPerSec
	if b.StartWithinMs != want {
		t.Fatalf("committed start %dms, want %dms (base + fetch + compile)", b.StartWithinMs, want)
	}
}

func TestProviderDeclinesRequesterOverCreditLimit(t *testing.T) {
	f := newProvFixture(t, nil)
	env, send := f.answer(t, Load{Slots: 4, RequesterOwes: 950, CreditLimit: 1000}, true)
	if !send || env.Kind != KindDecline {
		t.Fatalf("want a decline, got %s send=%v", env.Kind, send)
	}
	var d Decline
	if err := env.Open(f.keys, KindDecline, &d); err != nil {
		t.Fatal(err)
	}
	if d.Reason != DeclineRequester || !strings.Contains(d.Detail, "credit limit of 1000") {
		t.Fatalf("decline %s %q: want requester_limit naming the credit limit", d.Reason, d.Detail)
	}
	if env, _ := f.answer(t, Load{Slots: 4, RequesterOwes: 10, CreditLimit: 1000}, true); env.Kind != KindBid {
		t.Fatalf("within the limit: got %s, want a bid", env.Kind)
	}
}
