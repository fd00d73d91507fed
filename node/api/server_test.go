package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/api/apitest"
)

// raw is a plain HTTP client of a socket, to check the wire format itself.
func raw(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, sock, method, path string, body io.Reader, header ...string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, "http://hayek"+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := raw(sock).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return answer{resp.StatusCode, resp.Header, b}
}

// apiError decodes an error answer and checks its status and code.
func (a answer) apiError(t *testing.T, status int, code string) api.ErrorDetail {
	t.Helper()
	var eb api.ErrorBody
	if err := json.Unmarshal(a.body, &eb); err != nil {
		t.Fatalf("error body %q is not an ErrorBody: %v", a.body, err)
	}
	if a.status != status || eb.Error.Code != code {
		t.Fatalf("got %d %q (%s), want %d %q", a.status, eb.Error.Code, eb.Error.Message, status, code)
	}
	if eb.Error.Message == "" {
		t.Errorf("error %s has no message", code)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type %q", ct)
	}
	return eb.Error
}

func TestSocketIsPrivateAndRemovedOnClose(t *testing.T) {
	dir, err := os.MkdirTemp("", "hk")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "hayek.sock")
	srv := api.NewServer(apitest.New())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(t.Context(), sock) }()
	within(t, 5*time.Second, srv.Ready(), "the server to be ready")
	fi, err := os.Lstat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&fs.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a 0600 socket", fi.Mode())
	}
	if _, err := api.NewClient(sock).Status(t.Context()); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			t.Errorf("temporary directory %s left next to the socket", e.Name())
		}
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := within(t, 5*time.Second, errc, "Serve to return"); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket still there after Close: %v", err)
	}
}

func TestServeStopsWhenContextEnds(t *testing.T) {
	dir, _ := os.MkdirTemp("", "hk")
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(t.Context())
	srv := api.NewServer(apitest.New())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ctx, filepath.Join(dir, "s")) }()
	within(t, 5*time.Second, srv.Ready(), "the server to be ready")
	cancel()
	if err := within(t, 10*time.Second, errc, "Serve to return"); err != nil {
		t.Fatal(err)
	}
}

func TestServeRefusesASocketInUse(t *testing.T) {
	_, sock := apitest.Serve(t, apitest.New())
	err := api.NewServer(apitest.New()).Serve(t.Context(), sock)
	if err == nil || !strings.Contains(err.Error(), "another hayek node is serving") {
		t.Fatalf("second Serve on %s: %v", sock, err)
	}
	// The first one is still fine.
	if _, err := api.NewClient(sock).Status(t.Context()); err != nil {
		t.Fatal(err)
	}

	// Something other than a hayek node listening there is left alone too.
	dir, _ := os.MkdirTemp("", "hk")
	defer os.RemoveAll(dir)
	other := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", other)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = api.NewServer(apitest.New()).Serve(t.Context(), other)
	if err == nil || !strings.Contains(err.Error(), "already listening") {
		t.Fatalf("Serve on a socket another process listens on: %v", err)
	}
}

func TestServeReplacesStaleSocket(t *testing.T) {
	dir, _ := os.MkdirTemp("", "hk")
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close() // as after a crash: the file stays, nobody listens
	srv := api.NewServer(apitest.New())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(t.Context(), sock) }()
	select {
	case <-srv.Ready():
	case err := <-errc:
		t.Fatalf("Serve over a stale socket: %v", err)
	}
	srv.Close()
	<-errc

	// A file that is not a socket is not removed.
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("keep me"), 0o600)
	if err := api.NewServer(apitest.New()).Serve(t.Context(), plain); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("Serve over a regular file: %v", err)
	}
	if b, _ := os.ReadFile(plain); string(b) != "keep me" {
		t.Fatal("Serve clobbered a regular file")
	}
}

func TestServeRejectsInvalidOptions(t *testing.T) {
	err := api.NewServer(apitest.New(), api.WithBlobLimit(-1)).Serve(t.Context(), "/nonexistent/s")
	if err == nil || !strings.Contains(err.Error(), "blob limit") {
		t.Fatalf("got %v", err)
	}
}

