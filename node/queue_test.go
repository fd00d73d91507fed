package node

import (
	"sync"
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/internal/samples"
	"github.com/hayek-market/hayek/internal/units"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/reputation"
	"github.com/hayek-market/hayek/settlement"
)

// outcomes counts the reputation evidence a node's ledger holds, by kind.
func outcomes(t *testing.T, n *Node) map[string]int {
	t.Helper()
	es, err := n.ledger.Entries(t.Context(), settlement.Filter{Kind: settlement.KindOutcome})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range es {
		var o settlement.Outcome
		if err := canon.Unmarshal(e.Body, &o); err != nil {
			t.Fatal(err)
		}
		out[o.Outcome]++
	}
	return out
}

// TestJobsQueueBeyondTheMarket: a requester whose one provider has one
// slot keeps its other jobs queued, with their positions, instead of
// auctioning them all; each runs in turn, and nothing counts against the
// provider.
func TestJobsQueueBeyondTheMarket(t *testing.T) {
	d := startDevnet(t, 2, func(i int, c *Config) { c.Provider.Slots = 1 })
	ctx := t.Context()
	c := api.NewClient(d.Sockets[0])
	toolbox, err := c.PutBlobBytes(ctx, samples.Toolbox)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 0; i < 4; i++ {
		j, err := c.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{CID: toolbox.CID}, Args: []string{"spin"},
			Timeout: units.Duration(300 * time.Millisecond), MaxPrice: 500})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	sawQueued := false
	waitFor(t, 10*time.Second, "a later job to wait in the queue with its position", func() bool {
		j, err := c.Job(ctx, ids[3])
		sawQueued = err == nil && j.State == api.StateQueued && j.QueuePosition >= 1
		return sawQueued || (err == nil && j.State.Terminal())
	})
	if !sawQueued {
		t.Fatalf("job %s never showed as queued", ids[3])
	}
	for _, id := range ids {
		if j := wait(t, c, id); j.State != api.StateCompleted || j.Status != "timeout" {
			t.Fatalf("job %s ended %s/%s (%+v), want completed/timeout", id, j.State, j.Status, j.Error)
		}
	}
	if got := outcomes(t, d.Nodes[0]); got[string(reputation.Failure)] != 0 || got[string(reputation.Timeout)] != 0 {
		t.Fatalf("evidence recorded against the provider: %v", got)
	}
}

// TestFloodIsNotMisconduct: hundreds of parallel submissions, far more
// than the providers' slots, all run — queued locally, declined as busy
// when providers are full — and no evidence is recorded against honest
// providers for load the requester caused.
func TestFloodIsNotMisconduct(t *testing.T) {
	d := startDevnet(t, 3, func(i int, c *Config) { c.Provider.Slots = 2 })
	ctx := t.Context()
	c := api.NewClient(d.Sockets[0])
	const jobs = 200
	var wg sync.WaitGroup
	ids := make(chan string, jobs)
	for i := 0; i < jobs; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j, err := c.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)}, MaxPrice: 500})
			if err != nil {
				t.Error(err)
				return
			}
			ids <- j.ID
		}()
	}
	wg.Wait()
	close(ids)
	failed := 0
	for id := range ids {
		if j := wait(t, c, id); j.State != api.StateCompleted {
			failed++
			t.Errorf("job %s ended %s: %+v", id, j.State, j.Error)
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d jobs failed", failed, jobs)
	}
	got := outcomes(t, d.Nodes[0])
	if got[string(reputation.Failure)] != 0 || got[string(reputation.Timeout)] != 0 {
		explainOutcomes(t, d.Nodes[0], c)
		t.Fatalf("evidence against honest providers after a flood: %v", got)
	}
	t.Logf("outcomes recorded: %v", got)
}

// explainOutcomes logs every outcome other than success with its job's
// attempts and error, so a test that finds evidence says why it was
// recorded.
func explainOutcomes(t *testing.T, n *Node, c *api.Client) {
	t.Helper()
	es, err := n.ledger.Entries(t.Context(), settlement.Filter{Kind: settlement.KindOutcome})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		var o settlement.Outcome
		if err := canon.Unmarshal(e.Body, &o); err != nil {
			t.Fatal(err)
		}
		if o.Outcome == string(reputation.Success) {
			continue
		}
		t.Logf("outcome %s against %s (job %s, receipt %q)", o.Outcome, wire.ShortID(o.Peer), o.Job, o.Receipt)
		j, err := c.Job(t.Context(), o.Job)
		if err != nil {
			t.Logf("  job %s: %v", o.Job, err)
			continue
		}
		t.Logf("  job %s ended %s, error %+v, settlement %+v", j.ID, j.State, j.Error, j.Settlement)
		for _, a := range j.Attempts {
			t.Logf("  attempt %d: winners %v fault %q silent %v declines %+v", a.Number, a.Winners, a.Fault, a.Silent, a.Declines)
		}
	}
}
