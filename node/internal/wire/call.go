package wire

import (
	"context"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/host"

	"github.com/hayek-market/hayek/internal/canon"
)

// CallTimeout bounds sending one call for bids straight to an invitee:
// dialling, opening the stream and writing one small frame. An invitee
// that cannot take it in that time would not bid within the window
// anyway.
const CallTimeout = 2 * time.Second

// SendCall sends a signed call for bids to peer to on /hayek/call/1.0.0:
// one frame, no answer on the stream. The invitee answers, as it would a
// gossiped call, with a bid or decline on /hayek/bid/1.0.0.
func SendCall(ctx context.Context, h host.Host, to string, env canon.Envelope) error {
	pid, err := DecodePeer(to)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	st, err := h.NewStream(ctx, pid, ProtoCall)
	if err != nil {
		return fmt.Errorf("wire: open call stream to %s: %w", ShortID(to), err)
	}
	dl, _ := ctx.Deadline()
	st.SetDeadline(dl)
	if err := WriteFrame(st, env.Encode()); err != nil {
		st.Reset()
		return fmt.Errorf("wire: send call to %s: %w", ShortID(to), err)
	}
	if err := st.Close(); err != nil {
		return fmt.Errorf("wire: close call stream to %s: %w", ShortID(to), err)
	}
	return nil
}