func TestUnknownRouteAndWrongMethod(t *testing.T) {
	_, sock := apitest.Serve(t, apitest.New())
	do(t, sock, "GET", "/v1/nope", nil).apiError(t, 404, api.CodeNotFound)
	do(t, sock, "GET", "/", nil).apiError(t, 404, api.CodeNotFound)
	a := do(t, sock, "DELETE", "/v1/jobs/j1", nil)
	a.apiError(t, 405, api.CodeMethod)
	if got := a.header.Get("Allow"); got != "GET, HEAD" {
		t.Errorf("Allow %q", got)
	}
	a = do(t, sock, "GET", "/v1/blobs", nil)
	a.apiError(t, 405, api.CodeMethod)
	if got := a.header.Get("Allow"); got != "POST" {
		t.Errorf("Allow %q", got)
	}
}

func TestSubmitRejectsBadJSON(t *testing.T) {
	_, sock := apitest.Serve(t, apitest.New(), api.WithSpecLimit(1024))
	cases := []struct {
		name, body string
		status     int
		code       string
		field      string
		msg        string
	}{
		{"unknown field", `{"modul":{"cid":"x"},"max_price":5}`, 400, api.CodeBadRequest, "modul", "unknown field"},
		{"unknown nested field", `{"module":{"cdi":"x"},"max_price":5}`, 400, api.CodeBadRequest, "module.cdi", "unknown field"},
		{"unknown field in a list", `{"module":{"cid":"x"},"inputs":[{"name":"a","text":"b"},{"nmae":"c"}]}`, 400, api.CodeBadRequest, "inputs[1].nmae", "unknown field"},
		{"wrong type", `{"module":{"cid":5}}`, 400, api.CodeBadRequest, "module.cid", "want a string"},
		{"bad size", `{"module":{"cid":"x"},"memory":"lots"}`, 400, api.CodeBadRequest, "memory", "not a size"},
		{"bad duration", `{"module":{"cid":"x"},"timeout":"soon"}`, 400, api.CodeBadRequest, "timeout", "not a duration"},
		{"trailing garbage", `{"module":{"cid":"x"},"max_price":5} trailing`, 400, api.CodeBadRequest, "", "unexpected data after"},
		{"two objects", `{"max_price":5}{"max_price":6}`, 400, api.CodeBadRequest, "", "unexpected data after"},
		{"not JSON", `module=x`, 400, api.CodeBadRequest, "", "not valid JSON"},
		{"cut short", `{"module":`, 400, api.CodeBadRequest, "", "ends early"},
		{"array", `[1,2]`, 400, api.CodeBadRequest, "", "must be a JSON object"},
		{"empty", ``, 400, api.CodeBadRequest, "", "empty"},
		{"too large", `{"args":["` + strings.Repeat("a", 2000) + `"]}`, 413, api.CodeTooLarge, "", "larger than"},
		{"invalid spec", `{"module":{"cid":"x"}}`, 422, api.CodeInvalidSpec, "max_price", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := do(t, sock, "POST", "/v1/jobs", strings.NewReader(c.body)).apiError(t, c.status, c.code)
			if !strings.Contains(e.Message, c.msg) {
				t.Errorf("message %q does not say %q", e.Message, c.msg)
			}
			if c.field != "" && (len(e.Fields) != 1 || e.Fields[0].Field != c.field) {
				t.Errorf("fields %+v, want %q", e.Fields, c.field)
			}
		})
	}
	// Chunked (no Content-Length) bodies are limited too.
	body := io.MultiReader(strings.NewReader(`{"args":["`), strings.NewReader(strings.Repeat("a", 4000)), strings.NewReader(`"]}`))
	do(t, sock, "POST", "/v1/jobs", struct{ io.Reader }{body}).apiError(t, 413, api.CodeTooLarge)
}

