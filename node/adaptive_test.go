package node

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/samples"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/reputation"
)

// TestAdaptiveVerification: under verify "adaptive" a cheap cheater's
// wrong result is checked before it is accepted, outvoted by honest
// checkers, never handed to the agent, and the cheater wins nothing more.
func TestAdaptiveVerification(t *testing.T) {
	const cheater = 5
	d := startDevnet(t, 6, func(i int, c *Config) {
		if i == cheater {
			c.Misbehave.WrongOutputRate = 1
			c.Provider.Pricing.Base = 1 // the cheapest: it wins while it is eligible
		}
	})
	ctx := t.Context()
	c := api.NewClient(d.Sockets[0])
	bad := d.Nodes[cheater].ID()
	who := names(d)
	want := "hello from hayek\nchecked"
	caught, checked := false, 0
	for i := 0; i < 4; i++ {
		job := submitWait(t, c, api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)},
			Stdin: &api.BlobRef{Text: "checked"}, MaxPrice: 100, Verify: "adaptive"})
		v := job.Verification
		if v == nil || v.Mode != "adaptive" {
			t.Fatalf("job %d: verification %+v, want adaptive", i, v)
		}
		t.Logf("job %d: %s on %s; verification %s: %s (replicas %d)", i, job.State, who[job.Provider], v.State, v.Detail, len(v.Replicas))
		if v.State == "confirmed" {
			checked++
		}
		for _, l := range v.Losers {
			if l == bad {
				caught = true
			}
		}
		if job.State != api.StateCompleted {
			continue // a check without a verdict fails the job: allowed, never a wrong result
		}
		res, err := c.Result(ctx, job.ID)
		if err != nil {
			t.Fatal(err)
		}
		if res.Stdout.Text != want {
			t.Fatalf("job %d: accepted stdout %q from %s", i, res.Stdout.Text, wire.ShortID(res.Provider))
		}
		if i > 0 && job.Provider == bad {
			t.Fatalf("job %d: the cheater won again after its first job", i)
		}
	}
	if !caught {
		t.Fatalf("the cheater, cheapest and a stranger, was never caught")
	}
	if checked == 0 {
		t.Fatalf("no result of a provider without a record was checked")
	}
	if a, _ := c.Agent(ctx, "me"); a.Held != 0 {
		t.Fatalf("after the checks, %d is still held", a.Held)
	}
	if d.Nodes[0].ledger.Balance(bad) < 0 {
		t.Logf("the cheater was paid %d for its wrong result (a result under check is paid; it earns no reputation)", -d.Nodes[0].ledger.Balance(bad))
	}
}

// TestAdaptiveWithoutChecker: with no other provider to check with, an
// adaptive job of a provider without a record fails rather than hand the
// agent a result nobody vouched for, and its hold comes back but for the
// run it paid (why adaptive is not the default: docs/protocol.md).
func TestAdaptiveWithoutChecker(t *testing.T) {
	d := startDevnet(t, 2, nil)
	ctx := t.Context()
	c := api.NewClient(d.Sockets[0])
	job := submitWait(t, c, api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)}, MaxPrice: 100, Verify: "adaptive"})
	if job.State != api.StateFailed || job.Error == nil || job.Error.Code != "verification_failed" {
		t.Fatalf("job ended %s (%+v), want failed: verification_failed", job.State, job.Error)
	}
	if v := job.Verification; v == nil || v.State != "unverified" {
		t.Fatalf("verification %+v, want unverified", job.Verification)
	}
	if _, err := c.Result(ctx, job.ID); err == nil {
		t.Fatal("an unchecked result was handed over")
	}
	a, err := c.Agent(ctx, "me")
	if err != nil {
		t.Fatal(err)
	}
	if a.Held != 0 {
		t.Fatalf("%d still held after the job failed", a.Held)
	}
}

// TestDefaultVerify: a node whose operator set [requester] verify =
// "adaptive" checks every job that names no verification on another
// provider before accepting it; a job that names "none" keeps it, and a
// job kept on the node's own provider is not checked.
func TestDefaultVerify(t *testing.T) {
	d := startDevnet(t, 4, func(i int, c *Config) {
		if i == 0 {
			c.Requester.Verify = "adaptive"
		}
	})
	c := api.NewClient(d.Sockets[0])
	submit := func(verify string, pl *api.Placement) api.Job {
		t.Helper()
		return submitWait(t, c, api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)},
			Stdin: &api.BlobRef{Text: "default " + verify}, MaxPrice: 100, Verify: verify, Placement: pl})
	}
	job := submit("", nil)
	if v := job.Verification; v == nil || v.Mode != "adaptive" || len(v.Replicas) < 2 {
		t.Fatalf("a job naming no verification on a node defaulting to adaptive: %s, verification %+v; want adaptive, checked on a second provider", job.State, v)
	}
	if job = submit("none", nil); job.State != api.StateCompleted || job.Verification != nil && job.Verification.Mode != "none" {
		t.Fatalf("a job naming none: %s, verification %+v; want completed, unchecked", job.State, job.Verification)
	}
	if job = submit("", &api.Placement{Local: true}); job.State != api.StateCompleted || job.Verification != nil && job.Verification.Mode != "none" {
		t.Fatalf("a local job: %s (%+v), verification %+v; want completed, unchecked", job.State, job.Error, job.Verification)
	}
}

