package provider

import (
	"bufio"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/node/internal/wire/wiretest"
)

// A provider answers a requester's quotes with signed answers that book
// nothing, up to its allowance per peer; a quote signed by someone other
// than the peer that sent it is dropped.
func TestProviderAnswersQuotes(t *testing.T) {
	ctx := t.Context()
	_, ph, psg, rh, rsg := providerAndRequester(t)
	_, other := wiretest.Identity(t, 7)
	now := time.Now()
	offer := testOffer(psg.ID(), now)
	tasks, _ := wire.NewGroup(ctx)
	defer tasks.Stop()
	drops := wire.NewDrops()
	p := New(Deps{Host: ph, Signer: psg, Verifier: wire.NewVerifier(), Drops: drops,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }, Tasks: tasks,
		Executors: map[market.Capability]exec.Executor{market.RuntimeWasm: fakeExec{}}, Blobs: fakeBlobs{}, Ledger: fakeLedger{}, Rep: fakeRep{}, Gossip: &fakeSub{},
		OwnOffer: func() (market.Offer, bool) { return offer, true },
		Config: Config{Capabilities: []market.Capability{market.RuntimeWasm}, Slots: 2, StartBase: 100 * time.Millisecond,
			Freshness: 30 * time.Second, Seed: 1}})
	ph.SetStreamHandler(wire.ProtoQuote, p.HandleQuote)

	needs := market.Needs{Capabilities: []market.Capability{market.RuntimeWasm}, MemoryBytes: 16 << 20, TimeoutMs: 1000,
		Module: canon.BlobCID([]byte("module")).String(), ModuleBytes: 6, MaxPrice: 1000}
	ask := func(h host.Host, sg canon.Signer, id string) (market.QuoteAnswer, bool) {
		t.Helper()
		env, err := canon.Seal(sg, market.KindQuote, market.Quote{ID: id, Requester: sg.(*wire.Signer).ID(), Needs: needs, Created: now.UnixMilli()})
		if err != nil {
			t.Fatal(err)
		}
		st, err := h.NewStream(ctx, ph.ID(), wire.ProtoQuote)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if err := wire.WriteFrame(st, env.Encode()); err != nil {
			t.Fatal(err)
		}
		st.CloseWrite()
		b, err := wire.ReadFrame(bufio.NewReader(st), wire.MaxQuoteAnswer)
		if err != nil {
			return market.QuoteAnswer{}, false
		}
		var a market.QuoteAnswer
		aenv, err := canon.DecodeEnvelope(b)
		if err != nil || aenv.Open(wire.NewVerifier(), market.KindQuoteAnswer, &a) != nil || a.Quote != env.CID() {
			t.Fatalf("answer %x does not open or answer the quote: %v", b, err)
		}
		return a, true
	}
	a, ok := ask(rh, rsg, "q-0")
	if !ok || !a.WouldBid || a.Price != 10 || a.Provider != psg.ID() || a.Requester != rsg.ID() {
		t.Fatalf("answer %+v (%v)", a, ok)
	}
	if _, ok := ask(rh, other, "q-forged"); ok {
		t.Fatal("answered a quote signed by another peer than the sender")
	}
	answered := 1
	for i := range quoteBurst {
		if _, ok := ask(rh, rsg, "q-more-"+string(rune('a'+i))); ok {
			answered++
		}
	}
	// The allowance is counted before the signature is checked (it is
	// what keeps checking cheap), so the forged quote took its share.
	if answered != quoteBurst-1 {
		t.Fatalf("%d quotes answered at once, want the allowance of %d less the forged one", answered, quoteBurst)
	}
	got := drops.Snapshot()
	if got["quote/wrong_sender"] != 1 || got["quote/rate"] != 2 {
		t.Fatalf("drops %v", got)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := p.policy.Outstanding(); n != 0 || p.running != 0 {
		t.Fatalf("quotes booked %d bids, run %d jobs", n, p.running)
	}
}
