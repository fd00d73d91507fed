package market

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/internal/canon/canontest"
)

// Fuzz targets for every peer message the market decodes. Each decodes
// arbitrary bytes as an envelope and opens it as its kind; whatever opens
// is fed to the message's consumer (the Job, the Provider, Validate...).
// A fuzzer cannot forge signatures, so a body that decodes strictly but
// does not verify is re-sealed under its sender's key and fed too: the
// consumers meet arbitrary field values, not only the seeds.
//
// Seeds are built below from a deterministic auction (fixed time, canontest
// keys) and committed under testdata/fuzz; rewrite them after a deliberate
// format change with
//
//	go test ./market -run TestWriteFuzzCorpus -gencorpus
//
// Fuzz with a short minimization time: the Job iterates over maps, so its
// coverage varies between runs of one input, and the default 60s spent
// minimizing each "new" input leaves no time to fuzz:
//
//	go test ./market -run '^$' -fuzz '^FuzzOpenBid$' -fuzztime 25s -fuzzminimizetime 1s

var genCorpus = flag.Bool("gencorpus", false, "rewrite the seed corpora under testdata/fuzz")

var (
	fzNow    = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	fzModule = canon.BlobCID([]byte("fuzz module")).String()
	fzInput  = canon.BlobCID([]byte("fuzz input")).String()
)

const (
	fzJobID = "job-fz"
	fzReq   = "req"
	fzFresh = 30 * time.Second
)

// fzIDs verifies any name: keys derive from names, as a libp2p peer ID
// carries its public key, so a message re-sealed under any sender verifies.
type fzIDs struct{ *canontest.Keyring }

func newFzIDs() fzIDs { return fzIDs{canontest.NewKeyring()} }

func (k fzIDs) Verify(id string, msg, sig []byte) error {
	k.Signer(id)
	return k.Keyring.Verify(id, msg, sig)
}

func fzSpec() JobSpec {
	s := JobSpec{
		Module:    Blob{CID: fzModule, Size: 4 << 20},
		Stdin:     &Blob{CID: fzInput, Size: 100},
		Inputs:    []Input{{Name: "data.bin", Blob: Blob{CID: fzInput, Size: 1 << 20}}},
		Args:      []string{"--fast"},
		Env:       map[string]string{"MODE": "fuzz"},
		TimeoutMs: 2000, MaxPrice: 1000, ValueOfTime: 3,
	}
	s.Defaults()
	return s
}

func fzOffer(peer string, base int64) Offer {
	return Offer{
		Provider: peer, Seq: 1, Capabilities: []Capability{RuntimeWasm},
		Pricing: Pricing{Base: base, PerSecond: 10, Surge: 0.5},
		Limits: Limits{MaxMemoryBytes: 1 << 30, MaxTimeoutMs: 60_000, MaxModuleBytes: 64 << 20,
			MaxInputBytes: 64 << 20, MaxOutputBytes: 64 << 20, Slots: 4},
		Version: "fuzz", Created: fzNow.Add(-time.Minute).UnixMilli(), Expires: fzNow.Add(time.Hour).UnixMilli(),
	}
}

// fzWorld is an auction for fzSpec among p1, p2 and p3. p1 is a Provider
// that has answered the call with a bid, not yet fed to the job.
type fzWorld struct {
	ids     fzIDs
	job     *Job
	callEnv canon.Envelope
	call    CallForBids
	callCID string
	p1      *Provider
	p1Bid   canon.Envelope
}

func newFzWorld(t testing.TB) *fzWorld { return newFzWorldIDs(t, newFzIDs()) }

func newFzWorldIDs(t testing.TB, ids fzIDs) *fzWorld {
	t.Helper()
	j := NewJob(fzJobID, fzSpec(), DefaultJobConfig(fzReq), ids.Signer(fzReq), NeutralReputation{},
		rand.New(rand.NewPCG(1, 2)), fzNow)
	j.Candidates(fzNow, []Candidate{{Peer: "p1", Offer: fzOffer("p1", 100)}, {Peer: "p2", Offer: fzOffer("p2", 200)}, {Peer: "p3", Offer: fzOffer("p3", 300)}})
	rd := j.Ready()
	if len(rd.Calls) != 1 {
		t.Fatalf("world: %d calls", len(rd.Calls))
	}
	w := &fzWorld{ids: ids, job: j, callEnv: rd.Calls[0], callCID: rd.Calls[0].CID()}
	if err := w.callEnv.Open(ids, KindCall, &w.call); err != nil {
		t.Fatal(err)
	}
	w.p1 = NewProvider(DefaultProviderConfig("p1"), ids.Signer("p1"))
	env, send, err := w.p1.Answer(fzNow, fzOffer("p1", 100), w.call, w.callCID, Load{Slots: 4}, prepFor(false, w.call.Needs))
	if err != nil || !send || env.Kind != KindBid {
		t.Fatalf("world: p1 answered %v %v %v", env.Kind, send, err)
	}
	w.p1Bid = env
	return w
}

func (w *fzWorld) bid(provider string, price, startMs int64) Bid {
	return Bid{Job: fzJobID, Attempt: 1, Call: w.callCID, Provider: provider, Requester: fzReq,
		Price: price, StartWithinMs: startMs, Created: fzNow.UnixMilli()}
}

func (w *fzWorld) decline(provider string, r DeclineReason) Decline {
	return Decline{Job: fzJobID, Attempt: 1, Call: w.callCID, Provider: provider, Requester: fzReq,
		Reason: r, Detail: "seed", Created: fzNow.UnixMilli()}
}

