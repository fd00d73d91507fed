package testnet

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/hayek-market/hayek/node/api"
)

// auctionTopics matches every capability's auction topic.
var auctionTopics = map[string]string{"topic": "/hayek/auction/*"}

// Traffic is what the nodes' own counters (GET /v1/metrics, collected at
// the end of the run) say the run cost: gossip messages, direct streams
// and DHT lookups, over the whole net and per job. The counters cover each
// node's life, so they include the warm-up jobs (counted among the jobs),
// the wait for offers and the background refreshes; a node restarted
// during the run counts from its restart.
type Traffic struct {
	// Jobs are those accepted by a node (submitted less refused): what the
	// per-job figures divide by.
	Jobs  int         `json:"jobs"`
	Total TrafficSums `json:"total"`
	// PerJob is Total divided by Jobs.
	PerJob TrafficSums `json:"per_job"`
	// GossipPerAuction are the call copies sent per call published: per
	// job, less the re-auctions.
	GossipPerAuction float64 `json:"gossip_messages_per_auction"`
	// StreamsPerJob are the direct streams opened per job, by protocol.
	StreamsPerJob map[string]float64 `json:"streams_per_job"`
	Nodes         []NodeTraffic      `json:"nodes"`
	// Missing names the nodes whose counters could not be read.
	Missing []string `json:"missing,omitempty"`
}

// TrafficSums are counters summed over nodes.
type TrafficSums struct {
	Auctions float64 `json:"auctions"` // calls for bids sent, directly or gossiped (re-auctions included)
	// GossipMessages are the copies of calls for bids sent on the wire
	// (each forward to each peer once): the gossip a job's auction takes.
	GossipMessages float64 `json:"gossip_messages"`
	// GossipDeliveries are first copies of calls received: the nodes a
	// call reached.
	GossipDeliveries float64 `json:"gossip_deliveries"`
	// GossipControl are the gossip metadata entries sent (IHAVE, IWANT,
	// GRAFT, PRUNE, IDONTWANT), every topic.
	GossipControl float64 `json:"gossip_control"`
	// ReputationMessages are the copies of attestation batches sent.
	ReputationMessages float64 `json:"reputation_messages"`
	// Streams are the direct streams opened (offer, bid, award, result,
	// data, ping, receipt, quote).
	Streams    float64 `json:"streams"`
	DHTLookups float64 `json:"dht_lookups"` // provider-record finds
	// DHTQueries are the DHT RPCs those lookups sent (one per peer asked).
	DHTQueries  float64 `json:"dht_queries"`
	DHTProvides float64 `json:"dht_provides"` // provider records put
}

// NodeTraffic is one node's counters.
type NodeTraffic struct {
	Node string `json:"node"`
	TrafficSums
}

func sums(m api.Metrics) TrafficSums {
	return TrafficSums{
		Auctions:           m.Sum("hayek_auctions_total", nil),
		GossipMessages:     m.Sum("hayek_gossip_wire_sent_total", auctionTopics),
		GossipDeliveries:   m.Sum("hayek_gossip_received_total", auctionTopics),
		GossipControl:      m.Sum("hayek_gossip_control_sent_total", nil),
		ReputationMessages: m.Sum("hayek_gossip_wire_sent_total", map[string]string{"topic": "/hayek/reputation/*"}),
		Streams:            m.Sum("hayek_streams_opened_total", nil),
		DHTLookups:         m.Sum("hayek_dht_provider_finds_total", nil),
		DHTQueries:         m.Sum("hayek_dht_queries_total", map[string]string{"op": "find"}),
		DHTProvides:        m.Sum("hayek_dht_provides_total", nil),
	}
}

func (s *TrafficSums) add(o TrafficSums) {
	s.Auctions += o.Auctions
	s.GossipMessages += o.GossipMessages
	s.GossipDeliveries += o.GossipDeliveries
	s.GossipControl += o.GossipControl
	s.ReputationMessages += o.ReputationMessages
	s.Streams += o.Streams
	s.DHTLookups += o.DHTLookups
	s.DHTQueries += o.DHTQueries
	s.DHTProvides += o.DHTProvides
}

func (s TrafficSums) div(n float64) TrafficSums {
	return TrafficSums{
		Auctions: s.Auctions / n, GossipMessages: s.GossipMessages / n, GossipDeliveries: s.GossipDeliveries / n,
		GossipControl: s.GossipControl / n, ReputationMessages: s.ReputationMessages / n, Streams: s.Streams / n,
		DHTLookups: s.DHTLookups / n, DHTQueries: s.DHTQueries / n, DHTProvides: s.DHTProvides / n,
	}
}

