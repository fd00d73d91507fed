package testnet

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/hayek-market/hayek/internal/samples"
	"github.com/hayek-market/hayek/node/api"
)

// LoadOptions shape the load: Jobs jobs at Rate per second, drawn from Mix
// (the manifest's when empty), spread round-robin over the requesters.
type LoadOptions struct {
	Jobs int
	Rate float64
	Mix  []MixEntry
	// Wait: return only once every job is terminal (or ctx ends).
	Wait bool
	// Progress, when set, is called after each job ends, with the count.
	Progress func(ended int)
	// Submitted, when set, is called after each submission, with the count.
	Submitted func(n int)
}

// JobRecord is one submitted job, as jobs.jsonl records it.
type JobRecord struct {
	Seq       int       `json:"seq"`
	Node      string    `json:"node"`            // the requester it was submitted to
	Agent     string    `json:"agent,omitempty"` // the agent that submitted it (none: the operator)
	ID        string    `json:"id,omitempty"`
	Mix       string    `json:"mix"`
	Submitted time.Time `json:"submitted"`
	Error     string    `json:"error,omitempty"` // the submission was refused
	// WarmUp: a job of the wait stage's warm-up, not of the load; the
	// report's latencies and awards leave it out.
	WarmUp bool `json:"warm_up,omitempty"`
}

// isWarmUp tells a warm-up job, also in jobs.jsonl files written before
// WarmUp was recorded (their warm-up jobs had warmUpMix's name).
func (rec JobRecord) isWarmUp() bool { return rec.WarmUp || rec.Mix == warmUpMix.Name }

const (
	jobsLog = "jobs.jsonl"
	repLog  = "reputation.jsonl"
)

// LoadMix reads a job mix file: [[mix]] entries, as in a manifest.
func LoadMix(path string) ([]MixEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("testnet: %w", err)
	}
	defer f.Close()
	var v struct {
		Mix []MixEntry `toml:"mix"`
	}
	if err := decodeStrict(f, &v); err != nil {
		return nil, fmt.Errorf("testnet: %s: %w", path, err)
	}
	if len(v.Mix) == 0 {
		return nil, fmt.Errorf("testnet: %s has no [[mix]] entry", path)
	}
	return v.Mix, nil
}