func TestSubmitCreatedThenIdempotent(t *testing.T) {
	_, sock := apitest.Serve(t, apitest.New())
	spec := `{"module":{"cid":"m"},"max_price":10,"idempotency_key":"k1"}`
	a := do(t, sock, "POST", "/v1/jobs", strings.NewReader(spec))
	if a.status != 201 {
		t.Fatalf("first submit: %d %s", a.status, a.body)
	}
	var j1, j2 api.Job
	json.Unmarshal(a.body, &j1)
	b := do(t, sock, "POST", "/v1/jobs", strings.NewReader(spec))
	if b.status != 200 {
		t.Fatalf("repeat submit: %d %s", b.status, b.body)
	}
	json.Unmarshal(b.body, &j2)
	if j1.ID == "" || j1.ID != j2.ID {
		t.Fatalf("same key gave jobs %q and %q", j1.ID, j2.ID)
	}
	if !bytes.Contains(a.body, []byte(`"outputs":[]`)) || !bytes.Contains(a.body, []byte(`"attempts":[]`)) {
		t.Errorf("empty lists should be [] not null: %s", a.body)
	}
	do(t, sock, "POST", "/v1/jobs", strings.NewReader(`{"module":{"cid":"m"},"max_price":11,"idempotency_key":"k1"}`)).
		apiError(t, 409, api.CodeIdempotencyUsed)
	// The header form of the key.
	c := do(t, sock, "POST", "/v1/jobs", strings.NewReader(`{"module":{"cid":"m"},"max_price":10}`), "Idempotency-Key", "k1")
	var j3 api.Job
	json.Unmarshal(c.body, &j3)
	if c.status != 200 || j3.ID != j1.ID {
		t.Fatalf("Idempotency-Key header: %d %s", c.status, c.body)
	}
	do(t, sock, "POST", "/v1/jobs", strings.NewReader(spec), "Idempotency-Key", "other").apiError(t, 400, api.CodeBadRequest)
}

func TestBlobs(t *testing.T) {
	_, sock := apitest.Serve(t, apitest.New(), api.WithBlobLimit(1<<20))
	c := api.NewClient(sock)
	defer c.Close()
	ctx := t.Context()
	data := bytes.Repeat([]byte{0, 1, 2, 0xff}, 1000)
	b, err := c.PutBlobBytes(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	if b.Size != int64(len(data)) || !strings.HasPrefix(b.CID, "b") {
		t.Fatalf("blob %+v", b)
	}
	var got bytes.Buffer
	n, err := c.GetBlob(ctx, b.CID, &got)
	if err != nil || n != int64(len(data)) || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("GetBlob: %d bytes, %v", n, err)
	}
	// Streamed, without a known length.
	pr, pw := io.Pipe()
	go func() { pw.Write(data); pw.Close() }()
	if b2, err := c.PutBlob(ctx, pr); err != nil || b2 != b {
		t.Fatalf("streamed PutBlob: %+v %v", b2, err)
	}
	// Empty.
	if b0, err := c.PutBlobBytes(ctx, nil); err != nil || b0.Size != 0 {
		t.Fatalf("empty blob: %+v %v", b0, err)
	}
	// Missing.
	_, err = c.GetBlob(ctx, "bafkreinothere", io.Discard)
	var e *api.Error
	if !errors.As(err, &e) || e.Code != api.CodeBlobNotFound || e.HTTPStatus() != 404 {
		t.Fatalf("missing blob: %v", err)
	}
	a := do(t, sock, "GET", "/v1/blobs/"+b.CID, nil)
	if a.header.Get("Content-Length") != "4000" || a.header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("blob headers %v", a.header)
	}
}

func TestBlobTooLarge(t *testing.T) {
	_, sock := apitest.Serve(t, apitest.New(), api.WithBlobLimit(1024))
	c := api.NewClient(sock)
	defer c.Close()
	big := make([]byte, 200<<10)
	_, err := c.PutBlobBytes(t.Context(), big)
	if !api.IsCode(err, api.CodeTooLarge) {
		t.Fatalf("known length: %v", err)
	}
	pr, pw := io.Pipe()
	go func() { pw.Write(big); pw.Close() }()
	_, err = c.PutBlob(t.Context(), pr)
	var e *api.Error
	if !errors.As(err, &e) || e.Code != api.CodeTooLarge || e.HTTPStatus() != 413 {
		t.Fatalf("streamed: %v", err)
	}
	if !strings.Contains(e.Message, "1024") {
		t.Errorf("message %q does not state the limit", e.Message)
	}
	// The node is fine afterwards.
	if _, err := c.PutBlobBytes(t.Context(), big[:1024]); err != nil {
		t.Fatal(err)
	}
}

