package apitest

import (
	"cmp"
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/hayek-market/hayek/node/api"
)

type job struct {
	job    api.Job
	req    api.SubmitRequest
	res    *api.Result
	events []api.Event
	subs   map[chan api.Event]struct{}
	done   chan struct{}
	start  func() // with Echo: runs the job; nil once started or for OUTCOME=hang
}

// begin starts the job's run, if it has one that has not started.
func (j *job) begin() {
	if j.start != nil {
		j.start()
		j.start = nil
	}
}

func (f *Node) Submit(ctx context.Context, req api.SubmitRequest) (api.Job, bool, error) {
	f.saw(ctx)
	if err := validate(req); err != nil {
		return api.Job{}, false, err
	}
	var in *echoInput
	if f.echo {
		var err error
		if in, err = f.resolveAll(&req); err != nil {
			return api.Job{}, false, err
		}
	}
	caller := api.CallerFrom(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	if req.IdempotencyKey != "" {
		if id, ok := f.idem[req.IdempotencyKey]; ok {
			j := f.jobs[id]
			if !reflect.DeepEqual(j.req, req) {
				return api.Job{}, false, api.Errorf(api.CodeIdempotencyUsed, "key %q names another job", req.IdempotencyKey)
			}
			return j.job, false, nil
		}
	}
	approval, err := f.charge(caller.Agent, req)
	if err != nil {
		return api.Job{}, false, err
	}
	id := fmt.Sprintf("j%d", len(f.order)+1)
	now := time.Now()
	j := &job{
		job: api.Job{ID: id, State: api.StatePending, IdempotencyKey: req.IdempotencyKey, Module: req.Module.CID,
			MaxPrice: req.MaxPrice, CreatedAt: now, UpdatedAt: now, Agent: caller.Agent, Verify: cmp.Or(req.Verify, "none"),
			Deadline: now.Add(cmp.Or(time.Duration(req.Deadline), time.Minute))},
		req:  req,
		subs: map[chan api.Event]struct{}{},
		done: make(chan struct{}),
	}
	f.jobs[id] = j
	f.order = append(f.order, id)
	if req.IdempotencyKey != "" {
		f.idem[req.IdempotencyKey] = id
	}
	f.lastReq = req
	if in != nil && req.Env["OUTCOME"] != "hang" {
		j.start = func() {
			f.run.Go(func() { f.execute(id, req, in) })
		}
	}
	if approval {
		f.emitLocked(j, api.Event{Type: "state", State: api.StateApproval, Message: fmt.Sprintf("max cost %d is above the approval threshold", req.MaxPrice)})
	} else {
		f.emitLocked(j, api.Event{Type: "state", State: api.StatePending})
		j.begin()
	}
	return j.job, true, nil
}

// validate checks what the fake needs of a spec; the node checks more.
func validate(req api.SubmitRequest) error {
	invalid := func(field, msg string) error {
		return &api.Error{Code: api.CodeInvalidSpec, Message: "invalid job spec", Fields: []api.FieldError{{Field: field, Message: msg}}}
	}
	switch {
	case req.MaxPrice <= 0:
		return invalid("max_price", "must be > 0")
	case req.Memory > 4<<30:
		return invalid("memory", "must be between 64KiB and 4GiB")
	case req.MinReputation < 0 || req.MinReputation > 1:
		return invalid("min_reputation", "must be between 0 and 1")
	case req.ValueOfTime < 0:
		return invalid("value_of_time", "must be ≥ 0")
	}
	return nil
}

// LastSubmit is the request of the latest job submitted, with Echo its blob
// refs stored and replaced by CIDs.
func (f *Node) LastSubmit() api.SubmitRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastReq
}

// Emit records an event for job id, moving the job to ev.State. Once the
// job has ended it does nothing.
func (f *Node) Emit(id string, ev api.Event) { f.emit(id, nil, ev) }

// AwaitApproval puts job id in the approval state, as if it cost more than
// its agent may spend unasked.
func (f *Node) AwaitApproval(id string) {
	f.Emit(id, api.Event{Type: "state", State: api.StateApproval})
}

// Finish completes job id with res, as its provider's result would.
func (f *Node) Finish(id string, res api.Result) { f.finish(id, res, nil) }

func (f *Node) finish(id string, res api.Result, change func(*job)) {
	res.Job = id
	code := res.ExitCode
	f.emit(id, func(j *job) {
		j.job.Provider, j.job.Price, j.job.Status, j.job.ExitCode, j.job.Outputs = res.Provider, res.Price, res.Status, &code, res.Outputs
		j.res = &res
		if change != nil {
			change(j)
		}
	}, api.Event{Type: "result", State: api.StateCompleted, Provider: res.Provider, Price: res.Price, Status: res.Status, ExitCode: &code})
}

