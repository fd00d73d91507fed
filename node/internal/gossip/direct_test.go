package gossip

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/node/internal/wire/wiretest"
)

// directFixture is a provider's gossip service on a mocknet with a
// requester and a third peer, serving /hayek/call/1.0.0, subscribed to
// runtime/wasm; delivered calls arrive on got.
type directFixture struct {
	g     *Service
	drops *wire.Drops
	hosts []host.Host // requester, provider, other
	sgs   []*wire.Signer
	got   chan *wire.Call
}

func newDirectFixture(t testing.TB, burst int) *directFixture {
	t.Helper()
	_, hs, sgs := wiretest.Peers(t, 1, 2, 3)
	tasks, ctx := wire.NewGroup(t.Context())
	t.Cleanup(func() { tasks.Stop() })
	drops := wire.NewDrops()
	g, err := New(ctx, Deps{Host: hs[1], Verifier: wire.NewVerifier(), Drops: drops, Now: time.Now, Tasks: tasks,
		Config: Config{Freshness: time.Minute, MaxCall: 4 << 10, CallRate: 0.001, CallBurst: burst}})
	if err != nil {
		t.Fatal(err)
	}
	f := &directFixture{g: g, drops: drops, hosts: hs, sgs: sgs, got: make(chan *wire.Call, 16)}
	if err := g.Subscribe(ctx, market.RuntimeWasm, func(_ peer.ID, dc *wire.Call) { f.got <- dc }); err != nil {
		t.Fatal(err)
	}
	hs[1].SetStreamHandler(wire.ProtoCall, g.HandleCall)
	return f
}

