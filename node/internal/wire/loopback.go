package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
)

// A node that runs its own job (a "local" placement) speaks its protocols
// to itself: libp2p refuses to dial itself, so a stream to this node's own
// peer ID is an in-memory pair handed straight to the handler the node
// registered for the protocol. Everything above the stream — framing,
// signatures, the handlers' checks — is the same as between two peers.

// loopHandlers are the stream handlers the node registered, by protocol.
type loopHandlers struct {
	mu sync.Mutex
	h  map[protocol.ID]network.StreamHandler
}

func (l *loopHandlers) set(p protocol.ID, h network.StreamHandler) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.h == nil {
		l.h = map[protocol.ID]network.StreamHandler{}
	}
	l.h[p] = h
}

func (l *loopHandlers) get(p protocol.ID) network.StreamHandler {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.h[p]
}

var loopIDs atomic.Uint64

// openLoop opens a stream from self to self on proto and runs its handler
// on the other end, as the host would for an incoming stream.
func (l *loopHandlers) open(self peer.ID, pids []protocol.ID) (network.Stream, error) {
	for _, p := range pids {
		if h := l.get(p); h != nil {
			c := &loopConn{self: self}
			a2b, b2a := newLoopPipe(), newLoopPipe()
			id := loopIDs.Add(1)
			out := &loopStream{id: fmt.Sprintf("loop-%d-out", id), proto: p, conn: c, r: b2a, w: a2b, dir: network.DirOutbound}
			in := &loopStream{id: fmt.Sprintf("loop-%d-in", id), proto: p, conn: c, r: a2b, w: b2a, dir: network.DirInbound}
			go h(in)
			return out, nil
		}
	}
	return nil, fmt.Errorf("wire: this node serves none of %v to itself", pids)
}

// loopPipe is one direction of a loopback stream: a buffer, so that
// neither side blocks on the other's reading.
type loopPipe struct {
	mu     sync.Mutex
	cond   *sync.Cond
	buf    []byte
	closed bool  // the writer is done: EOF once drained
	err    error // reset: both sides fail
}

func newLoopPipe() *loopPipe {
	p := &loopPipe{}
	p.cond = sync.NewCond(&p.mu)
	return p
}

func (p *loopPipe) read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.buf) == 0 && !p.closed && p.err == nil {
		p.cond.Wait()
	}
	if p.err != nil {
		return 0, p.err
	}
	if len(p.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(b, p.buf)
	p.buf = p.buf[n:]
	return n, nil
}

func (p *loopPipe) write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.err != nil:
		return 0, p.err
	case p.closed:
		return 0, network.ErrReset
	}
	p.buf = append(p.buf, b...)
	p.cond.Broadcast()
	return len(b), nil
}

func (p *loopPipe) close() {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *loopPipe) fail(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.cond.Broadcast()
	p.mu.Unlock()
}

// loopStream is one end of a loopback stream.
type loopStream struct {
	id    string
	proto protocol.ID
	conn  *loopConn
	r, w  *loopPipe
	dir   network.Direction

	mu    sync.Mutex
	timer *time.Timer
}

var _ network.Stream = (*loopStream)(nil)

func (s *loopStream) Read(b []byte) (int, error)  { return s.r.read(b) }
func (s *loopStream) Write(b []byte) (int, error) { return s.w.write(b) }
func (s *loopStream) CloseWrite() error           { s.w.close(); return nil }
func (s *loopStream) CloseRead() error            { s.r.fail(network.ErrReset); return nil }
func (s *loopStream) Close() error                { s.w.close(); s.stopTimer(); return nil }
func (s *loopStream) Reset() error {
	s.r.fail(network.ErrReset)
	s.w.fail(network.ErrReset)
	s.stopTimer()
	return nil
}
func (s *loopStream) ResetWithError(network.StreamErrorCode) error { return s.Reset() }

// SetDeadline resets the stream at t: a loopback stream has no network
// to time out on, but a handler that waits too long must still be cut off.
func (s *loopStream) SetDeadline(t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	if !t.IsZero() {
		s.timer = time.AfterFunc(time.Until(t), func() {
			s.r.fail(os.ErrDeadlineExceeded)
			s.w.fail(os.ErrDeadlineExceeded)
		})
	}
	return nil
}
func (s *loopStream) SetReadDeadline(t time.Time) error  { return s.SetDeadline(t) }
func (s *loopStream) SetWriteDeadline(t time.Time) error { return s.SetDeadline(t) }

func (s *loopStream) stopTimer() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
}

func (s *loopStream) ID() string                      { return s.id }
func (s *loopStream) Protocol() protocol.ID           { return s.proto }
func (s *loopStream) SetProtocol(p protocol.ID) error { s.proto = p; return nil }
func (s *loopStream) Stat() network.Stats             { return network.Stats{Direction: s.dir} }
func (s *loopStream) Conn() network.Conn              { return s.conn }
func (s *loopStream) Scope() network.StreamScope      { return loopScope{&network.NullScope{}} }

// loopConn is the connection a loopback stream names: from this node to
// itself. Only what the node's handlers ask of a connection is answered.
type loopConn struct {
	network.Conn // nil: any other method panics, a bug to fix here
	self         peer.ID
}

func (c *loopConn) LocalPeer() peer.ID            { return c.self }
func (c *loopConn) RemotePeer() peer.ID           { return c.self }
func (c *loopConn) LocalMultiaddr() ma.Multiaddr  { return nil }
func (c *loopConn) RemoteMultiaddr() ma.Multiaddr { return nil }
func (c *loopConn) ID() string                    { return "loopback" }
func (c *loopConn) IsClosed() bool                { return false }
func (c *loopConn) Stat() network.ConnStats       { return network.ConnStats{} }
func (c *loopConn) Close() error                  { return nil }
func (c *loopConn) GetStreams() []network.Stream  { return nil }
func (c *loopConn) NewStream(context.Context) (network.Stream, error) {
	return nil, errors.New("wire: no new streams on the loopback connection")
}

// loopScope is a stream scope that limits nothing: the loopback uses no
// network resources.
type loopScope struct{ *network.NullScope }

func (loopScope) SetService(string) error              { return nil }
func (loopScope) ProtocolScope() network.ProtocolScope { return nil }
func (loopScope) ServiceScope() network.ServiceScope   { return nil }
func (loopScope) SetProtocol(protocol.ID) error        { return nil }