func TestLongPoll(t *testing.T) {
	f := apitest.New()
	_, sock := apitest.Serve(t, f)
	c := api.NewClient(sock, api.WithLongPoll(time.Minute))
	defer c.Close()
	job, err := c.Submit(t.Context(), api.SubmitRequest{Module: api.BlobRef{CID: "m"}, MaxPrice: 5})
	if err != nil {
		t.Fatal(err)
	}
	// A short wait answers with the job as it is.
	a := do(t, sock, "GET", "/v1/jobs/"+job.ID+"?wait=1ms", nil)
	if a.status != 200 || !bytes.Contains(a.body, []byte(`"state":"pending"`)) {
		t.Fatalf("short wait: %d %s", a.status, a.body)
	}
	do(t, sock, "GET", "/v1/jobs/"+job.ID+"?wait=soon", nil).apiError(t, 400, api.CodeBadRequest)

	type res struct {
		job api.Job
		err error
	}
	done := make(chan res, 1)
	go func() {
		j, err := c.Wait(t.Context(), job.ID)
		done <- res{j, err}
	}()
	within(t, 5*time.Second, f.Waiting(), "Wait to block in the backend")
	f.Finish(job.ID, api.Result{Status: "ok", Provider: "p"})
	r := within(t, 5*time.Second, done, "Wait to return")
	if r.err != nil || r.job.State != api.StateCompleted {
		t.Fatalf("Wait: %+v %v", r.job, r.err)
	}

	// POST ?wait= answers once the job is done.
	a = do(t, sock, "POST", "/v1/jobs?wait=1ms", strings.NewReader(`{"module":{"cid":"m"},"max_price":5}`))
	if a.status != 201 || !bytes.Contains(a.body, []byte(`"state":"pending"`)) {
		t.Fatalf("submit with a short wait: %d %s", a.status, a.body)
	}
	_, err = c.Wait(t.Context(), "nope")
	if !api.IsCode(err, api.CodeNotFound) {
		t.Fatalf("Wait on an unknown job: %v", err)
	}
}

func TestCloseEndsLongPolls(t *testing.T) {
	f := apitest.New()
	srv, sock := apitest.Serve(t, f)
	c := api.NewClient(sock)
	defer c.Close()
	job, _ := c.Submit(t.Context(), api.SubmitRequest{Module: api.BlobRef{CID: "m"}, MaxPrice: 5})
	got := make(chan answer, 1)
	go func() { got <- do(t, sock, "GET", "/v1/jobs/"+job.ID+"?wait=10m", nil) }()
	within(t, 5*time.Second, f.Waiting(), "the long poll to block")
	closed := make(chan error, 1)
	go func() { closed <- srv.Close() }()
	a := within(t, 5*time.Second, got, "the long poll to end")
	if a.status != 200 || !bytes.Contains(a.body, []byte(`"state":"pending"`)) {
		t.Fatalf("long poll at close: %d %s", a.status, a.body)
	}
	within(t, 10*time.Second, closed, "Close to return")
}

func TestResultAndCancel(t *testing.T) {
	f := apitest.New()
	_, sock := apitest.Serve(t, f)
	c := api.NewClient(sock)
	defer c.Close()
	ctx := t.Context()
	job, _ := c.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{CID: "m"}, MaxPrice: 5})
	if _, err := c.Result(ctx, job.ID); !api.IsCode(err, api.CodeNotFinished) {
		t.Fatalf("result before the end: %v", err)
	}
	do(t, sock, "GET", "/v1/jobs/"+job.ID+"/result", nil).apiError(t, 409, api.CodeNotFinished)
	j, err := c.Cancel(ctx, job.ID)
	if err != nil || j.State != api.StateCancelled {
		t.Fatalf("cancel: %+v %v", j, err)
	}
	if _, err := c.Cancel(ctx, "nope"); !api.IsCode(err, api.CodeNotFound) {
		t.Fatalf("cancel unknown: %v", err)
	}
	jobs, err := c.Jobs(ctx, api.JobFilter{State: api.StateCancelled})
	if err != nil || len(jobs) != 1 || jobs[0].ID != job.ID {
		t.Fatalf("jobs: %+v %v", jobs, err)
	}
	jobs, err = c.Jobs(ctx, api.JobFilter{State: api.StateRunning})
	if err != nil || len(jobs) != 0 || jobs == nil {
		t.Fatalf("no running jobs: %#v %v", jobs, err)
	}
	do(t, sock, "GET", "/v1/jobs?state=sleeping", nil).apiError(t, 400, api.CodeBadRequest)
	do(t, sock, "GET", "/v1/jobs?limit=0", nil).apiError(t, 400, api.CodeBadRequest)
}