// UpdateJob changes job id in place, without an event, as the node's own
// bookkeeping would.
func (f *Node) UpdateJob(id string, change func(*api.Job)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(&f.jobs[id].job)
}

// emit applies change to job id and records ev, unless the job has ended
// (cancelled meanwhile).
func (f *Node) emit(id string, change func(*job), ev api.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j := f.jobs[id]
	if j.job.State.Terminal() {
		return
	}
	if change != nil {
		change(j)
	}
	f.emitLocked(j, ev)
}

func (f *Node) emitLocked(j *job, ev api.Event) {
	ev.Seq, ev.Job, ev.Time = int64(len(j.events)+1), j.job.ID, time.Now()
	j.events = append(j.events, ev)
	j.job.State, j.job.UpdatedAt = ev.State, ev.Time
	for ch := range j.subs {
		ch <- ev
	}
	if ev.State.Terminal() {
		t := ev.Time
		j.job.FinishedAt = &t
		close(j.done)
		for ch := range j.subs {
			close(ch)
		}
		j.subs = nil
	}
}

// find returns job id; f.mu is held.
func (f *Node) find(id string) (*job, error) {
	if j, ok := f.jobs[id]; ok {
		return j, nil
	}
	return nil, api.Errorf(api.CodeNotFound, "no job %q on this node", id)
}

// snapshot returns job id as it is now.
func (f *Node) snapshot(id string) (api.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.find(id)
	if err != nil {
		return api.Job{}, err
	}
	return j.job, nil
}

func (f *Node) Jobs(ctx context.Context, flt api.JobFilter) ([]api.Job, error) {
	f.saw(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []api.Job
	for i := len(f.order) - 1; i >= 0 && len(out) < flt.Limit; i-- {
		j := f.jobs[f.order[i]].job
		if (flt.State == "" || j.State == flt.State) && (flt.Agent == "" || f.unfiltered || j.Agent == flt.Agent) {
			out = append(out, j)
		}
	}
	return out, nil
}

func (f *Node) Job(ctx context.Context, id string) (api.Job, error) {
	f.saw(ctx)
	return f.snapshot(id)
}

func (f *Node) Cancel(ctx context.Context, id string) (api.Job, error) {
	f.saw(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.find(id)
	if err != nil {
		return api.Job{}, err
	}
	if !j.job.State.Terminal() {
		j.job.Error = &api.JobError{Code: "cancelled", Message: "cancelled by the caller"}
		f.emitLocked(j, api.Event{Type: "state", State: api.StateCancelled, Message: "cancelled by the caller"})
	}
	return j.job, nil
}

// Waiting receives a job ID each time Wait starts to block (the latest 16
// unreceived at most).
func (f *Node) Waiting() <-chan string { return f.waiting }

func (f *Node) Wait(ctx context.Context, id string) (api.Job, error) {
	f.saw(ctx)
	f.mu.Lock()
	j, err := f.find(id)
	f.mu.Unlock()
	if err != nil {
		return api.Job{}, err
	}
	select {
	case f.waiting <- id:
	default:
	}
	select {
	case <-j.done:
		return f.snapshot(id)
	case <-ctx.Done():
		return api.Job{}, ctx.Err()
	}
}

func (f *Node) Events(ctx context.Context, id string) ([]api.Event, <-chan api.Event, error) {
	f.saw(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.find(id)
	if err != nil {
		return nil, nil, err
	}
	past := append([]api.Event(nil), j.events...)
	ch := make(chan api.Event, 256)
	if j.job.State.Terminal() {
		close(ch)
		return past, ch, nil
	}
	j.subs[ch] = struct{}{}
	context.AfterFunc(ctx, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, ok := j.subs[ch]; ok {
			delete(j.subs, ch)
			close(ch)
		}
	})
	return past, ch, nil
}

// Subscribers is how many event streams of job id are open.
func (f *Node) Subscribers(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if j, ok := f.jobs[id]; ok {
		return len(j.subs)
	}
	return 0
}

func (f *Node) Result(ctx context.Context, id string) (api.Result, error) {
	f.saw(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.find(id)
	if err != nil {
		return api.Result{}, err
	}
	if j.res == nil {
		return api.Result{}, api.Errorf(api.CodeNotFinished, "job %s is %s", id, j.job.State)
	}
	return *j.res, nil
}
