package discovery

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/node/internal/wire/wiretest"
)

type noDHT struct{}

func (noDHT) Provide(context.Context, cid.Cid, bool) error { return nil }

// A provider's advertiser serves its signed offer, a peer fetches and
// verifies it, and after Withdraw the peer is told it is withdrawn.
func TestAdvertiserServesOfferAndWithdrawal(t *testing.T) {
	ctx := t.Context()
	mn, hs, sgs := wiretest.Peers(t, 3, 4)
	ph, rh, sg := hs[0], hs[1], sgs[0]
	now := time.Now()
	clock := func() time.Time { return now }
	adv := NewAdvertiser(AdvertiserDeps{
		DHT: noDHT{}, HasPeers: func() bool { return false }, Signer: sg,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: clock,
		OfferFor: func(now time.Time, seq uint64, withdrawn bool) market.Offer {
			return market.Offer{Provider: sg.ID(), Seq: seq, Capabilities: []market.Capability{market.RuntimeWasm},
				Pricing: market.Pricing{Base: 1},
				Limits: market.Limits{Slots: 1, MaxMemoryBytes: 64 << 20, MaxTimeoutMs: 1000, MaxModuleBytes: 1 << 20,
					MaxInputBytes: 1 << 20, MaxOutputBytes: 1 << 20},
				Version: "test", Created: now.UnixMilli(),
				Expires: now.Add(time.Hour).UnixMilli(), Withdrawn: withdrawn}
		},
		Capabilities: []market.Capability{market.RuntimeWasm}, TTL: time.Hour, Reprovide: time.Hour,
	})
	if !adv.Start() {
		t.Fatal("Start could not sign an offer")
	}
	var gate wire.Gate
	gate.Serve(ph, wire.NewDrops(), wire.ProtoOffer, adv.Handle)
	if err := mn.ConnectAllButSelf(); err != nil {
		t.Fatal(err)
	}
	fd := FetchDeps{Host: rh, Verifier: wire.NewVerifier(), Drops: wire.NewDrops(), Now: clock}
	o, err := FetchOffer(ctx, fd, sg.ID())
	if err != nil {
		t.Fatal(err)
	}
	if o.Provider != sg.ID() || o.Withdrawn || !o.Sells(market.RuntimeWasm) {
		t.Fatalf("fetched offer %+v", o)
	}
	adv.Withdraw()
	o2, err := FetchOffer(ctx, fd, sg.ID())
	if err != nil {
		t.Fatal(err)
	}
	if !o2.Withdrawn || o2.Seq <= o.Seq {
		t.Fatalf("after Withdraw: offer %+v, want withdrawn with a later seq than %d", o2, o.Seq)
	}
}