func TestPanicsAndInternalErrorsAreContained(t *testing.T) {
	f := apitest.New()
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	_, sock := apitest.Serve(t, f, api.WithLogger(log))
	f.SetStatus(func() (api.Status, error) { panic("boom") })
	e := do(t, sock, "GET", "/v1/status", nil).apiError(t, 500, api.CodeInternal)
	if strings.Contains(e.Message, "boom") {
		t.Errorf("panic value leaked to the client: %q", e.Message)
	}
	f.SetStatus(func() (api.Status, error) { return api.Status{}, errors.New("disk on fire at /secret/path") })
	e = do(t, sock, "GET", "/v1/status", nil).apiError(t, 500, api.CodeInternal)
	if strings.Contains(e.Message, "secret") {
		t.Errorf("internal detail leaked to the client: %q", e.Message)
	}
	f.SetStatus(func() (api.Status, error) { return api.Status{}, api.Errorf(api.CodeUnavailable, "shutting down") })
	do(t, sock, "GET", "/v1/status", nil).apiError(t, 503, api.CodeUnavailable)
	f.SetStatus(nil)
	if _, err := api.NewClient(sock).Status(t.Context()); err != nil {
		t.Fatalf("the node is not fine after a panic: %v", err)
	}
	for _, want := range []string{"boom", "disk on fire"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
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

// eventually is apitest.WaitFor, with d what cond needs on an idle machine.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	apitest.WaitFor(t, d, what, cond)
}

func TestNoGoroutinesLeftByAbandonedRequests(t *testing.T) {
	f := apitest.New()
	_, sock := apitest.Serve(t, f)
	c := api.NewClient(sock)
	job, _ := c.Submit(t.Context(), api.SubmitRequest{Module: api.BlobRef{CID: "m"}, MaxPrice: 5})
	c.Close()
	base := runtime.NumGoroutine()

	c = api.NewClient(sock)
	for range 20 {
		// A long poll and an event stream, both abandoned by the caller.
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{}, 2)
		go func() { c.Wait(ctx, job.ID); done <- struct{}{} }()
		go func() { c.Events(ctx, job.ID, func(api.Event) error { return nil }); done <- struct{}{} }()
		within(t, 5*time.Second, f.Waiting(), "the long poll to block")
		cancel()
		within(t, 5*time.Second, done, "the long poll to return")
		within(t, 5*time.Second, done, "the event stream to return")
	}
	c.Close()
	eventually(t, 10*time.Second, "goroutines to go back to where they were", func() bool {
		return runtime.NumGoroutine() <= base
	})
	// The backend drops a subscription when its context ends, which may
	// come a moment after the handler has returned.
	eventually(t, 10*time.Second, "every event subscription to be dropped", func() bool {
		return f.Subscribers(job.ID) == 0
	})
}

func TestCloseEndsEventStreams(t *testing.T) {
	f := apitest.New()
	srv, sock := apitest.Serve(t, f)
	c := api.NewClient(sock)
	defer c.Close()
	job, _ := c.Submit(t.Context(), api.SubmitRequest{Module: api.BlobRef{CID: "m"}, MaxPrice: 5})
	req, _ := http.NewRequestWithContext(t.Context(), "GET", "http://hayek/v1/jobs/"+job.ID+"/events", nil)
	resp, err := raw(sock).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	closed := make(chan error, 1)
	go func() { closed <- srv.Close() }()
	read := make(chan error, 1)
	go func() { _, err := io.ReadAll(resp.Body); read <- err }()
	if err := within(t, 5*time.Second, read, "the stream to end"); err != nil {
		t.Errorf("stream ended with %v, want a clean end", err)
	}
	within(t, 10*time.Second, closed, "Close to return")
}
