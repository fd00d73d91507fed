package node

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/internal/samples"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/gossip"
	"github.com/hayek-market/hayek/node/internal/wire"
)

// rogue is a bare libp2p peer that speaks hayek's protocols badly.
type rogue struct {
	h  host.Host
	ps *pubsub.PubSub
	sg *wire.Signer
}

func newRogue(t *testing.T, target *Node) *rogue {
	t.Helper()
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h, err := libp2p.New(libp2p.Identity(key), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	ps, err := pubsub.NewGossipSub(t.Context(), h, pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign), pubsub.WithNoAuthor(),
		pubsub.WithMessageIdFn(func(m *pb.Message) string { return string(m.Data) }))
	if err != nil {
		t.Fatal(err)
	}
	sg, _ := wire.NewSigner(key, nil)
	if err := h.Connect(t.Context(), peer.AddrInfo{ID: target.host.ID(), Addrs: target.host.Addrs()}); err != nil {
		t.Fatal(err)
	}
	return &rogue{h: h, ps: ps, sg: sg}
}

func (r *rogue) send(t *testing.T, to *Node, proto protocol.ID, raw []byte) {
	t.Helper()
	st, err := r.h.NewStream(t.Context(), to.host.ID(), proto)
	if err != nil {
		t.Fatal(err)
	}
	st.Write(raw)
	st.Close()
}

// TestGarbagePublisherIsGraylisted: a peer publishing garbage on an auction
// topic is rejected by the validator and falls below the graylist threshold,
// while honest peers stay at or above zero and the network keeps working.
func TestGarbagePublisherIsGraylisted(t *testing.T) {
	d := startDevnet(t, 3, nil)
	n := d.Nodes[0]
	r := newRogue(t, n)
	topic, err := r.ps.Join(market.RuntimeWasm.Topic())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the rogue to see the node on the topic", func() bool { return len(topic.ListPeers()) > 0 })
	// Keep publishing garbage until the node graylists the publisher: the
	// score falls with every invalid message, whatever the scheduling.
	sent := 0
	last := time.Now()
	waitFor(t, 30*time.Second, "the garbage publisher's score to fall below the graylist threshold", func() bool {
		junk := make([]byte, 64)
		rand.Read(junk)
		if err := topic.Publish(t.Context(), junk); err != nil {
			t.Fatal(err)
		}
		sent++
		s, ok := n.Score(r.h.ID())
		if time.Since(last) > 2*time.Second {
			last = time.Now()
			t.Logf("after %d garbage messages: rogue score %v (known: %v), drops %v", sent, s, ok, n.Drops())
		}
		return ok && s < gossip.ScoreThresholds.GraylistThreshold
	})
	t.Logf("graylisted after %d garbage messages", sent)
	for _, o := range d.Nodes[1:] {
		if s, ok := n.Score(o.host.ID()); ok && s < 0 {
			t.Errorf("honest peer scored %v, want ≥ 0", s)
		}
	}
	if n.Drops()["call/malformed"] == 0 {
		t.Errorf("drops %v: want malformed calls counted", n.Drops())
	}
	// The node still works.
	c := api.NewClient(d.Sockets[0])
	job, err := c.Submit(t.Context(), api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)}, MaxPrice: 500})
	if err != nil {
		t.Fatal(err)
	}
	if job = wait(t, c, job.ID); job.State != api.StateCompleted {
		t.Fatalf("job after the attack ended %s (%+v)", job.State, job.Error)
	}
}

