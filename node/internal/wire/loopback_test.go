package wire

import (
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// TestLoopback: a stream to this node itself reaches the handler set for
// its protocol, carries bytes both ways with half-close, names this node
// as the remote peer, and ends at its deadline.
func TestLoopback(t *testing.T) {
	var l loopHandlers
	self := peer.ID("self")
	l.set(ProtoPing, func(st network.Stream) {
		defer st.Close()
		b, err := io.ReadAll(st)
		if err != nil {
			st.Reset()
			return
		}
		st.Write(append([]byte(st.Conn().RemotePeer().String()+":"), b...))
	})
	if _, err := l.open(self, []protocol.ID{ProtoAward}); err == nil {
		t.Fatal("a protocol nobody serves opened")
	}
	st, err := l.open(self, []protocol.ID{ProtoPing})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	st.CloseWrite()
	got, err := io.ReadAll(st)
	if err != nil || string(got) != self.String()+":hello" {
		t.Fatalf("read %q (%v)", got, err)
	}

	st, err = l.open(self, []protocol.ID{ProtoPing}) // the handler waits for EOF that never comes
	if err != nil {
		t.Fatal(err)
	}
	st.SetDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := st.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v", err)
	}
}