// p2Bid is the runner-up's bid: dearer than p1's and slower to start.
func (w *fzWorld) p2Bid(t testing.TB) canon.Envelope {
	return fzSeal(t, w.ids, KindBid, w.bid("p2", 250, 800))
}

// withCompetitor feeds p2's bid: the auction stays open for p1 and p3.
func (w *fzWorld) withCompetitor(t testing.TB) *fzWorld {
	t.Helper()
	env := w.p2Bid(t)
	if err := w.job.Bid(fzNow, w.bid("p2", 250, 800), env.Encode()); err != nil {
		t.Fatalf("world: %v", err)
	}
	w.job.Ready()
	return w
}

// awarded closes the auction: p1 and p2 bid, p3 declines; p1 wins.
func (w *fzWorld) awarded(t testing.TB) canon.Envelope {
	t.Helper()
	w.withCompetitor(t)
	var b Bid
	if err := w.p1Bid.Open(w.ids, KindBid, &b); err != nil {
		t.Fatal(err)
	}
	if err := w.job.Bid(fzNow, b, w.p1Bid.Encode()); err != nil {
		t.Fatalf("world: %v", err)
	}
	if err := w.job.Decline(fzNow, w.decline("p3", DeclineBusy)); err != nil {
		t.Fatalf("world: %v", err)
	}
	rd := w.job.Ready()
	if len(rd.Awards) != 1 || rd.Awards[0].To != "p1" {
		t.Fatalf("world: awards %+v", rd.Awards)
	}
	return rd.Awards[0].Env
}

// running acknowledges the award: the job waits for p1's result.
func (w *fzWorld) running(t testing.TB) canon.Envelope {
	t.Helper()
	award := w.awarded(t)
	if err := w.job.Ack(fzNow, w.ack(award.CID(), true)); err != nil {
		t.Fatalf("world: %v", err)
	}
	w.job.Ready()
	return award
}

func (w *fzWorld) ack(awardCID string, accept bool) Ack {
	a := Ack{Job: fzJobID, Attempt: 1, Award: awardCID, Provider: "p1", Requester: fzReq, Accept: accept, Created: fzNow.UnixMilli()}
	if !accept {
		a.Reason = "busy"
	}
	return a
}

func (w *fzWorld) result(awardCID string, s Status) Result {
	return Result{Job: fzJobID, Attempt: 1, Award: awardCID, Provider: "p1", Requester: fzReq, Status: s,
		Stdout:  Stream{Blob: Blob{CID: fzInput, Size: 10}},
		Stderr:  Stream{Blob: Blob{CID: fzInput, Size: 0}, Truncated: true},
		Outputs: []Output{{Name: "out.txt", Blob: Blob{CID: fzModule, Size: 5}}},
		Usage:   Usage{WallUs: 1500, MemoryBytes: 1 << 20}, StartedAfterMs: 40, StartHeld: true, Created: fzNow.UnixMilli()}
}

