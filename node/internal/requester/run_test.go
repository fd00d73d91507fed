package requester

import (
	"bufio"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/api/apitest"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/settlement"
)

// fakeProvider plays the provider's side of a job by hand: it bids on the
// call the requester publishes, acknowledges the award and delivers an
// empty successful result.
type fakeProvider struct {
	g     *settleRig
	price int64
}

// offer is what discovery would have found for the fake provider.
func (p *fakeProvider) offer(now time.Time) market.Offer {
	return market.Offer{Provider: p.g.psg.ID(), Seq: 1, Capabilities: []market.Capability{market.RuntimeWasm},
		Pricing: market.Pricing{Base: p.price}, Limits: market.Limits{Slots: 1, MaxMemoryBytes: 1 << 30,
			MaxTimeoutMs: 60_000, MaxModuleBytes: 1 << 20, MaxInputBytes: 1 << 20, MaxOutputBytes: 1 << 20},
		Version: "test", Created: now.UnixMilli(), Expires: now.Add(time.Hour).UnixMilli()}
}

// bid answers a published call for bids on /hayek/bid/1.0.0.
func (p *fakeProvider) bid(ctx context.Context, env canon.Envelope) error {
	var call market.CallForBids
	if err := env.Open(wire.NewVerifier(), market.KindCall, &call); err != nil {
		return err
	}
	bid, err := canon.Seal(p.g.psg, market.KindBid, market.Bid{Job: call.Job, Attempt: call.Attempt, Call: env.CID(),
		Provider: p.g.psg.ID(), Requester: call.Requester, Price: p.price, StartWithinMs: 100, Created: time.Now().UnixMilli()})
	if err != nil {
		return err
	}
	st, err := p.g.prov.NewStream(ctx, p.g.r.d.Host.ID(), wire.ProtoBid)
	if err != nil {
		return err
	}
	defer st.Close()
	return wire.WriteFrame(st, bid.Encode())
}

// handleAward acknowledges an award and delivers the result.
func (p *fakeProvider) handleAward(t *testing.T) network.StreamHandler {
	return func(st network.Stream) {
		defer st.Close()
		b, err := wire.ReadFrame(bufio.NewReader(st), wire.MaxAwardFrame)
		if err != nil {
			t.Errorf("award: %v", err)
			return
		}
		env, err := canon.DecodeEnvelope(b)
		if err != nil {
			t.Errorf("award: %v", err)
			return
		}
		var a market.Award
		if err := env.Open(wire.NewVerifier(), market.KindAward, &a); err != nil {
			return // a cancel, say
		}
		ack, err := canon.Seal(p.g.psg, market.KindAck, market.Ack{Job: a.Job, Attempt: a.Attempt, Award: env.CID(),
			Provider: p.g.psg.ID(), Requester: a.Requester, Accept: true, Created: time.Now().UnixMilli()})
		if err != nil {
			t.Error(err)
			return
		}
		if err := wire.WriteFrame(st, ack.Encode()); err != nil {
			t.Errorf("ack: %v", err)
			return
		}
		empty := market.Stream{Blob: market.Blob{CID: canon.BlobCID(nil).String()}}
		res, err := canon.Seal(p.g.psg, market.KindResult, market.Result{Job: a.Job, Attempt: a.Attempt, Award: env.CID(),
			Provider: p.g.psg.ID(), Requester: a.Requester, Status: market.StatusOK, Stdout: empty, Stderr: empty,
			StartHeld: true, Created: time.Now().UnixMilli()})
		if err != nil {
			t.Error(err)
			return
		}
		rs, err := p.g.prov.NewStream(t.Context(), p.g.r.d.Host.ID(), wire.ProtoResult)
		if err != nil {
			t.Errorf("result: %v", err)
			return
		}
		defer rs.Close()
		if err := wire.WriteFrame(rs, canon.MustMarshal(wire.ResultDelivery{Result: res.Encode(), Blobs: [][]byte{{}}})); err != nil {
			t.Errorf("result: %v", err)
			return
		}
		rs.CloseWrite()
		wire.ReadFrame(bufio.NewReader(rs), wire.MaxResultFrame) // the receipt of the result
	}
}

