package provider

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/node/internal/wire/wiretest"
	"github.com/hayek-market/hayek/reputation"
	"github.com/hayek-market/hayek/settlement"
)

// Fakes for the provider's siblings: nothing owed, a stranger's credit,
// no blobs, an executor that is never reached in these tests.
type (
	fakeLedger struct{}
	fakeRep    struct{}
	fakeBlobs  struct{}
	fakeExec   struct{}
	fakeSub    struct{ fn func(peer.ID, *wire.Call) }
)

func (fakeLedger) Balance(string) int64   { return 0 }
func (fakeLedger) Head() (uint64, string) { return 0, "" }
func (fakeLedger) Append(context.Context, settlement.Kind, any) (settlement.Entry, error) {
	return settlement.Entry{}, nil
}
func (fakeLedger) AppendAll(context.Context, ...settlement.Draft) ([]settlement.Entry, error) {
	return nil, nil
}
func (fakeRep) CreditLimit(string) int64                                                   { return 1000 }
func (fakeRep) Record(string, string, reputation.Outcome, string)                          {}
func (fakeRep) Attest(context.Context, string, string, reputation.Outcome, string, []byte) {}
func (fakeBlobs) Has(string) bool                                                          { return false }
func (fakeBlobs) Get(string) ([]byte, error)                                               { return nil, errors.New("none") }
func (fakeBlobs) PutBytes(b []byte) (cid.Cid, error)                                       { return canon.BlobCID(b), nil }
func (fakeBlobs) PutKnown(string, []byte) error                                            { return nil }
func (fakeExec) Run(context.Context, exec.Job) (exec.Result, error) {
	return exec.Result{}, errors.New("not in this test")
}
func (fakeExec) Close(context.Context) error { return nil }
func (s *fakeSub) Subscribe(_ context.Context, _ market.Capability, fn func(peer.ID, *wire.Call)) error {
	s.fn = fn
	return nil
}

// providerAndRequester are two linked peers of a mocknet, closed with
// the test: the provider (key 5) and a requester (key 6).
func providerAndRequester(t *testing.T) (mocknet.Mocknet, host.Host, *wire.Signer, host.Host, *wire.Signer) {
	t.Helper()
	mn, hs, sgs := wiretest.Peers(t, 5, 6)
	return mn, hs[0], sgs[0], hs[1], sgs[1]
}

// testOffer is the provider's offer in these tests: runtime/wasm at a
// base of 10, two slots.
func testOffer(p string, now time.Time) market.Offer {
	return market.Offer{Provider: p, Seq: 1, Capabilities: []market.Capability{market.RuntimeWasm},
		Pricing: market.Pricing{Base: 10}, Limits: market.Limits{Slots: 2, MaxMemoryBytes: 64 << 20, MaxTimeoutMs: 10_000,
			MaxModuleBytes: 1 << 20, MaxInputBytes: 1 << 20, MaxOutputBytes: 1 << 20},
		Version: "test", Created: now.UnixMilli(), Expires: now.Add(time.Hour).UnixMilli()}
}

// A provider invited to a call it can serve bids straight to the
// requester on /hayek/bid/1.0.0 — here a fake requester on a mocknet, with
// fakes for the provider's ledger, reputation, blobs and executor.
func TestProviderBidsOnAnInvitation(t *testing.T) {
	ctx := t.Context()
	mn, ph, psg, rh, rsg := providerAndRequester(t)
	if err := mn.ConnectAllButSelf(); err != nil {
		t.Fatal(err)
	}
	got := make(chan canon.Envelope, 1)
	rh.SetStreamHandler(wire.ProtoBid, func(st network.Stream) {
		defer st.Close()
		b, err := wire.ReadFrame(bufio.NewReader(st), wire.MaxBidFrame)
		if err != nil {
			return
		}
		if env, err := canon.DecodeEnvelope(b); err == nil {
			got <- env
		}
	})

	now := time.Now()
	offer := testOffer(psg.ID(), now)
	tasks, life := wire.NewGroup(ctx)
	defer tasks.Stop()
	sub := &fakeSub{}
	p := New(Deps{Host: ph, Signer: psg, Verifier: wire.NewVerifier(), Drops: wire.NewDrops(),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now, Tasks: tasks,
		Executors: map[market.Capability]exec.Executor{market.RuntimeWasm: fakeExec{}}, Blobs: fakeBlobs{}, Ledger: fakeLedger{}, Rep: fakeRep{}, Gossip: sub,
		OwnOffer: func() (market.Offer, bool) { return offer, true },
		Config: Config{Capabilities: []market.Capability{market.RuntimeWasm}, Slots: 2, StartBase: 100 * time.Millisecond,
			Freshness: 30 * time.Second, Seed: 1}})
	if err := p.Subscribe(life); err != nil {
		t.Fatal(err)
	}
	call := market.CallForBids{Job: "job-1", Attempt: 1, Requester: rsg.ID(), Invitees: []string{psg.ID()},
		WindowMs: 2000, Created: now.UnixMilli(),
		Needs: market.Needs{Capabilities: []market.Capability{market.RuntimeWasm}, MemoryBytes: 16 << 20, TimeoutMs: 1000,
			Module: canon.BlobCID([]byte("module")).String(), ModuleBytes: 6, MaxPrice: 1000}}
	if err := call.Validate(); err != nil {
		t.Fatalf("test call is invalid: %v", err)
	}
	env, err := canon.Seal(rsg, market.KindCall, call)
	if err != nil {
		t.Fatal(err)
	}
	sub.fn(rh.ID(), &wire.Call{Call: call, CID: env.CID()})

	select {
	case env := <-got:
		var bid market.Bid
		if err := env.Open(wire.NewVerifier(), market.KindBid, &bid); err != nil {
			t.Fatalf("the provider's answer is not a bid: kind %q: %v", env.Kind, err)
		}
		if bid.Provider != psg.ID() || bid.Job != call.Job || bid.Price <= 0 || bid.Price > call.Needs.MaxPrice {
			t.Fatalf("bid %+v for call %+v", bid, call)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no answer from the provider within 10s")
	}
}
