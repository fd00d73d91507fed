package node

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/samples"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
)

// TestMetrics runs one job on a three-node devnet and reads both sides'
// counters over the socket: the requester's auction, the call it gossiped,
// the bids it was served, the award stream it opened and its DHT lookup;
// the winner's received call, its bid, the award it served.
func TestMetrics(t *testing.T) {
	d := startDevnet(t, 3, nil)
	ctx := t.Context()
	c := api.NewClient(d.Sockets[0])
	job, err := c.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)}, MaxPrice: 500})
	if err != nil {
		t.Fatal(err)
	}
	job = wait(t, c, job.ID)
	if job.State != api.StateCompleted {
		t.Fatalf("job ended %s (%+v), want completed", job.State, job.Error)
	}
	winner := -1
	for i, n := range d.Nodes {
		if n.ID() == job.Provider {
			winner = i
		}
	}
	if winner < 0 {
		t.Fatalf("the job ran on %s, not a node of the devnet", job.Provider)
	}
	scrape := func(sock string) api.Metrics {
		t.Helper()
		text, err := api.NewClient(sock).Metrics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m, err := api.ParseMetrics(text)
		if err != nil {
			t.Fatalf("%v in\n%s", err, text)
		}
		return m
	}
	auction := map[string]string{"topic": market.Capability("runtime/wasm").Topic()}
	type want struct {
		name  string
		match map[string]string
		min   float64
	}
	check := func(who string, m api.Metrics, wants []want) {
		t.Helper()
		for _, w := range wants {
			if got := m.Sum(w.name, w.match); got < w.min {
				t.Errorf("%s: %s%v = %v, want at least %v", who, w.name, w.match, got, w.min)
			}
		}
	}
	req := scrape(d.Sockets[0])
	check("requester", req, []want{
		{"hayek_auctions_total", nil, 1},
		{"hayek_gossip_published_total", auction, 1},
		{"hayek_gossip_wire_sent_total", auction, 1},
		{"hayek_streams_served_total", map[string]string{"protocol": "bid"}, 1},
		{"hayek_streams_opened_total", map[string]string{"protocol": "award"}, 1},
		{"hayek_streams_opened_total", map[string]string{"protocol": "call"}, 1}, // calls go to invitees directly
		{"hayek_dht_provider_finds_total", nil, 1},
		{"hayek_dht_queries_total", map[string]string{"op": "find"}, 1},
		{"hayek_jobs", map[string]string{"state": "completed"}, 1},
		{"hayek_peers", nil, 2},
		{"go_goroutines", nil, 1},
	})
	if got := req.Sum("hayek_jobs", map[string]string{"state": "failed"}); got != 0 {
		t.Errorf("requester: %v failed jobs, want 0", got)
	}
	check("winner", scrape(d.Sockets[winner]), []want{
		{"hayek_gossip_received_total", auction, 1},
		{"hayek_gossip_wire_received_total", map[string]string{"topic": "/hayek/auction/*"}, 1},
		{"hayek_answers_sent_total", map[string]string{"kind": "bid"}, 1},
		{"hayek_streams_opened_total", map[string]string{"protocol": "bid"}, 1},
		{"hayek_streams_served_total", map[string]string{"protocol": "award"}, 1},
		{"hayek_streams_served_total", map[string]string{"protocol": "call"}, 1},
		{"hayek_streams_opened_total", map[string]string{"protocol": "result"}, 1},
	})
	// Provider records go out in the background once the DHT has peers.
	waitFor(t, 5*time.Second, "the winner's provider record put", func() bool {
		m := scrape(d.Sockets[winner])
		return m.Sum("hayek_dht_provides_total", map[string]string{"result": "ok"}) >= 1 &&
			m.Sum("hayek_dht_queries_total", map[string]string{"op": "provide"}) >= 1
	})
}

// TestMetricsListener serves the counters over HTTP on loopback when
// [metrics] listen asks for it, and stops with the node.
func TestMetricsListener(t *testing.T) {
	d := startDevnet(t, 1, func(_ int, c *Config) { c.Metrics.Listen = "127.0.0.1:0" })
	addr := d.Nodes[0].MetricsAddr()
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("metrics listener on %q, want 127.0.0.1", addr)
	}
	req, err := http.NewRequestWithContext(t.Context(), "GET", "http://"+addr+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), "hayek_auctions_total 0") {
		t.Fatalf("GET /metrics: %d %v\n%s", resp.StatusCode, err, body)
	}
	if err := d.Nodes[0].Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.DefaultClient.Do(req.Clone(t.Context())); err == nil {
		resp.Body.Close()
		t.Fatal("the metrics listener outlived its node")
	}
}