func fzSeal(t testing.TB, ids fzIDs, kind string, m canon.Message) canon.Envelope {
	t.Helper()
	env, err := canon.Seal(ids.Signer(m.Sender()), kind, m)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// fzOpen decodes data as an envelope and opens it as kind. ok reports
// whether there is a message for the consumer: data itself opened (then
// tampering with it must make it fail), or its body decoded strictly and
// was re-sealed under its sender's key. raw is the signed envelope as the
// consumer receives it.
func fzOpen[M any, PM interface {
	*M
	canon.Message
}](t *testing.T, ids fzIDs, data []byte, kind string) (m M, raw []byte, ok bool) {
	env, err := canon.DecodeEnvelope(data)
	if err != nil {
		return m, nil, false
	}
	if !bytes.Equal(env.Encode(), data) {
		t.Fatalf("accepted a non-canonical envelope %x", data)
	}
	if err := env.Open(ids, kind, PM(&m)); err == nil {
		fzCheckTamper[M, PM](t, ids, env, kind)
		return m, data, true
	}
	if env.Kind != kind {
		return m, nil, false
	}
	m = *new(M)
	if err := canon.Unmarshal(env.Body, PM(&m)); err != nil || PM(&m).Sender() == "" {
		return m, nil, false
	}
	re, err := canon.Seal(ids.Signer(PM(&m).Sender()), kind, PM(&m))
	if err != nil {
		t.Fatalf("cannot re-seal a decoded %s: %v", kind, err)
	}
	if !bytes.Equal(re.Body, env.Body) {
		t.Fatalf("decoded %s re-encodes differently:\n in: %x\nout: %x", kind, env.Body, re.Body)
	}
	var back M
	if err := re.Open(ids, kind, PM(&back)); err != nil {
		t.Fatalf("re-sealed %s does not open: %v", kind, err)
	}
	return m, re.Encode(), true
}

func fzCheckTamper[M any, PM interface {
	*M
	canon.Message
}](t *testing.T, ids fzIDs, env canon.Envelope, kind string) {
	var m M
	if err := env.Open(ids, kind+"x", PM(&m)); !errors.Is(err, canon.ErrWrongKind) {
		t.Fatalf("%s opened as another kind: %v", kind, err)
	}
	relabelled := env
	relabelled.Kind = kind + "x"
	if err := relabelled.Open(ids, kind+"x", PM(&m)); !errors.Is(err, canon.ErrBadSignature) {
		t.Fatalf("%s signature passed as another kind: %v", kind, err)
	}
	bad := env
	bad.Sig = bytes.Clone(env.Sig)
	bad.Sig[len(bad.Sig)/2] ^= 0x80
	if err := bad.Open(ids, kind, PM(&m)); !errors.Is(err, canon.ErrBadSignature) {
		t.Fatalf("%s with a flipped signature byte opened: %v", kind, err)
	}
}

func FuzzOpenCall(f *testing.F) {
	fzAddSeeds(f, "FuzzOpenCall")
	f.Fuzz(func(t *testing.T, data []byte) {
		ids := newFzIDs()
		call, raw, ok := fzOpen[CallForBids](t, ids, data, KindCall)
		if !ok {
			return
		}
		env, _ := canon.DecodeEnvelope(raw)
		callCID := env.CID()
		_ = Fresh(call.Created, fzNow, fzFresh)
		native := fzOffer("p1", 100)
		native.Capabilities = []Capability{RuntimeWasm, RuntimeProcess, RuntimeDocker, "gpu/nvidia/a100-sxm4-80gb"}
		native.Resources = &Resources{CPUs: 8, MemoryBytes: 64 << 30, Arch: "amd64", GPUs: []GPUOffered{{Model: "a100-sxm4-80gb", Count: 2, VRAMMiB: 80 << 10}}}
		native.Limits.MaxMemoryBytes = 64 << 30
		for _, c := range []struct {
			unasked bool
			load    Load
			cached  bool
			offer   Offer
		}{{false, Load{Running: 0, Slots: 4}, false, fzOffer("p1", 100)}, {true, Load{Running: 3, Slots: 4}, true, fzOffer("p1", 100)},
			{false, Load{Running: 4, Slots: 4}, false, fzOffer("p1", 100)}, {false, Load{Running: 0, Slots: 4}, false, native},
			{false, Load{Running: 1, Slots: 4, GPUsBusy: true}, true, native}} {
			offer := c.offer
			cfg := DefaultProviderConfig("p1")
			cfg.BidUnasked = c.unasked
			p := NewProvider(cfg, ids.Signer("p1"))
			env, send, err := p.Answer(fzNow, offer, call, callCID, c.load, prepFor(c.cached, call.Needs))
			fzCheckAnswer(t, ids, p, cfg, offer, call, callCID, c.load, env, send, err)
		}
	})
}

// fzCheckAnswer checks a provider's answer to a call against the rules of
// Provider.Answer.
func fzCheckAnswer(t *testing.T, ids fzIDs, p *Provider, cfg ProviderConfig, offer Offer, call CallForBids, callCID string,
	load Load, env canon.Envelope, send bool, err error) {
	t.Helper()
	invited := call.Invited(cfg.Self)
	fit, _ := offer.Fits(call.Needs)
	switch {
	case err != nil:
		t.Fatalf("answer: %v", err)
	case !send && invited:
		t.Fatalf("invited but silent")
	case !send:
		if p.Outstanding() != 0 {
			t.Fatalf("silent, yet a bid is booked")
		}
		return
	case !invited && !cfg.BidUnasked:
		t.Fatalf("answered a call that does not invite us")
	}
	switch env.Kind {
	case KindBid:
		var b Bid
		if err := env.Open(ids, KindBid, &b); err != nil {
			t.Fatalf("own bid does not open: %v", err)
		}
		if b.Job != call.Job || b.Attempt != call.Attempt || b.Call != callCID || b.Provider != cfg.Self ||
			b.Requester != call.Requester || b.Created != fzNow.UnixMilli() {
			t.Fatalf("bid %+v does not answer call %+v", b, call)
		}
		if fit != "" || load.Running >= load.Slots || load.GPUsBusy && call.Needs.GPUs != nil {
			t.Fatalf("bid although %q / load %+v", fit, load)
		}
		q, qerr := offer.Pricing.Quote(call.Needs)
		if b.Price < 1 || b.Price > call.Needs.MaxPrice || qerr != nil || b.Price < q {
			t.Fatalf("bid price %d: quote %d (%v), max %d", b.Price, q, qerr, call.Needs.MaxPrice)
		}
		if b.Load > 1000 {
			t.Fatalf("load %d permille", b.Load)
		}
		if call.Needs.ModuleBytes >= 0 && call.Needs.InputBytes >= 0 && b.StartWithinMs < cfg.StartBaseMs {
			t.Fatalf("committed start %dms below the base %dms", b.StartWithinMs, cfg.StartBaseMs)
		}
		if p.Outstanding() != 1 {
			t.Fatalf("%d bids booked", p.Outstanding())
		}
	case KindDecline:
		var d Decline
		if err := env.Open(ids, KindDecline, &d); err != nil {
			t.Fatalf("own decline does not open: %v", err)
		}
		if !invited {
			t.Fatalf("declined a call that does not invite us")
		}
		if d.Job != call.Job || d.Attempt != call.Attempt || d.Call != callCID || d.Provider != cfg.Self || d.Requester != call.Requester {
			t.Fatalf("decline %+v does not answer call %+v", d, call)
		}
		switch d.Reason {
		case DeclinePrice:
			// Either the unloaded quote is above the max price, or the
			// price at the current load is.
			bid, berr := offer.Pricing.Bid(call.Needs, load.fraction())
			if fit != DeclinePrice && (fit != "" || load.Running >= load.Slots || load.GPUsBusy && call.Needs.GPUs != nil ||
				berr == nil && bid <= call.Needs.MaxPrice) {
				t.Fatalf("declined on price: fit %q, load %+v", fit, load)
			}
		case DeclineCapability, DeclineRuntime, DeclineNoGPU, DeclineGPUModel, DeclineVRAM, DeclineTooLarge, DeclineWithdrawn:
			if d.Reason != fit {
				t.Fatalf("declined %s, offer says %q", d.Reason, fit)
			}
		case DeclineBusy:
			if fit != "" || load.Running < load.Slots && !(load.GPUsBusy && call.Needs.GPUs != nil) {
				t.Fatalf("busy at %+v, fit %q", load, fit)
			}
		default:
			t.Fatalf("decline reason %q", d.Reason)
		}
		if p.Outstanding() != 0 {
			t.Fatalf("declined, yet a bid is booked")
		}
	default:
		t.Fatalf("answered with a %q", env.Kind)
	}
}

func FuzzOpenBid(f *testing.F) {
	fzAddSeeds(f, "FuzzOpenBid")
	f.Fuzz(func(t *testing.T, data []byte) {
		ids := newFzIDs()
		b, raw, ok := fzOpen[Bid](t, ids, data, KindBid)
		if !ok {
			return
		}
		w := newFzWorldIDs(t, ids).withCompetitor(t)
		err := w.job.Bid(fzNow, b, raw)
		if err == nil && (b.Price <= 0 || b.Price > w.job.Spec().MaxPrice || b.StartWithinMs < 0 || b.Call != w.callCID) {
			t.Fatalf("job took bid %+v", b)
		}
		fzDrive(t, w)
	})
}

func FuzzOpenDecline(f *testing.F) {
	fzAddSeeds(f, "FuzzOpenDecline")
	f.Fuzz(func(t *testing.T, data []byte) {
		ids := newFzIDs()
		d, _, ok := fzOpen[Decline](t, ids, data, KindDecline)
		if !ok {
			return
		}
		w := newFzWorldIDs(t, ids).withCompetitor(t)
		if err := w.job.Decline(fzNow, d); err == nil && (d.Call != w.callCID || d.Requester != fzReq) {
			t.Fatalf("job took decline %+v", d)
		}
		fzDrive(t, w)
	})
}

// fzDrive closes the auction if it is still open and checks every award:
// the winner ranks first and is paid the generalised second price.
func fzDrive(t *testing.T, w *fzWorld) {
	t.Helper()
	rd := w.job.Ready()
	if w.job.State() == StateAuction {
		w.job.Tick(w.job.NextTimer())
		rd = w.job.Ready()
	}
	spec := w.job.Spec()
	vot := spec.ValueOfTime
	for _, o := range rd.Awards {
		var a Award
		if err := o.Env.Open(w.ids, KindAward, &a); err != nil {
			t.Fatalf("award does not open: %v", err)
		}
		var wb Bid
		if env, err := canon.DecodeEnvelope(a.WinningBid); err != nil || env.Open(w.ids, KindBid, &wb) != nil {
			t.Fatalf("award's winning bid does not open")
		}
		if wb.Provider != o.To || a.Provider != o.To {
			t.Fatalf("award to %s carries %s's bid", o.To, wb.Provider)
		}
		score := func(price, start int64) int64 {
			s, err := Score(price, start, vot)
			if err != nil {
				t.Fatalf("a bid the job took cannot be scored: %v", err)
			}
			return s
		}
		ws := score(wb.Price, wb.StartWithinMs)
		for _, r := range w.job.Attempts()[0].Bids {
			if s := score(r.Bid.Price, r.Bid.StartWithinMs); s < ws {
				t.Fatalf("winner scored %d, %s scored %d", ws, r.Bid.Provider, s)
			}
		}
		if a.Price < wb.Price || a.Price > spec.MaxPrice {
			t.Fatalf("paid %d for a bid of %d, max %d", a.Price, wb.Price, spec.MaxPrice)
		}
		var rb Bid
		if len(a.PriceBid) > 0 {
			if env, err := canon.DecodeEnvelope(a.PriceBid); err != nil || env.Open(w.ids, KindBid, &rb) != nil {
				t.Fatalf("award's price-setting bid does not open")
			}
		}
		switch a.Ranking.Rule {
		case PriceHighestWinning:
			// One winner: no other bid ranked, and it is paid its own.
			if len(a.PriceBid) > 0 || a.Price != wb.Price || a.Ranking.Bids != 1 {
				t.Fatalf("alone among %d bids, paid %d for a bid of %d", a.Ranking.Bids, a.Price, wb.Price)
			}
		case PriceSecond:
			rs := score(rb.Price, rb.StartWithinMs)
			if len(a.PriceBid) == 0 || score(a.Price, wb.StartWithinMs) > rs || a.Price < spec.MaxPrice && score(a.Price+1, wb.StartWithinMs) <= rs {
				t.Fatalf("price %d is not the second price against %d", a.Price, rs)
			}
		default:
			t.Fatalf("price rule %q", a.Ranking.Rule)
		}
		if a.Run.Module != spec.Module || a.Run.MemoryBytes != spec.MemoryBytes || runInputBytes(a.Run) != spec.InputBytes() {
			t.Fatalf("award runs %+v, spec is %+v", a.Run, spec)
		}
	}
}

func FuzzOpenAward(f *testing.F) {
	fzAddSeeds(f, "FuzzOpenAward")
	f.Fuzz(func(t *testing.T, data []byte) {
		ids := newFzIDs()
		a, _, ok := fzOpen[Award](t, ids, data, KindAward)
		if !ok {
			return
		}
		w := newFzWorldIDs(t, ids)
		_ = Fresh(a.Created, fzNow, fzFresh)
		bid, err := w.p1.CheckAward(a, w.ids)
		if err != nil {
			if w.p1.Outstanding() != 1 {
				t.Fatalf("a rejected award consumed the bid")
			}
			return
		}
		var own Bid
		if err := w.p1Bid.Open(w.ids, KindBid, &own); err != nil || bid != own {
			t.Fatalf("accepted an award for %+v, our bid is %+v", bid, own)
		}
		needs := w.call.Needs
		if a.Price < own.Price || a.Price > needs.MaxPrice {
			t.Fatalf("accepted price %d for a bid of %d, max %d", a.Price, own.Price, needs.MaxPrice)
		}
		if a.Run.Module.CID != needs.Module || a.Run.MemoryBytes != needs.MemoryBytes || a.Run.TimeoutMs != needs.TimeoutMs {
			t.Fatalf("accepted a bait and switch: %+v for %+v", a.Run, needs)
		}
		if _, err := w.p1.CheckAward(a, w.ids); err == nil {
			t.Fatalf("the same award was accepted twice")
		}
	})
}

func FuzzOpenAck(f *testing.F) {
	fzAddSeeds(f, "FuzzOpenAck")
	f.Fuzz(func(t *testing.T, data []byte) {
		ids := newFzIDs()
		a, _, ok := fzOpen[Ack](t, ids, data, KindAck)
		if !ok {
			return
		}
		w := newFzWorldIDs(t, ids)
		award := w.awarded(t)
		err := w.job.Ack(fzNow, a)
		rd := w.job.Ready()
		switch {
		case err != nil:
			if w.job.State() != StateAwarded {
				t.Fatalf("rejected ack moved the job to %s", w.job.State())
			}
		case a.Award != award.CID() || a.Provider != "p1":
			t.Fatalf("took ack %+v for award %s", a, award.CID())
		case a.Accept && w.job.State() != StateRunning:
			t.Fatalf("accepted, job %s", w.job.State())
		case !a.Accept && (w.job.State() != StatePending || !rd.Discover || len(rd.Cancels) != 1):
			t.Fatalf("refused, job %s, ready %+v", w.job.State(), rd)
		}
		w.job.Tick(w.job.NextTimer())
	})
}

func FuzzOpenResult(f *testing.F) {
	fzAddSeeds(f, "FuzzOpenResult")
	f.Fuzz(func(t *testing.T, data []byte) {
		ids := newFzIDs()
		r, raw, ok := fzOpen[Result](t, ids, data, KindResult)
		if !ok {
			return
		}
		w := newFzWorldIDs(t, ids)
		award := w.running(t)
		_ = r.Blobs()
		err := w.job.Result(fzNow, r, raw)
		rd := w.job.Ready()
		switch {
		case err != nil:
			if w.job.State() != StateRunning || rd.Done != nil {
				t.Fatalf("rejected result moved the job to %s", w.job.State())
			}
		case r.Award != award.CID() || r.Provider != "p1" || !r.Status.Known():
			t.Fatalf("took result %+v", r)
		case r.Status.ProviderFault():
			if w.job.State() != StatePending || len(rd.Cancels) != 1 {
				t.Fatalf("provider fault left the job %s", w.job.State())
			}
		default:
			if rd.Done == nil || rd.Done.State != StateCompleted || !bytes.Equal(rd.Done.ResultEnv, raw) || rd.Done.Provider != "p1" {
				t.Fatalf("result did not complete the job: %+v", rd.Done)
			}
		}
	})
}

func FuzzOpenCancel(f *testing.F) {
	fzAddSeeds(f, "FuzzOpenCancel")
	f.Fuzz(func(t *testing.T, data []byte) {
		c, _, ok := fzOpen[Cancel](t, newFzIDs(), data, KindCancel)
		if !ok {
			return
		}
		// The node looks the run up by these and compares award CIDs;
		// the market only judges freshness.
		_ = Fresh(c.Created, fzNow, fzFresh)
	})
}

func FuzzOpenDataRequest(f *testing.F) {
	fzAddSeeds(f, "FuzzOpenDataRequest")
	f.Fuzz(func(t *testing.T, data []byte) {
		r, _, ok := fzOpen[DataRequest](t, newFzIDs(), data, KindData)
		if !ok {
			return
		}
		_ = Fresh(r.Created, fzNow, fzFresh)
		if c, err := canon.ParseBlobCID(r.CID); err == nil && canon.CheckBlobCID(c) != nil {
			t.Fatalf("parsed %q but it is no blob CID", r.CID)
		}
	})
}

func FuzzOpenOffer(f *testing.F) {
	fzAddSeeds(f, "FuzzOpenOffer")
	f.Fuzz(func(t *testing.T, data []byte) {
		ids := newFzIDs()
		o, _, ok := fzOpen[Offer](t, ids, data, KindOffer)
		if !ok {
			return
		}
		verr := o.Validate(fzNow)
		spec := fzSpec()
		needs := spec.Needs()
		fit, _ := o.Fits(needs)
		q, qerr := o.Pricing.Quote(needs)
		if qerr == nil && q < 1 || qerr != nil && !errors.Is(qerr, ErrOverflow) {
			t.Fatalf("quote %d, %v", q, qerr)
		}
		if verr == nil && !o.Withdrawn && qerr == nil {
			// Bids grow with load, from the quote, until they no longer fit.
			prev := q
			for _, load := range []float64{0, 0.5, 1} {
				b, err := o.Pricing.Bid(needs, load)
				if err != nil {
					if !errors.Is(err, ErrOverflow) {
						t.Fatalf("bid at load %v: %v", load, err)
					}
					break
				}
				if b < prev {
					t.Fatalf("bid %d at load %v below %d", b, load, prev)
				}
				prev = b
			}
		}
		// The requester's consumer: discovery hands validated offers to
		// the job; anything else must not panic it either.
		j := NewJob(fzJobID, fzSpec(), DefaultJobConfig(fzReq), ids.Signer(fzReq), NeutralReputation{},
			rand.New(rand.NewPCG(1, 2)), fzNow)
		j.Candidates(fzNow, []Candidate{{Peer: o.Provider, Offer: o}})
		rd := j.Ready()
		if verr == nil && fit == "" && o.Provider != fzReq {
			if len(rd.Calls) != 1 || j.State() != StateAuction {
				t.Fatalf("a fitting offer from %s opened no auction: %+v", o.Provider, rd)
			}
		} else if fit != "" && rd.Done == nil {
			t.Fatalf("an offer that does not fit (%s) did not fail the job", fit)
		}
	})
}

// fzSeeds builds the seeds of one target, named, from the deterministic
// world.
func fzSeeds(t testing.TB, target string) []fzNamed {
	ids := newFzIDs()
	seal := func(kind string, m canon.Message) []byte { return fzSeal(t, ids, kind, m).Encode() }
	w := newFzWorld(t)
	var out []fzNamed
	add := func(name string, b []byte) { out = append(out, fzNamed{name, b}) }
	switch target {
	case "FuzzOpenCall":
		add("call", w.callEnv.Encode())
		c := w.call
		c.Invitees = []string{"p2", "p3"}
		add("call-not-invited", seal(KindCall, c))
		c = w.call
		c.Needs.MemoryBytes = 8 << 30
		add("call-too-large", seal(KindCall, c))
		c = w.call
		c.Needs.Capabilities = append(c.Needs.Capabilities, "gpu/nvidia/h100")
		add("call-gpu", seal(KindCall, c))
		c = w.call
		c.Needs.Capabilities = []Capability{RuntimeDocker}
		c.Needs.MemoryBytes, c.Needs.CPUMilli, c.Needs.GPUs = 64<<30, 4000, &GPUs{Count: 2, Model: "a100", MinVRAMMiB: 40 << 10}
		add("call-docker-gpus", seal(KindCall, c))
		c = w.call
		c.Needs.Capabilities = []Capability{RuntimeProcess}
		c.Needs.MemoryBytes, c.Needs.CPUMilli, c.Needs.GPUs = 1<<41, -1, &GPUs{Count: 0, Model: "A/B", MinVRAMMiB: -1}
		add("call-native-out-of-range", seal(KindCall, c))
		c = w.call
		c.Needs.MaxPrice = 121
		add("call-price-at-quote", seal(KindCall, c))
		c = w.call
		c.Needs.ModuleBytes, c.Needs.InputBytes = -1<<40, -1
		add("call-negative-sizes", seal(KindCall, c))
		c = w.call
		c.WindowMs = 1 << 62
		add("call-endless-window", seal(KindCall, c))
		c = w.call
		c.Requester = ""
		add("call-no-sender", seal(KindCall, c))
		add("call-as-bid", fzRelabel(w.callEnv, KindBid))
	case "FuzzOpenBid":
		add("bid-p1", w.p1Bid.Encode())
		add("bid-p2-again", w.p2Bid(t).Encode())
		for name, mut := range map[string]func(*Bid){
			"free":           func(b *Bid) { b.Price = 0 },
			"above-max":      func(b *Bid) { b.Price = 1001 },
			"at-max":         func(b *Bid) { b.Price = 1000 },
			"tie":            func(b *Bid) { b.Price, b.StartWithinMs = 250, 800 },
			"negative-start": func(b *Bid) { b.StartWithinMs = -1 },
			"slow-start":     func(b *Bid) { b.StartWithinMs = 2 * time.Hour.Milliseconds() },
			"stale-call":     func(b *Bid) { b.Call = canon.DocCID([]byte("old")).String() },
			"other-attempt":  func(b *Bid) { b.Attempt = 2 },
			"other-job":      func(b *Bid) { b.Job = "job-other" },
			"other-req":      func(b *Bid) { b.Requester = "p2" },
			"from-self":      func(b *Bid) { b.Provider = fzReq },
			"unasked":        func(b *Bid) { b.Provider = "p9" },
		} {
			b := w.bid("p1", 120, 300)
			mut(&b)
			add("bid-"+name, seal(KindBid, b))
		}
		add("bid-as-decline", fzRelabel(w.p1Bid, KindDecline))
		add("bid-flipped-sig", fzFlipSig(w.p1Bid))
	case "FuzzOpenDecline":
		for _, r := range []DeclineReason{DeclineBusy, DeclineCapability, DeclinePrice, DeclineTooLarge, DeclineWithdrawn, DeclineRequester} {
			add("decline-p1-"+string(r), seal(KindDecline, w.decline("p1", r)))
		}
		add("decline-p2-again", seal(KindDecline, w.decline("p2", DeclineBusy)))
		d := w.decline("p1", DeclineBusy)
		d.Call = "bafy-stale"
		add("decline-stale-call", seal(KindDecline, d))
		d = w.decline("p1", DeclineBusy)
		d.Attempt = 0
		add("decline-attempt-0", seal(KindDecline, d))
	case "FuzzOpenAward":
		award := newFzWorld(t).awarded(t)
		add("award", award.Encode())
		var a Award
		if err := award.Open(ids, KindAward, &a); err != nil {
			t.Fatal(err)
		}
		var own Bid
		if err := w.p1Bid.Open(ids, KindBid, &own); err != nil {
			t.Fatal(err)
		}
		alone := a
		alone.PriceBid, alone.Price, alone.Ranking.Rule = nil, own.Price, PriceHighestWinning
		alone.Ranking.RunnerUpScore, alone.Ranking.Bids, alone.Ranking.Pool = 0, 1, 1
		add("award-alone", seal(KindAward, alone))
		maxed := alone
		maxed.Price = 1000
		add("award-alone-max-price", seal(KindAward, maxed))
		thin := alone
		thin.Ranking.Replicas, thin.Ranking.Pool = 2, 2
		thin.PriceBid, thin.Price = seal(KindBid, w.bid("p2", 250, 800)), 250
		add("award-replicas-highest-winning", seal(KindAward, thin))
		for name, mut := range map[string]func(*Award){
			"price-plus-one":  func(a *Award) { a.Price++ },
			"price-minus-one": func(a *Award) { a.Price-- },
			"for-p2":          func(a *Award) { a.Provider = "p2" },
			"attempt-2":       func(a *Award) { a.Attempt = 2 },
			"runner-up-forged": func(a *Award) {
				env, _ := canon.DecodeEnvelope(a.PriceBid)
				a.PriceBid = fzFlipSig(env)
			},
			"runner-up-ourselves": func(a *Award) { a.PriceBid = w.p1Bid.Encode() },
			"runner-up-cheaper":   func(a *Award) { a.PriceBid, a.Price = seal(KindBid, w.bid("p2", 100, 50)), 100 },
			"rule-unknown":        func(a *Award) { a.Ranking.Rule = "first_price" },
			"rule-highest-alone":  func(a *Award) { a.Ranking.Rule = PriceHighestWinning },
			"winning-bid-p2":      func(a *Award) { a.WinningBid = w.p2Bid(t).Encode() },
			"module-swapped":      func(a *Award) { a.Run.Module.CID = fzInput },
			"memory-doubled":      func(a *Award) { a.Run.MemoryBytes *= 2 },
			"inputs-grown":        func(a *Award) { a.Run.Stdin = &Blob{CID: fzInput, Size: 1 << 30} },
		} {
			b := a
			mut(&b)
			add("award-"+name, seal(KindAward, b))
		}
	case "FuzzOpenAck":
		award := newFzWorld(t).awarded(t)
		add("ack-accept", seal(KindAck, w.ack(award.CID(), true)))
		add("ack-refuse", seal(KindAck, w.ack(award.CID(), false)))
		add("ack-other-award", seal(KindAck, w.ack(w.callCID, true)))
		a := w.ack(award.CID(), true)
		a.Provider = "p2"
		add("ack-from-p2", seal(KindAck, a))
	case "FuzzOpenResult":
		award := newFzWorld(t).awarded(t).CID()
		for _, s := range []Status{StatusOK, StatusExit, StatusTrap, StatusOutputLimit, StatusFetchFailed, StatusInternal, "weird"} {
			add("result-"+string(s), seal(KindResult, w.result(award, s)))
		}
		r := w.result(w.callCID, StatusOK)
		add("result-other-award", seal(KindResult, r))
		r = w.result(award, StatusOK)
		r.Provider = "p2"
		add("result-from-p2", seal(KindResult, r))
	case "FuzzOpenCancel":
		award := newFzWorld(t).awarded(t).CID()
		c := seal(KindCancel, Cancel{Job: fzJobID, Attempt: 1, Award: award, Requester: fzReq, Created: fzNow.UnixMilli()})
		add("cancel", c)
		env, _ := canon.DecodeEnvelope(c)
		add("cancel-flipped-sig", fzFlipSig(env))
		add("cancel-from-the-future", seal(KindCancel, Cancel{Job: fzJobID, Attempt: 1, Award: award, Requester: fzReq, Created: 1 << 62}))
	case "FuzzOpenDataRequest":
		add("data", seal(KindData, DataRequest{Job: fzJobID, From: "p1", CID: fzModule, Offset: 0, Created: fzNow.UnixMilli()}))
		add("data-resume", seal(KindData, DataRequest{Job: fzJobID, From: "p1", CID: fzInput, Offset: 1 << 19, Created: fzNow.UnixMilli()}))
		add("data-bad-cid", seal(KindData, DataRequest{Job: fzJobID, From: "p1", CID: w.callCID, Offset: -1, Created: fzNow.UnixMilli()}))
	case "FuzzOpenOffer":
		add("offer", seal(KindOffer, fzOffer("p1", 100)))
		o := fzOffer("p1", 100)
		o.Capabilities = []Capability{RuntimeWasm, RuntimeProcess, RuntimeDocker, "gpu/nvidia/h100"}
		o.Resources = &Resources{CPUs: 32, MemoryBytes: 256 << 30, Arch: "amd64", GPUs: []GPUOffered{{Model: "h100", Count: 8, VRAMMiB: 80 << 10}}}
		add("offer-resources", seal(KindOffer, o))
		o.Resources = &Resources{CPUs: 1, MemoryBytes: 1 << 20, Arch: "amd64"}
		add("offer-small-machine", seal(KindOffer, o))
		o = fzOffer("p1", 100)
		o.Withdrawn, o.Capabilities, o.Pricing, o.Limits = true, nil, Pricing{}, Limits{}
		add("offer-withdrawn", seal(KindOffer, o))
		o = fzOffer("p1", 100)
		o.Expires = fzNow.UnixMilli()
		add("offer-expired", seal(KindOffer, o))
		o = fzOffer("p1", 1<<62)
		o.Pricing.Surge = 100
		add("offer-dear", seal(KindOffer, o))
		o = fzOffer("p1", 0)
		o.Pricing = Pricing{PerGiBSecond: 1 << 40, Surge: 0.001}
		add("offer-per-gib", seal(KindOffer, o))
		o = fzOffer("p1", 100)
		o.Limits.MaxTimeoutMs = 1000
		add("offer-short-timeout", seal(KindOffer, o))
		o = fzOffer(fzReq, 100)
		add("offer-from-requester", seal(KindOffer, o))
		o = fzOffer("p1", -5)
		o.Capabilities = []Capability{"GPU"}
		add("offer-invalid", seal(KindOffer, o))
	case "FuzzOpenQuote", "FuzzOpenQuoteAnswer":
		return fzQuoteSeeds(t, target, ids, w)
	case "FuzzJobSpec":
		for _, s := range fzSpecSeeds() {
			out = append(out, fzNamed{s.name, fzCorpusFile(s.args.values()...)})
		}
		return out
	default:
		t.Fatalf("no seeds for %s", target)
	}
	return out
}

type fzNamed struct {
	name string
	data []byte
}

func fzRelabel(env canon.Envelope, kind string) []byte {
	env.Kind = kind
	return env.Encode()
}

func fzFlipSig(env canon.Envelope) []byte {
	env.Sig = bytes.Clone(env.Sig)
	env.Sig[0] ^= 0x01
	return env.Encode()
}

func fzAddSeeds(f *testing.F, target string) {
	for _, s := range fzSeeds(f, target) {
		f.Add(s.data)
	}
}

// fzCorpusFile encodes values in the format of testdata/fuzz files.
func fzCorpusFile(vals ...any) []byte {
	var b bytes.Buffer
	b.WriteString("go test fuzz v1\n")
	for _, v := range vals {
		switch v := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		case string:
			fmt.Fprintf(&b, "string(%q)\n", v)
		case int64, uint16, bool, float64:
			fmt.Fprintf(&b, "%T(%v)\n", v, v)
		default:
			panic(fmt.Sprintf("fzCorpusFile: %T", v))
		}
	}
	return b.Bytes()
}

