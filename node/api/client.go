package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrUnreachable matches, with errors.Is, every error saying the node could
// not be reached or the connection to it broke: the node is not running,
// the socket path is wrong, or the caller may not use the socket.
var ErrUnreachable = errors.New("hayek: cannot reach the hayek node")

// UnreachableError is the error for a node that cannot be reached.
type UnreachableError struct {
	Socket string
	Op     string // the request that broke, "" when connecting failed
	Err    error
}

func (e *UnreachableError) Error() string {
	hint := `is "hayek serve" running? (set --socket or HAYEK_SOCKET)`
	switch {
	case e.Op != "":
		return fmt.Sprintf("hayek: lost the connection to the hayek node at %s during %s (%v): did it stop? The request may or may not have taken effect", e.Socket, e.Op, e.Err)
	case errors.Is(e.Err, fs.ErrPermission):
		return fmt.Sprintf("hayek: cannot reach the hayek node at %s: permission denied: the operator socket (hayek.sock, mode 0600) is for the node's own user; an agent under another user connects to the agent socket (agent.sock, mode 0660) with --socket or HAYEK_SOCKET and its token, and needs to be in the socket's group", e.Socket)
	case errors.Is(e.Err, fs.ErrNotExist), errors.Is(e.Err, syscall.ECONNREFUSED):
		return fmt.Sprintf("hayek: cannot reach the hayek node at %s: %s", e.Socket, hint)
	case len(e.Socket) > maxSocketPath:
		return fmt.Sprintf("hayek: cannot reach the hayek node at %s: the path is longer than unix sockets allow (%d bytes); use a shorter --home or --socket", e.Socket, maxSocketPath)
	}
	return fmt.Sprintf("hayek: cannot reach the hayek node at %s (%v): %s", e.Socket, e.Err, hint)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnreachable) true.
func (e *UnreachableError) Is(target error) bool { return target == ErrUnreachable }

// Client defaults.
const (
	DefaultLongPoll = time.Minute // each request of Client.Wait
	maxResponse     = 64 << 20    // largest JSON answer read
	maxIdleConns    = 128         // comfortably above 64 concurrent callers
	eventRetries    = 8           // reconnections in a row without progress
)

// Client talks to a node's local API over its unix socket. It is safe for
// concurrent use, and reuses connections: create one and share it.
//
// Errors the node answers with are *Error (test them with IsCode); a node
// that cannot be reached gives an *UnreachableError (errors.Is
// ErrUnreachable); a context that ends gives an error wrapping ctx.Err().
// A request the node turns away because its socket is full (CodeBusy) or
// the caller's Unix user holds too many connections (CodeTooManyConns) is
// sent again after growing pauses for up to 15 s, unless it streams a
// body that cannot be sent twice (PutBlob's).
type Client struct {
	socket    string
	auth      []string // the Authorization header, when a token is set
	tr        *http.Transport
	hc        *http.Client
	longPoll  time.Duration
	userAgent string
}

// ClientOption configures a Client.
type ClientOption func(*Client)

// WithLongPoll sets how long each request of Wait blocks on the node before
// asking again (default DefaultLongPoll; the node caps it at its max wait).
func WithLongPoll(d time.Duration) ClientOption {
	return func(c *Client) {
		if d > 0 {
			c.longPoll = d
		}
	}
}

// WithToken makes every request act as the agent whose bearer token this
// is (hayek agent create prints it). Without a token, a request on the
// operator socket acts as the operator, and one on the agent socket is
// refused.
func WithToken(token string) ClientOption {
	return func(c *Client) {
		if token != "" {
			c.auth = []string{"Bearer " + token}
		}
	}
}

// WithUserAgent names the caller in the node's view of requests.
func WithUserAgent(ua string) ClientOption { return func(c *Client) { c.userAgent = ua } }

