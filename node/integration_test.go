package node

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/internal/samples"
	"github.com/hayek-market/hayek/internal/units"
	"github.com/hayek-market/hayek/node/api"
)

// TestMarketFlow runs jobs through the socket API of a five-node network:
// discovery over the DHT, gossip auctions, awards, wasm runs, inline and
// fetched outputs, a job's own failure, and a job nobody can run.
func TestMarketFlow(t *testing.T) {
	d := startDevnet(t, 5, func(i int, c *Config) { c.Provider.Pricing.Base = 10 + 5*int64(i) })
	ctx := t.Context()
	c := api.NewClient(d.Sockets[0])
	who := names(d)
	toolbox, err := c.PutBlobBytes(ctx, samples.Toolbox)
	if err != nil {
		t.Fatal(err)
	}
	if toolbox.CID != canon.BlobCID(samples.Toolbox).String() {
		t.Fatalf("upload CID %s differs from the content's", toolbox.CID)
	}

	t.Run("hello", func(t *testing.T) {
		job, err := c.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)},
			Stdin: &api.BlobRef{Text: "agents"}, MaxPrice: 500})
		if err != nil {
			t.Fatal(err)
		}
		job = wait(t, c, job.ID)
		if job.State != api.StateCompleted || job.ExitCode == nil || *job.ExitCode != 0 {
			t.Fatalf("job ended %s (%+v), want completed with exit 0", job.State, job.Error)
		}
		a := job.Attempts[0]
		if len(a.Invitees) != 4 {
			t.Errorf("invited %d providers, want the 4 other nodes", len(a.Invitees))
		}
		if who[job.Provider] == "node-0" || who[job.Provider] == "" {
			t.Errorf("ran on %q, want another node of the devnet", who[job.Provider])
		}
		// Second price: at least the winner's bid, at most the max price,
		// and no more than the runner-up's bid (no value of time here).
		var winBid, runnerBid int64
		for _, b := range a.Bids {
			if b.Provider == a.Winner {
				winBid = b.Price
			}
			if b.Provider == a.RunnerUp {
				runnerBid = b.Price
			}
		}
		if job.Price < winBid || job.Price > 500 || (a.RunnerUp != "" && job.Price != runnerBid) {
			t.Errorf("paid %d; winner bid %d, runner-up bid %d", job.Price, winBid, runnerBid)
		}
		res, err := c.Result(ctx, job.ID)
		if err != nil {
			t.Fatal(err)
		}
		if res.Stdout.Text != "hello from hayek\nagents" {
			t.Errorf("stdout %+v, want the greeting and the stdin", res.Stdout)
		}
	})

	t.Run("inputs and fetched outputs", func(t *testing.T) {
		// 2 × 200 KB outputs are above the inline limit: the requester
		// fetches them from the provider over /hayek/data/1.0.0.
		job, err := c.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{CID: toolbox.CID},
			Args: []string{"write", "2", "200000"}, MaxPrice: 500})
		if err != nil {
			t.Fatal(err)
		}
		job = wait(t, c, job.ID)
		if job.State != api.StateCompleted || job.Status != "ok" {
			t.Fatalf("job ended %s/%s (%+v)", job.State, job.Status, job.Error)
		}
		if len(job.Outputs) != 2 {
			t.Fatalf("outputs %+v, want 2 files", job.Outputs)
		}
		for _, o := range job.Outputs {
			var buf bytes.Buffer
			if _, err := c.GetBlob(ctx, o.CID, &buf); err != nil {
				t.Fatalf("output %s: %v", o.Name, err)
			}
			if int64(buf.Len()) != o.Size || canon.BlobCID(buf.Bytes()).String() != o.CID {
				t.Errorf("output %s: got %d bytes not matching %s", o.Name, buf.Len(), o.CID)
			}
		}
		job, err = c.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{CID: toolbox.CID}, Args: []string{"wc", "/in/a.txt"},
			Inputs: []api.InputRef{{Name: "a.txt", BlobRef: api.BlobRef{Text: "one two\nthree\n"}}}, MaxPrice: 500})
		if err != nil {
			t.Fatal(err)
		}
		wait(t, c, job.ID)
		res, err := c.Result(ctx, job.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(res.Stdout.Text, "2 3 14 /in/a.txt") {
			t.Errorf("wc said %q", res.Stdout.Text)
		}
	})

	t.Run("a job's own failure is a result", func(t *testing.T) {
		job, err := c.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{CID: toolbox.CID}, Args: []string{"exit", "3"}, MaxPrice: 500})
		if err != nil {
			t.Fatal(err)
		}
		job = wait(t, c, job.ID)
		if job.State != api.StateCompleted || job.ExitCode == nil || *job.ExitCode != 3 || len(job.Attempts) != 1 {
			t.Fatalf("job ended %s exit %v after %d attempts; want completed, exit 3, one attempt", job.State, job.ExitCode, len(job.Attempts))
		}
		job, err = c.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{CID: toolbox.CID}, Args: []string{"spin"},
			Timeout: units.Duration(100 * time.Millisecond), MaxPrice: 500})
		if err != nil {
			t.Fatal(err)
		}
		job = wait(t, c, job.ID)
		if job.State != api.StateCompleted || job.Status != "timeout" || len(job.Attempts) != 1 {
			t.Fatalf("spin ended %s/%s after %d attempts, want completed/timeout once", job.State, job.Status, len(job.Attempts))
		}
	})

	t.Run("nobody can run it", func(t *testing.T) {
		job, err := c.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{CID: toolbox.CID}, Memory: 2 << 30, MaxPrice: 500})
		if err != nil {
			t.Fatal(err)
		}
		job = wait(t, c, job.ID)
		if job.State != api.StateFailed || job.Error == nil || job.Error.Code != "no_providers" ||
			strings.Count(job.Error.Message, ": too_large (") != 4 || !strings.Contains(job.Error.Message, "(too_large 4)") {
			t.Fatalf("job ended %s with %+v; want no_providers counting and naming 4 too_large offers", job.State, job.Error)
		}
		// Prices below every floor: declines say so.
		job, err = c.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{CID: toolbox.CID}, MaxPrice: 1})
		if err != nil {
			t.Fatal(err)
		}
		job = wait(t, c, job.ID)
		if job.State != api.StateFailed || job.Error == nil || !strings.Contains(job.Error.Message, "price") {
			t.Fatalf("job ended %s with %+v; want a failure naming the price", job.State, job.Error)
		}
	})

	t.Run("bad submissions", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			req  api.SubmitRequest
			code string
		}{
			{"not wasm", api.SubmitRequest{Module: api.BlobRef{Text: "#!/bin/sh\necho hi\n"}, MaxPrice: 5}, api.CodeInvalidModule},
			{"no price", api.SubmitRequest{Module: api.BlobRef{CID: toolbox.CID}}, api.CodeInvalidSpec},
			{"unknown blob", api.SubmitRequest{Module: api.BlobRef{CID: canon.BlobCID([]byte("nope")).String()}, MaxPrice: 5}, api.CodeBlobNotFound},
			{"bad input name", api.SubmitRequest{Module: api.BlobRef{CID: toolbox.CID}, MaxPrice: 5,
				Inputs: []api.InputRef{{Name: "../etc", BlobRef: api.BlobRef{Text: "x"}}}}, api.CodeInvalidSpec},
		} {
			_, err := c.Submit(ctx, tc.req)
			if !api.IsCode(err, tc.code) {
				t.Errorf("%s: got %v, want code %s", tc.name, err, tc.code)
			}
		}
		req := api.SubmitRequest{Module: api.BlobRef{CID: toolbox.CID}, Args: []string{"args"}, MaxPrice: 50, IdempotencyKey: "k1"}
		j1, err := c.Submit(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		j2, err := c.Submit(ctx, req)
		if err != nil || j2.ID != j1.ID {
			t.Fatalf("same key, same spec: got %v %v, want job %s again", j2.ID, err, j1.ID)
		}
		req.Args = []string{"env"}
		if _, err := c.Submit(ctx, req); !api.IsCode(err, api.CodeIdempotencyUsed) {
			t.Fatalf("same key, other spec: got %v", err)
		}
		wait(t, c, j1.ID)
	})
}

