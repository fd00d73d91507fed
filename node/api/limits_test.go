package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/api/apitest"
)

// clock is a clock the test moves by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// failsafe bounds every read of a raw connection, so a test that goes
// wrong fails instead of hanging; it is not what any test waits for.
const failsafe = 10 * time.Second

// rawConn is a connection to a socket that the test writes bytes to
// exactly as it wants, to play a slow or greedy client.
type rawConn struct {
	t *testing.T
	net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, sock string) *rawConn {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, Conn: c, br: bufio.NewReader(c)}
}

func (c *rawConn) send(s string) error {
	_, err := io.WriteString(c.Conn, s)
	return err
}

// answer reads one response and its body.
func (c *rawConn) answer() answer {
	c.t.Helper()
	c.SetReadDeadline(time.Now().Add(failsafe))
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.t.Fatalf("reading the answer: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("reading the answer's body: %v", err)
	}
	return answer{resp.StatusCode, resp.Header, b}
}

// closed reports whether the server closed the connection without a
// further byte.
func (c *rawConn) closed() bool {
	c.SetReadDeadline(time.Now().Add(failsafe))
	n, err := c.br.Read(make([]byte, 1))
	return n == 0 && err != nil && !errors.Is(err, net.ErrClosed) && !isTimeout(err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// served reports whether a new connection to sock is served a status
// (false when it is refused or closed unanswered).
func served(sock string) bool {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(failsafe))
	if _, err := io.WriteString(c, "GET /v1/status HTTP/1.1\r\nHost: hayek\r\n\r\n"); err != nil {
		return false
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// get sends a GET on c and reads its answer; the connection stays open.
func (c *rawConn) get(path string) answer {
	c.t.Helper()
	if err := c.send("GET " + path + " HTTP/1.1\r\nHost: hayek\r\n\r\n"); err != nil {
		c.t.Fatal(err)
	}
	return c.answer()
}

// TestTricklingBodiesAreCut plays the client of issue 6: it sends a body
// a byte at a time, each byte five seconds (of the node's clock) after the
// last, and never finishes. Every route that reads a body cuts it off with
// 408 request_timeout once it falls behind the minimum pace, whether its
// size was declared or it came chunked.
func TestTricklingBodiesAreCut(t *testing.T) {
	for _, c := range []struct{ name, path string }{
		{"blob", "/v1/blobs"},
		{"job spec", "/v1/jobs"},
		{"agent", "/v1/agents"},
	} {
		for _, chunked := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s chunked=%v", c.name, chunked), func(t *testing.T) {
				clk := newClock()
				// A minute of grace on the real clock too, so only the
				// node's clock, moved below, can cut the body.
				_, sock := apitest.Serve(t, apitest.New(), api.WithClock(clk.Now),
					api.WithLimits(api.Limits{BodyGrace: time.Minute, MinBodyRate: 1024, BodyStall: time.Minute}))
				conn := dial(t, sock)
				// Expect: 100-continue makes the node say when it starts
				// reading the body, so the clock moves only from then on.
				head := "POST " + c.path + " HTTP/1.1\r\nHost: hayek\r\nExpect: 100-continue\r\n"
				byte1 := func() string { return "{" }
				if chunked {
					head += "Transfer-Encoding: chunked\r\n\r\n"
					byte1 = func() string { return "1\r\n{\r\n" }
				} else {
					head += "Content-Length: 100\r\n\r\n"
				}
				if err := conn.send(head); err != nil {
					t.Fatal(err)
				}
				if a := conn.answer(); a.status != http.StatusContinue {
					t.Fatalf("want 100 Continue, got %d %s", a.status, a.body)
				}
				if err := conn.send(byte1()); err != nil {
					t.Fatal(err)
				}
				// 98 more bytes at most: the body never completes, so only
				// the pace can end the request.
				for range 98 {
					clk.Advance(5 * time.Second)
					if conn.send(byte1()) != nil {
						break // the node gave up on us
					}
				}
				a := conn.answer()
				e := a.apiError(t, http.StatusRequestTimeout, api.CodeTimeout)
				if !strings.Contains(e.Message, "too slowly") || !strings.Contains(e.Message, "1KiB/s") {
					t.Errorf("message %q does not say the body is too slow and what pace is wanted", e.Message)
				}
				if !conn.closed() {
					t.Error("the connection stays open after a body was cut off")
				}
			})
		}
	}
}

// steppedBlobs reads an upload in two steps and lets the test act in
// between, so the node's clock moves exactly between two reads.
type steppedBlobs struct {
	*apitest.Node
	first int
	read  chan struct{} // the first bytes are read
	more  chan struct{} // read the rest
}

func (b *steppedBlobs) PutBlob(ctx context.Context, r io.Reader, limit int64) (api.Blob, error) {
	head := make([]byte, b.first)
	if _, err := io.ReadFull(r, head); err != nil {
		return api.Blob{}, err
	}
	close(b.read)
	<-b.more
	rest, err := io.ReadAll(r)
	if err != nil {
		return api.Blob{}, err
	}
	return api.Blob{CID: "stepped", Size: int64(len(head) + len(rest))}, nil
}

