package testnet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/hayek-market/hayek/node/api"
)

// Warm-up modes, a scenario's warm_up.
const (
	// WarmRequesters: one hello job per requester, so each has looked its
	// providers up (the default, and all there was before).
	WarmRequesters = "requesters"
	// WarmProviders: that, then every module of the job mix once on every
	// provider, so the load meets providers that have fetched and compiled
	// what it runs, as a steady market's have. Cold compiles of one module
	// on many containers sharing a few cores measure the testbed, not the
	// market.
	WarmProviders = "providers"
)

// WarmUpModes are a scenario's accepted warm_up values.
var WarmUpModes = []string{WarmRequesters, WarmProviders}

// warmParallel is how many provider warm-up jobs run at once: few, so
// the compiles they exist for do not pile up on shared cores.
const warmParallel = 2

// warmDiscoveryWait bounds the wait for the requesters to know every
// provider's offer (discovery refreshes every few seconds in a testnet).
const warmDiscoveryWait = 30 * time.Second

// warmJobTimeout bounds each provider warm-up job, from submission to its
// end.
const warmJobTimeout = 2 * time.Minute

// WarmUpJob is one job of the providers' warm-up: Mix's module run once
// on Provider, submitted by one of Requesters (in that order of
// preference, the first whose discovery has found Provider's offer).
type WarmUpJob struct {
	Provider   string
	Module     string
	Mix        MixEntry
	Requesters []string
}

// WarmUpPlan is the providers' warm-up for t and the job mix: for every
// selling node in manifest order, each module of the mix in order of
// first use (run with the first entry that uses it). Each job's
// requesters are every requester but the provider itself (a node never
// buys from itself), rotated by the provider's index so the jobs spread
// over them. It depends only on t and mix.
func WarmUpPlan(t *Testnet, mix []MixEntry) []WarmUpJob {
	var mods []MixEntry
	for _, m := range mix {
		if !slices.ContainsFunc(mods, func(x MixEntry) bool { return x.Module == m.Module }) {
			mods = append(mods, m)
		}
	}
	var reqs []string
	for _, n := range t.Nodes {
		if n.Requester {
			reqs = append(reqs, n.Name)
		}
	}
	var plan []WarmUpJob
	i := 0
	for _, p := range t.Nodes {
		if !p.Sell {
			continue
		}
		var order []string
		for k := range reqs {
			if q := reqs[(i+k)%len(reqs)]; q != p.Name {
				order = append(order, q)
			}
		}
		i++
		for _, m := range mods {
			x := m
			// Pinned to one provider: no replicas to compare, and the
			// warm-up's name keeps it apart from the load's in reports.
			x.Name, x.Verify = "warmup-"+m.Name, ""
			plan = append(plan, WarmUpJob{Provider: p.Name, Module: m.Module, Mix: x, Requesters: order})
		}
	}
	return plan
}