// TestProviderKilledMidJob kills the winner while it runs: the requester
// notices the lost connection, drops it, re-auctions among the others and
// completes the job elsewhere.
func TestProviderKilledMidJob(t *testing.T) {
	d := startDevnet(t, 5, func(i int, c *Config) {
		c.Provider.Pricing.Base = 10 + 5*int64(i) // node-1 is the cheapest: it wins first
		c.Requester.ResultGrace.Set("30s")        // the fault must come from the lost connection, not a timer
	})
	ctx := t.Context()
	c := api.NewClient(d.Sockets[0])
	who := names(d)
	toolbox, err := c.PutBlobBytes(ctx, samples.Toolbox)
	if err != nil {
		t.Fatal(err)
	}
	job, err := c.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{CID: toolbox.CID}, Args: []string{"spin"},
		Timeout: units.Duration(2 * time.Second), MaxPrice: 500})
	if err != nil {
		t.Fatal(err)
	}
	var victim string
	waitFor(t, 30*time.Second, "the job to run", func() bool {
		j, err := c.Job(ctx, job.ID)
		if err != nil {
			t.Fatal(err)
		}
		victim = j.Provider
		return j.State == api.StateRunning
	})
	for _, n := range d.Nodes {
		if n.ID() == victim {
			t.Logf("killing %s while it runs the job", who[victim])
			n.crash()
		}
	}
	job = wait(t, c, job.ID)
	if job.State != api.StateCompleted {
		t.Fatalf("job ended %s (%+v), want completed on another provider", job.State, job.Error)
	}
	if job.Provider == victim || len(job.Attempts) != 2 {
		t.Fatalf("completed on %s after %d attempts; want another provider on attempt 2", who[job.Provider], len(job.Attempts))
	}
	first := job.Attempts[0]
	if first.Winner != victim || !strings.Contains(first.Fault, "lost connection") {
		t.Fatalf("attempt 1: winner %s fault %q; want %s dropped for a lost connection", who[first.Winner], first.Fault, who[victim])
	}
	for _, inv := range job.Attempts[1].Invitees {
		if inv == victim {
			t.Fatalf("the dead provider was invited again")
		}
	}
}

