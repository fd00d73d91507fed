package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Defaults of the server's options and limits.
const (
	DefaultBlobLimit = 256 << 20        // POST /v1/blobs body
	DefaultSpecLimit = 8 << 20          // POST /v1/jobs body
	DefaultMaxWait   = 10 * time.Minute // longest ?wait= honoured
	DefaultKeepAlive = 15 * time.Second // SSE keep-alive comment interval
	DefaultJobsLimit = 100              // GET /v1/jobs without ?limit=
	MaxJobsLimit     = 1000             // largest ?limit=
	maxHeaderBytes   = 64 << 10         // request line and headers; above, net/http answers 431
)

// Timeouts of responses and of shutdown; those of requests are Limits.
// Streams and long polls have no overall write timeout; every write is
// bounded instead.
const (
	writeTimeout  = 30 * time.Second // one write (a response, an event, a chunk of a blob)
	shutdownGrace = 5 * time.Second  // in-flight requests finish within this on Close
)

// Server serves the local API over a unix socket. Create it with NewServer,
// run it with Serve, stop it with Close or by ending Serve's context.
type Server struct {
	b         Backend
	admin     Admin // b as an Admin, or nil: no agents, ledger or reputation
	log       *slog.Logger
	blobLimit int64
	specLimit int64
	maxWait   time.Duration
	keepAlive time.Duration
	limits    Limits
	now       func() time.Time // paces request bodies
	selfUID   int              // the node's user: not capped per user
	optErr    error
	handler   http.Handler

	agent     bool     // serve the agent socket too
	agentPath string   // "": agent.sock beside the operator socket
	agentPerm sockPerm // 0660, and the configured group

	// stopping ends long polls and event streams when the server closes,
	// so graceful shutdown does not wait for them.
	stopping context.Context
	stop     context.CancelFunc

	mu      sync.Mutex
	started bool
	hs      *http.Server
	sock    *socketFile
	asock   *socketFile   // the agent socket, when served
	gates   []*connGate   // each socket's connection counts
	ready   chan struct{} // closed once the socket accepts connections
	closed  chan struct{} // closed once Close has finished
	once    sync.Once
}

// Option configures a Server.
type Option func(*Server) error

// WithLogger sets where the server logs internal errors and recovered
// panics (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(s *Server) error {
		if l == nil {
			return errors.New("api: WithLogger: nil logger")
		}
		s.log = l
		return nil
	}
}

// WithBlobLimit sets the largest blob POST /v1/blobs accepts (default
// DefaultBlobLimit); larger uploads get 413 too_large.
func WithBlobLimit(n int64) Option {
	return func(s *Server) error {
		if n <= 0 {
			return fmt.Errorf("api: blob limit %d must be > 0", n)
		}
		s.blobLimit = n
		return nil
	}
}

// WithSpecLimit sets the largest job spec POST /v1/jobs accepts (default
// DefaultSpecLimit), inline blobs included.
func WithSpecLimit(n int64) Option {
	return func(s *Server) error {
		if n <= 0 {
			return fmt.Errorf("api: spec limit %d must be > 0", n)
		}
		s.specLimit = n
		return nil
	}
}

// WithMaxWait caps ?wait= (default DefaultMaxWait); longer waits are
// shortened to it, and the caller polls again.
func WithMaxWait(d time.Duration) Option {
	return func(s *Server) error {
		if d <= 0 {
			return fmt.Errorf("api: max wait %v must be > 0", d)
		}
		s.maxWait = d
		return nil
	}
}

// WithKeepAlive sets how often an idle event stream gets a comment line, so
// clients and proxies can tell a quiet job from a dead connection (default
// DefaultKeepAlive).
func WithKeepAlive(d time.Duration) Option {
	return func(s *Server) error {
		if d <= 0 {
			return fmt.Errorf("api: keep-alive %v must be > 0", d)
		}
		s.keepAlive = d
		return nil
	}
}

// NewServer returns a server of b's API. An invalid option is reported by
// Serve.
func NewServer(b Backend, opts ...Option) *Server {
	s := &Server{
		b:         b,
		log:       slog.Default(),
		blobLimit: DefaultBlobLimit,
		specLimit: DefaultSpecLimit,
		maxWait:   DefaultMaxWait,
		keepAlive: DefaultKeepAlive,
		limits:    DefaultLimits(),
		now:       time.Now,
		selfUID:   os.Geteuid(),
		ready:     make(chan struct{}),
		closed:    make(chan struct{}),
	}
	if b == nil {
		s.optErr = errors.New("api: NewServer: nil backend")
	}
	s.admin, _ = b.(Admin)
	for _, o := range opts {
		if err := o(s); err != nil && s.optErr == nil {
			s.optErr = err
		}
	}
	if s.agent && s.admin == nil && s.optErr == nil {
		s.optErr = fmt.Errorf("api: WithAgentSocket: the backend %T does not implement api.Admin, so it has no agent tokens and nobody could use the agent socket", b)
	}
	s.stopping, s.stop = context.WithCancel(context.Background())
	s.handler = s.routes()
	return s
}

