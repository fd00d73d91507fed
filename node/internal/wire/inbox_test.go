package wire

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
)

func testSigner(tb testing.TB, seed byte) *Signer {
	tb.Helper()
	key, err := crypto.UnmarshalEd25519PrivateKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32)))
	if err != nil {
		tb.Fatal(err)
	}
	sg, err := NewSigner(key, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return sg
}

func seal(tb testing.TB, sg canon.Signer, kind string, m canon.Message) []byte {
	tb.Helper()
	env, err := canon.Seal(sg, kind, m)
	if err != nil {
		tb.Fatal(err)
	}
	return env.Encode()
}

// TestInboxOpen pins what each way a message fails counts under, and
// that the error names the category beside the cause.
func TestInboxOpen(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	prov, other := testSigner(t, 1), testSigner(t, 2)
	bid := market.Bid{Job: "j", Provider: prov.ID(), Requester: other.ID(), Price: 5, Created: now.UnixMilli()}
	stale := bid
	stale.Created = now.Add(-time.Minute).UnixMilli()
	forged, err := canon.Seal(other, market.KindBid, market.Bid{Job: "j", Provider: other.ID(), Created: now.UnixMilli()})
	if err != nil {
		t.Fatal(err)
	}
	forged.Body = canon.MustMarshal(bid) // names prov, signed by other
	for _, tc := range []struct {
		name   string
		frame  []byte
		from   string
		why    error
		reason string
	}{
		{"ok", seal(t, prov, market.KindBid, bid), prov.ID(), nil, ""},
		{"any signer", seal(t, prov, market.KindBid, bid), "", nil, ""},
		{"not an envelope", []byte{0xa3}, "", ErrNotEnvelope, "bid/malformed"},
		{"wrong kind", seal(t, prov, market.KindDecline, market.Decline{Job: "j", Provider: prov.ID()}), "", ErrUnopened, "bid/malformed"},
		{"forged", forged.Encode(), "", ErrUnopened, "bid/bad_signature"},
		{"another peer", seal(t, prov, market.KindBid, bid), other.ID(), ErrWrongSender, "bid/wrong_peer"},
		{"stale", seal(t, prov, market.KindBid, stale), prov.ID(), ErrStale, "bid/stale"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := Inbox{Verifier: NewVerifier(), Drops: NewDrops(), Now: func() time.Time { return now }, Freshness: 30 * time.Second}
			var got market.Bid
			_, err := in.OpenFrame(tc.frame, Expect{What: "bid", Kind: market.KindBid, From: tc.from, WrongFrom: "wrong_peer",
				Created: func() int64 { return got.Created }}, &got)
			want := map[string]int64{}
			if tc.reason != "" {
				want[tc.reason] = 1
			}
			if !maps.Equal(in.Drops.Snapshot(), want) {
				t.Fatalf("drops = %v, want %v", in.Drops.Snapshot(), want)
			}
			if tc.why == nil {
				if err != nil || got.Provider != prov.ID() {
					t.Fatalf("OpenFrame = %+v, %v", got, err)
				}
				return
			}
			var d *Dropped
			if !errors.Is(err, tc.why) || !errors.As(err, &d) || d.Reason != tc.reason {
				t.Fatalf("err = %v, want %v counted as %s", err, tc.why, tc.reason)
			}
		})
	}
}

// FuzzInboxOpen feeds the inbox arbitrary frames: it never panics,
// accepts only a fresh bid signed by the peer expected, and counts every
// frame it refuses exactly once.
func FuzzInboxOpen(f *testing.F) {
	now := time.UnixMilli(1_700_000_000_000)
	prov, other := testSigner(f, 1), testSigner(f, 2)
	bid := market.Bid{Job: "j", Provider: prov.ID(), Requester: other.ID(), Price: 5, Created: now.UnixMilli()}
	f.Add(seal(f, prov, market.KindBid, bid))
	stale := bid
	stale.Created = 0
	f.Add(seal(f, prov, market.KindBid, stale))
	f.Add(seal(f, other, market.KindBid, market.Bid{Job: "j", Provider: other.ID(), Created: now.UnixMilli()}))
	f.Add([]byte{0xa3})
	vf := NewVerifier()
	f.Fuzz(func(t *testing.T, b []byte) {
		in := Inbox{Verifier: vf, Drops: NewDrops(), Now: func() time.Time { return now }, Freshness: 30 * time.Second}
		var got market.Bid
		_, err := in.OpenFrame(b, Expect{What: "bid", Kind: market.KindBid, From: prov.ID(),
			Created: func() int64 { return got.Created }}, &got)
		var n int64
		for _, c := range in.Drops.Snapshot() {
			n += c
		}
		if err == nil {
			if n != 0 || got.Provider != prov.ID() || market.Fresh(got.Created, now, 30*time.Second) != nil {
				t.Fatalf("accepted %+v with %d drops", got, n)
			}
			return
		}
		var d *Dropped
		if n != 1 || !errors.As(err, &d) || in.Drops.Snapshot()[d.Reason] != 1 {
			t.Fatalf("refused (%v) with drops %v", err, in.Drops.Snapshot())
		}
	})
}
