package api

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// verdict is what a socket's gate decided about a connection.
type verdict int

const (
	admitted   verdict = iota
	refuseBusy         // the socket serves its MaxConns already: 503 busy
	refuseUser         // the peer's Unix user holds its MaxConnsPerUser: 429
	drop               // over a cap with every refusal slot taken: closed at once
)

// connGate counts a socket's connections and decides, as each is
// accepted, whether it is served, answered with a refusal, or closed.
type connGate struct {
	max, perUser int
	self         int // the node's own uid, whose connections count only toward max

	mu       sync.Mutex
	served   int
	refusing int
	byUser   map[int]*userConns

	refusals atomic.Int64 // connections answered with a refusal, ever
}

type userConns struct{ served, refusing int }

func newConnGate(l Limits, self int) *connGate {
	return &connGate{max: l.MaxConns, perUser: l.MaxConnsPerUser, self: self, byUser: map[int]*userConns{}}
}

// foreign reports whether uid is a known user other than the node's own.
func (g *connGate) foreign(uid int) bool { return uid >= 0 && uid != g.self }

func (g *connGate) admit(uid int) verdict {
	g.mu.Lock()
	defer g.mu.Unlock()
	var u *userConns
	if g.foreign(uid) {
		if u = g.byUser[uid]; u == nil {
			u = &userConns{}
			g.byUser[uid] = u
		}
	}
	v := admitted
	switch {
	case g.served >= g.max:
		v = refuseBusy
	case u != nil && u.served >= g.perUser:
		v = refuseUser
	}
	if v == admitted {
		g.served++
		if u != nil {
			u.served++
		}
		return v
	}
	if g.refusing >= refuseSlots || (u != nil && u.refusing >= perUserRefusals) {
		g.forget(uid, u)
		return drop
	}
	g.refusing++
	if u != nil {
		u.refusing++
	}
	g.refusals.Add(1)
	return v
}

func (g *connGate) release(uid int, v verdict) {
	g.mu.Lock()
	defer g.mu.Unlock()
	u := g.byUser[uid]
	switch v {
	case admitted:
		g.served--
		if u != nil {
			u.served--
		}
	case refuseBusy, refuseUser:
		g.refusing--
		if u != nil {
			u.refusing--
		}
	}
	g.forget(uid, u)
}

// forget drops a user's entry once it holds nothing.
func (g *connGate) forget(uid int, u *userConns) {
	if u != nil && u.served == 0 && u.refusing == 0 {
		delete(g.byUser, uid)
	}
}

// gatedListener passes a socket's connections through its gate.
type gatedListener struct {
	net.Listener
	gate  *connGate
	agent bool // the agent socket: requests without a token are refused
}

func (l *gatedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		uid := peerUID(c)
		v := l.gate.admit(uid)
		if v == drop {
			c.Close()
			continue
		}
		return &gatedConn{Conn: c, gate: l.gate, uid: uid, verdict: v}, nil
	}
}

// gatedConn gives its place back to the gate when it closes.
type gatedConn struct {
	net.Conn
	gate    *connGate
	uid     int
	verdict verdict
	once    sync.Once
}

// CloseWrite lets net/http end a refused connection gracefully: the
// client reads the refusal, then EOF.
func (c *gatedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *gatedConn) Close() error {
	c.once.Do(func() { c.gate.release(c.uid, c.verdict) })
	return c.Conn.Close()
}

type verdictKey struct{}

// connContext marks the requests of a refused connection, for refuseOver
// to answer.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if gc, ok := c.(*gatedConn); ok && gc.verdict != admitted {
		return context.WithValue(ctx, verdictKey{}, gc)
	}
	return ctx
}

// refuseOver answers the request of a connection over a cap with busy or
// too_many_connections, and closes the connection: no handler runs, so
// the request had no effect and may be sent again.
func (s *Server) refuseOver(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gc, ok := r.Context().Value(verdictKey{}).(*gatedConn)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Connection", "close")
		h.Set("Retry-After", "1")
		if gc.verdict == refuseUser {
			s.fail(w, r, Errorf(CodeTooManyConns, "Unix user %d holds %d connections to this socket, the most one user other than the node's may: share one client and close idle connections, or retry when a request of yours ends (the Go client and the CLI retry by themselves)", gc.uid, gc.gate.perUser))
			return
		}
		s.fail(w, r, Errorf(CodeBusy, "this socket serves at most %d connections at once and all are in use: retry in a moment (the Go client and the CLI retry by themselves)", gc.gate.max))
	})
}