// TestWriteFuzzCorpus writes the seeds as committed corpus files, so plain
// `go test` replays them even after the builders above change.
func TestWriteFuzzCorpus(t *testing.T) {
	if !*genCorpus {
		t.Skip("run with -gencorpus to rewrite testdata/fuzz")
	}
	for _, target := range []string{"FuzzOpenCall", "FuzzOpenBid", "FuzzOpenDecline", "FuzzOpenAward", "FuzzOpenAck",
		"FuzzOpenResult", "FuzzOpenCancel", "FuzzOpenDataRequest", "FuzzOpenOffer", "FuzzJobSpec", "FuzzOpenQuote", "FuzzOpenQuoteAnswer"} {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, s := range fzSeeds(t, target) {
			data := s.data
			if target != "FuzzJobSpec" {
				data = fzCorpusFile(s.data)
			}
			if err := os.WriteFile(filepath.Join(dir, "seed-"+s.name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// The seeds must reach the consumers they are meant for, or the fuzz
// targets would only ever exercise the decoders.
func TestFuzzSeedsReachConsumers(t *testing.T) {
	find := func(target, name string) []byte {
		for _, s := range fzSeeds(t, target) {
			if s.name == name {
				return s.data
			}
		}
		t.Fatalf("no seed %s/%s", target, name)
		return nil
	}
	t.Run("bid", func(t *testing.T) {
		w := newFzWorld(t).withCompetitor(t)
		var b Bid
		env, _ := canon.DecodeEnvelope(find("FuzzOpenBid", "bid-p1"))
		if err := env.Open(w.ids, KindBid, &b); err != nil {
			t.Fatal(err)
		}
		if err := w.job.Bid(fzNow, b, env.Encode()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("award", func(t *testing.T) {
		for _, name := range []string{"award", "award-alone", "award-replicas-highest-winning"} {
			w := newFzWorld(t)
			var a Award
			env, _ := canon.DecodeEnvelope(find("FuzzOpenAward", name))
			if err := env.Open(w.ids, KindAward, &a); err != nil {
				t.Fatal(err)
			}
			if _, err := w.p1.CheckAward(a, w.ids); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
	})
	t.Run("ack-result", func(t *testing.T) {
		w := newFzWorld(t)
		w.awarded(t)
		var a Ack
		env, _ := canon.DecodeEnvelope(find("FuzzOpenAck", "ack-accept"))
		if err := env.Open(w.ids, KindAck, &a); err != nil {
			t.Fatal(err)
		}
		if err := w.job.Ack(fzNow, a); err != nil {
			t.Fatal(err)
		}
		var r Result
		raw := find("FuzzOpenResult", "result-ok")
		env, _ = canon.DecodeEnvelope(raw)
		if err := env.Open(w.ids, KindResult, &r); err != nil {
			t.Fatal(err)
		}
		if err := w.job.Result(fzNow, r, raw); err != nil || w.job.State() != StateCompleted {
			t.Fatalf("%v, %s", err, w.job.State())
		}
	})
	t.Run("call-offer", func(t *testing.T) {
		ids := newFzIDs()
		var c CallForBids
		env, _ := canon.DecodeEnvelope(find("FuzzOpenCall", "call"))
		if err := env.Open(ids, KindCall, &c); err != nil {
			t.Fatal(err)
		}
		p := NewProvider(DefaultProviderConfig("p1"), ids.Signer("p1"))
		if out, send, err := p.Answer(fzNow, fzOffer("p1", 100), c, env.CID(), Load{Slots: 4}, prepFor(false, c.Needs)); err != nil || !send || out.Kind != KindBid {
			t.Fatalf("%v %v %v", out.Kind, send, err)
		}
		var o Offer
		env, _ = canon.DecodeEnvelope(find("FuzzOpenOffer", "offer"))
		if err := env.Open(ids, KindOffer, &o); err != nil || o.Validate(fzNow) != nil {
			t.Fatalf("offer seed: %v %v", err, o.Validate(fzNow))
		}
	})
}
