package quote

import (
	"bufio"
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/node/internal/wire/wiretest"
)

func offer(p string, base int64, now time.Time) market.Offer {
	return market.Offer{Provider: p, Seq: 1, Capabilities: []market.Capability{market.RuntimeWasm},
		Pricing: market.Pricing{Base: base}, Limits: market.Limits{Slots: 2, MaxMemoryBytes: 64 << 20, MaxTimeoutMs: 10_000,
			MaxModuleBytes: 1 << 20, MaxInputBytes: 1 << 20, MaxOutputBytes: 1 << 20},
		Version: "test", Created: now.UnixMilli(), Expires: now.Add(time.Hour).UnixMilli()}
}

// ineligible makes one peer fall below any minimum reputation.
type ineligible string

func (r ineligible) Standing(p string, _ market.Capability, _ float64) market.Standing {
	if p == string(r) {
		return market.Standing{Reason: "lower bound 0.10 < 0.50"}
	}
	return market.Standing{Eligible: true}
}

type net struct {
	svc   *Service
	drops *wire.Drops
	peers []string // cheap, dear, forger, silent, big, shunned
	other string   // a provider of another runtime, known to discovery
}

// newNet is a requester and six providers on a mocknet: cheap (base 10)
// and dear (30) answer honestly, forger signs its answer for another
// quote, silent serves no quotes, big's offer is too small for the job,
// and shunned is below the job's minimum reputation. Discovery also holds
// the offer of a provider of another runtime.
func newNet(t *testing.T, burst int) *net {
	t.Helper()
	_, hs, sgs := wiretest.Peers(t, 1, 2, 3, 4, 5, 6, 7)
	now := time.Now()
	rh, rsg := hs[0], sgs[0]
	_, other := wiretest.Identity(t, 9)
	n := &net{drops: wire.NewDrops(), other: other.ID()}
	var cands []market.Candidate
	for i, base := range []int64{10, 30, 20, 5, 1, 1} {
		h, sg := hs[i+1], sgs[i+1]
		o := offer(sg.ID(), base, now)
		if i == 4 {
			o.Limits.MaxMemoryBytes = 1 << 20
		}
		cands = append(cands, market.Candidate{Peer: sg.ID(), Offer: o})
		n.peers = append(n.peers, sg.ID())
		if i == 3 {
			continue // silent
		}
		pol := market.NewProvider(market.DefaultProviderConfig(sg.ID()), sg)
		forge := i == 2
		h.SetStreamHandler(wire.ProtoQuote, func(st network.Stream) {
			defer st.Close()
			b, err := wire.ReadFrame(bufio.NewReader(st), wire.MaxQuoteFrame)
			if err != nil {
				return
			}
			env, _ := canon.DecodeEnvelope(b)
			var q market.Quote
			if err := env.Open(wire.NewVerifier(), market.KindQuote, &q); err != nil {
				t.Errorf("quote does not open: %v", err)
				return
			}
			cid := env.CID()
			if forge {
				cid = canon.DocCID([]byte("another quote")).String()
			}
			ans, err := pol.AnswerQuote(time.Now(), o, q, cid, market.Load{Slots: 2}, market.Prep{})
			if err != nil {
				t.Error(err)
				return
			}
			wire.WriteFrame(st, ans.Encode())
		})
	}
	n.svc = New(Deps{Host: rh, Signer: rsg, Verifier: wire.NewVerifier(), Drops: n.drops, Now: time.Now,
		Candidates: func(_ context.Context, caps []market.Capability) ([]market.Candidate, error) {
			if len(caps) != 1 || caps[0] != market.RuntimeWasm {
				t.Errorf("candidates for %v, want the runtime alone", caps)
			}
			return append(cands, market.Candidate{Peer: rsg.ID(), Offer: offer(rsg.ID(), 1, now)}), nil
		},
		Known: func() []market.Candidate {
			// A provider of another runtime, and one Candidates listed.
			gpu := offer(other.ID(), 1, now)
			gpu.Capabilities = []market.Capability{"gpu/nvidia/h100"}
			return []market.Candidate{{Peer: other.ID(), Offer: gpu}, cands[0]}
		},
		Reputation: ineligible(n.peers[5]),
		Config:     Config{Self: rsg.ID(), Freshness: 30 * time.Second, Timeout: 2 * time.Second, AgentBurst: burst}})
	return n
}