// Load submits the jobs, recording each in jobs.jsonl, and with o.Wait
// waits until each is completed, failed or cancelled.
func (r *Runner) Load(ctx context.Context, o LoadOptions) ([]JobRecord, error) {
	if o.Jobs < 1 || o.Rate <= 0 {
		return nil, fmt.Errorf("testnet: load needs --jobs ≥ 1 and --rate > 0")
	}
	mix := o.Mix
	if len(mix) == 0 {
		mix = r.T.Mix
	}
	total := 0
	for _, m := range mix {
		total += max(m.Weight, 0)
	}
	if total == 0 {
		return nil, fmt.Errorf("testnet: every mix entry has weight 0")
	}
	var reqs []*Node
	for _, n := range r.T.Nodes {
		if n.Requester {
			reqs = append(reqs, n)
		}
	}
	prev, err := ReadJobs(r.T.Dir)
	if err != nil {
		return nil, err
	}
	base := len(prev)
	mods := &moduleCache{cids: map[string]string{}}
	r.logf("load: %d jobs at %.1f/s over %d requesters", o.Jobs, o.Rate, len(reqs))
	tick := time.NewTicker(time.Duration(float64(time.Second) / o.Rate))
	defer tick.Stop()
	var (
		mu      sync.Mutex
		records []JobRecord
		ended   int
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(64)
	for i := range o.Jobs {
		if i > 0 {
			select {
			case <-ctx.Done():
				return records, ctx.Err()
			case <-tick.C:
			}
		}
		seq := base + i
		rng := rand.New(rand.NewPCG(uint64(r.T.Seed), uint64(seq)))
		x := drawMix(mix, total, rng)
		n := reqs[seq%len(reqs)]
		rec := JobRecord{Seq: seq, Node: n.Name, Mix: x.Name, Submitted: time.Now().UTC()}
		job, err := r.submit(ctx, n, x, seq, mods, &rec, nil)
		if err != nil {
			rec.Error = err.Error()
			r.logf("load: job %d on %s refused: %v", seq, n.Name, err)
		} else {
			rec.ID = job.ID
		}
		if err := r.appendJob(rec); err != nil {
			return records, err
		}
		mu.Lock()
		records = append(records, rec)
		mu.Unlock()
		if o.Submitted != nil {
			o.Submitted(i + 1)
		}
		if rec.ID == "" && o.Progress != nil {
			mu.Lock()
			ended++
			e := ended
			mu.Unlock()
			o.Progress(e)
		}
		if o.Wait && rec.ID != "" {
			g.Go(func() error {
				_, err := r.waitJob(gctx, n, rec.ID)
				mu.Lock()
				ended++
				e := ended
				mu.Unlock()
				if o.Progress != nil {
					o.Progress(e)
				}
				return err
			})
		}
	}
	r.logf("load: %d jobs submitted", o.Jobs)
	if err := g.Wait(); err != nil {
		return records, err
	}
	if o.Wait {
		r.logf("load: every job ended")
	}
	return records, nil
}

// waitJob waits until the job is terminal on its requester, riding out the
// requester's restarts and pauses until ctx ends.
func (r *Runner) waitJob(ctx context.Context, n *Node, id string) (api.Job, error) {
	c := api.NewClient(r.T.Socket(n), api.WithLongPoll(5*time.Second)) // the operator sees every agent's jobs
	var job api.Job
	err := poll(ctx, 500*time.Millisecond, func() (bool, error) {
		j, err := c.Wait(ctx, id)
		if err != nil {
			var ae *api.Error
			if errors.As(err, &ae) && ae.Code == api.CodeNotFound {
				return false, fmt.Errorf("testnet: job %s is unknown to %s: lost", id, n.Name)
			}
			return false, nil // unreachable for now: a restart, a pause
		}
		job = j
		return j.State.Terminal(), nil
	})
	if err != nil {
		return job, fmt.Errorf("testnet: job %s on %s did not end: %w", id, n.Name, err)
	}
	return job, nil
}

// WaitJobs waits until every job in jobs.jsonl is terminal.
func (r *Runner) WaitJobs(ctx context.Context) error {
	recs, err := ReadJobs(r.T.Dir)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(64)
	for _, rec := range recs {
		if rec.ID == "" {
			continue
		}
		n, err := r.T.Node(rec.Node)
		if err != nil {
			return err
		}
		g.Go(func() error { _, err := r.waitJob(gctx, n, rec.ID); return err })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	r.logf("wait: all %d jobs ended", len(recs))
	return nil
}

func drawMix(mix []MixEntry, total int, rng *rand.Rand) MixEntry {
	k := rng.IntN(total)
	for _, m := range mix {
		if k < m.Weight {
			return m
		}
		k -= max(m.Weight, 0)
	}
	return mix[len(mix)-1]
}

type moduleCache struct {
	mu   sync.Mutex
	cids map[string]string // node/module → CID
}

func moduleBytes(name string) ([]byte, error) {
	switch name {
	case "hello":
		return samples.Hello, nil
	case "toolbox":
		return samples.Toolbox, nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("testnet: module %q: want hello, toolbox or a .wasm file: %w", name, err)
	}
	return b, nil
}

// submit submits x on n; a non-nil pl places it.
func (r *Runner) submit(ctx context.Context, n *Node, x MixEntry, seq int, mods *moduleCache, rec *JobRecord, pl *api.Placement) (api.Job, error) {
	c := r.Client(n)
	if n.Agents > 0 && rec != nil {
		toks, err := r.agentTokens(ctx, n)
		if err != nil {
			return api.Job{}, err
		}
		r.agentsMu.Lock()
		if r.nextAgent == nil {
			r.nextAgent = map[string]int{}
		}
		a := toks[r.nextAgent[n.Name]%len(toks)]
		r.nextAgent[n.Name]++
		r.agentsMu.Unlock()
		rec.Agent = a.Name
		c = api.NewClient(r.T.Socket(n), api.WithToken(a.Token), api.WithUserAgent("hayek-testnet"))
	}
	key := n.Name + "/" + x.Module
	mods.mu.Lock()
	cid, ok := mods.cids[key]
	mods.mu.Unlock()
	if !ok {
		b, err := moduleBytes(x.Module)
		if err != nil {
			return api.Job{}, err
		}
		blob, err := c.PutBlobBytes(ctx, b)
		if err != nil {
			return api.Job{}, err
		}
		cid = blob.CID
		mods.mu.Lock()
		mods.cids[key] = cid
		mods.mu.Unlock()
	}
	req := api.SubmitRequest{Module: api.BlobRef{CID: cid}, Args: x.Args, MaxPrice: x.MaxPrice,
		Timeout: x.Timeout, Deadline: x.Deadline, Memory: x.Memory, Verify: x.Verify,
		IdempotencyKey: fmt.Sprintf("testnet-%s-%d-%d", r.T.Name, r.T.Seed, seq), Placement: pl}
	if x.Stdin != "" {
		req.Stdin = &api.BlobRef{Text: x.Stdin}
	}
	return c.Submit(ctx, req)
}

func (r *Runner) appendJob(rec JobRecord) error {
	b, _ := json.Marshal(rec)
	f, err := os.OpenFile(filepath.Join(r.T.Dir, jobsLog), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("testnet: %w", err)
	}
	defer f.Close()
	_, err = f.Write(append(b, '\n'))
	return err
}

// ReadJobs reads jobs.jsonl in dir (none yet: nil).
func ReadJobs(dir string) ([]JobRecord, error) {
	return readJSONL[JobRecord](filepath.Join(dir, jobsLog))
}

func readJSONL[T any](path string) ([]T, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("testnet: %w", err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return nil, fmt.Errorf("testnet: %s: %w", path, err)
		}
		out = append(out, v)
	}
	return out, sc.Err()
}

const agentsFile = "agents.json" // tokens: mode 0600

// agentTokens returns the requester's agents, creating them (with their
// budgets) the first time; tokens are kept in agents.json, mode 0600.
func (r *Runner) agentTokens(ctx context.Context, n *Node) ([]api.AgentToken, error) {
	r.agentsMu.Lock()
	defer r.agentsMu.Unlock()
	path := filepath.Join(r.T.Dir, agentsFile)
	all := map[string][]api.AgentToken{}
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &all); err != nil {
			return nil, fmt.Errorf("testnet: %s: %w", path, err)
		}
	}
	if toks := all[n.Name]; len(toks) == n.Agents {
		return toks, nil
	}
	var toks []api.AgentToken
	for i := range n.Agents {
		tok, err := r.Client(n).CreateAgent(ctx, api.AgentCreate{Name: fmt.Sprintf("agent-%d", i), Budget: n.AgentBudget})
		if err != nil {
			return nil, fmt.Errorf("testnet: create agent-%d on %s: %w", i, n.Name, err)
		}
		toks = append(toks, tok)
	}
	all[n.Name] = toks
	b, _ := json.MarshalIndent(all, "", "  ")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("testnet: %w", err)
	}
	r.logf("load: %d agents on %s, each with a budget of %d", n.Agents, n.Name, n.AgentBudget)
	return toks, nil
}
