package gossip

import (
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"

	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/internal/wire"
)

// Garbage and oversized calls are rejected and counted, without a node.
func TestValidateCallRejectsGarbage(t *testing.T) {
	mn := mocknet.New()
	defer mn.Close()
	h, err := mn.GenPeer()
	if err != nil {
		t.Fatal(err)
	}
	tasks, ctx := wire.NewGroup(t.Context())
	defer tasks.Stop()
	drops := wire.NewDrops()
	g, err := New(ctx, Deps{Host: h, Verifier: wire.NewVerifier(), Drops: drops, Now: time.Now, Tasks: tasks,
		Config: Config{Freshness: time.Minute, MaxCall: 64, CallRate: 1, CallBurst: 1}})
	if err != nil {
		t.Fatal(err)
	}
	topic := market.RuntimeWasm.Topic()
	msg := func(b []byte) *pubsub.Message { return &pubsub.Message{Message: &pb.Message{Data: b}} }
	if r := g.validateCall(topic, h.ID(), msg([]byte("garbage"))); r != pubsub.ValidationReject {
		t.Fatalf("garbage: %v, want reject", r)
	}
	if r := g.validateCall(topic, h.ID(), msg(make([]byte, 65))); r != pubsub.ValidationReject {
		t.Fatalf("oversized: %v, want reject", r)
	}
	got := drops.Snapshot()
	if got["call/malformed"] != 1 || got["call/oversized"] != 1 {
		t.Fatalf("drops = %v, want one malformed and one oversized call", got)
	}
}
