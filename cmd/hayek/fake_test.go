package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/node/api"
)

// fakeNode is an in-memory api.Backend for testing the CLI through a real
// api.Server. Its "module" echoes: stdout is the job's stdin, stderr lists
// its arguments, and each input comes back as an output of the same name.
// The job's environment steers it:
//
//	EXIT=N           exit with code N
//	OUTCOME=nobids   every provider declines; the job fails
//	OUTCOME=trap     the module traps
//	OUTCOME=hang     the job stays pending until cancelled
//	OUTNAME=NAME     name the first output NAME
//
// It also implements api.Admin (fake_admin_test.go): agents submitting
// with their tokens are held to their budgets and limits, and a job above
// an agent's approval threshold waits in state approval until approved.
type fakeNode struct {
	mu      sync.Mutex
	blobs   map[string][]byte
	jobs    map[string]*fakeJob
	order   []string
	lastReq api.SubmitRequest
	run     sync.WaitGroup
	adm     fakeAdmin
}

type fakeJob struct {
	job    api.Job
	res    *api.Result
	events []api.Event
	subs   map[chan api.Event]bool
	done   chan struct{}
	start  func() // runs the job once it is approved
}

func newFakeNode() *fakeNode {
	return &fakeNode{blobs: map[string][]byte{}, jobs: map[string]*fakeJob{}, adm: newFakeAdmin()}
}

func (f *fakeNode) store(data []byte) api.Blob {
	cid := canon.BlobCID(data).String()
	f.mu.Lock()
	f.blobs[cid] = data
	f.mu.Unlock()
	return api.Blob{CID: cid, Size: int64(len(data))}
}

func (f *fakeNode) PutBlob(ctx context.Context, r io.Reader, limit int64) (api.Blob, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return api.Blob{}, err
	}
	if int64(len(data)) > limit {
		return api.Blob{}, api.Errorf(api.CodeTooLarge, "above %d bytes", limit)
	}
	return f.store(data), nil
}

func (f *fakeNode) OpenBlob(ctx context.Context, cid string) (io.ReadCloser, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.blobs[cid]
	if !ok {
		return nil, 0, api.Errorf(api.CodeBlobNotFound, "no blob %s", cid)
	}
	return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
}

// resolve turns an inline ref into a stored blob, as the node does.
func (f *fakeNode) resolve(ref *api.BlobRef) ([]byte, error) {
	switch {
	case ref.CID != "":
		f.mu.Lock()
		defer f.mu.Unlock()
		b, ok := f.blobs[ref.CID]
		if !ok {
			return nil, &api.Error{Status: 422, Code: api.CodeBlobNotFound, Message: "no blob " + ref.CID}
		}
		return b, nil
	case ref.Base64 != "":
		b, err := base64.StdEncoding.DecodeString(ref.Base64)
		if err != nil {
			return nil, api.Errorf(api.CodeInvalidSpec, "bad base64")
		}
		*ref = api.BlobRef{CID: f.store(b).CID}
		return b, nil
	}
	b := []byte(ref.Text)
	*ref = api.BlobRef{CID: f.store(b).CID}
	return b, nil
}

func (f *fakeNode) Submit(ctx context.Context, req api.SubmitRequest) (api.Job, bool, error) {
	if req.Memory > 4<<30 {
		return api.Job{}, false, &api.Error{Code: api.CodeInvalidSpec, Message: "invalid job spec",
			Fields: []api.FieldError{{Field: "memory", Message: "must be between 64KiB and 4GiB"}}}
	}
	if _, err := f.resolve(&req.Module); err != nil {
		return api.Job{}, false, err
	}
	var stdin []byte
	if req.Stdin != nil {
		var err error
		if stdin, err = f.resolve(req.Stdin); err != nil {
			return api.Job{}, false, err
		}
	}
	inputs := map[string][]byte{}
	for i := range req.Inputs {
		b, err := f.resolve(&req.Inputs[i].BlobRef)
		if err != nil {
			return api.Job{}, false, err
		}
		inputs[req.Inputs[i].Name] = b
	}
	caller := api.CallerFrom(ctx)
	f.mu.Lock()
	approval, err := f.adm.charge(caller.Agent, req)
	if err != nil {
		f.mu.Unlock()
		return api.Job{}, false, err
	}
	id := fmt.Sprintf("j%d", len(f.order)+1)
	now := time.Now()
	j := &fakeJob{
		job: api.Job{ID: id, State: api.StatePending, Module: req.Module.CID, MaxPrice: req.MaxPrice, CreatedAt: now, UpdatedAt: now,
			Agent: caller.Agent, Verify: cmp.Or(req.Verify, "none")},
		subs: map[chan api.Event]bool{},
		done: make(chan struct{}),
	}
	f.jobs[id] = j
	f.order = append(f.order, id)
	f.lastReq = req
	if req.Env["OUTCOME"] != "hang" {
		j.start = func() {
			f.run.Add(1)
			go func() {
				defer f.run.Done()
				f.execute(id, req, stdin, inputs)
			}()
		}
	}
	if approval {
		f.emitLocked(j, api.Event{Type: "state", State: api.StateApproval, Message: fmt.Sprintf("max cost %d is above the approval threshold", req.MaxPrice)})
	} else {
		f.emitLocked(j, api.Event{Type: "state", State: api.StatePending})
		if j.start != nil {
			j.start()
			j.start = nil
		}
	}
	job := j.job
	f.mu.Unlock()
	return job, true, nil
}

