package gossip

import (
	"sync"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// otherTopic labels messages on topics this node has not joined: a peer
// can name any topic in an RPC, and must not grow the label set.
const otherTopic = "other"

// tracer counts gossip traffic per topic from pubsub's raw trace events:
// what this node published, received first-hand (valid), rejected or
// ignored, saw again (duplicates), and every copy it sent or received on
// the wire, plus the gossip metadata (IHAVE, IWANT, GRAFT, PRUNE). Its
// methods run on pubsub's event loop: they only bump counters.
type tracer struct {
	mu     sync.RWMutex
	joined map[string]bool

	published, delivered, duplicates, wireSent, wireRecv *prometheus.CounterVec
	rejected, control                                    *prometheus.CounterVec
	auctions                                             prometheus.Counter
}

var _ pubsub.RawTracer = (*tracer)(nil)

func newTracer(reg prometheus.Registerer) *tracer {
	f := promauto.With(reg)
	topic := []string{"topic"}
	return &tracer{
		joined: map[string]bool{},
		published: f.NewCounterVec(prometheus.CounterOpts{Name: "hayek_gossip_published_total",
			Help: "Gossip messages this node published, by topic."}, topic),
		delivered: f.NewCounterVec(prometheus.CounterOpts{Name: "hayek_gossip_received_total",
			Help: "Valid gossip messages received from peers, first copy only, by topic."}, topic),
		duplicates: f.NewCounterVec(prometheus.CounterOpts{Name: "hayek_gossip_duplicates_total",
			Help: "Further copies of gossip messages already seen, by topic."}, topic),
		rejected: f.NewCounterVec(prometheus.CounterOpts{Name: "hayek_gossip_rejected_total",
			Help: "Gossip messages rejected or ignored by validation or pubsub, by topic and pubsub's reason."},
			[]string{"topic", "reason"}),
		wireSent: f.NewCounterVec(prometheus.CounterOpts{Name: "hayek_gossip_wire_sent_total",
			Help: "Copies of gossip messages sent to peers (each forward to each peer counts), by topic."}, topic),
		wireRecv: f.NewCounterVec(prometheus.CounterOpts{Name: "hayek_gossip_wire_received_total",
			Help: "Copies of gossip messages received from peers, duplicates included, by topic."}, topic),
		control: f.NewCounterVec(prometheus.CounterOpts{Name: "hayek_gossip_control_sent_total",
			Help: "Gossip control messages sent, by type (ihave, iwant, graft, prune, idontwant)."}, []string{"type"}),
		auctions: f.NewCounter(prometheus.CounterOpts{Name: "hayek_auctions_total",
			Help: "Calls for bids this node sent as a requester, directly or by gossip: one per auction round, re-auctions included."}),
	}
}

func (t *tracer) topic(name string) string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.joined[name] {
		return name
	}
	return otherTopic
}

// Join labels topic by name from now on, and shows its counters at zero
// so that a rate can be taken from the first scrape.
func (t *tracer) Join(topic string) {
	t.mu.Lock()
	t.joined[topic] = true
	t.mu.Unlock()
	for _, v := range []*prometheus.CounterVec{t.published, t.delivered, t.duplicates, t.wireSent, t.wireRecv} {
		v.WithLabelValues(topic)
	}
}

// DeliverMessage is told of peers' messages only, never of this node's own.
func (t *tracer) DeliverMessage(m *pubsub.Message) {
	t.delivered.WithLabelValues(t.topic(m.GetTopic())).Inc()
}

func (t *tracer) RejectMessage(m *pubsub.Message, reason string) {
	t.rejected.WithLabelValues(t.topic(m.GetTopic()), reason).Inc()
}

func (t *tracer) DuplicateMessage(m *pubsub.Message) {
	t.duplicates.WithLabelValues(t.topic(m.GetTopic())).Inc()
}

func (t *tracer) RecvRPC(rpc *pubsub.RPC) {
	for _, m := range rpc.GetPublish() {
		t.wireRecv.WithLabelValues(t.topic(m.GetTopic())).Inc()
	}
}

func (t *tracer) SendRPC(rpc *pubsub.RPC, _ peer.ID) {
	for _, m := range rpc.GetPublish() {
		t.wireSent.WithLabelValues(t.topic(m.GetTopic())).Inc()
	}
	c := rpc.GetControl()
	if c == nil {
		return
	}
	t.countControl("ihave", len(c.GetIhave()))
	t.countControl("iwant", len(c.GetIwant()))
	t.countControl("graft", len(c.GetGraft()))
	t.countControl("prune", len(c.GetPrune()))
	t.countControl("idontwant", len(c.GetIdontwant()))
}

func (t *tracer) countControl(typ string, n int) {
	if n > 0 {
		t.control.WithLabelValues(typ).Add(float64(n))
	}
}

func (t *tracer) AddPeer(peer.ID, protocol.ID)         {}
func (t *tracer) RemovePeer(peer.ID)                   {}
func (t *tracer) Leave(string)                         {}
func (t *tracer) Graft(peer.ID, string)                {}
func (t *tracer) Prune(peer.ID, string)                {}
func (t *tracer) ValidateMessage(*pubsub.Message)      {}
func (t *tracer) ThrottlePeer(peer.ID)                 {}
func (t *tracer) DropRPC(*pubsub.RPC, peer.ID)         {}
func (t *tracer) UndeliverableMessage(*pubsub.Message) {}
