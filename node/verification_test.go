package node

import (
	"strings"
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/samples"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/reputation"
)

// TestCreditLimitDeclines: a provider lets a requester owe it only so
// much; past that it declines, saying why, until the debt is settled.
func TestCreditLimitDeclines(t *testing.T) {
	d := startDevnet(t, 2, func(i int, c *Config) {
		if i == 1 {
			c.Settlement.CreditLimit, c.Settlement.CreditMax = 100, 100
		}
	})
	ctx := t.Context()
	c := api.NewClient(d.Sockets[0])
	prov := d.Nodes[1]
	req := api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)}, MaxPrice: 60}
	var declined api.Job
	for i := 0; i < 5; i++ {
		job, err := c.Submit(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		job = wait(t, c, job.ID)
		if job.State != api.StateCompleted {
			declined = job
			break
		}
	}
	if declined.ID == "" {
		t.Fatalf("the requester owes %d, yet the provider with a credit limit of 100 kept bidding", prov.ledger.Balance(d.Nodes[0].ID()))
	}
	if declined.Error == nil || !strings.Contains(declined.Error.Message, "requester_limit") || !strings.Contains(declined.Error.Message, "credit limit") {
		t.Fatalf("declined job says %+v; want the provider's requester_limit reason", declined.Error)
	}
	owed := prov.ledger.Balance(d.Nodes[0].ID())
	pc := api.NewClient(d.Sockets[1])
	if _, err := pc.Settle(ctx, api.Settle{Peer: d.Nodes[0].ID(), Amount: owed}); err != nil {
		t.Fatal(err)
	}
	job, err := c.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if job = wait(t, c, job.ID); job.State != api.StateCompleted {
		t.Fatalf("after settling, the job ended %s (%+v)", job.State, job.Error)
	}
}

// TestCheaterUnderReplication: a provider that corrupts every output
// never gets a wrong result accepted under replicate:3, is not paid for
// it, and falls below every honest provider within a bounded number of
// jobs.
func TestCheaterUnderReplication(t *testing.T) {
	const cheater = 5
	d := startDevnet(t, 6, func(i int, c *Config) {
		if i == cheater {
			c.Misbehave.WrongOutputRate = 1
		}
	})
	ctx := t.Context()
	c := api.NewClient(d.Sockets[0])
	req := d.Nodes[0]
	bad := d.Nodes[cheater].ID()
	want := "hello from hayek\nreplicated"
	caught := 0
	for i := 0; i < 12; i++ {
		job, err := c.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)},
			Stdin: &api.BlobRef{Text: "replicated"}, MaxPrice: 100, Verify: "replicate:3"})
		if err != nil {
			t.Fatal(err)
		}
		job = wait(t, c, job.ID)
		if job.State != api.StateCompleted {
			t.Fatalf("job %d ended %s (%+v)", i, job.State, job.Error)
		}
		res, err := c.Result(ctx, job.ID)
		if err != nil {
			t.Fatal(err)
		}
		if res.Stdout.Text != want {
			t.Fatalf("job %d: accepted stdout %q from %s", i, res.Stdout.Text, wire.ShortID(res.Provider))
		}
		if v := job.Verification; v != nil {
			for _, l := range v.Losers {
				if l == bad {
					caught++
				}
			}
			for _, p := range v.Replicas {
				if p == bad {
					t.Fatalf("job %d: the cheater is among the accepted replicas", i)
				}
			}
		}
	}
	if caught == 0 {
		t.Fatalf("the cheater was never drawn in 12 replicated jobs: the test proves nothing (seed the devnet differently)")
	}
	cheat := req.rep.Book().Posterior(bad, "runtime/wasm").Mean()
	for i, n := range d.Nodes[1:cheater] {
		if honest := req.rep.Book().Posterior(n.ID(), "runtime/wasm").Mean(); honest <= cheat {
			t.Errorf("honest node-%d has mean %.3f, not above the cheater's %.3f", i+1, honest, cheat)
		}
	}
	if req.ledger.Balance(bad) != 0 {
		t.Errorf("the requester owes the cheater %d: wrong results must not be paid", -req.ledger.Balance(bad))
	}
	t.Logf("cheater caught %d times; its mean %.3f", caught, cheat)
}