// WarmUpProviders runs WarmUpPlan: each job pinned to its provider by
// placement (allow = its peer ID), warmParallel at a time, each waited for
// up to warmJobTimeout. Jobs are recorded in jobs.jsonl with WarmUp set.
// A provider no requester has discovered within the wait is skipped and
// logged (the load's auctions cannot reach it either until one does); a
// job that fails or does not end is an error naming its provider and why.
func (r *Runner) WarmUpProviders(ctx context.Context) error {
	plan := WarmUpPlan(r.T, r.T.Mix)
	if len(plan) == 0 {
		return nil
	}
	prev, err := ReadJobs(r.T.Dir)
	if err != nil {
		return err
	}
	r.logf("wait: warming %d providers: %d jobs (%s), %d at a time", len(plan)/len(modulesOf(plan)), len(plan), strings.Join(modulesOf(plan), ", "), warmParallel)
	start := time.Now()
	// Discovery refreshes while the net settles: wait, briefly, until some
	// requester knows every provider's offer, and warm what is known then.
	var known map[string]map[string]bool
	kctx, cancel := context.WithTimeout(ctx, warmDiscoveryWait)
	err = poll(kctx, time.Second, func() (bool, error) {
		known, err = r.knownProviders(kctx)
		if err != nil {
			return false, err
		}
		return len(unknownProviders(r.T, plan, known)) == 0, nil
	})
	cancel()
	if known == nil {
		return err
	}
	mods := &moduleCache{cids: map[string]string{}}
	var (
		mu       sync.Mutex
		failures []string
		skipped  []string
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(warmParallel)
	for i, w := range plan {
		seq := len(prev) + i
		p, err := r.T.Node(w.Provider)
		if err != nil {
			return err
		}
		var req *Node
		for _, q := range w.Requesters {
			if known[q][p.PeerID] {
				req, _ = r.T.Node(q)
				break
			}
		}
		if req == nil {
			if !slices.Contains(skipped, p.Name) {
				skipped = append(skipped, p.Name)
			}
			continue
		}
		g.Go(func() error {
			jctx, cancel := context.WithTimeout(gctx, warmJobTimeout)
			defer cancel()
			state, why := r.warmOne(jctx, req, p, w.Mix, seq, mods)
			if why != "" {
				mu.Lock()
				failures = append(failures, fmt.Sprintf("%s (%s from %s): %s", p.Name, w.Module, req.Name, why))
				mu.Unlock()
				return nil
			}
			r.logf("wait: warm-up %s on %s (from %s): %s", w.Module, p.Name, req.Name, state)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if len(skipped) > 0 {
		r.logf("wait: %d providers not warmed, no requester has found their offers (the load cannot reach them either until one does): %s", len(skipped), strings.Join(skipped, ", "))
	}
	if len(failures) > 0 {
		slices.Sort(failures)
		return fmt.Errorf("testnet: provider warm-up: %d of %d jobs did not complete: %s; the nodes' logs say why (docker logs <container>), or run the scenario with warm_up = %q",
			len(failures), len(plan), strings.Join(failures, "; "), WarmRequesters)
	}
	r.logf("wait: providers warm in %.1fs", time.Since(start).Seconds())
	return nil
}

// unknownProviders are the plan's providers no requester of theirs has
// discovered.
func unknownProviders(t *Testnet, plan []WarmUpJob, known map[string]map[string]bool) []string {
	var out []string
	for _, w := range plan {
		p, err := t.Node(w.Provider)
		if err != nil || slices.Contains(out, w.Provider) {
			continue
		}
		if !slices.ContainsFunc(w.Requesters, func(q string) bool { return known[q][p.PeerID] }) {
			out = append(out, w.Provider)
		}
	}
	return out
}

func modulesOf(plan []WarmUpJob) []string {
	var out []string
	for _, w := range plan {
		if !slices.Contains(out, w.Module) {
			out = append(out, w.Module)
		}
	}
	return out
}

// knownProviders is, by requester, the peer IDs of the live offers its
// discovery holds.
func (r *Runner) knownProviders(ctx context.Context) (map[string]map[string]bool, error) {
	out := map[string]map[string]bool{}
	for _, n := range r.T.Nodes {
		if !n.Requester {
			continue
		}
		offers, err := r.Client(n).Offers(ctx)
		if err != nil {
			return nil, fmt.Errorf("testnet: provider warm-up: offers of %s: %w (hayek --socket %s offers)", n.Name, err, r.T.Socket(n))
		}
		out[n.Name] = map[string]bool{}
		for _, o := range offers {
			if !o.Self && !o.Withdrawn && o.ExpiresAt.After(time.Now()) {
				out[n.Name][o.Provider] = true
			}
		}
	}
	return out, nil
}

// warmOne submits x on req pinned to p and waits for it; why is empty
// when it completed, else what went wrong.
func (r *Runner) warmOne(ctx context.Context, req, p *Node, x MixEntry, seq int, mods *moduleCache) (api.JobState, string) {
	rec := JobRecord{Seq: seq, Node: req.Name, Mix: x.Name, WarmUp: true, Submitted: time.Now().UTC()}
	job, err := r.submit(ctx, req, x, seq, mods, nil, &api.Placement{Allow: []string{p.PeerID}})
	if err != nil {
		rec.Error = err.Error()
	} else {
		rec.ID = job.ID
	}
	r.jobsMu.Lock()
	aerr := r.appendJob(rec)
	r.jobsMu.Unlock()
	switch {
	case aerr != nil:
		return "", aerr.Error()
	case err != nil:
		return "", "refused: " + err.Error()
	}
	job, err = r.waitJob(ctx, req, job.ID)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "", fmt.Sprintf("job %s did not end within %s", rec.ID, warmJobTimeout)
	case err != nil:
		return "", err.Error()
	case job.State != api.StateCompleted:
		why := string(job.State)
		if job.Error != nil {
			why += ": " + job.Error.Code + " " + job.Error.Message
		}
		return job.State, fmt.Sprintf("job %s %s", job.ID, why)
	}
	return job.State, ""
}
