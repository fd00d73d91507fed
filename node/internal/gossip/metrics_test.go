package gossip

import (
	"testing"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func value(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestTracerBoundsTopics counts traffic on joined topics by name and on
// any other topic a peer names as "other", so no peer can grow the label
// set.
func TestTracerBoundsTopics(t *testing.T) {
	reg := prometheus.NewRegistry()
	tr := newTracer(reg)
	joined := "/hayek/auction/1/runtime/wasm"
	tr.Join(joined)
	topic := func(s string) *string { return &s }
	rpc := &pubsub.RPC{RPC: pb.RPC{
		Publish: []*pb.Message{{Topic: topic(joined)}, {Topic: topic("/junk/1")}, {Topic: topic("/junk/2")}},
		Control: &pb.ControlMessage{Ihave: []*pb.ControlIHave{{}, {}}, Graft: []*pb.ControlGraft{{}}},
	}}
	tr.RecvRPC(rpc)
	tr.SendRPC(rpc, "")
	tr.RejectMessage(&pubsub.Message{Message: &pb.Message{Topic: topic("/junk/3")}}, pubsub.RejectValidationFailed)
	for _, c := range []struct {
		got  prometheus.Counter
		want float64
	}{
		{tr.wireRecv.WithLabelValues(joined), 1},
		{tr.wireRecv.WithLabelValues(otherTopic), 2},
		{tr.wireSent.WithLabelValues(otherTopic), 2},
		{tr.control.WithLabelValues("ihave"), 2},
		{tr.control.WithLabelValues("graft"), 1},
		{tr.rejected.WithLabelValues(otherTopic, pubsub.RejectValidationFailed), 1},
	} {
		if got := value(t, c.got); got != c.want {
			t.Errorf("%s = %v, want %v", c.got.Desc(), got, c.want)
		}
	}
	// Joined topic plus "other": two series per per-topic counter, whatever
	// the peers sent.
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == "hayek_gossip_wire_received_total" && len(f.GetMetric()) != 2 {
			t.Errorf("%d wire-received series, want 2 (the joined topic and other)", len(f.GetMetric()))
		}
	}
}