// TestSampling re-runs a delivered job elsewhere and confirms it, paying
// the sample run from the job's hold.
func TestSampling(t *testing.T) {
	d := startDevnet(t, 4, nil)
	ctx := t.Context()
	c := api.NewClient(d.Sockets[0])
	var job api.Job
	for i := 0; i < 20; i++ {
		j, err := c.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)}, MaxPrice: 100,
			Verify: "sample:1", Args: []string{string(rune('a' + i))}})
		if err != nil {
			t.Fatal(err)
		}
		job = wait(t, c, j.ID)
		break
	}
	if job.State != api.StateCompleted {
		t.Fatalf("sampled job ended %s (%+v)", job.State, job.Error)
	}
	waitFor(t, 30*time.Second, "the sample run to confirm the result", func() bool {
		j, err := c.Job(ctx, job.ID)
		return err == nil && j.Verification != nil && j.Verification.State == "confirmed" && !j.Settlement.Pending
	})
	j, _ := c.Job(ctx, job.ID)
	if len(j.Verification.Replicas) != 2 || j.Verification.Replicas[0] == j.Verification.Replicas[1] {
		t.Fatalf("verification %+v: want the original and one re-run on another provider", j.Verification)
	}
	if a, _ := c.Agent(ctx, "me"); a.Held != 0 {
		t.Fatalf("after sampling, %d is still held", a.Held)
	}
	_ = reputation.Success
}

// TestAttestationsCarryReputation: a node learns about a provider it never
// used from a peer it has itself dealt with, through gossiped attestations
// backed by countersigned receipts.
func TestAttestationsCarryReputation(t *testing.T) {
	d := startDevnet(t, 4, func(i int, c *Config) {
		c.Provider.Pricing.Base = []int64{5, 10, 50, 50}[i]
	})
	ctx := t.Context()
	hello := api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)}, MaxPrice: 500}
	// node-2 deals with node-0 first-hand: node-0 is the cheapest for it.
	c2 := api.NewClient(d.Sockets[2])
	for i := 0; i < 6; i++ {
		j, err := c2.Submit(ctx, hello)
		if err != nil {
			t.Fatal(err)
		}
		if j = wait(t, c2, j.ID); j.State != api.StateCompleted || j.Provider != d.Nodes[0].ID() {
			t.Fatalf("node-2's job %d ended %s on %s; want completed on node-0", i, j.State, wire.ShortID(j.Provider))
		}
	}
	// node-0 uses node-1, then gossips what it saw.
	c0 := api.NewClient(d.Sockets[0])
	for i := 0; i < 3; i++ {
		j, err := c0.Submit(ctx, hello)
		if err != nil {
			t.Fatal(err)
		}
		if j = wait(t, c0, j.ID); j.State != api.StateCompleted || j.Provider != d.Nodes[1].ID() {
			t.Fatalf("node-0's job %d ended %s on %s; want completed on node-1", i, j.State, wire.ShortID(j.Provider))
		}
	}
	target := d.Nodes[1].ID()
	waitFor(t, 20*time.Second, "node-2 to hear of node-1 through node-0's attestations", func() bool {
		rows, err := c2.Reputation(ctx, target)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if r.Capability == "runtime/wasm" && r.ThirdParty > 0 && r.FirstHand == 0 {
				return true
			}
		}
		return false
	})
	// node-3 has never dealt with node-0: the same gossip weighs nothing there.
	rows, err := api.NewClient(d.Sockets[3]).Reputation(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.ThirdParty > 0 {
			t.Fatalf("node-3 counts %v third-party evidence from a reporter it never dealt with", r.ThirdParty)
		}
	}
}

// TestImpossibleReplicationRunsNothing: replicate:5 with two providers is
// refused before anything runs, naming how many distinct providers can
// run it, and nothing is paid.
func TestImpossibleReplicationRunsNothing(t *testing.T) {
	d := startDevnet(t, 3, nil) // node-0 requests; two providers
	ctx := t.Context()
	c := api.NewClient(d.Sockets[0])
	job, err := c.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)}, MaxPrice: 100, Verify: "replicate:5"})
	if err != nil {
		t.Fatal(err)
	}
	job = wait(t, c, job.ID)
	if job.State != api.StateFailed || job.Error == nil || job.Error.Code != "too_few_providers" ||
		!strings.Contains(job.Error.Message, "replicate:5 needs 5 distinct providers; 2 can run it") {
		t.Fatalf("replicate:5 on 2 providers ended %s: %+v", job.State, job.Error)
	}
	for _, a := range job.Attempts {
		if a.Winner != "" || len(a.Winners) > 0 {
			t.Fatalf("attempt %d awarded %q %v: nothing should run", a.Number, a.Winner, a.Winners)
		}
	}
	if job.Settlement == nil || job.Settlement.Paid != 0 || job.Settlement.Released != job.Settlement.Held {
		t.Fatalf("settlement %+v: want nothing paid and the whole hold released", job.Settlement)
	}
}