// call is a call for bids by signer s for job, naming invitees.
func (f *directFixture) call(t testing.TB, s *wire.Signer, job string, invitees ...string) canon.Envelope {
	t.Helper()
	c := market.CallForBids{Job: job, Attempt: 1, Requester: s.ID(), Invitees: invitees, WindowMs: 1000,
		Created: time.Now().UnixMilli(), Needs: market.Needs{Capabilities: []market.Capability{market.RuntimeWasm},
			MemoryBytes: 64 << 20, TimeoutMs: 1000, Module: "bafkqaaa", ModuleBytes: 10, MaxPrice: 100}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	env, err := canon.Seal(s, market.KindCall, c)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func (f *directFixture) provider() string { return f.hosts[1].ID().String() }

// waitDrop waits until reason has been counted n times.
func (f *directFixture) waitDrop(t *testing.T, reason string, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for f.drops.Snapshot()[reason] < n {
		if time.Now().After(deadline) {
			t.Fatalf("drops = %v, want %d of %s", f.drops.Snapshot(), n, reason)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (f *directFixture) expectCall(t *testing.T, job string) {
	t.Helper()
	select {
	case dc := <-f.got:
		if dc.Call.Job != job {
			t.Fatalf("delivered call for %s, want %s", dc.Call.Job, job)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("call for %s not delivered; drops = %v", job, f.drops.Snapshot())
	}
}

func (f *directFixture) expectNothing(t *testing.T) {
	t.Helper()
	select {
	case dc := <-f.got:
		t.Fatalf("delivered call for %s, want none", dc.Call.Job)
	default:
	}
}

// A call its requester sends straight to an invitee is delivered to the
// capability's subscriber, as a gossiped one is.
func TestDirectCallDelivered(t *testing.T) {
	f := newDirectFixture(t, 8)
	env := f.call(t, f.sgs[0], "j1", f.provider())
	if err := wire.SendCall(t.Context(), f.hosts[0], f.provider(), env); err != nil {
		t.Fatal(err)
	}
	f.expectCall(t, "j1")
}

// A call relayed by a peer that did not sign it is refused: a direct call
// comes from its requester or not at all.
func TestDirectCallWrongSender(t *testing.T) {
	f := newDirectFixture(t, 8)
	env := f.call(t, f.sgs[0], "j1", f.provider())
	if err := wire.SendCall(t.Context(), f.hosts[2], f.provider(), env); err != nil {
		t.Fatal(err)
	}
	f.waitDrop(t, "call/wrong_sender", 1)
	f.expectNothing(t)
}

// A call that does not name this node is dropped and counted: only
// gossip may bring a call to a node not invited.
func TestDirectCallNotInvited(t *testing.T) {
	f := newDirectFixture(t, 8)
	env := f.call(t, f.sgs[0], "j1", f.hosts[2].ID().String())
	if f.g.Direct(f.hosts[0].ID(), env.Encode()) {
		t.Fatal("a call naming another invitee was delivered")
	}
	f.waitDrop(t, "call/not_invited", 1)
	f.expectNothing(t)
}

// A frame above the call size cap is refused before it is decoded.
func TestDirectCallOversized(t *testing.T) {
	f := newDirectFixture(t, 8)
	st, err := f.hosts[0].NewStream(t.Context(), f.hosts[1].ID(), wire.ProtoCall)
	if err != nil {
		t.Fatal(err)
	}
	if err := wire.WriteFrame(st, bytes.Repeat([]byte{0xa0}, 5<<10)); err != nil {
		t.Fatal(err)
	}
	st.Close()
	f.waitDrop(t, "call/oversized", 1)
	f.expectNothing(t)
}

// Calls beyond a requester's burst are dropped whichever way they come.
func TestDirectCallRateLimited(t *testing.T) {
	f := newDirectFixture(t, 2)
	for i := range 3 {
		f.g.Direct(f.hosts[0].ID(), f.call(t, f.sgs[0], fmt.Sprintf("j%d", i), f.provider()).Encode())
	}
	f.expectCall(t, "j0")
	f.expectCall(t, "j1")
	f.waitDrop(t, "call/rate_limited", 1)
	f.expectNothing(t)
}

// A call that arrives both directly and by gossip is delivered once,
// whichever comes first. A gossip copy after the direct one is still
// relayed, so peers beyond the invitees hear of it.
func TestCallDirectAndGossipOnce(t *testing.T) {
	f := newDirectFixture(t, 8)
	topic := market.RuntimeWasm.Topic()
	msg := func(env canon.Envelope) *pubsub.Message {
		return &pubsub.Message{Message: &pb.Message{Data: env.Encode()}}
	}

	first := f.call(t, f.sgs[0], "direct-first", f.provider())
	if !f.g.Direct(f.hosts[0].ID(), first.Encode()) {
		t.Fatal("direct call not delivered")
	}
	m := msg(first)
	if r := f.g.validateCall(topic, f.hosts[2].ID(), m); r != pubsub.ValidationAccept || m.ValidatorData != nil {
		t.Fatalf("gossip copy after a direct one: %v with data %v, want relayed and not delivered", r, m.ValidatorData)
	}
	if r := f.g.validateCall(topic, f.hosts[2].ID(), msg(first)); r != pubsub.ValidationIgnore {
		t.Fatalf("second gossip copy: %v, want ignored", r)
	}

	second := f.call(t, f.sgs[0], "gossip-first", f.provider())
	m = msg(second)
	if r := f.g.validateCall(topic, f.hosts[2].ID(), m); r != pubsub.ValidationAccept || m.ValidatorData == nil {
		t.Fatalf("gossiped call: %v, want accepted with its call", r)
	}
	if f.g.Direct(f.hosts[0].ID(), second.Encode()) {
		t.Fatal("a direct copy of a gossiped call was delivered again")
	}
	if f.g.Direct(f.hosts[0].ID(), second.Encode()) {
		t.Fatal("a second direct copy was delivered")
	}
	got := f.drops.Snapshot()
	if got["call/replayed"] != 2 || got["call/seen_direct"] != 1 || got["call/seen_gossip"] != 1 {
		t.Fatalf("drops = %v, want two replays, one direct call seen again by gossip and one gossiped call seen again directly", got)
	}
	f.expectCall(t, "direct-first")
	f.expectNothing(t)
}

// A call for a capability this node does not serve is dropped.
func TestDirectCallNotSold(t *testing.T) {
	f := newDirectFixture(t, 8)
	c := market.CallForBids{Job: "j1", Attempt: 1, Requester: f.sgs[0].ID(), Invitees: []string{f.provider()}, WindowMs: 1000,
		Created: time.Now().UnixMilli(), Needs: market.Needs{Capabilities: []market.Capability{market.RuntimeProcess},
			MemoryBytes: 64 << 20, TimeoutMs: 1000, Module: "bafkqaaa", ModuleBytes: 10, MaxPrice: 100}}
	env, err := canon.Seal(f.sgs[0], market.KindCall, c)
	if err != nil {
		t.Fatal(err)
	}
	if f.g.Direct(f.hosts[0].ID(), env.Encode()) {
		t.Fatal("a call for a capability not sold was delivered")
	}
	f.waitDrop(t, "call/not_sold", 1)
}

// Whatever bytes a peer sends on /hayek/call/1.0.0, a call is delivered
// only if it is valid, signed by that peer and names this node.
func FuzzDirectCall(f *testing.F) {
	fx := newDirectFixture(f, 1<<20)
	f.Add(fx.call(f, fx.sgs[0], "seed", fx.provider()).Encode())
	f.Add(fx.call(f, fx.sgs[0], "other", fx.hosts[2].ID().String()).Encode())
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !fx.g.Direct(fx.hosts[0].ID(), b) {
			return
		}
		dc := <-fx.got
		if dc.Call.Requester != fx.sgs[0].ID() || !dc.Call.Invited(fx.provider()) || dc.Call.Validate() != nil {
			t.Fatalf("delivered %+v", dc.Call)
		}
	})
}