// execute plays a job's life, the way the node would, without waiting.
func (f *fakeNode) execute(id string, req api.SubmitRequest, stdin []byte, inputs map[string][]byte) {
	const p1, p2 = "12D3KooWProviderOneAAAAAAAAAAAAAAAAAAAAAAAA11111111", "12D3KooWProviderTwoBBBBBBBBBBBBBBBBBBBBBBBB22222222"
	a := api.Attempt{Number: 1, Invitees: []string{p1, p2}}
	f.emit(id, nil, api.Event{Type: "auction", State: api.StateAuction, Attempt: 1, Invitees: 2})
	if req.Env["OUTCOME"] == "nobids" {
		a.Declines = []api.DeclineInfo{
			{Provider: p1, Reason: "price_floor", Detail: fmt.Sprintf("price floor 2000 > max price %d", req.MaxPrice)},
			{Provider: p2, Reason: "busy"},
		}
		for _, d := range a.Declines {
			f.emit(id, nil, api.Event{Type: "decline", State: api.StateAuction, Attempt: 1, Provider: d.Provider, Reason: d.Reason, Message: d.Detail})
		}
		f.emit(id, func(j *api.Job) {
			j.Attempts = []api.Attempt{a}
			j.Error = &api.JobError{Code: "no_bids", Message: "no provider bid"}
		}, api.Event{Type: "state", State: api.StateFailed, Reason: "no_bids", Message: "no provider bid"})
		return
	}
	a.Bids = []api.BidInfo{{Provider: p1, Price: 40, StartWithinMs: 50}}
	a.Declines = []api.DeclineInfo{{Provider: p2, Reason: "busy"}}
	a.Winner, a.Price = p1, 40
	f.emit(id, nil, api.Event{Type: "bid", State: api.StateAuction, Attempt: 1, Provider: p1, Price: 40, StartWithinMs: 50})
	f.emit(id, nil, api.Event{Type: "decline", State: api.StateAuction, Attempt: 1, Provider: p2, Reason: "busy"})
	f.emit(id, func(j *api.Job) { j.Provider, j.Price, j.Attempts = p1, 40, []api.Attempt{a} },
		api.Event{Type: "award", State: api.StateAwarded, Attempt: 1, Provider: p1, Price: 40})
	f.emit(id, nil, api.Event{Type: "state", State: api.StateRunning, Provider: p1})

	code, _ := strconv.Atoi(req.Env["EXIT"])
	status := "ok"
	switch {
	case req.Env["OUTCOME"] == "trap":
		status, code = "trap", 0
	case code != 0:
		status = "exit"
	}
	stderr := []byte("args: " + strings.Join(req.Args, " ") + "\n")
	res := api.Result{Job: id, Provider: p1, Price: 40, Status: status, ExitCode: int32(code),
		Stdout: f.stream(stdin), Stderr: f.stream(stderr), Outputs: []api.Output{}}
	first := true
	for _, in := range req.Inputs {
		name := in.Name
		if first && req.Env["OUTNAME"] != "" {
			name = req.Env["OUTNAME"]
		}
		first = false
		b := f.store(inputs[in.Name])
		res.Outputs = append(res.Outputs, api.Output{Name: name, CID: b.CID, Size: b.Size})
	}
	ec := int32(code)
	f.emit(id, func(j *api.Job) {
		j.Status, j.ExitCode, j.Outputs = status, &ec, res.Outputs
		j.Settlement = &api.Settlement{Held: req.MaxPrice, Paid: 40, Released: req.MaxPrice - 40, Receipts: []string{"bafyreceipt" + id}}
		if req.Verify != "" && req.Verify != "none" {
			j.Verification = &api.Verification{Mode: strings.SplitN(req.Verify, ":", 2)[0], State: "accepted", Replicas: []string{p1, p2}}
		}
		f.jobs[id].res = &res
	}, api.Event{Type: "result", State: api.StateCompleted, Provider: p1, Price: 40, Status: status, ExitCode: &ec})
}

func (f *fakeNode) stream(b []byte) api.Stream {
	blob := f.store(b)
	return api.Stream{CID: blob.CID, Size: blob.Size}
}