// TestBodyPace: a body that keeps to the minimum pace, however slow, is
// read whole; one that falls behind it is cut off.
func TestBodyPace(t *testing.T) {
	// 10 B/s after 1 s: the first 10 bytes let the next come until 2 s.
	for _, c := range []struct {
		after  time.Duration
		status int
	}{{1900 * time.Millisecond, http.StatusOK}, {2100 * time.Millisecond, http.StatusRequestTimeout}} {
		t.Run(c.after.String(), func(t *testing.T) {
			clk := newClock()
			b := &steppedBlobs{Node: apitest.New(), first: 10, read: make(chan struct{}), more: make(chan struct{})}
			_, sock := apitest.Serve(t, b, api.WithClock(clk.Now),
				api.WithLimits(api.Limits{BodyGrace: time.Second, MinBodyRate: 10, BodyStall: time.Minute}))
			conn := dial(t, sock)
			if err := conn.send("POST /v1/blobs HTTP/1.1\r\nHost: hayek\r\nContent-Length: 20\r\n\r\n0123456789"); err != nil {
				t.Fatal(err)
			}
			within(t, failsafe, b.read, "the first bytes to be read")
			clk.Advance(c.after)
			if err := conn.send("0123456789"); err != nil {
				t.Fatal(err)
			}
			close(b.more)
			a := conn.answer()
			if c.status != http.StatusOK {
				a.apiError(t, c.status, api.CodeTimeout)
				return
			}
			var blob api.Blob
			if a.status != http.StatusOK || json.Unmarshal(a.body, &blob) != nil || blob.Size != 20 {
				t.Fatalf("a body at the pace: %d %s", a.status, a.body)
			}
			// The connection is still good for another request.
			if a := conn.get("/v1/status"); a.status != http.StatusOK {
				t.Fatalf("next request on the connection: %d %s", a.status, a.body)
			}
		})
	}
}

// TestStalledBodyIsCut: a body that stops altogether is cut off after
// BodyStall, on the real clock, however far ahead of the pace it was.
func TestStalledBodyIsCut(t *testing.T) {
	_, sock := apitest.Serve(t, apitest.New(), api.WithLimits(api.Limits{BodyGrace: time.Hour, BodyStall: 50 * time.Millisecond}))
	conn := dial(t, sock)
	if err := conn.send("POST /v1/blobs HTTP/1.1\r\nHost: hayek\r\nContent-Length: 100\r\n\r\nabc"); err != nil {
		t.Fatal(err)
	}
	e := conn.answer().apiError(t, http.StatusRequestTimeout, api.CodeTimeout)
	if !strings.Contains(e.Message, "stalled") || !strings.Contains(e.Message, "50ms") {
		t.Errorf("message %q does not say the body stalled and for how long", e.Message)
	}
}

// TestSlowHeadersAreCut: a client that never finishes its headers is
// disconnected after HeaderTimeout.
func TestSlowHeadersAreCut(t *testing.T) {
	_, sock := apitest.Serve(t, apitest.New(), api.WithLimits(api.Limits{HeaderTimeout: 50 * time.Millisecond}))
	conn := dial(t, sock)
	if err := conn.send("GET /v1/status HTTP/1.1\r\nHost: ha"); err != nil {
		t.Fatal(err)
	}
	if !conn.closed() {
		t.Fatal("a connection whose headers never end is kept open")
	}
}

// TestConnectionsPerSocketAreCapped: a socket serves MaxConns connections;
// the next is answered 503 busy and closed, and once a connection ends
// another is served again.
func TestConnectionsPerSocketAreCapped(t *testing.T) {
	_, sock := apitest.Serve(t, apitest.New(), api.WithLimits(api.Limits{MaxConns: 2}))
	held := []*rawConn{dial(t, sock), dial(t, sock)}
	for _, c := range held {
		if a := c.get("/v1/status"); a.status != http.StatusOK { // kept alive, so still counted
			t.Fatalf("status: %d %s", a.status, a.body)
		}
	}
	over := dial(t, sock)
	a := over.get("/v1/status")
	e := a.apiError(t, http.StatusServiceUnavailable, api.CodeBusy)
	if !strings.Contains(e.Message, "at most 2 connections") {
		t.Errorf("message %q does not state the limit", e.Message)
	}
	if a.header.Get("Retry-After") == "" {
		t.Error("busy without Retry-After")
	}
	if !over.closed() {
		t.Error("a refused connection stays open")
	}
	held[0].Close()
	eventually(t, failsafe, "a connection to be served again after one closed", func() bool { return served(sock) })
}

