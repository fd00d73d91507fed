package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node/api"
)

func newMCPCmd(g *globals) *cobra.Command {
	var httpAddr string
	cmd := &cobra.Command{
		Use:   "mcp",
		Short: "Serve the node to an AI agent over the Model Context Protocol",
		Long: `Serve this node's agent interface over the Model Context Protocol (MCP), on
stdin and stdout by default: an MCP client (an AI agent, an IDE) starts
"hayek mcp" and calls its tools — submit_job, wait_job, get_result,
job_status, cancel_job, list_offers, my_limits — and reads job outputs as
resources (hayek://blob/CID).

hayek mcp holds no key and is only a client of the node's socket: it can do
exactly what its token can (--token or HAYEK_TOKEN: an agent with a budget,
caps and an approval threshold from "hayek agent create"), nothing more.
Without a token it acts as the operator; give agents a token.

With --http ADDR it serves MCP's streamable HTTP transport on a loopback
address instead; every HTTP request must then carry its own agent token
("Authorization: Bearer hk_..."), which it acts with, so no token is kept
by this process and nobody else on the machine can borrow it.`,
		Example: `  HAYEK_TOKEN=hk_... hayek mcp
  hayek mcp --http 127.0.0.1:8765`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sock, err := g.socketPath()
			if err != nil {
				return err
			}
			if httpAddr != "" {
				if g.tokenValue() != "" {
					return usageErrorf("--http takes no --token: each HTTP client sends its own (Authorization: Bearer hk_...)")
				}
				return serveMCPHTTP(cmd.Context(), g, sock, httpAddr)
			}
			cl := api.NewClient(sock, api.WithToken(g.tokenValue()))
			defer cl.Close()
			srv := newMCPServer(cl)
			err = srv.Run(cmd.Context(), &mcp.IOTransport{Reader: nopReadCloser{g.Stdin}, Writer: nopWriteCloser{g.Stdout}})
			if err != nil && cmd.Context().Err() == nil && !errors.Is(err, mcp.ErrConnectionClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&httpAddr, "http", "", "serve the streamable HTTP transport on this loopback address (e.g. 127.0.0.1:8765) instead of stdio")
	return cmd
}

// serveMCPHTTP serves MCP over streamable HTTP on a loopback address until
// ctx ends. Each session acts with the bearer token that opened it, and
// every later request of the session must carry the same token.
func serveMCPHTTP(ctx context.Context, g *globals, sock, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usageErrorf("--http %q: want HOST:PORT on loopback, e.g. 127.0.0.1:8765", addr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return usageErrorf("--http %q: only a loopback address is allowed (127.0.0.1 or ::1): the node's only public listeners are its libp2p ones", addr)
	}
	h := &mcpHTTP{sock: sock, sessions: map[string][32]byte{}}
	h.handler = mcp.NewStreamableHTTPHandler(func(r *http.Request) *mcp.Server {
		return newMCPServer(api.NewClient(sock, api.WithToken(bearer(r))))
	}, nil)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return withCode(ExitNotRun, fmt.Errorf("hayek mcp: listen on %s: %w", addr, err))
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	fmt.Fprintf(g.Stderr, "hayek mcp: serving MCP (streamable HTTP) on http://%s/ for the node at %s\n", ln.Addr(), sock)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		<-done
		return nil
	}
}

// mcpHTTP checks every request's bearer token before MCP sees it: a request
// without one is refused, and a session opened with one token cannot be
// used with another.
type mcpHTTP struct {
	sock    string
	handler http.Handler

	mu       sync.Mutex
	sessions map[string][32]byte // session ID → hash of the token that opened it
}

const mcpSessionHeader = "Mcp-Session-Id"

func (h *mcpHTTP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tok := bearer(r)
	if tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="hayek"`)
		http.Error(w, "hayek mcp: send your agent token: Authorization: Bearer hk_... (from hayek agent create)", http.StatusUnauthorized)
		return
	}
	sum := sha256.Sum256([]byte(tok))
	if id := r.Header.Get(mcpSessionHeader); id != "" {
		h.mu.Lock()
		owner, ok := h.sessions[id]
		h.mu.Unlock()
		if ok && owner != sum {
			http.Error(w, "hayek mcp: this session belongs to another token", http.StatusForbidden)
			return
		}
	}
	h.handler.ServeHTTP(&sessionRecorder{ResponseWriter: w, record: func(id string) {
		h.mu.Lock()
		if _, ok := h.sessions[id]; !ok {
			h.sessions[id] = sum
		}
		h.mu.Unlock()
	}}, r)
}

// sessionRecorder notes the session ID the MCP handler assigns, as its
// response headers go out.
type sessionRecorder struct {
	http.ResponseWriter
	record func(id string)
	wrote  bool
}

func (s *sessionRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.wrote = true
		if id := s.Header().Get(mcpSessionHeader); id != "" {
			s.record(id)
		}
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *sessionRecorder) Write(b []byte) (int, error) {
	if !s.wrote {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(b)
}

func (s *sessionRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func bearer(r *http.Request) string {
	v := r.Header.Get("Authorization")
	if t, ok := strings.CutPrefix(v, "Bearer "); ok {
		return strings.TrimSpace(t)
	}
	return ""
}