func spec(maxPrice int64) market.JobSpec {
	s := market.JobSpec{Runtime: market.RuntimeWasm, Module: market.Blob{CID: canon.BlobCID([]byte("m")).String(), Size: 1},
		MemoryBytes: 16 << 20, TimeoutMs: 1000, MaxPrice: maxPrice, MinReputation: 0.5}
	s.Defaults()
	return s
}

func TestQuoteFunnel(t *testing.T) {
	n := newNet(t, 5)
	q, err := n.svc.Quote(t.Context(), "agent-a", spec(25))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]api.QuoteProvider{}
	for _, p := range q.Providers {
		got[p.Provider] = p
	}
	want := []struct{ stage, reason string }{
		{api.StageBid, ""}, {api.StageOffer, "price_floor"}, {api.StageUnreachable, market.ReasonUnreachable},
		{api.StageUnreachable, market.ReasonUnreachable}, {api.StageOffer, "too_large"}, {api.StageReputation, market.ReasonReputation},
	}
	for i, w := range want {
		if p := got[n.peers[i]]; p.Stage != w.stage || p.Reason != w.reason {
			t.Errorf("provider %d: %+v, want %s %q", i, p, w.stage, w.reason)
		}
	}
	if p := got[n.other]; p.Stage != api.StageOffer || p.Reason != "runtime_missing" {
		t.Errorf("provider of another runtime: %+v", p)
	}
	if q.Found != 7 || q.Fit != 4 || q.Eligible != 3 || q.Asked != 3 || q.Reachable != 1 || q.WouldBid != 1 ||
		q.Price == nil || q.Price.Min != 10 || q.Price.Max != 10 || len(q.Providers) != 7 {
		t.Fatalf("funnel %+v", q)
	}
	if q.Reasons["unreachable"] != 2 || q.Reasons["price_floor"] != 1 || q.Reasons["too_large"] != 1 || q.Reasons["reputation"] != 1 || q.Reasons["runtime_missing"] != 1 {
		t.Fatalf("reasons %v", q.Reasons)
	}
	if d := n.drops.Snapshot(); d["quote_answer/wrong_quote"] != 1 {
		t.Fatalf("drops %v", d)
	}
}

func TestQuoteRateLimitPerAgent(t *testing.T) {
	n := newNet(t, 2)
	for i := range 2 {
		if _, err := n.svc.Quote(t.Context(), "agent-a", spec(100)); err != nil {
			t.Fatalf("quote %d: %v", i, err)
		}
	}
	if _, err := n.svc.Quote(t.Context(), "agent-a", spec(100)); !api.IsCode(err, api.CodeRateLimited) {
		t.Fatalf("third quote at once: %v, want rate_limited", err)
	}
	if _, err := n.svc.Quote(t.Context(), "agent-b", spec(100)); err != nil {
		t.Fatalf("another agent's quote: %v", err)
	}
}

// FuzzQuoteAnswer feeds the requester's decoder of answers arbitrary
// bytes: it never panics, and accepts only a valid answer signed by the
// provider asked, naming this node and the quote asked.
func FuzzQuoteAnswer(f *testing.F) {
	_, psg := wiretest.Identity(f, 2)
	_, rsg := wiretest.Identity(f, 1)
	now := time.Now()
	qcid := canon.DocCID([]byte("quote")).String()
	seal := func(a market.QuoteAnswer) []byte {
		env, err := canon.Seal(psg, market.KindQuoteAnswer, a)
		if err != nil {
			f.Fatal(err)
		}
		return env.Encode()
	}
	good := market.QuoteAnswer{Quote: qcid, Provider: psg.ID(), Requester: rsg.ID(), WouldBid: true, Price: 10,
		StartWithinMs: 50, Expires: now.Add(market.QuoteTTL).UnixMilli(), Created: now.UnixMilli()}
	f.Add(seal(good))
	d := good
	d.WouldBid, d.Price, d.StartWithinMs, d.Reason = false, 0, 0, market.DeclineBusy
	f.Add(seal(d))
	w := good
	w.Quote = "other"
	f.Add(seal(w))
	f.Add([]byte{0xa3})
	f.Fuzz(func(t *testing.T, b []byte) {
		s := New(Deps{Verifier: wire.NewVerifier(), Drops: wire.NewDrops(), Now: func() time.Time { return now },
			Config: Config{Self: rsg.ID(), Freshness: 30 * time.Second}})
		a, ok := s.open(b, psg.ID(), qcid)
		if ok && (a.Provider != psg.ID() || a.Requester != rsg.ID() || a.Quote != qcid || a.Validate() != nil) {
			t.Fatalf("accepted %+v", a)
		}
	})
}
