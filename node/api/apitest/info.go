package apitest

import (
	"context"
	"encoding/json"
	"time"

	"github.com/hayek-market/hayek/node/api"
)

// Offers answers with providerOne's offer of runtime/wasm.
func (f *Node) Offers(ctx context.Context) ([]api.OfferInfo, error) {
	f.saw(ctx)
	return []api.OfferInfo{{
		Provider: providerOne, Seq: 3,
		Capabilities: []string{"runtime/wasm"},
		Pricing:      json.RawMessage(`{"base":10,"per_second":3}`),
		Limits:       json.RawMessage(`{"max_memory":1073741824}`),
		Version:      "test", ExpiresAt: time.Now().Add(time.Hour),
	}}, nil
}

// Peers answers with providerOne, connected.
func (f *Node) Peers(ctx context.Context) ([]api.PeerInfo, error) {
	f.saw(ctx)
	return []api.PeerInfo{{PeerID: providerOne, Addrs: []string{"/ip4/10.0.0.2/tcp/4001"},
		Connected: true, LatencyMs: 1.5, Provider: true}}, nil
}

// Status answers with what SetStatus set, else with a node that has
// completed 2 jobs, is at ledger seq 12 and misbehaves as SetMisbehaving
// says.
func (f *Node) Status(ctx context.Context) (api.Status, error) {
	f.saw(ctx)
	f.mu.Lock()
	status, misbehaving := f.status, f.misbehaving
	f.mu.Unlock()
	if status != nil {
		return status()
	}
	return api.Status{PeerID: self, Version: "test", StartedAt: time.Now(),
		Peers: 1, Jobs: map[api.JobState]int{api.StateCompleted: 2}, LedgerHead: ledgerHead, LedgerSeq: 12,
		Misbehaving: misbehaving}, nil
}

// SetStatus makes Status answer with status(); nil restores its own answer.
func (f *Node) SetStatus(status func() (api.Status, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = status
}

// SetMisbehaving sets the misbehaviours Status reports.
func (f *Node) SetMisbehaving(m ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.misbehaving = m
}
