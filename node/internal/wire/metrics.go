package wire

import (
	"context"
	"strings"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// StreamMetrics counts hayek's direct streams per protocol: those this node
// opens (through the host CountStreams returns) and those it serves (through
// a Gate that has them). Protocols are labelled by short name ("bid",
// "award", ...); anything else is "other", so a peer cannot grow the label
// set.
type StreamMetrics struct {
	opened, failed, served *prometheus.CounterVec
}

// NewStreamMetrics registers the stream counters with reg; a nil reg keeps
// them unregistered (tests).
func NewStreamMetrics(reg prometheus.Registerer) *StreamMetrics {
	f := promauto.With(reg)
	m := &StreamMetrics{
		opened: f.NewCounterVec(prometheus.CounterOpts{Name: "hayek_streams_opened_total",
			Help: "Direct streams this node opened to peers, by protocol."}, []string{"protocol"}),
		failed: f.NewCounterVec(prometheus.CounterOpts{Name: "hayek_streams_open_failed_total",
			Help: "Direct streams this node could not open, by protocol."}, []string{"protocol"}),
		served: f.NewCounterVec(prometheus.CounterOpts{Name: "hayek_streams_served_total",
			Help: "Direct streams peers opened to this node and it served (past the per-peer gate), by protocol."},
			[]string{"protocol"}),
	}
	for _, p := range Protocols {
		name := ProtoName(p)
		m.opened.WithLabelValues(name)
		m.failed.WithLabelValues(name)
		m.served.WithLabelValues(name)
	}
	return m
}

// ProtoName is the short name of one of hayek's protocols ("bid" for
// /hayek/bid/1.0.0), or "other". Only protocols the node itself opens or
// serves are named, so the names are a fixed set.
func ProtoName(p protocol.ID) string {
	rest, ok := strings.CutPrefix(string(p), "/hayek/")
	if !ok {
		return "other"
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}

// CountStreams returns h with NewStream counted per protocol. The node
// gives it to its own services; the DHT and gossipsub keep the bare host.
// A stream it opens to this node itself is a loopback to the handler set
// through it (see loopback.go).
func (m *StreamMetrics) CountStreams(h host.Host) host.Host {
	return countingHost{Host: h, m: m, loop: &loopHandlers{}}
}

type countingHost struct {
	host.Host
	m    *StreamMetrics
	loop *loopHandlers
}

func (h countingHost) SetStreamHandler(p protocol.ID, hd network.StreamHandler) {
	h.loop.set(p, hd)
	h.Host.SetStreamHandler(p, hd)
}

func (h countingHost) NewStream(ctx context.Context, p peer.ID, pids ...protocol.ID) (network.Stream, error) {
	name := "other"
	if len(pids) > 0 {
		name = ProtoName(pids[0])
	}
	var st network.Stream
	var err error
	if p == h.ID() {
		st, err = h.loop.open(p, pids)
	} else {
		st, err = h.Host.NewStream(ctx, p, pids...)
	}
	if err != nil {
		h.m.failed.WithLabelValues(name).Inc()
		return nil, err
	}
	h.m.opened.WithLabelValues(name).Inc()
	return st, nil
}

func (m *StreamMetrics) serve(p protocol.ID) {
	if m != nil {
		m.served.WithLabelValues(ProtoName(p)).Inc()
	}
}

// DropsCollector exports d as hayek_dropped_total{reason}.
func DropsCollector(d *Drops) prometheus.Collector { return dropsCollector{d} }

type dropsCollector struct{ d *Drops }

var dropsDesc = prometheus.NewDesc("hayek_dropped_total",
	"Peer messages and streams dropped, by reason (bid/bad_signature, call/stale, ...).", []string{"reason"}, nil)

func (c dropsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- dropsDesc }

func (c dropsCollector) Collect(ch chan<- prometheus.Metric) {
	for reason, n := range c.d.Snapshot() {
		ch <- prometheus.MustNewConstMetric(dropsDesc, prometheus.CounterValue, float64(n), reason)
	}
}
