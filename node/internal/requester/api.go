package requester

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
)

// What the local API reads of jobs. Every job field it shows is read
// under the job's lock or from a snapshot (a deep copy): the job's
// goroutine keeps changing the original.

// Submit starts a validated spec as a job for agent (see submit) and
// returns a snapshot of it, and whether it was created.
func (r *Service) Submit(ctx context.Context, spec market.JobSpec, idemKey, agent string) (api.Job, bool, error) {
	j, created, err := r.submitPlaced(ctx, spec, Placement{}, idemKey, agent)
	if err != nil {
		return api.Job{}, false, err
	}
	return j.snapshot(), created, nil
}

// jobOrErr finds a job the caller may see: agents see only their own, and
// another agent's job is "not found" so agents cannot probe for them.
func (r *Service) jobOrErr(ctx context.Context, id string) (*job, error) {
	j, err := r.lookup(id)
	if err != nil {
		return nil, err
	}
	if j != nil && j.parent != nil {
		j = nil // hidden sample runs
	}
	if c := api.CallerFrom(ctx); j != nil && !c.Operator && j.agent != c.Agent {
		j = nil
	}
	if j == nil {
		return nil, api.Errorf(api.CodeNotFound, "no job %s on this node (hayek job list shows the jobs it knows)", id)
	}
	return j, nil
}

