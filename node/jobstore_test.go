package node

import (
	"context"
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/samples"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/api/apitest"
)

// A node's job history survives a restart: finished jobs are read back
// from the job store, with their events, and idempotency keys still hold.
func TestJobHistorySurvivesRestart(t *testing.T) {
	home := apitest.SocketDir(t)
	cfg := DevnetConfig()
	start := func() *Node {
		n, err := New(t.Context(), Options{Home: home, Config: cfg, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	stop := func(n *Node) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	n := start()
	req := api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)}, MaxPrice: 10, IdempotencyKey: "once"}
	job, _, err := n.Submit(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	// Alone, the node finds no provider: the job fails, and is stored.
	job, err = n.Wait(t.Context(), job.ID)
	if err != nil || job.State != api.StateFailed {
		t.Fatalf("got %s %v, want failed (no providers)", job.State, err)
	}
	stop(n)

	n = start()
	defer stop(n)
	got, err := n.Job(t.Context(), job.ID)
	if err != nil || got.State != api.StateFailed || got.Error == nil || got.Error.Code != "no_providers" {
		t.Fatalf("after restart: %+v %v", got, err)
	}
	past, ch, err := n.Events(t.Context(), job.ID)
	if err != nil || len(past) == 0 || !past[len(past)-1].State.Terminal() {
		t.Fatalf("events after restart: %d, %v", len(past), err)
	}
	if _, open := <-ch; open {
		t.Fatal("event stream of a finished job must be closed")
	}
	list, err := n.Jobs(t.Context(), api.JobFilter{})
	if err != nil || len(list) != 1 || list[0].ID != job.ID {
		t.Fatalf("list after restart: %+v %v", list, err)
	}
	again, created, err := n.Submit(t.Context(), req)
	if err != nil || created || again.ID != job.ID {
		t.Fatalf("same idempotency key after restart: %s created=%v %v; want job %s again", again.ID, created, err, job.ID)
	}
	req.Args = []string{"other"}
	if _, _, err := n.Submit(t.Context(), req); !api.IsCode(err, api.CodeIdempotencyUsed) {
		t.Fatalf("other spec, same key after restart: %v", err)
	}
	st, _ := n.Status(t.Context())
	if st.Jobs[api.StateFailed] != 1 {
		t.Fatalf("status counts %v, want 1 failed", st.Jobs)
	}
}

// TestCrashReleasesLostHolds: jobs live in memory, so a node that dies
// with jobs open gives their holds back to their agents when it restarts.
func TestCrashReleasesLostHolds(t *testing.T) {
	home := apitest.SocketDir(t)
	cfg := DevnetConfig()
	n, err := New(t.Context(), Options{Home: home, Config: cfg, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := n.CreateAgent(t.Context(), api.AgentCreate{Name: "bot", Budget: 1000, ApproveAbove: 10})
	if err != nil {
		t.Fatal(err)
	}
	caller, err := n.Authenticate(t.Context(), tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	job, _, err := n.Submit(api.WithCaller(t.Context(), caller), api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)}, MaxPrice: 300})
	if err != nil || job.State != api.StateApproval {
		t.Fatalf("submit: %s %v; want a job waiting for approval", job.State, err)
	}
	if a, _ := n.ledger.Agent("bot"); a.Held != 300 {
		t.Fatalf("held %d, want 300", a.Held)
	}
	n.crash()
	n, err = New(t.Context(), Options{Home: home, Config: cfg, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.Close(ctx)
	}()
	a, _ := n.ledger.Agent("bot")
	if a.Held != 0 || a.Budget != 1000 {
		t.Fatalf("after the crash: held %d, budget %d; want the hold released", a.Held, a.Budget)
	}
	if _, err := n.ledger.Verify(t.Context(), true); err != nil {
		t.Fatal(err)
	}
}

// TestLocalJobOnALoneNode: a node with no peer at all runs a local job on
// its own provider, and the job's audit, read back after a restart,
// verifies.
func TestLocalJobOnALoneNode(t *testing.T) {
	home := apitest.SocketDir(t)
	start := func() *Node {
		n, err := New(t.Context(), Options{Home: home, Config: DevnetConfig(), Logger: testLogger(t), CompileCache: compileCache})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	stop := func(n *Node) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	n := start()
	job, _, err := n.Submit(t.Context(), api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)}, MaxPrice: 100,
		Placement: &api.Placement{Local: true}})
	if err != nil {
		t.Fatal(err)
	}
	if job, err = n.Wait(t.Context(), job.ID); err != nil || job.State != api.StateCompleted || job.Provider != n.ID() {
		t.Fatalf("local job ended %s on %s (%+v, %v); want completed here", job.State, job.Provider, job.Error, err)
	}
	stop(n)

	n = start()
	defer stop(n)
	a, err := n.Audit(t.Context(), job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rep := VerifyAudit(a); !rep.OK || a.Execution == nil || a.Execution.Provider != n.ID() || len(a.Signed) < 4 {
		t.Fatalf("audit after restart: ok %t %v, execution %+v, %d signed", rep.OK, rep.Failures, a.Execution, len(a.Signed))
	}
}