// Handler is the API as the operator socket serves it (a request without
// a token acts as the operator), for serving it on another listener or
// testing it without a socket.
func (s *Server) Handler() http.Handler { return s.handler }

// AgentHandler is the API as the agent socket serves it: a request without
// a token is refused with CodeUnauthorized.
func (s *Server) AgentHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.handler.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), agentSocketKey{}, true)))
	})
}

// Ready is closed once Serve's socket accepts connections.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Serve creates the operator socket at socketPath with mode 0600 — and,
// with WithAgentSocket, the agent socket with mode 0660 — and serves the
// API on them until ctx ends or Close is called; then it stops gracefully,
// removes the sockets and returns nil. It fails at once if another process
// serves on a socket's path; a stale socket file left by a crash is
// replaced.
func (s *Server) Serve(ctx context.Context, socketPath string) error {
	if s.optErr != nil {
		return s.optErr
	}
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("api: Serve called twice; create a new Server")
	}
	s.started = true
	if s.stopping.Err() != nil {
		s.mu.Unlock()
		return errors.New("api: the server is closed")
	}
	sock, err := listenUnix(ctx, socketPath, operatorPerm)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	var asock *socketFile
	if s.agent {
		path := s.agentPath
		if path == "" {
			path = filepath.Join(filepath.Dir(sock.path), DefaultAgentSocket)
		}
		if asock, err = listenUnix(ctx, path, s.agentPerm); err != nil {
			sock.remove()
			s.mu.Unlock()
			return fmt.Errorf("%w (while creating the agent socket)", err)
		}
		s.warnUnreachable(ctx, asock.path)
	}
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.limits.HeaderTimeout,
		IdleTimeout:       s.limits.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		// Requests remember which socket they came in on: a request
		// without a token is the operator's only on the operator socket.
		BaseContext: func(l net.Listener) context.Context {
			if gl, ok := l.(*gatedListener); ok && gl.agent {
				return context.WithValue(context.Background(), agentSocketKey{}, true)
			}
			return context.Background()
		},
		ConnContext: connContext,
	}
	// Each socket counts its own connections: agents filling the agent
	// socket leave the operator's free.
	listeners := []*gatedListener{{Listener: sock.ln, gate: newConnGate(s.limits, s.selfUID)}}
	if asock != nil {
		listeners = append(listeners, &gatedListener{Listener: asock.ln, gate: newConnGate(s.limits, s.selfUID), agent: true})
	}
	for _, l := range listeners {
		s.gates = append(s.gates, l.gate)
	}
	s.hs, s.sock, s.asock = hs, sock, asock
	s.mu.Unlock()
	close(s.ready) // the kernel queues connections from here on

	// Every way out below closes hs first, which ends each Serve: the
	// wait returns at once.
	var serving errgroup.Group
	defer serving.Wait()
	errc := make(chan error, len(listeners))
	for _, l := range listeners {
		serving.Go(func() error { errc <- hs.Serve(l); return nil })
	}
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			// Close won the race with the stopping signal below.
			<-s.closed
			return nil
		}
		// Otherwise Serve only returns early when accepting fails for good.
		s.Close()
		return fmt.Errorf("api: serving the local API: %w", err)
	case <-ctx.Done():
		return s.Close()
	case <-s.stopping.Done():
		<-s.closed
		return nil
	}
}

// Close stops the server: it stops accepting, ends long polls (they answer
// with the job as it is) and event streams, lets other requests finish for
// a few seconds, then closes every connection and removes the socket. It is
// safe to call more than once and before Serve.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.stop()
		hs, sock, asock := s.hs, s.sock, s.asock
		s.mu.Unlock()
		if hs != nil {
			ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			if err := hs.Shutdown(ctx); err != nil {
				s.log.Warn("api: requests still running at shutdown; closing their connections", "err", err)
				hs.Close()
			}
			cancel()
			sock.remove()
			if asock != nil {
				asock.remove()
			}
		}
		close(s.closed)
	})
	<-s.closed
	return nil
}
