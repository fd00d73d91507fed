package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/node/api"
)

// fake is an in-memory api.Backend for testing the HTTP layer. Jobs move
// only when the test calls emit, so every test decides what happens when.
type fake struct {
	mu      sync.Mutex
	blobs   map[string][]byte
	jobs    map[string]*fakeJob
	order   []string
	idem    map[string]string
	results map[string]api.Result
	waiting chan string // receives a job ID each time Wait starts blocking
	status  func() (api.Status, error)
	adm     fakeAdmin // agents, approvals, ledger, reputation
}

type fakeJob struct {
	job    api.Job
	req    api.SubmitRequest
	events []api.Event
	subs   map[chan api.Event]struct{}
	done   chan struct{}
}

var _ api.Backend = (*fake)(nil)

func newFake() *fake {
	return &fake{
		blobs:   map[string][]byte{},
		jobs:    map[string]*fakeJob{},
		idem:    map[string]string{},
		results: map[string]api.Result{},
		waiting: make(chan string, 16),
		adm:     newFakeAdmin(),
	}
}

func (f *fake) PutBlob(ctx context.Context, r io.Reader, limit int64) (api.Blob, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return api.Blob{}, err
	}
	if int64(len(data)) > limit {
		return api.Blob{}, api.Errorf(api.CodeTooLarge, "blob above %d bytes", limit)
	}
	cid := canon.BlobCID(data).String()
	f.mu.Lock()
	f.blobs[cid] = data
	f.mu.Unlock()
	return api.Blob{CID: cid, Size: int64(len(data))}, nil
}

func (f *fake) OpenBlob(ctx context.Context, cid string) (io.ReadCloser, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.blobs[cid]
	if !ok {
		return nil, 0, api.Errorf(api.CodeBlobNotFound, "no blob %s on this node", cid)
	}
	return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
}

func (f *fake) Submit(ctx context.Context, req api.SubmitRequest) (api.Job, bool, error) {
	f.saw(ctx)
	if req.MaxPrice <= 0 {
		return api.Job{}, false, &api.Error{Code: api.CodeInvalidSpec, Message: "invalid job spec",
			Fields: []api.FieldError{{Field: "max_price", Message: "must be > 0"}}}
	}
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
	id := fmt.Sprintf("j%d", len(f.order)+1)
	now := time.Now()
	j := &fakeJob{
		job: api.Job{ID: id, State: api.StatePending, IdempotencyKey: req.IdempotencyKey,
			Module: req.Module.CID, MaxPrice: req.MaxPrice, CreatedAt: now, UpdatedAt: now,
			Agent: api.CallerFrom(ctx).Agent},
		req:  req,
		subs: map[chan api.Event]struct{}{},
		done: make(chan struct{}),
	}
	f.jobs[id] = j
	f.order = append(f.order, id)
	if req.IdempotencyKey != "" {
		f.idem[req.IdempotencyKey] = id
	}
	f.emitLocked(j, api.Event{Type: "state", State: api.StatePending})
	return j.job, true, nil
}

// emit records an event for job id, moving the job to ev.State.
func (f *fake) emit(id string, ev api.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.emitLocked(f.jobs[id], ev)
}

func (f *fake) emitLocked(j *fakeJob, ev api.Event) {
	ev.Seq = int64(len(j.events) + 1)
	ev.Job = j.job.ID
	ev.Time = time.Now()
	j.events = append(j.events, ev)
	j.job.State = ev.State
	j.job.UpdatedAt = ev.Time
	for ch := range j.subs {
		ch <- ev
	}
	if ev.State.Terminal() {
		close(j.done)
		for ch := range j.subs {
			close(ch)
		}
		j.subs = nil
	}
}

// finish completes job id with a result.
func (f *fake) finish(id string, res api.Result) {
	f.mu.Lock()
	res.Job = id
	f.results[id] = res
	j := f.jobs[id]
	j.job.Provider, j.job.Price, j.job.Status = res.Provider, res.Price, res.Status
	j.job.ExitCode = &res.ExitCode
	f.mu.Unlock()
	f.emit(id, api.Event{Type: "result", State: api.StateCompleted, Provider: res.Provider, Price: res.Price})
}

func (f *fake) get(id string) (*fakeJob, error) {
	j, ok := f.jobs[id]
	if !ok {
		return nil, api.Errorf(api.CodeNotFound, "no job %q on this node", id)
	}
	return j, nil
}

func (f *fake) Jobs(ctx context.Context, flt api.JobFilter) ([]api.Job, error) {
	f.saw(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []api.Job
	for i := len(f.order) - 1; i >= 0 && len(out) < flt.Limit; i-- {
		j := f.jobs[f.order[i]]
		if flt.State == "" || j.job.State == flt.State {
			out = append(out, j.job)
		}
	}
	return out, nil
}

func (f *fake) Job(ctx context.Context, id string) (api.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.get(id)
	if err != nil {
		return api.Job{}, err
	}
	return j.job, nil
}

func (f *fake) Cancel(ctx context.Context, id string) (api.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.get(id)
	if err != nil {
		return api.Job{}, err
	}
	if !j.job.State.Terminal() {
		j.job.Error = &api.JobError{Code: "cancelled", Message: "cancelled by the caller"}
		f.emitLocked(j, api.Event{Type: "state", State: api.StateCancelled})
	}
	return j.job, nil
}

func (f *fake) Wait(ctx context.Context, id string) (api.Job, error) {
	f.mu.Lock()
	j, err := f.get(id)
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
	case <-ctx.Done():
		return api.Job{}, ctx.Err()
	}
	return f.Job(ctx, id)
}

func (f *fake) Events(ctx context.Context, id string) ([]api.Event, <-chan api.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.get(id)
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

func (f *fake) Result(ctx context.Context, id string) (api.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.get(id)
	if err != nil {
		return api.Result{}, err
	}
	res, ok := f.results[id]
	if !ok {
		return api.Result{}, api.Errorf(api.CodeNotFinished, "job %s is %s", id, j.job.State)
	}
	return res, nil
}

func (f *fake) Offers(ctx context.Context) ([]api.OfferInfo, error) { return nil, nil }

func (f *fake) Peers(ctx context.Context) ([]api.PeerInfo, error) {
	return []api.PeerInfo{{PeerID: "12D3KooWPeer", Connected: true}}, nil
}

func (f *fake) Status(ctx context.Context) (api.Status, error) {
	if f.status != nil {
		return f.status()
	}
	return api.Status{PeerID: "12D3KooWSelf", Version: "test"}, nil
}

// serve runs an api.Server for b on a socket in a fresh short temp dir (unix
// socket paths are limited to about 104 bytes) and stops it at the end.
func serve(t testing.TB, b api.Backend, opts ...api.Option) (*api.Server, string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "hk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "hayek.sock")
	srv := api.NewServer(b, opts...)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(t.Context(), sock) }()
	select {
	case <-srv.Ready():
	case err := <-errc:
		t.Fatalf("Serve: %v", err)
	}
	t.Cleanup(func() {
		srv.Close()
		if err := <-errc; err != nil {
			t.Errorf("Serve returned %v after Close", err)
		}
	})
	return srv, sock
}

// within fails the test if ch does not deliver within d.
func within[T any](t *testing.T, d time.Duration, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("timed out after %v waiting for %s", d, what)
		panic("unreachable")
	}
}
