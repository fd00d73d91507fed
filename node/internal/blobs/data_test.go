package blobs

import (
	"bufio"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/node/internal/wire/wiretest"
)

// onlyPeer lets one peer fetch anything of job "j".
type onlyPeer string

func (o onlyPeer) AuthorizeFetch(job, peer, _ string) bool { return job == "j" && peer == string(o) }

// The data protocol serves a blob to the peer allowed it, and refuses —
// saying why, and counting it — a peer not allowed, a stale request and
// a request signed by another peer than the one on the stream.
func TestDataServesOnlyWhomItMay(t *testing.T) {
	_, hs, sgs := wiretest.Peers(t, 1, 2, 3)
	now := time.Now()
	clock := func() time.Time { return now }
	store, err := NewStore(t.TempDir(), 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := store.PutBytes([]byte("module bytes"))
	if err != nil {
		t.Fatal(err)
	}
	blob := market.Blob{CID: c.String(), Size: int64(len("module bytes"))}
	serverDrops := wire.NewDrops()
	server := New(Deps{Host: hs[0], Store: store, Signer: sgs[0], Verifier: wire.NewVerifier(), Drops: serverDrops,
		Log: slog.New(slog.DiscardHandler), Now: clock, Freshness: 30 * time.Second, Authorize: []Authorizer{onlyPeer(sgs[1].ID())}})
	hs[0].SetStreamHandler(wire.ProtoData, server.HandleData)
	client := func(i int, now func() time.Time) *Service {
		return New(Deps{Host: hs[i], Signer: sgs[i], Verifier: wire.NewVerifier(), Drops: wire.NewDrops(),
			Log: slog.New(slog.DiscardHandler), Now: now})
	}

	got, err := client(1, clock).Fetch(t.Context(), sgs[0].ID(), "j", blob)
	if err != nil || string(got) != "module bytes" {
		t.Fatalf("the allowed peer's fetch = %q, %v", got, err)
	}
	refused := func(err error, why, drop string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), "refused: "+why) {
			t.Fatalf("fetch = %v, want refused: %s", err, why)
		}
		if serverDrops.Snapshot()[drop] != 1 {
			t.Fatalf("drops = %v, want one %s", serverDrops.Snapshot(), drop)
		}
	}
	_, err = client(2, clock).Fetch(t.Context(), sgs[0].ID(), "j", blob)
	refused(err, "not authorized for this blob", "data/unauthorized")
	_, err = client(1, func() time.Time { return now.Add(-time.Hour) }).Fetch(t.Context(), sgs[0].ID(), "j", blob)
	refused(err, "stale request", "data/stale")

	// Peer 2 replays a request peer 1 signed.
	env, err := canon.Seal(sgs[1], market.KindData, market.DataRequest{Job: "j", From: sgs[1].ID(), CID: blob.CID, Created: now.UnixMilli()})
	if err != nil {
		t.Fatal(err)
	}
	st, err := hs[2].NewStream(t.Context(), hs[0].ID(), wire.ProtoData)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := wire.WriteFrame(st, env.Encode()); err != nil {
		t.Fatal(err)
	}
	st.CloseWrite()
	hb, err := wire.ReadFrame(bufio.NewReader(st), 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	var h DataHeader
	if err := canon.Unmarshal(hb, &h); err != nil || h.Error != "request signed by another peer" {
		t.Fatalf("replayed request answered %+v, %v", h, err)
	}
	if serverDrops.Snapshot()["data/wrong_peer"] != 1 {
		t.Fatalf("drops = %v, want one data/wrong_peer", serverDrops.Snapshot())
	}
}
