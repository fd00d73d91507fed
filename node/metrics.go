package node

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"

	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/wire"
)

// newMetrics returns the node's own registry, with the Go runtime and
// process collectors and the drop counters. Each node has its own, never
// the global default: a devnet runs many nodes in one process. The
// services register their counters in it as they are created.
func newMetrics(drops *wire.Drops) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		wire.DropsCollector(drops),
	)
	return reg
}

// registerNodeMetrics adds the gauges read from the node's state when
// scraped: peers, jobs by state, runs in progress.
func (n *Node) registerNodeMetrics() {
	n.metrics.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hayek_peers", Help: "Peers connected now."},
			func() float64 { return float64(len(n.host.Network().Peers())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hayek_provider_running",
			Help: "Jobs this node runs as a provider now."},
			func() float64 { return float64(n.provider.Running()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "hayek_catches_sent_total",
			Help: "Wrong results this node caught with an adaptive check and told other requesters of."},
			func() float64 { return float64(n.rep.CatchStats().Sent) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "hayek_catches_received_total",
			Help: "Valid catches received from other requesters (drops: hayek_dropped_total{reason=~\"catch/.*\"})."},
			func() float64 { return float64(n.rep.CatchStats().Received) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "hayek_catches_acted_total",
			Help: "Catches acted on: this node trusts a checker, so the accused's results are checked every time for reputation.catch_window."},
			func() float64 { return float64(n.rep.CatchStats().Acted) }),
		jobsCollector{n},
	)
}

var jobsDesc = prometheus.NewDesc("hayek_jobs",
	"Jobs this node requested, by state; terminal states count every job its job store holds "+
		"(the sum over states is the jobs submitted).", []string{"state"}, nil)

// jobsCollector reports the requester's job counts (as Status does), so
// the requester needs no counters of its own.
type jobsCollector struct{ n *Node }

func (c jobsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- jobsDesc }

func (c jobsCollector) Collect(ch chan<- prometheus.Metric) {
	jobs := map[api.JobState]int{
		api.StateCompleted: 0, api.StateFailed: 0, // always present, so a rate can be taken from the first scrape
	}
	c.n.requester.Counts(jobs)
	for s, k := range jobs {
		ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(k), string(s))
	}
}

// Metrics is the node's metrics registry, for embedding (a devnet, a test).
func (n *Node) Metrics() prometheus.Gatherer { return n.metrics }

// WriteMetrics implements api.MetricsWriter: the node's counters in the
// Prometheus text exposition format.
func (n *Node) WriteMetrics(ctx context.Context, w io.Writer) error {
	fams, err := n.metrics.Gather()
	if err != nil {
		return fmt.Errorf("node: gather metrics: %w", err)
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range fams {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := enc.Encode(f); err != nil {
			return fmt.Errorf("node: write metrics: %w", err)
		}
	}
	return nil
}

// checkMetricsListen accepts "" or host:port with a loopback IP literal.
func checkMetricsListen(addr string) error {
	if addr == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port with a loopback address, e.g. 127.0.0.1:9464: %w", err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback IP: the node opens no listener on a public interface but libp2p's; "+
			"use 127.0.0.1:%s or [::1]:%s (a Prometheus elsewhere can reach it through an SSH tunnel or a local agent)", host, port, port)
	}
	return nil
}

// serveMetrics serves GET /metrics on the configured loopback address
// until life ends.
func (n *Node) serveMetrics(life context.Context) error {
	addr := n.cfg.Metrics.Listen
	if addr == "" {
		return nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(life, "tcp", addr)
	if err != nil {
		return fmt.Errorf("node: metrics.listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.metrics, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	if !n.tasks.Go(func() { srv.Serve(ln) }) {
		return ln.Close()
	}
	if !n.tasks.GoCtx(func(ctx context.Context) {
		<-ctx.Done()
		srv.Close()
	}) {
		return srv.Close()
	}
	n.metricsAddr = ln.Addr().String()
	n.log.Info("serving metrics", "addr", n.metricsAddr)
	return nil
}

// MetricsAddr is the address the metrics listener listens on, or "".
func (n *Node) MetricsAddr() string { return n.metricsAddr }
