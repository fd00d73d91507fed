package testnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/hayek-market/hayek/internal/units"
	"github.com/hayek-market/hayek/node/api"
)

// Collected is what Collect gathers from a live net, and all Check and
// Report need: they run on these files alone.
const (
	collectedDir = "collected"
	exportsDir   = "exports"
)

// JobTimeline is one job as its requester tells it.
type JobTimeline struct {
	Record JobRecord   `json:"record"`
	Job    *api.Job    `json:"job,omitempty"`
	Events []api.Event `json:"events,omitempty"`
	// Stdout is the CID of the result's stdout (completed jobs): reports
	// compare it across jobs of the same kind to count wrong results.
	Stdout string `json:"stdout,omitempty"`
	Lost   string `json:"lost,omitempty"` // why the requester could not tell
}

// NodeState is a node's own view at collection time.
type NodeState struct {
	Name    string            `json:"name"`
	PeerID  string            `json:"peer_id"`
	Status  *api.Status       `json:"status,omitempty"`
	Verify  *api.VerifyReport `json:"verify,omitempty"` // POST /v1/ledger/verify, deep
	Balance *api.Balance      `json:"balance,omitempty"`
	// Metrics are the node's hayek_* counters (GET /v1/metrics), taken
	// last, once the net is at rest.
	Metrics api.Metrics `json:"metrics,omitempty"`
	Error   string      `json:"error,omitempty"` // the node could not be reached
}

// Collect gathers into out/collected every node's status, deep ledger
// verification, balance, ledger export and counters, and every job's state and
// events. First it waits (bounded by ctx) until every node answers, every
// job has ended and every hold is released, so exports are taken at rest.
func (r *Runner) Collect(ctx context.Context, out string) error {
	dir := filepath.Join(out, collectedDir)
	if err := os.MkdirAll(filepath.Join(dir, exportsDir), 0o755); err != nil {
		return fmt.Errorf("testnet: %w", err)
	}
	settle, cancel := context.WithTimeout(ctx, 90*time.Second)
	err := r.WaitJobs(settle)
	if err == nil {
		err = r.waitQuiet(settle)
	}
	cancel()
	if err != nil {
		r.logf("collect: net not at rest (%v); collecting anyway, check will say what is off", err)
	}
	states := make([]NodeState, len(r.T.Nodes))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, n := range r.T.Nodes {
		g.Go(func() error {
			states[i] = r.collectNode(gctx, n, filepath.Join(dir, exportsDir, n.Name+".jsonl"))
			return nil
		})
	}
	g.Wait()
	mem := map[string]int64{}
	if !r.NoDocker {
		mem = r.memory(ctx)
	}
	recs, err := ReadJobs(r.T.Dir)
	if err != nil {
		return err
	}
	timelines := make([]JobTimeline, len(recs))
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i, rec := range recs {
		g.Go(func() error {
			timelines[i] = r.collectJob(gctx, rec)
			return nil
		})
	}
	g.Wait()
	for name, v := range map[string]any{"nodes.json": states, "jobs.json": timelines, StateFile: r.T, "memory.json": mem} {
		if err := writeJSON(filepath.Join(dir, name), v); err != nil {
			return err
		}
	}
	for _, f := range []string{perturbLog, repLog} {
		b, err := os.ReadFile(filepath.Join(r.T.Dir, f))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("testnet: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			return fmt.Errorf("testnet: %w", err)
		}
	}
	r.logf("collect: %d nodes, %d jobs into %s", len(states), len(timelines), dir)
	return ctx.Err()
}

// waitQuiet waits until no node runs a job and no hold is open.
func (r *Runner) waitQuiet(ctx context.Context) error {
	return poll(ctx, 500*time.Millisecond, func() (bool, error) {
		for _, n := range r.T.Nodes {
			c := r.Client(n)
			st, err := c.Status(ctx)
			if err != nil || st.Running > 0 {
				return false, nil
			}
			b, err := c.LedgerBalance(ctx)
			if err != nil || b.Held != 0 {
				return false, nil
			}
		}
		return true, nil
	})
}

func (r *Runner) collectNode(ctx context.Context, n *Node, exportPath string) NodeState {
	s := NodeState{Name: n.Name, PeerID: n.PeerID}
	c := r.Client(n)
	fail := func(what string, err error) NodeState {
		s.Error = fmt.Sprintf("%s: %v", what, err)
		return s
	}
	st, err := c.Status(ctx)
	if err != nil {
		return fail("status", err)
	}
	s.Status = &st
	v, err := c.VerifyLedger(ctx, true)
	if err != nil {
		return fail("ledger verify", err)
	}
	s.Verify = &v
	b, err := c.LedgerBalance(ctx)
	if err != nil {
		return fail("ledger balance", err)
	}
	s.Balance = &b
	f, err := os.Create(exportPath)
	if err != nil {
		return fail("export", err)
	}
	defer f.Close()
	if err := c.ExportLedger(ctx, f); err != nil {
		return fail("export", err)
	}
	// Metrics missing leave the report without traffic figures, not the
	// check without a node.
	if text, err := c.Metrics(ctx); err != nil {
		r.logf("collect: metrics of %s: %v", n.Name, err)
	} else if m, err := api.ParseMetrics(text); err != nil {
		r.logf("collect: metrics of %s: %v", n.Name, err)
	} else {
		s.Metrics = m.Only("hayek_")
	}
	return s
}

func (r *Runner) collectJob(ctx context.Context, rec JobRecord) JobTimeline {
	tl := JobTimeline{Record: rec}
	if rec.ID == "" {
		return tl
	}
	n, err := r.T.Node(rec.Node)
	if err != nil {
		tl.Lost = err.Error()
		return tl
	}
	c := r.Client(n)
	job, err := c.Job(ctx, rec.ID)
	if err != nil {
		tl.Lost = fmt.Sprintf("%s cannot tell: %v", n.Name, err)
		return tl
	}
	tl.Job = &job
	if !job.State.Terminal() {
		return tl // Check reports it as lost
	}
	if job.State == api.StateCompleted {
		if res, err := c.Result(ctx, rec.ID); err == nil {
			tl.Stdout = res.Stdout.CID
		}
	}
	ectx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var mu sync.Mutex
	if err := c.Events(ectx, rec.ID, func(e api.Event) error {
		mu.Lock()
		tl.Events = append(tl.Events, e)
		mu.Unlock()
		return nil
	}); err != nil {
		r.logf("collect: events of job %s: %v", rec.ID, err)
	}
	return tl
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("testnet: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("testnet: %w", err)
	}
	return nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("testnet: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("testnet: %s: %w", path, err)
	}
	return nil
}

// memory is each node's container memory use now, in bytes (docker stats).
func (r *Runner) memory(ctx context.Context) map[string]int64 {
	args := []string{"stats", "--no-stream", "--format", "{{.Name}}\t{{.MemUsage}}"}
	byContainer := map[string]string{}
	for _, n := range r.T.Nodes {
		args = append(args, n.Container)
		byContainer[n.Container] = n.Name
	}
	out, err := docker(ctx, args...)
	mem := map[string]int64{}
	if err != nil {
		r.logf("collect: memory: %v", err)
		return mem
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		name, usage, ok := strings.Cut(line, "\t")
		used, _, _ := strings.Cut(usage, " / ")
		if b, err := units.ParseSize(strings.TrimSpace(used)); ok && err == nil {
			mem[byContainer[name]] = b
		}
	}
	return mem
}