// NewClient returns a client of the node listening on socketPath, usually
// <home>/hayek.sock. It does not connect until the first call.
func NewClient(socketPath string, opts ...ClientOption) *Client {
	c := &Client{socket: socketPath, longPoll: DefaultLongPoll, userAgent: "hayek-go-client"}
	for _, o := range opts {
		o(c)
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	c.tr = &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			conn, err := dialer.DialContext(ctx, "unix", socketPath)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				var op *net.OpError
				if errors.As(err, &op) {
					err = op.Err
				}
				return nil, &UnreachableError{Socket: socketPath, Err: err}
			}
			return conn, nil
		},
		MaxIdleConns:        maxIdleConns,
		MaxIdleConnsPerHost: maxIdleConns,
		// Shorter than the server's idle timeout, so the client drops an
		// idle connection before the server does.
		IdleConnTimeout:    90 * time.Second,
		DisableCompression: true,
	}
	// No overall timeout: long polls and event streams are bounded by the
	// caller's context.
	c.hc = &http.Client{Transport: c.tr}
	return c
}

// Socket is the socket path the client dials.
func (c *Client) Socket() string { return c.socket }

// Close closes idle connections. The client stays usable.
func (c *Client) Close() error {
	c.tr.CloseIdleConnections()
	return nil
}