// TestConnectionsPerUserAreCapped: one Unix user other than the node's may
// hold MaxConnsPerUser connections; the next is answered 429
// too_many_connections. A user that keeps opening connections beyond its
// few refusals has them closed at once, so it cannot crowd out the
// refusals owed to others.
func TestConnectionsPerUserAreCapped(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the kernel names a unix socket's peer only on Linux here")
	}
	_, sock := apitest.Serve(t, apitest.New(), api.TreatOwnUserAsForeign(), api.WithLimits(api.Limits{MaxConnsPerUser: 1}))
	held := dial(t, sock)
	if a := held.get("/v1/status"); a.status != http.StatusOK {
		t.Fatalf("status: %d %s", a.status, a.body)
	}
	e := dial(t, sock).get("/v1/status").apiError(t, http.StatusTooManyRequests, api.CodeTooManyConns)
	if !strings.Contains(e.Message, "Unix user") {
		t.Errorf("message %q does not say whose connections are too many", e.Message)
	}
	// Four refusals may be pending for one user (these never send their
	// request); the connection after them is closed unanswered.
	for range 4 {
		dial(t, sock)
	}
	late := dial(t, sock)
	late.send("GET /v1/status HTTP/1.1\r\nHost: hayek\r\n\r\n")
	if !late.closed() {
		t.Error("a user over its connections and its pending refusals is still answered")
	}
	held.Close()
	eventually(t, failsafe, "the user to be served again after its connection closed", func() bool { return served(sock) })
}

// TestClientRetriesWhenBusy: the Go client sends a request the node
// turned away for its connection limits again, and it succeeds once a
// connection is free.
func TestClientRetriesWhenBusy(t *testing.T) {
	srv, sock := apitest.Serve(t, apitest.New(), api.WithLimits(api.Limits{MaxConns: 1}))
	held := dial(t, sock)
	if a := held.get("/v1/status"); a.status != http.StatusOK {
		t.Fatalf("status: %d %s", a.status, a.body)
	}
	c := api.NewClient(sock)
	defer c.Close()
	done := make(chan error, 1)
	go func() {
		_, err := c.Submit(t.Context(), api.SubmitRequest{Module: api.BlobRef{CID: "m"}, MaxPrice: 5})
		done <- err
	}()
	eventually(t, failsafe, "the node to turn the client away", func() bool { return api.Refusals(srv) > 0 })
	held.Close()
	if err := within(t, failsafe, done, "the submission to go through"); err != nil {
		t.Fatalf("Submit after the node was busy: %v", err)
	}
}

// TestUnreadBodiesCannotHoldTheConnection: a request answered without its
// body being read — an error before the body, a refused connection —
// leaves net/http reading the rest of the body; a client that trickles it
// is cut off after BodyStall rather than holding the connection.
func TestUnreadBodiesCannotHoldTheConnection(t *testing.T) {
	_, sock := apitest.Serve(t, apitest.New(), api.WithLimits(api.Limits{BodyStall: 50 * time.Millisecond}))
	// An error answered before the body is read.
	conn := dial(t, sock)
	if err := conn.send("POST /v1/nope HTTP/1.1\r\nHost: hayek\r\nContent-Length: 100\r\n\r\nx"); err != nil {
		t.Fatal(err)
	}
	conn.answer().apiError(t, http.StatusNotFound, api.CodeNotFound)
	if !conn.closed() {
		t.Fatal("a trickled body the node does not read keeps the connection")
	}
	// A response large enough to start before the handler ends: net/http
	// reads what is left of the body then.
	c := api.NewClient(sock)
	for i := range 40 {
		if _, err := c.Submit(t.Context(), api.SubmitRequest{Module: api.BlobRef{CID: "m"}, MaxPrice: 5, Args: []string{strings.Repeat("a", 100)},
			IdempotencyKey: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	conn = dial(t, sock)
	if err := conn.send("GET /v1/jobs HTTP/1.1\r\nHost: hayek\r\nContent-Length: 100\r\n\r\nx"); err != nil {
		t.Fatal(err)
	}
	if a := conn.answer(); a.status != http.StatusOK || len(a.body) < 8<<10 {
		t.Fatalf("jobs: %d, %d bytes", a.status, len(a.body))
	}
	if !conn.closed() {
		t.Fatal("a trickled body the node does not read keeps the connection")
	}
	// A refused connection, while another holds the only place.
	_, sock = apitest.Serve(t, apitest.New(), api.WithLimits(api.Limits{BodyStall: 50 * time.Millisecond, MaxConns: 1}))
	held := dial(t, sock)
	if a := held.get("/v1/status"); a.status != http.StatusOK {
		t.Fatalf("status: %d %s", a.status, a.body)
	}
	over := dial(t, sock)
	if err := over.send("POST /v1/jobs HTTP/1.1\r\nHost: hayek\r\nContent-Length: 100\r\n\r\n{"); err != nil {
		t.Fatal(err)
	}
	over.answer().apiError(t, http.StatusServiceUnavailable, api.CodeBusy)
	if !over.closed() {
		t.Fatal("a refused connection trickling its body stays open")
	}
}
