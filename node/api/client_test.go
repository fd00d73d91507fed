package api_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/api/apitest"
)

func TestClientUnreachable(t *testing.T) {
	dir, _ := os.MkdirTemp("", "hk")
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "hayek.sock")
	_, err := api.NewClient(sock).Status(t.Context())
	want := fmt.Sprintf(`cannot reach the hayek node at %s: is "hayek serve" running? (set --socket or HAYEK_SOCKET)`, sock)
	if !errors.Is(err, api.ErrUnreachable) || !strings.Contains(err.Error(), want) {
		t.Fatalf("missing socket: %v", err)
	}
	// A stale socket: the file exists, nobody listens.
	ln, _ := net.Listen("unix", sock)
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	_, err = api.NewClient(sock).Submit(t.Context(), api.SubmitRequest{})
	if !errors.Is(err, api.ErrUnreachable) || !strings.Contains(err.Error(), want) {
		t.Fatalf("refused: %v", err)
	}
}

func TestClientContextEnds(t *testing.T) {
	f := apitest.New()
	_, sock := apitest.Serve(t, f)
	c := api.NewClient(sock)
	defer c.Close()
	job, _ := c.Submit(t.Context(), api.SubmitRequest{Module: api.BlobRef{CID: "m"}, MaxPrice: 5})
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { _, err := c.Wait(ctx, job.ID); errc <- err }()
	within(t, 5*time.Second, f.Waiting(), "Wait to block")
	cancel()
	if err := within(t, 5*time.Second, errc, "Wait to return"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait after cancel: %v", err)
	}
}

// collect follows a job's events in the background.
func collect(ctx context.Context, c *api.Client, id string) (<-chan api.Event, <-chan error) {
	evs := make(chan api.Event, 100)
	errc := make(chan error, 1)
	go func() {
		errc <- c.Events(ctx, id, func(ev api.Event) error { evs <- ev; return nil })
		close(evs)
	}()
	return evs, errc
}

func TestEventsReplayLiveAndEnd(t *testing.T) {
	f := apitest.New()
	_, sock := apitest.Serve(t, f)
	c := api.NewClient(sock)
	defer c.Close()
	job, _ := c.Submit(t.Context(), api.SubmitRequest{Module: api.BlobRef{CID: "m"}, MaxPrice: 5})
	f.Emit(job.ID, api.Event{Type: "auction", State: api.StateAuction, Attempt: 1, Invitees: 2})
	evs, errc := collect(t.Context(), c, job.ID)
	for _, want := range []string{"state", "auction"} {
		if ev := within(t, 5*time.Second, evs, "a replayed event"); ev.Type != want {
			t.Fatalf("replayed %+v, want %s", ev, want)
		}
	}
	f.Emit(job.ID, api.Event{Type: "bid", State: api.StateAuction, Provider: "p1", Price: 3})
	if ev := within(t, 5*time.Second, evs, "a live event"); ev.Type != "bid" || ev.Seq != 3 || ev.Price != 3 {
		t.Fatalf("live %+v", ev)
	}
	f.Finish(job.ID, api.Result{Status: "ok", Provider: "p1", Price: 3})
	if ev := within(t, 5*time.Second, evs, "the result event"); ev.State != api.StateCompleted {
		t.Fatalf("last %+v", ev)
	}
	if err := within(t, 5*time.Second, errc, "Events to return"); err != nil {
		t.Fatalf("Events: %v", err)
	}
	// Following a finished job replays everything and ends.
	evs, errc = collect(t.Context(), c, job.ID)
	var n int
	for range evs {
		n++
	}
	if err := <-errc; err != nil || n != 4 {
		t.Fatalf("replay of a finished job: %d events, %v", n, err)
	}
	// Unknown job.
	err := c.Events(t.Context(), "nope", func(api.Event) error { return nil })
	if !api.IsCode(err, api.CodeNotFound) {
		t.Fatalf("unknown job: %v", err)
	}
	// fn's error stops the stream and comes back unchanged.
	stop := errors.New("enough")
	if err := c.Events(t.Context(), job.ID, func(api.Event) error { return stop }); err != stop {
		t.Fatalf("fn error: %v", err)
	}
}