// TestAdaptiveCatchShared: an on-off cheat that B has a settled record
// with (B would check its results at 5%) cheats; requester A, a stranger
// to it, catches it with an adaptive check and gossips the catch. B, which
// has paid the honest providers that checked it, marks the cheat a
// suspect and checks its next result because of it — and does not accept
// the wrong output. C, which has paid nobody, ignores the catch.
func TestAdaptiveCatchShared(t *testing.T) {
	const reqA, reqB, reqC, cheater = 0, 1, 2, 5
	d := startDevnet(t, 6, func(i int, c *Config) {
		if i == cheater {
			c.Misbehave.WrongOutputRate = 1
			c.Provider.Pricing.Base = 1 // the cheapest: it wins while it is eligible
		}
	})
	ctx := t.Context()
	bad := d.Nodes[cheater].ID()
	who := names(d)
	ca, cb := api.NewClient(d.Sockets[reqA]), api.NewClient(d.Sockets[reqB])
	// The cheat's honest past with B, as first-hand evidence: settled,
	// so B spot-checks it.
	for k := 0; k < 100; k++ {
		d.Nodes[reqB].rep.Record(bad, string(market.RuntimeWasm), reputation.Success, fmt.Sprintf("past-%d", k))
	}
	policy := reputation.DefaultCheckPolicy()
	if rate := policy.Rate(d.Nodes[reqB].rep.BookStanding(bad, string(market.RuntimeWasm), 0), 100); rate > 0.1 {
		t.Fatalf("B checks the settled cheat at rate %.3f, want spot-checks", rate)
	}
	// B pays every honest provider for a few clean jobs: first-hand trust
	// (above CheckPolicy.Trusted) in whoever checks A's job.
	var ids []string
	for i, n := range d.Nodes {
		if i == reqB || i == cheater {
			continue
		}
		for k := 0; k < 5; k++ {
			job, err := cb.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)},
				Stdin: &api.BlobRef{Text: fmt.Sprintf("pay %d", k)}, MaxPrice: 100, Placement: &api.Placement{Allow: []string{n.ID()}}})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, job.ID)
		}
	}
	for _, id := range ids {
		if j := wait(t, cb, id); j.State != api.StateCompleted {
			t.Fatalf("B's job %s on %s: %s %+v", id, who[j.Provider], j.State, j.Error)
		}
	}
	// A: the cheat, cheapest and a stranger here, wins and is caught.
	caught := false
	for i := 0; i < 4 && !caught; i++ {
		job := submitWait(t, ca, api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)},
			Stdin: &api.BlobRef{Text: fmt.Sprintf("checked %d", i)}, MaxPrice: 100, Verify: "adaptive"})
		if v := job.Verification; v != nil {
			t.Logf("A's job %d: %s on %s; %s: %s", i, job.State, who[job.Provider], v.State, v.Detail)
			caught = slices.Contains(v.Losers, bad)
		}
	}
	if !caught {
		t.Fatal("A never caught the cheat")
	}
	if st := d.Nodes[reqA].rep.CatchStats(); st.Sent == 0 {
		t.Fatalf("A caught the cheat and sent no catch: %+v", st)
	}
	waitFor(t, 30*time.Second, "B acts on A's catch", func() bool { return d.Nodes[reqB].rep.Suspect(bad) })
	waitFor(t, 30*time.Second, "C receives A's catch", func() bool { return d.Nodes[reqC].rep.CatchStats().Received > 0 })
	if d.Nodes[reqC].rep.Suspect(bad) {
		t.Error("C, which has paid none of the checkers, acted on the catch")
	}
	// B's next adaptive job: the cheat, settled here and the cheapest,
	// wins it, and is checked because of the catch.
	job := submitWait(t, cb, api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)},
		Stdin: &api.BlobRef{Text: "after the catch"}, MaxPrice: 100, Verify: "adaptive"})
	v := job.Verification
	t.Logf("B's job: %s on %s; %+v", job.State, who[job.Provider], v)
	if job.State == api.StateCompleted {
		res, err := cb.Result(ctx, job.ID)
		if err != nil {
			t.Fatal(err)
		}
		if res.Stdout.Text != "hello from hayek\nafter the catch" {
			t.Fatalf("B accepted stdout %q from %s", res.Stdout.Text, who[res.Provider])
		}
	}
	if v == nil || len(v.Replicas) == 0 || v.Replicas[0] != bad {
		t.Fatalf("the cheat did not win B's job: %+v", v)
	}
	var suspected bool
	if err := cb.Events(ctx, job.ID, func(e api.Event) error {
		suspected = suspected || e.Type == "verify" && e.Provider == bad && strings.Contains(e.Message, "another requester caught")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !suspected || !slices.Contains(v.Losers, bad) {
		t.Fatalf("B did not check the cheat's result because of the catch (event %v, verification %+v)", suspected, v)
	}
}