// The requester on its own, against a provider played by hand over a
// mocknet: a submitted job is auctioned, awarded, delivered, paid with a
// countersigned receipt, and reads completed with its result.
func TestRequesterRunsAJobAgainstAFakeProvider(t *testing.T) {
	var g *settleRig
	p := &fakeProvider{price: 30}
	g = newSettleRig(t, func(d *Deps) {
		d.Candidates = func(context.Context, []market.Capability) ([]market.Candidate, error) {
			return []market.Candidate{{Peer: g.psg.ID(), Offer: p.offer(time.Now())}}, nil
		}
		tasks := d.Tasks
		d.Publish = func(_ context.Context, env canon.Envelope, _ market.Capability) error {
			tasks.GoCtx(func(ctx context.Context) { // as gossip would: apart from the job's goroutine
				if err := p.bid(ctx, env); err != nil && ctx.Err() == nil {
					t.Errorf("bid: %v", err)
				}
			})
			return nil
		}
		d.Admit = func(ctx context.Context, id, agent string, spec market.JobSpec, _ time.Time) (int64, bool, error) {
			_, err := g.ledger.Append(ctx, settlement.KindHold, settlement.Hold{Job: id, Agent: agent, Amount: spec.MaxPrice})
			return spec.MaxPrice, false, err
		}
	})
	p.g = g
	g.r.d.Host.SetStreamHandler(wire.ProtoBid, g.r.HandleBid)
	g.r.d.Host.SetStreamHandler(wire.ProtoResult, g.r.ResultHandler(t.Context()))
	g.prov.SetStreamHandler(wire.ProtoAward, p.handleAward(t))
	g.answerReceipts(g.countersign)

	spec := market.JobSpec{Module: market.Blob{CID: canon.BlobCID([]byte("module")).String(), Size: 6}, MaxPrice: 100}
	spec.Defaults()
	ctx := api.WithCaller(t.Context(), api.Caller{Operator: true, Agent: api.OperatorAgent})
	job, created, err := g.r.Submit(ctx, spec, "", api.OperatorAgent)
	if err != nil || !created {
		t.Fatalf("submit: %v (created %v)", err, created)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	job, err = g.r.Wait(wctx, job.ID)
	if err != nil || job.State != api.StateCompleted {
		t.Fatalf("job %s ended %s (%+v), %v; want completed", job.ID, job.State, job.Error, err)
	}
	if job.Provider != g.psg.ID() || job.Price != 30 {
		t.Errorf("provider %s price %d; want the fake provider at its bid, 30", job.Provider, job.Price)
	}
	if st := job.Settlement; st == nil || st.Paid != 30 || st.Released != 70 || len(st.Receipts) != 1 {
		t.Errorf("settlement %+v; want 30 paid on one receipt, 70 released", job.Settlement)
	}
	if res, err := g.r.Result(ctx, job.ID); err != nil || res.Status != string(market.StatusOK) {
		t.Errorf("result %+v, %v", res, err)
	}
	if got := g.ledger.Balance(g.psg.ID()); got != -30 {
		t.Errorf("balance with the provider %d, want -30", got)
	}
	checkAudit(t, g, job)
}

// checkAudit: the job's audit bundle holds every signed message of its
// auction and run, its ledger entries after the agent's governance, and
// explains the auction.
func checkAudit(t *testing.T, g *settleRig, job api.Job) {
	t.Helper()
	a, err := g.r.Audit(t.Context(), job.ID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, s := range a.Signed {
		kinds = append(kinds, s.Kind)
	}
	for _, k := range []string{market.KindCall, market.KindBid, market.KindAward, market.KindResult} {
		if !slices.Contains(kinds, k) {
			t.Errorf("no signed %s in the bundle (%v)", k, kinds)
		}
	}
	var entries []string
	for _, e := range a.Entries {
		entries = append(entries, e.Kind)
	}
	if want := []string{"governance", "hold", "receipt"}; !slices.Equal(slices.DeleteFunc(slices.Clone(entries), func(k string) bool {
		return k != "governance" && k != "hold" && k != "receipt"
	}), want) {
		t.Errorf("ledger entries %v, want the agent's governance, then the hold and the receipt", entries)
	}
	if a.Node != g.r.self || a.Format != api.AuditFormat || a.Intent.Agent != api.OperatorAgent || len(a.Intent.Governance) != 1 {
		t.Errorf("bundle of node %s, format %s, intent %+v", a.Node, a.Format, a.Intent)
	}
	if len(a.Auctions) != 1 || len(a.Auctions[0].Bids) != 1 || !a.Auctions[0].Bids[0].Won || a.Auctions[0].Why == "" {
		t.Errorf("auctions %+v", a.Auctions)
	}
	if a.Execution == nil || a.Execution.Provider != g.psg.ID() || a.Execution.ResultCID == "" || len(a.Timeline) == 0 {
		t.Errorf("execution %+v, %d timeline lines", a.Execution, len(a.Timeline))
	}
	if _, err := g.r.Audit(api.WithCaller(t.Context(), api.Caller{Agent: "other"}), job.ID); err == nil {
		t.Error("another agent audits the operator's job")
	}
}

// Bids and declines that cannot be used are dropped and counted by why:
// garbage, a stale bid, a fresh bid for a job this node does not have.
func TestHandleBidCountsWhatItDrops(t *testing.T) {
	g := newSettleRig(t)
	g.r.d.Host.SetStreamHandler(wire.ProtoBid, g.r.HandleBid)
	send := func(frame []byte) {
		t.Helper()
		st, err := g.prov.NewStream(t.Context(), g.r.d.Host.ID(), wire.ProtoBid)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if err := wire.WriteFrame(st, frame); err != nil {
			t.Fatal(err)
		}
	}
	bid := func(created time.Time) []byte {
		t.Helper()
		env, err := canon.Seal(g.psg, market.KindBid, market.Bid{Job: "jnone", Attempt: 1, Call: "call",
			Provider: g.psg.ID(), Requester: g.r.self, Price: 10, Created: created.UnixMilli()})
		if err != nil {
			t.Fatal(err)
		}
		return env.Encode()
	}
	send([]byte("not an envelope"))
	send(bid(time.Now().Add(-time.Hour)))
	send(bid(time.Now()))
	want := map[string]int64{"bid/malformed": 1, "bid/stale": 1, "bid/unknown_job": 1}
	apitest.WaitFor(t, 2*time.Second, "every bad bid counted", func() bool {
		got := g.r.d.Drops.Snapshot()
		for k, n := range want {
			if got[k] != n {
				return false
			}
		}
		return true
	})
}