// Jobs lists the jobs the caller may see, newest first: live jobs from
// memory and finished ones from the job store.
func (r *Service) Jobs(ctx context.Context, f api.JobFilter) ([]api.Job, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	r.mu.Lock()
	live := make([]*job, 0, len(r.jobs))
	for _, j := range r.jobs {
		live = append(live, j)
	}
	r.mu.Unlock()
	seen := map[string]bool{}
	var out []api.Job
	c := api.CallerFrom(ctx)
	mine := func(v api.Job) bool {
		return (c.Operator || v.Agent == c.Agent) && (f.Agent == "" || v.Agent == f.Agent)
	}
	for _, j := range live {
		if j.parent != nil {
			continue
		}
		v := j.snapshot()
		if v.State.Terminal() || !mine(v) {
			continue // the store has it
		}
		if f.State == "" || v.State == f.State {
			out = append(out, v)
			seen[v.ID] = true
		}
	}
	want := limit
	if !c.Operator || f.Agent != "" {
		want = 10 * limit // the store is not indexed by agent: read further
	}
	stored, err := r.store.list(f.State, want)
	if err != nil {
		return nil, err
	}
	for _, v := range stored {
		if !seen[v.ID] && mine(v) {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].CreatedAt.After(out[b].CreatedAt) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Job is a snapshot of a job the caller may see.
func (r *Service) Job(ctx context.Context, id string) (api.Job, error) {
	j, err := r.jobOrErr(ctx, id)
	if err != nil {
		return api.Job{}, err
	}
	return j.snapshot(), nil
}

// Cancel cancels a job the caller may see and waits a little for it to
// end.
func (r *Service) Cancel(ctx context.Context, id string) (api.Job, error) {
	j, err := r.jobOrErr(ctx, id)
	if err != nil {
		return api.Job{}, err
	}
	switch v := j.snapshot(); {
	case v.State.Terminal():
		return v, nil
	case v.State == api.StateApproval:
		// Not started: no goroutine reads its inputs; decide it now.
		if v, err := r.Decide(ctx, id, Cancel, "cancelled by the caller"); err == nil || !api.IsCode(err, api.CodeNotApproval) {
			return v, err
		}
	}
	r.deliver(id, "cancel", func(m *market.Job, now time.Time) { m.Cancel(now, "cancelled by the caller") })
	select {
	case <-j.done:
	case <-ctx.Done():
		return api.Job{}, ctx.Err()
	case <-time.After(5 * time.Second):
	}
	return j.snapshot(), nil
}

// Wait waits until a job the caller may see ends, or ctx does.
func (r *Service) Wait(ctx context.Context, id string) (api.Job, error) {
	j, err := r.jobOrErr(ctx, id)
	if err != nil {
		return api.Job{}, err
	}
	select {
	case <-j.done:
	case <-ctx.Done():
	}
	return j.snapshot(), nil
}

// Events returns a job's past events and a channel of the next ones,
// closed when the job ends, ctx ends, or the reader falls behind.
func (r *Service) Events(ctx context.Context, id string) ([]api.Event, <-chan api.Event, error) {
	j, err := r.jobOrErr(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	j.mu.Lock()
	past := append([]api.Event(nil), j.events...)
	ch := make(chan api.Event, 256)
	if j.subs == nil { // finished
		j.mu.Unlock()
		close(ch)
		return past, ch, nil
	}
	// The reader leaving ends its subscription; the job ending ends them
	// all (finish). Either way, no goroutine waits for it.
	j.subs[ch] = context.AfterFunc(ctx, func() {
		j.mu.Lock()
		if _, ok := j.subs[ch]; ok {
			delete(j.subs, ch)
			close(ch)
		}
		j.mu.Unlock()
	})
	j.mu.Unlock()
	return past, ch, nil
}

// Result is the result of a job the caller may see.
func (r *Service) Result(ctx context.Context, id string) (api.Result, error) {
	j, err := r.jobOrErr(ctx, id)
	if err != nil {
		return api.Result{}, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.result != nil {
		return *j.result, nil
	}
	if j.view.State.Terminal() {
		msg := "the job " + string(j.view.State)
		if j.view.Error != nil {
			msg += ": " + j.view.Error.Message
		}
		return api.Result{}, api.Errorf(api.CodeNotFinished, "job %s has no result: %s", id, msg)
	}
	return api.Result{}, api.Errorf(api.CodeNotFinished, "job %s is %s; wait for it (GET /v1/jobs/%s?wait=30s)", id, j.view.State, id)
}

// Counts adds to counts the jobs of this node in each state: finished
// ones from the store, live ones from memory. r.mu is held throughout
// (then each job's mu, the order PinBlobs takes too), so a job that ends
// meanwhile is counted once: finish moves it to r.finished under r.mu
// before its view turns terminal.
func (r *Service) Counts(counts map[api.JobState]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for s, c := range r.finished {
		counts[s] += c
	}
	for _, j := range r.jobs {
		if j.counted { // ended: in r.finished already
			continue
		}
		j.mu.Lock()
		if !j.view.State.Terminal() { // a check's hidden run that ended
			counts[j.view.State]++
		}
		j.mu.Unlock()
	}
}

// PinBlobs adds the module, stdin and inputs of unfinished jobs to pins.
func (r *Service) PinBlobs(pins map[string]bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, j := range r.jobs {
		if j.snapshot().State.Terminal() {
			continue
		}
		pins[j.spec.Module.CID] = true
		if j.spec.Stdin != nil {
			pins[j.spec.Stdin.CID] = true
		}
		for _, in := range j.spec.Inputs {
			pins[in.CID] = true
		}
	}
}

// snapshot is a deep copy of the job's view: callers encode it (JSON, CBOR)
// without the job's lock while its goroutine keeps changing the original.
func (j *job) snapshot() api.Job {
	j.mu.Lock()
	defer j.mu.Unlock()
	return cloneJob(j.view)
}

// cloneJob copies every pointer and slice of a job view, so no part of the
// copy is shared with the original. A field added to api.Job that holds a
// pointer or a slice must be copied here (TestCloneJobSharesNothing checks).
func cloneJob(v api.Job) api.Job {
	v.ExitCode = clonePtr(v.ExitCode)
	v.Usage = clonePtr(v.Usage)
	v.FinishedAt = clonePtr(v.FinishedAt)
	v.Error = clonePtr(v.Error)
	v.Outputs = slices.Clone(v.Outputs)
	if v.Attempts != nil {
		atts := make([]api.Attempt, len(v.Attempts))
		for i, a := range v.Attempts {
			a.Invitees = slices.Clone(a.Invitees)
			a.Silent = slices.Clone(a.Silent)
			a.Winners = slices.Clone(a.Winners)
			a.Bids = slices.Clone(a.Bids)
			a.Declines = slices.Clone(a.Declines)
			atts[i] = a
		}
		v.Attempts = atts
	}
	if v.Verification != nil {
		vf := *v.Verification
		vf.Replicas = slices.Clone(vf.Replicas)
		vf.Losers = slices.Clone(vf.Losers)
		v.Verification = &vf
	}
	if v.Placement != nil {
		pl := *v.Placement
		pl.Allow, pl.Deny = slices.Clone(pl.Allow), slices.Clone(pl.Deny)
		v.Placement = &pl
	}
	if v.Settlement != nil {
		st := *v.Settlement
		st.Receipts = slices.Clone(st.Receipts)
		v.Settlement = &st
	}
	return v
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}