// trafficOf sums the nodes' collected counters; nil when no node's
// counters were collected (nodes older than GET /v1/metrics).
func trafficOf(states []NodeState, jobs int) *Traffic {
	t := &Traffic{Jobs: jobs, StreamsPerJob: map[string]float64{}}
	for _, st := range states {
		if st.Metrics == nil {
			t.Missing = append(t.Missing, st.Name)
			continue
		}
		for _, f := range st.Metrics {
			if f.Name != "hayek_streams_opened_total" {
				continue
			}
			for _, smp := range f.Samples {
				if jobs > 0 && smp.Value > 0 {
					t.StreamsPerJob[smp.Labels["protocol"]] += smp.Value / float64(jobs)
				}
			}
		}
		nt := NodeTraffic{Node: st.Name, TrafficSums: sums(st.Metrics)}
		t.Nodes = append(t.Nodes, nt)
		t.Total.add(nt.TrafficSums)
	}
	if len(t.Nodes) == 0 {
		return nil
	}
	if jobs > 0 {
		t.PerJob = t.Total.div(float64(jobs))
	}
	if t.Total.Auctions > 0 {
		t.GossipPerAuction = t.Total.GossipMessages / t.Total.Auctions
	}
	return t
}

// markdown writes the traffic section of report.md.
func (t *Traffic) markdown(b io.Writer) {
	fmt.Fprintf(b, "\n## Messages and DHT lookups\n\n")
	fmt.Fprintf(b, "From the nodes' counters at the end of the run (`hayek metrics`), over %d jobs accepted "+
		"(warm-up jobs included; the counters also cover the wait for offers and background refreshes).\n\n", t.Jobs)
	fmt.Fprintf(b, "| figure | net-wide | per job |\n|---|---|---|\n")
	row := func(k string, total, per float64) { fmt.Fprintf(b, "| %s | %.0f | %.1f |\n", k, total, per) }
	row("auctions (calls for bids sent)", t.Total.Auctions, t.PerJob.Auctions)
	row("gossip messages (call copies sent)", t.Total.GossipMessages, t.PerJob.GossipMessages)
	row("gossip deliveries (nodes a call reached)", t.Total.GossipDeliveries, t.PerJob.GossipDeliveries)
	row("gossip metadata (IHAVE/IWANT/GRAFT/PRUNE)", t.Total.GossipControl, t.PerJob.GossipControl)
	row("reputation gossip (attestation copies sent)", t.Total.ReputationMessages, t.PerJob.ReputationMessages)
	row("direct streams opened", t.Total.Streams, t.PerJob.Streams)
	row("DHT lookups (provider-record finds)", t.Total.DHTLookups, t.PerJob.DHTLookups)
	row("DHT queries of those lookups (peers asked)", t.Total.DHTQueries, t.PerJob.DHTQueries)
	row("DHT provides (records put)", t.Total.DHTProvides, t.PerJob.DHTProvides)
	if t.Total.Auctions > 0 {
		fmt.Fprintf(b, "\nGossip messages per auction (re-auctions call again; calls sent only to their invitees count zero): %.1f.\n", t.GossipPerAuction)
	}
	if t.Total.DHTLookups > 0 {
		fmt.Fprintf(b, "\nDHT queries per lookup: %.1f.\n", t.Total.DHTQueries/t.Total.DHTLookups)
	}
	if len(t.StreamsPerJob) > 0 {
		protos := slices.Sorted(maps.Keys(t.StreamsPerJob))
		for i, p := range protos {
			protos[i] = fmt.Sprintf("%s %.1f", p, t.StreamsPerJob[p])
		}
		fmt.Fprintf(b, "\nDirect streams per job, by protocol: %s.\n", strings.Join(protos, ", "))
	}
	if len(t.Missing) > 0 {
		fmt.Fprintf(b, "\nNo counters from: %v.\n", t.Missing)
	}
	fmt.Fprintf(b, "\n| node | auctions | gossip sent | gossip received | streams opened | DHT lookups | DHT provides |\n|---|---|---|---|---|---|---|\n")
	for _, n := range t.Nodes {
		fmt.Fprintf(b, "| %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f |\n", n.Node, n.Auctions, n.GossipMessages,
			n.GossipDeliveries, n.Streams, n.DHTLookups, n.DHTProvides)
	}
}