func (f *fakeNode) emit(id string, change func(*api.Job), ev api.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j := f.jobs[id]
	if j.job.State.Terminal() {
		return // cancelled meanwhile
	}
	if change != nil {
		change(&j.job)
	}
	f.emitLocked(j, ev)
}

func (f *fakeNode) emitLocked(j *fakeJob, ev api.Event) {
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

func (f *fakeNode) get(id string) (*fakeJob, error) {
	if j, ok := f.jobs[id]; ok {
		return j, nil
	}
	return nil, api.Errorf(api.CodeNotFound, "no job %q on this node", id)
}

func (f *fakeNode) Jobs(ctx context.Context, flt api.JobFilter) ([]api.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []api.Job
	for i := len(f.order) - 1; i >= 0 && len(out) < flt.Limit; i-- {
		if j := f.jobs[f.order[i]]; (flt.State == "" || j.job.State == flt.State) && (flt.Agent == "" || j.job.Agent == flt.Agent) {
			out = append(out, j.job)
		}
	}
	return out, nil
}

func (f *fakeNode) Job(ctx context.Context, id string) (api.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.get(id)
	if err != nil {
		return api.Job{}, err
	}
	return j.job, nil
}

func (f *fakeNode) Cancel(ctx context.Context, id string) (api.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.get(id)
	if err != nil {
		return api.Job{}, err
	}
	if !j.job.State.Terminal() {
		j.job.Error = &api.JobError{Code: "cancelled", Message: "cancelled by the caller"}
		f.emitLocked(j, api.Event{Type: "state", State: api.StateCancelled, Message: "cancelled by the caller"})
	}
	return j.job, nil
}

func (f *fakeNode) Wait(ctx context.Context, id string) (api.Job, error) {
	f.mu.Lock()
	j, err := f.get(id)
	f.mu.Unlock()
	if err != nil {
		return api.Job{}, err
	}
	select {
	case <-j.done:
		return f.Job(ctx, id)
	case <-ctx.Done():
		return api.Job{}, ctx.Err()
	}
}

func (f *fakeNode) Events(ctx context.Context, id string) ([]api.Event, <-chan api.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.get(id)
	if err != nil {
		return nil, nil, err
	}
	ch := make(chan api.Event, 64)
	past := append([]api.Event(nil), j.events...)
	if j.job.State.Terminal() {
		close(ch)
		return past, ch, nil
	}
	j.subs[ch] = true
	context.AfterFunc(ctx, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if j.subs[ch] {
			delete(j.subs, ch)
			close(ch)
		}
	})
	return past, ch, nil
}

func (f *fakeNode) Result(ctx context.Context, id string) (api.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.get(id)
	if err != nil {
		return api.Result{}, err
	}
	if j.res == nil {
		return api.Result{}, api.Errorf(api.CodeNotFinished, "job %s is %s", id, j.job.State)
	}
	return *j.res, nil
}

func (f *fakeNode) Offers(ctx context.Context) ([]api.OfferInfo, error) {
	return []api.OfferInfo{{
		Provider: "12D3KooWProviderOneAAAAAAAAAAAAAAAAAAAAAAAA11111111", Seq: 3,
		Capabilities: []string{"runtime/wasm"},
		Pricing:      json.RawMessage(`{"base":10,"per_second":3}`),
		Limits:       json.RawMessage(`{"max_memory":1073741824}`),
		Version:      "test", ExpiresAt: time.Now().Add(time.Hour),
	}}, nil
}

func (f *fakeNode) Peers(ctx context.Context) ([]api.PeerInfo, error) {
	return []api.PeerInfo{{PeerID: "12D3KooWProviderOneAAAAAAAAAAAAAAAAAAAAAAAA11111111", Addrs: []string{"/ip4/10.0.0.2/tcp/4001"},
		Connected: true, LatencyMs: 1.5, Provider: true}}, nil
}

func (f *fakeNode) Status(ctx context.Context) (api.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return api.Status{PeerID: "12D3KooWSelfCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC3333", Version: "test", StartedAt: time.Now(),
		Peers: 1, Jobs: map[api.JobState]int{api.StateCompleted: 2}, LedgerHead: "bafyheadHHHH", LedgerSeq: 12,
		Misbehaving: f.adm.misbehaving}, nil
}

// startNode runs a fake node behind a real api.Server on a short socket path.
func startNode(t *testing.T, opts ...api.Option) (*fakeNode, string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "hk")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "hayek.sock")
	f := newFakeNode()
	srv := api.NewServer(f, opts...)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(t.Context(), sock) }()
	select {
	case <-srv.Ready():
	case err := <-errc:
		t.Fatalf("Serve: %v", err)
	}
	t.Cleanup(func() {
		srv.Close()
		<-errc
		f.run.Wait()
		os.RemoveAll(dir)
	})
	return f, sock
}
