package api_test

import (
	"testing"

	"github.com/hayek-market/hayek/node/api"
)

const exposition = `# HELP hayek_gossip_wire_sent_total Copies of gossip messages sent to peers.
# TYPE hayek_gossip_wire_sent_total counter
hayek_gossip_wire_sent_total{topic="/hayek/auction/1/runtime/wasm"} 12
hayek_gossip_wire_sent_total{topic="/hayek/auction/1/gpu/nvidia/h100"} 3
hayek_gossip_wire_sent_total{topic="/hayek/reputation/1"} 5
# HELP go_gc_duration_seconds A summary.
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0.5"} NaN
go_gc_duration_seconds_sum 0.25
go_gc_duration_seconds_count 4
`

func TestParseMetrics(t *testing.T) {
	m, err := api.ParseMetrics([]byte(exposition))
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || m[0].Name != "go_gc_duration_seconds" || m[1].Type != "counter" {
		t.Fatalf("parsed %+v, want the two families sorted by name", m)
	}
	for _, c := range []struct {
		name  string
		match map[string]string
		want  float64
	}{
		{"hayek_gossip_wire_sent_total", nil, 20},
		{"hayek_gossip_wire_sent_total", map[string]string{"topic": "/hayek/auction/*"}, 15},
		{"hayek_gossip_wire_sent_total", map[string]string{"topic": "/hayek/reputation/1"}, 5},
		{"hayek_gossip_wire_sent_total", map[string]string{"peer": "*"}, 0},
		{"go_gc_duration_seconds_count", nil, 4},
		{"go_gc_duration_seconds", nil, 0}, // the NaN quantile is left out
	} {
		if got := m.Sum(c.name, c.match); got != c.want {
			t.Errorf("Sum(%s, %v) = %v, want %v", c.name, c.match, got, c.want)
		}
	}
	if got := m.Only("hayek_"); len(got) != 1 {
		t.Errorf("Only(hayek_) kept %d families, want 1", len(got))
	}
	if _, err := api.ParseMetrics([]byte("not { metrics")); err == nil {
		t.Error("garbage parsed")
	}
}