// PutBlob uploads r's bytes, streaming them, and returns their CID and
// size. The node refuses blobs above its limit (256 MiB by default) with
// CodeTooLarge, and a body that comes slower than its minimum pace
// (64 KiB/s after 10 s by default) with CodeTimeout. r is read to its end
// but not closed.
func (c *Client) PutBlob(ctx context.Context, r io.Reader) (Blob, error) {
	size := int64(-1)
	switch v := r.(type) {
	case *bytes.Reader:
		size = int64(v.Len())
	case *bytes.Buffer:
		size = int64(v.Len())
	case *strings.Reader:
		size = int64(v.Len())
	case *os.File:
		if fi, err := v.Stat(); err == nil && fi.Mode().IsRegular() {
			if off, err := v.Seek(0, io.SeekCurrent); err == nil {
				size = fi.Size() - off
			}
		}
	}
	// Hide Close: the transport closes request bodies, and r is the caller's.
	req, err := c.newRequest(ctx, http.MethodPost, "/v1/blobs", struct{ io.Reader }{r})
	if err != nil {
		return Blob{}, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if size >= 0 {
		req.ContentLength = size
	}
	if size == 0 {
		req.Body = http.NoBody
	}
	var b Blob
	return b, c.doRequest(req, &b)
}

// PutBlobBytes uploads b and returns its CID and size. Unlike PutBlob's
// stream, b can be sent again, so a node too busy to take it is asked
// again (see Client).
func (c *Client) PutBlobBytes(ctx context.Context, b []byte) (Blob, error) {
	req, err := c.newRequest(ctx, http.MethodPost, "/v1/blobs", bytes.NewReader(b))
	if err != nil {
		return Blob{}, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	var blob Blob
	return blob, c.doRequest(req, &blob)
}

// GetBlob writes the blob named cid to w and returns how many bytes it
// wrote. A blob this node does not hold is CodeBlobNotFound.
func (c *Client) GetBlob(ctx context.Context, cid string, w io.Writer) (int64, error) {
	req, err := c.newRequest(ctx, http.MethodGet, "/v1/blobs/"+url.PathEscape(cid), nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.send(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		if ctx.Err() != nil {
			return n, fmt.Errorf("hayek: downloading blob %s: %w", cid, ctx.Err())
		}
		return n, fmt.Errorf("hayek: downloading blob %s: got %d bytes of %d: %w", cid, n, resp.ContentLength, err)
	}
	return n, nil
}

// GetBlobBytes returns the blob named cid, which must fit in memory.
func (c *Client) GetBlobBytes(ctx context.Context, cid string) ([]byte, error) {
	var buf bytes.Buffer
	_, err := c.GetBlob(ctx, cid, &buf)
	return buf.Bytes(), err
}

// Submit submits a job and returns it as accepted, usually pending. With an
// idempotency key, submitting the same spec again returns the existing job
// (so a submission can be retried safely), and a different spec under the
// same key is CodeIdempotencyUsed. An invalid spec is CodeInvalidSpec with
// the fields at fault in (*Error).Fields.
func (c *Client) Submit(ctx context.Context, req SubmitRequest) (Job, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return Job{}, fmt.Errorf("hayek: encoding the job spec: %w", err)
	}
	r, err := c.newRequest(ctx, http.MethodPost, "/v1/jobs", bytes.NewReader(body))
	if err != nil {
		return Job{}, err
	}
	r.Header["Content-Type"] = contentJSON
	if req.IdempotencyKey != "" {
		// Lets net/http resend the request when a kept-alive connection
		// turns out closed: the key makes that safe.
		r.Header.Set("Idempotency-Key", req.IdempotencyKey)
	}
	var job Job
	return job, c.doRequest(r, &job)
}

// Quote asks what a job would cost and who could run it, without
// submitting it: nothing is held or reserved (POST /v1/quote).
func (c *Client) Quote(ctx context.Context, req SubmitRequest) (Quote, error) {
	req.IdempotencyKey = ""
	body, err := json.Marshal(req)
	if err != nil {
		return Quote{}, fmt.Errorf("hayek: encoding the job spec: %w", err)
	}
	r, err := c.newRequest(ctx, http.MethodPost, "/v1/quote", bytes.NewReader(body))
	if err != nil {
		return Quote{}, err
	}
	r.Header["Content-Type"] = contentJSON
	// A quote changes nothing, so net/http may resend it on a kept-alive
	// connection found closed; a nil value marks it so without sending it.
	r.Header["Idempotency-Key"] = nil
	var q Quote
	return q, c.doRequest(r, &q)
}

// Jobs lists this node's jobs, newest first: an agent's own only, when
// the client has its token.
func (c *Client) Jobs(ctx context.Context, f JobFilter) ([]Job, error) {
	q := url.Values{}
	if f.State != "" {
		q.Set("state", string(f.State))
	}
	if f.Agent != "" {
		q.Set("agent", f.Agent)
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	path := "/v1/jobs"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var jobs []Job
	return jobs, c.getJSON(ctx, path, &jobs)
}

// Job returns the job's current state. An unknown ID is CodeNotFound.
func (c *Client) Job(ctx context.Context, id string) (Job, error) {
	var job Job
	return job, c.getJSON(ctx, jobPath(id, ""), &job)
}

// Wait blocks until the job is completed, failed or cancelled, or ctx ends,
// and returns it. It long-polls, so it costs one request per long-poll
// period, not a busy loop.
func (c *Client) Wait(ctx context.Context, id string) (Job, error) {
	pause := 50 * time.Millisecond
	for {
		start := time.Now()
		var job Job
		err := c.getJSON(ctx, jobPath(id, "")+"?wait="+c.longPoll.String(), &job)
		if err != nil || job.State.Terminal() {
			return job, err
		}
		// A node that answers long before the wait (one that is stopping,
		// or one without long polls) must not turn this into a busy loop.
		if time.Since(start) < c.longPoll/2 {
			if err := sleep(ctx, pause); err != nil {
				return job, fmt.Errorf("hayek: waiting for job %s: %w", id, err)
			}
			pause = min(2*pause, 2*time.Second)
		}
	}
}

// Cancel cancels the job and returns it. Cancelling a job that already
// ended is not an error: the job is returned as it ended.
func (c *Client) Cancel(ctx context.Context, id string) (Job, error) {
	var job Job
	return job, c.doJSON(ctx, http.MethodPost, jobPath(id, "/cancel"), &job)
}

// Result returns the outcome of a completed job: exit code, stdout and
// stderr (inline up to 1 MiB, and by CID), outputs by CID, usage and price.
// A job without a result yet is CodeNotFinished.
func (c *Client) Result(ctx context.Context, id string) (Result, error) {
	var r Result
	return r, c.getJSON(ctx, jobPath(id, "/result"), &r)
}

// Offers lists the providers' offers this node knows.
func (c *Client) Offers(ctx context.Context) ([]OfferInfo, error) {
	var v []OfferInfo
	return v, c.getJSON(ctx, "/v1/offers", &v)
}

// Peers lists the peers this node knows.
func (c *Client) Peers(ctx context.Context) ([]PeerInfo, error) {
	var v []PeerInfo
	return v, c.getJSON(ctx, "/v1/peers", &v)
}

// Status returns the node's own state.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var v Status
	return v, c.getJSON(ctx, "/v1/status", &v)
}

func jobPath(id, suffix string) string { return "/v1/jobs/" + url.PathEscape(id) + suffix }

func (c *Client) getJSON(ctx context.Context, path string, out any) error {
	return c.doJSON(ctx, http.MethodGet, path, out)
}

func (c *Client) doJSON(ctx context.Context, method, path string, out any) error {
	req, err := c.newRequest(ctx, method, path, nil)
	if err != nil {
		return err
	}
	return c.doRequest(req, out)
}

// doRequest sends req and decodes a 2xx answer into out.
func (c *Client) doRequest(req *http.Request, out any) error {
	resp, err := c.send(req)
	if err != nil {
		return err
	}
	defer drainClose(resp.Body)
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponse)).Decode(out); err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return fmt.Errorf("hayek: %s %s: %w", req.Method, req.URL.Path, ctxErr)
		}
		return fmt.Errorf("hayek: reading the node's answer to %s %s: %w", req.Method, req.URL.Path, err)
	}
	return nil
}