func TestEventsWireFormat(t *testing.T) {
	f := apitest.New()
	_, sock := apitest.Serve(t, f, api.WithKeepAlive(10*time.Millisecond))
	c := api.NewClient(sock)
	defer c.Close()
	job, _ := c.Submit(t.Context(), api.SubmitRequest{Module: api.BlobRef{CID: "m"}, MaxPrice: 5})
	f.Emit(job.ID, api.Event{Type: "auction", State: api.StateAuction, Invitees: 3})
	f.Emit(job.ID, api.Event{Type: "decline", State: api.StateAuction, Provider: "p2", Reason: "busy"})

	// Resume after event 2: only event 3, then keep-alives while quiet.
	req, _ := http.NewRequestWithContext(t.Context(), "GET", "http://hayek/v1/jobs/"+job.ID+"/events", nil)
	req.Header.Set("Last-Event-ID", "2")
	resp, err := raw(sock).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	r := bufio.NewReader(resp.Body)
	var lines []string
	for len(lines) < 20 {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream: %v (so far %q)", err, lines)
		}
		lines = append(lines, strings.TrimSuffix(line, "\n"))
		if line == ": keep-alive\n" {
			break
		}
	}
	got := strings.Join(lines, "\n")
	wantPrefix := "retry: 1000\n\nid: 3\nevent: decline\ndata: {\"seq\":3,"
	if !strings.HasPrefix(got, wantPrefix) || !strings.Contains(got, `"reason":"busy"`) || strings.Contains(got, "id: 2") {
		t.Fatalf("stream:\n%s\nwant it to start with\n%s", got, wantPrefix)
	}

	// A bad Last-Event-ID is a 400, before the stream starts.
	do(t, sock, "GET", "/v1/jobs/"+job.ID+"/events", nil, "Last-Event-ID", "x").apiError(t, 400, api.CodeBadRequest)
	do(t, sock, "GET", "/v1/jobs/nope/events", nil).apiError(t, 404, api.CodeNotFound)
}

// proxy forwards unix connections to a server and can cut them all, as a
// restarting node or a flaky link would.
type proxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newProxy(t *testing.T, target string) (*proxy, string) {
	dir, _ := os.MkdirTemp("", "hk")
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "p")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("unix", target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go func() { io.Copy(out, in); out.Close() }()
			go func() { io.Copy(in, out); in.Close() }()
		}
	}()
	return p, path
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func TestEventsResumeAfterDroppedConnection(t *testing.T) {
	f := apitest.New()
	_, sock := apitest.Serve(t, f)
	p, psock := newProxy(t, sock)
	c := api.NewClient(psock)
	defer c.Close()
	job, _ := c.Submit(t.Context(), api.SubmitRequest{Module: api.BlobRef{CID: "m"}, MaxPrice: 5})
	f.Emit(job.ID, api.Event{Type: "auction", State: api.StateAuction})
	evs, errc := collect(t.Context(), c, job.ID)
	within(t, 5*time.Second, evs, "event 1")
	within(t, 5*time.Second, evs, "event 2")

	p.cut() // mid-stream
	f.Emit(job.ID, api.Event{Type: "bid", State: api.StateAuction, Provider: "p1", Price: 2})
	f.Emit(job.ID, api.Event{Type: "award", State: api.StateAwarded, Provider: "p1", Price: 2})
	f.Finish(job.ID, api.Result{Status: "ok", Provider: "p1", Price: 2})

	var seqs []int64
	for ev := range evs {
		seqs = append(seqs, ev.Seq)
	}
	if err := within(t, 10*time.Second, errc, "Events to return"); err != nil {
		t.Fatalf("Events: %v", err)
	}
	if fmt.Sprint(seqs) != "[3 4 5]" {
		t.Fatalf("after the drop got seqs %v, want [3 4 5] exactly once", seqs)
	}
}

func TestConcurrentSubmits(t *testing.T) {
	f := apitest.New()
	_, sock := apitest.Serve(t, f)
	c := api.NewClient(sock)
	defer c.Close()
	const callers, each = 64, 10
	var wg sync.WaitGroup
	errs := make(chan error, callers*each)
	for i := range callers {
		wg.Go(func() {
			for k := range each {
				_, err := c.Submit(t.Context(), api.SubmitRequest{Module: api.BlobRef{CID: "m"}, MaxPrice: 5,
					IdempotencyKey: fmt.Sprintf("%d-%d", i, k)})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	jobs, err := c.Jobs(t.Context(), api.JobFilter{Limit: 1000})
	if err != nil || len(jobs) != callers*each {
		t.Fatalf("%d jobs, %v", len(jobs), err)
	}
}

// BenchmarkSubmit measures a submission through the socket, the path the
// benchmark's hundreds of jobs per second take.
func BenchmarkSubmit(b *testing.B) {
	req := api.SubmitRequest{Module: api.BlobRef{CID: "m"}, MaxPrice: 5, Args: []string{"a", "b"}}
	f := apitest.New()
	// The fake holds each job's max price against the operator's budget.
	if _, err := f.FundAgent(b.Context(), api.OperatorAgent, api.Fund{Amount: int64(b.N) * req.MaxPrice}); err != nil {
		b.Fatal(err)
	}
	_, sock := apitest.Serve(b, f)
	c := api.NewClient(sock)
	defer c.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Submit(b.Context(), req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
