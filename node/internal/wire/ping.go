package wire

import (
	"bufio"
	"context"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
)

// HandlePing echoes one small frame: the floor against which job latency
// is measured is a bare stream request like this one.
func HandlePing(st network.Stream) {
	defer st.Close()
	b, err := ReadFrame(bufio.NewReader(st), 1<<10)
	if err != nil {
		st.Reset()
		return
	}
	WriteFrame(st, b)
}

// Ping measures one bare request/response round trip on a new stream to p.
func Ping(ctx context.Context, h host.Host, p string) (time.Duration, error) {
	pid, err := DecodePeer(p)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	st, err := h.NewStream(ctx, pid, ProtoPing)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	if err := WriteFrame(st, []byte("ping")); err != nil {
		st.Reset()
		return 0, err
	}
	st.CloseWrite()
	if _, err := ReadFrame(bufio.NewReader(st), 1<<10); err != nil {
		st.Reset()
		return 0, err
	}
	return time.Since(start), nil
}