func (c *Client) newRequest(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://hayek"+path, body)
	if err != nil {
		return nil, fmt.Errorf("hayek: %s %s: %w", method, path, err)
	}
	req.Header["User-Agent"] = []string{c.userAgent}
	if c.auth != nil {
		req.Header["Authorization"] = c.auth
	}
	return req, nil
}

// Retries of a request the node refused for its connection limits
// (CodeBusy, CodeTooManyConns) before any handler ran.
const (
	retryFirst = 20 * time.Millisecond
	retryMax   = time.Second
	retryFor   = 15 * time.Second // then the refusal is the answer
)

// send performs req and returns the response if its status is 2xx; any
// other status becomes an *Error, a transport failure an UnreachableError.
// A request the node refused for its connection limits is sent again after
// a pause, when its body can be sent again: the node refuses those before
// doing anything, so resending is always safe.
func (c *Client) send(req *http.Request) (*http.Response, error) {
	pause, waited := retryFirst, time.Duration(0)
	for {
		resp, err := c.sendOnce(req)
		var e *Error
		if err == nil || !errors.As(err, &e) || (e.Code != CodeBusy && e.Code != CodeTooManyConns) ||
			waited >= retryFor || (req.Body != nil && req.Body != http.NoBody && req.GetBody == nil) {
			return resp, err
		}
		d := pause/2 + rand.N(pause) // jitter, so refused callers do not come back together
		if sleep(req.Context(), d) != nil {
			return nil, err
		}
		waited += d
		pause = min(2*pause, retryMax)
		next := req.Clone(req.Context())
		if req.GetBody != nil {
			if next.Body, err = req.GetBody(); err != nil {
				return nil, fmt.Errorf("hayek: %s %s: %w", req.Method, req.URL.Path, err)
			}
		}
		req = next
	}
}

func (c *Client) sendOnce(req *http.Request) (*http.Response, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *UnreachableError
		if errors.As(err, &ue) {
			return nil, ue
		}
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, fmt.Errorf("hayek: %s %s: %w", req.Method, req.URL.Path, ctxErr)
		}
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, &UnreachableError{Socket: c.socket, Op: req.Method + " " + req.URL.Path, Err: err}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer drainClose(resp.Body)
	return nil, readError(resp)
}

// readError turns an error response into an *Error.
func readError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var eb ErrorBody
	if json.Unmarshal(body, &eb) == nil && eb.Error.Code != "" {
		return &Error{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message, Fields: eb.Error.Fields}
	}
	if resp.StatusCode == http.StatusRequestHeaderFieldsTooLarge {
		// net/http's own answer, before the API sees the request.
		return &Error{Status: resp.StatusCode, Code: CodeTooLarge,
			Message: fmt.Sprintf("the request's headers are larger than the node accepts (%d bytes)", maxHeaderBytes)}
	}
	// Not the API's error format: whatever answered is not a hayek node.
	text := strings.TrimSpace(string(body))
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	return &Error{Status: resp.StatusCode, Code: codeOfStatus(resp.StatusCode),
		Message: fmt.Sprintf("unexpected answer %q from the socket (is it a hayek node?): %s", resp.Status, text)}
}

func codeOfStatus(status int) string {
	for _, c := range []string{CodeBadRequest, CodeNotFound, CodeMethod, CodeTooLarge, CodeUnavailable,
		CodeUnauthorized, CodeForbidden, CodeBudgetExceeded} {
		if StatusOf(c) == status {
			return c
		}
	}
	return CodeInternal
}

// drainClose reads a little of what is left so the connection can be
// reused, then closes the body.
func drainClose(body io.ReadCloser) {
	io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	body.Close()
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
