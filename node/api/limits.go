package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/hayek-market/hayek/internal/units"
)

// Limits bound what a client can hold of the server: how long its request
// headers may take, how slowly its request body may arrive, and how many
// connections it may keep open. A client that breaks one is answered with
// a stable error code (see docs/api.md) rather than left to tie up the
// node. Zero fields take their defaults (DefaultLimits).
type Limits struct {
	// HeaderTimeout is how long a request's line and headers may take to
	// arrive. A connection that takes longer is closed without an answer.
	HeaderTimeout time.Duration
	// IdleTimeout is how long a kept-alive connection may wait for its
	// next request.
	IdleTimeout time.Duration
	// BodyGrace is the head start of a request body before MinBodyRate
	// applies.
	BodyGrace time.Duration
	// MinBodyRate is the slowest a request body may arrive on average, in
	// bytes per second: t after the handler starts reading it, at least
	// MinBodyRate × (t − BodyGrace) bytes must have come. A body of
	// declared size N must so be whole within BodyGrace + N/MinBodyRate,
	// and one of unknown size (chunked) keeps to the same pace. Breaking
	// the pace is 408 request_timeout: a client trickling a byte now and
	// then cannot hold a connection for ever.
	MinBodyRate int64
	// BodyStall is the longest a request body may pause between two
	// reads, however far ahead of the pace it is (408 request_timeout).
	BodyStall time.Duration
	// MaxConns is the most connections each socket serves at once. Beyond
	// it, new connections are answered 503 busy (with Retry-After) and
	// closed.
	MaxConns int
	// MaxConnsPerUser is the most connections one Unix user other than
	// the node's own may hold on each socket; beyond it, 429
	// too_many_connections. The kernel names a socket's peer only on
	// Linux; elsewhere only MaxConns applies.
	MaxConnsPerUser int
}

// DefaultLimits are the limits of a server without WithLimits.
func DefaultLimits() Limits {
	return Limits{
		HeaderTimeout:   10 * time.Second,
		IdleTimeout:     2 * time.Minute,
		BodyGrace:       10 * time.Second,
		MinBodyRate:     64 << 10,
		BodyStall:       30 * time.Second,
		MaxConns:        512,
		MaxConnsPerUser: 128,
	}
}

// refuseSlots is how many connections each socket answers with a refusal
// (busy, too_many_connections) at once; a connection over a cap beyond
// them is closed as soon as it is accepted. perUserRefusals bounds the
// share of them one Unix user other than the node's may hold, so no user
// can keep the others from being told why they were refused.
const (
	refuseSlots     = 64
	perUserRefusals = 4
)

// withDefaults fills zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.HeaderTimeout == 0 {
		l.HeaderTimeout = d.HeaderTimeout
	}
	if l.IdleTimeout == 0 {
		l.IdleTimeout = d.IdleTimeout
	}
	if l.BodyGrace == 0 {
		l.BodyGrace = d.BodyGrace
	}
	if l.MinBodyRate == 0 {
		l.MinBodyRate = d.MinBodyRate
	}
	if l.BodyStall == 0 {
		l.BodyStall = d.BodyStall
	}
	if l.MaxConns == 0 {
		l.MaxConns = d.MaxConns
	}
	if l.MaxConnsPerUser == 0 {
		l.MaxConnsPerUser = d.MaxConnsPerUser
	}
	return l
}

func (l Limits) validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"HeaderTimeout", l.HeaderTimeout}, {"IdleTimeout", l.IdleTimeout}, {"BodyGrace", l.BodyGrace}, {"BodyStall", l.BodyStall}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("api: Limits.%s %v must be > 0 (0 for the default)", d.name, d.v))
		}
	}
	for _, n := range []struct {
		name string
		v    int64
	}{{"MinBodyRate", l.MinBodyRate}, {"MaxConns", int64(l.MaxConns)}, {"MaxConnsPerUser", int64(l.MaxConnsPerUser)}} {
		if n.v < 0 {
			errs = append(errs, fmt.Errorf("api: Limits.%s %d must be > 0 (0 for the default)", n.name, n.v))
		}
	}
	return errors.Join(errs...)
}

// WithLimits sets the server's limits on slow and numerous clients; zero
// fields keep their defaults (DefaultLimits).
func WithLimits(l Limits) Option {
	return func(s *Server) error {
		if err := l.validate(); err != nil {
			return err
		}
		s.limits = l.withDefaults()
		return nil
	}
}