// TestRestartSameIdentity restarts a provider from its home: it comes back
// with the same peer ID, re-advertises, and wins work again.
func TestRestartSameIdentity(t *testing.T) {
	d := startDevnet(t, 5, func(i int, c *Config) {
		c.Provider.Pricing.Base = 50
		if i == 3 {
			c.Provider.Pricing.Base = 5 // node-3 wins whatever it bids on
		}
	})
	ctx := t.Context()
	c := api.NewClient(d.Sockets[0])
	old := d.Nodes[3]
	id, cfg := old.ID(), old.Config()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	if err := old.Close(cctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	cfg.Network.Bootstrap = []string{d.Nodes[0].Addrs()[0]}
	n, err := New(ctx, Options{Home: d.Homes[3], Config: cfg, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.Close(ctx)
	})
	if n.ID() != id {
		t.Fatalf("restarted as %s, want the same identity %s", n.ID(), id)
	}
	// The requester learns the new offer (a higher sequence number than the
	// withdrawn one it holds) and the new node wins again.
	waitFor(t, 30*time.Second, "a job on the restarted node", func() bool {
		job, err := c.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)}, MaxPrice: 500})
		if err != nil {
			t.Fatal(err)
		}
		job = wait(t, c, job.ID)
		return job.State == api.StateCompleted && job.Provider == id
	})
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

var _ = fmt.Sprint

// TestQUICOnly runs the market over QUIC alone (devnets default to TCP).
func TestQUICOnly(t *testing.T) {
	d := startDevnet(t, 3, func(i int, c *Config) {
		c.Network.Listen = []string{"/ip4/127.0.0.1/udp/0/quic-v1"}
	})
	for _, a := range d.Nodes[1].Addrs() {
		if !strings.Contains(a, "/quic-v1/") {
			t.Fatalf("node listens on %s; want QUIC only", a)
		}
	}
	c := api.NewClient(d.Sockets[0])
	job, err := c.Submit(t.Context(), api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)}, MaxPrice: 500})
	if err != nil {
		t.Fatal(err)
	}
	if job = wait(t, c, job.ID); job.State != api.StateCompleted || job.Settlement == nil || job.Settlement.Paid == 0 {
		t.Fatalf("job over QUIC ended %s (%+v)", job.State, job.Error)
	}
}