// TestBadPeerMessagesAreDropped: forged, malformed, oversized, stale and
// replayed messages are dropped and counted, and the node keeps serving.
func TestBadPeerMessagesAreDropped(t *testing.T) {
	d := startDevnet(t, 3, nil)
	n := d.Nodes[0]
	r := newRogue(t, n)
	now := time.Now()

	// A bid signed by the rogue but claiming to come from another peer.
	forged := market.Bid{Job: "j1", Attempt: 1, Provider: d.Nodes[1].ID(), Requester: n.ID(), Price: 5, Created: now.UnixMilli()}
	body := canon.MustMarshal(forged)
	sig, _ := r.sg.Sign(append([]byte(canon.Domain(market.KindBid)), body...))
	r.send(t, n, ProtoBid, frame(canon.Envelope{Kind: market.KindBid, Body: body, Sig: sig}.Encode()))
	// Garbage, and a frame announcing 1 GB.
	r.send(t, n, ProtoBid, frame([]byte("not cbor at all")))
	r.send(t, n, ProtoBid, binary.AppendUvarint(nil, 1<<30))
	// A stale bid, correctly signed by the rogue itself.
	stale, _ := canon.Seal(r.sg, market.KindBid, market.Bid{Job: "j1", Attempt: 1, Provider: r.sg.ID(), Requester: n.ID(),
		Price: 5, Created: now.Add(-time.Hour).UnixMilli()})
	r.send(t, n, ProtoBid, frame(stale.Encode()))
	// An award from a stranger for a bid never made.
	award, _ := canon.Seal(r.sg, market.KindAward, market.Award{Job: "j9", Attempt: 1, Requester: r.sg.ID(), Provider: n.ID(),
		Price: 5, ResultBy: now.Add(time.Minute).UnixMilli(), Created: now.UnixMilli()})
	r.send(t, n, ProtoAward, frame(award.Encode()))

	// Calls for bids: one valid, the same job and attempt re-signed (a
	// replay), and a stale one.
	topic, err := r.ps.Join(market.RuntimeWasm.Topic())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the rogue to see the node on the topic", func() bool { return len(topic.ListPeers()) > 0 })
	call := market.CallForBids{Job: "jr", Attempt: 1, Requester: r.sg.ID(), Invitees: []string{n.ID()}, WindowMs: 1000,
		Needs: market.Needs{Capabilities: []market.Capability{market.RuntimeWasm}, MemoryBytes: 1 << 20, TimeoutMs: 1000,
			Module: canon.BlobCID(samples.Hello).String(), ModuleBytes: int64(len(samples.Hello)), MaxPrice: 100}}
	for i, created := range []time.Time{now, now.Add(time.Millisecond), now.Add(-time.Hour)} {
		c := call
		c.Created = created.UnixMilli()
		if i == 2 {
			c.Job = "jstale"
		}
		env, _ := canon.Seal(r.sg, market.KindCall, c)
		if err := topic.Publish(t.Context(), env.Encode()); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"bid/bad_signature", "bid/malformed", "bid/unreadable", "bid/stale", "award/rejected",
		"call/replayed", "call/stale"}
	waitFor(t, 10*time.Second, "every bad message to be counted", func() bool {
		drops := n.Drops()
		for _, w := range want {
			if drops[w] == 0 {
				return false
			}
		}
		return true
	})
	c := api.NewClient(d.Sockets[0])
	job, err := c.Submit(t.Context(), api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)}, MaxPrice: 500})
	if err != nil {
		t.Fatal(err)
	}
	if job = wait(t, c, job.ID); job.State != api.StateCompleted {
		t.Fatalf("job after bad messages ended %s (%+v)", job.State, job.Error)
	}
	st, err := c.Status(t.Context())
	if err != nil || st.Dropped["bid/bad_signature"] == 0 {
		t.Fatalf("status should report drops: %v %v", st.Dropped, err)
	}
}

func frame(b []byte) []byte { return append(binary.AppendUvarint(nil, uint64(len(b))), b...) }

var _ = context.Background

// TestLateAwardIsRefusedAsExpired: an award that comes after its bid
// expired (or stale, or past its result deadline) is refused with a signed
// ack whose code is expired, which the requester reads as its own
// lateness (market.FaultLate) rather than evidence against the provider.
func TestLateAwardIsRefusedAsExpired(t *testing.T) {
	d := startDevnet(t, 1, nil)
	n := d.Nodes[0]
	r := newRogue(t, n)
	now := time.Now()
	cases := map[string]market.Award{
		"no open bid (expired or never made)": {Job: "j1", Attempt: 1, Price: 5,
			ResultBy: now.Add(time.Minute).UnixMilli(), Created: now.UnixMilli()},
		"result deadline passed": {Job: "j2", Attempt: 1, Price: 5,
			ResultBy: now.Add(-time.Second).UnixMilli(), Created: now.UnixMilli()},
		"stale": {Job: "j3", Attempt: 1, Price: 5,
			ResultBy: now.Add(time.Hour).UnixMilli(), Created: now.Add(-time.Hour).UnixMilli()},
	}
	for name, a := range cases {
		a.Requester, a.Provider = r.sg.ID(), n.ID()
		env, err := canon.Seal(r.sg, market.KindAward, a)
		if err != nil {
			t.Fatal(err)
		}
		st, err := r.h.NewStream(t.Context(), n.host.ID(), ProtoAward)
		if err != nil {
			t.Fatal(err)
		}
		if err := wire.WriteFrame(st, env.Encode()); err != nil {
			t.Fatal(err)
		}
		st.CloseWrite()
		b, err := wire.ReadFrame(bufio.NewReader(st), wire.MaxAckFrame)
		st.Close()
		if err != nil {
			t.Fatalf("%s: no ack: %v", name, err)
		}
		aenv, err := canon.DecodeEnvelope(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var ack market.Ack
		if err := aenv.Open(n.verifier, market.KindAck, &ack); err != nil {
			t.Fatalf("%s: ack does not verify: %v", name, err)
		}
		if ack.Accept || ack.Code != market.DeclineExpired || ack.Provider != n.ID() {
			t.Errorf("%s: ack %+v, want a refusal with code %q", name, ack, market.DeclineExpired)
		}
	}
}