// WithClock sets the clock the server paces request bodies by (default
// time.Now), so tests can move time instead of waiting for it. Deadlines
// on the socket itself still run on the real clock.
func WithClock(now func() time.Time) Option {
	return func(s *Server) error {
		if now == nil {
			return errors.New("api: WithClock: nil clock")
		}
		s.now = now
		return nil
	}
}

// paceBodies makes every request body keep to the server's minimum pace
// (Limits.MinBodyRate after BodyGrace, no pause over BodyStall), so the
// handlers read bodies as usual and a slow one fails with a
// request_timeout *Error instead of holding the connection.
//
// It also bounds what net/http reads itself: up to 256 KiB of a body the
// handler leaves unread (an error answered before the body, a refused
// connection), when the response starts or after the handler, with no
// deadline of its own, so a client trickling such a body would hold the
// connection for ever. Those reads get the body's first deadline, and
// BodyStall in all after the handler; then the connection is closed.
func (s *Server) paceBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			next.ServeHTTP(w, r)
			return
		}
		b := &pacedBody{body: r.Body, rc: http.NewResponseController(w), now: s.now, lim: &s.limits, start: s.now()}
		b.rc.SetReadDeadline(time.Now().Add(min(s.limits.BodyGrace, s.limits.BodyStall)))
		r.Body = b
		defer func() {
			if !b.ended && b.err == nil {
				b.rc.SetReadDeadline(time.Now().Add(s.limits.BodyStall))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// pacedBody is a request body that must keep to a minimum pace. Before
// each read it sets the connection's read deadline to when the body falls
// behind (or to BodyStall from now, if sooner); after each read it checks
// the pace by the server's clock.
type pacedBody struct {
	body  io.ReadCloser
	rc    *http.ResponseController
	now   func() time.Time
	lim   *Limits
	start time.Time
	got   int64
	ended bool   // the body returned an error or EOF: the deadline is net/http's again
	err   *Error // why the body was cut off, once it was
}

// due is when the body falls behind the pace with the bytes it has sent.
func (b *pacedBody) due() time.Time {
	sec := min(float64(b.got)/float64(b.lim.MinBodyRate), 1e9) // 1e9 s: no overflow
	return b.start.Add(b.lim.BodyGrace + time.Duration(sec*float64(time.Second)))
}

func (b *pacedBody) Read(p []byte) (int, error) {
	switch {
	case b.err != nil:
		return 0, b.err
	case b.ended:
		// Never touch the deadline again: once the body has ended,
		// net/http watches the connection for the client going away.
		return b.body.Read(p)
	}
	now := b.now()
	due := b.due()
	if !now.Before(due) {
		return 0, b.cut(false, now)
	}
	wait := due.Sub(now)
	stall := b.lim.BodyStall < wait
	if stall {
		wait = b.lim.BodyStall
	}
	b.rc.SetReadDeadline(time.Now().Add(wait))
	n, err := b.body.Read(p)
	b.got += int64(n)
	switch {
	case err != nil && errors.Is(err, os.ErrDeadlineExceeded):
		return n, b.cut(stall, b.now())
	case err != nil:
		b.ended = true
		return n, err
	}
	if now := b.now(); now.After(b.due()) {
		return n, b.cut(false, now)
	}
	return n, nil
}

// cut records why the body was refused as too slow and returns it. It
// also ends reading from the connection at once: net/http would otherwise
// wait for the rest of the body before closing it.
func (b *pacedBody) cut(stalled bool, now time.Time) *Error {
	b.rc.SetReadDeadline(time.Unix(1, 0))
	if stalled {
		b.err = Errorf(CodeTimeout, "the request body stalled: no byte for %v after %d bytes; send the body without pausing", b.lim.BodyStall, b.got)
	} else {
		b.err = Errorf(CodeTimeout, "the request body is arriving too slowly: %d bytes in %v, while this node wants %s/s on average after the first %v (a body of N bytes must be whole within %v + N/(%s/s)); send it faster, or upload from a local file",
			b.got, now.Sub(b.start).Round(time.Millisecond), units.FormatSize(b.lim.MinBodyRate), b.lim.BodyGrace, b.lim.BodyGrace, units.FormatSize(b.lim.MinBodyRate))
	}
	return b.err
}

func (b *pacedBody) Close() error { return b.body.Close() }

// bodyCut is why r's body was cut off for being too slow, or nil. A
// handler reports it whatever its backend made of the read error.
func bodyCut(r *http.Request) *Error {
	if b, ok := r.Body.(*pacedBody); ok && b.err != nil {
		return b.err
	}
	return nil
}
