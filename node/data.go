package node

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/internal/wire"
)

// dataHeader answers a data request; the blob's bytes from the requested
// offset follow it on the stream, so blobs of any size stream in the
// muxer's own flow-controlled chunks and never meet a message-size limit.
type dataHeader struct {
	Size  int64  `cbor:"size"` // whole blob
	Error string `cbor:"error"`
}

// handleData serves blobs of jobs: module and inputs to the provider
// holding the job's award, outputs to the job's requester, nothing to
// anyone else. The request must be signed by the peer on the stream.
func (n *Node) handleData(st network.Stream) {
	defer st.Close()
	refuse := func(drop, msg string) {
		n.drops.Add(drop)
		wire.WriteFrame(st, canon.MustMarshal(dataHeader{Error: msg}))
	}
	b, err := wire.ReadFrame(bufio.NewReader(st), wire.MaxDataReq)
	if err != nil {
		n.drops.Add("data/unreadable")
		st.Reset()
		return
	}
	env, err := canon.DecodeEnvelope(b)
	if err != nil {
		refuse("data/malformed", "malformed request")
		return
	}
	var req market.DataRequest
	if err := env.Open(n.verifier, market.KindData, &req); err != nil {
		refuse(wire.DropReason("data", err), "bad request signature")
		return
	}
	if req.From != st.Conn().RemotePeer().String() {
		refuse("data/wrong_peer", "request signed by another peer")
		return
	}
	if market.Fresh(req.Created, n.now(), time.Duration(n.cfg.Gossip.Freshness)) != nil {
		refuse("data/stale", "stale request")
		return
	}
	if !n.requester.authorizeFetch(req.Job, req.From, req.CID) && !n.provider.authorizeFetch(req.Job, req.From, req.CID) {
		refuse("data/unauthorized", "not authorized for this blob")
		return
	}
	r, size, err := n.blobs.Open(req.CID)
	if err != nil {
		refuse("data/missing", "blob not available")
		return
	}
	defer r.Close()
	if req.Offset < 0 || req.Offset > size {
		refuse("data/bad_offset", "offset out of range")
		return
	}
	if _, err := r.Seek(req.Offset, io.SeekStart); err != nil {
		st.Reset()
		return
	}
	// The request was read within requestTimeout; the answer gets time in
	// proportion to its size, at a rate any working link sustains.
	st.SetDeadline(time.Now().Add(transferTime(size - req.Offset)))
	if err := wire.WriteFrame(st, canon.MustMarshal(dataHeader{Size: size})); err != nil {
		st.Reset()
		return
	}
	if _, err := io.Copy(st, r); err != nil {
		st.Reset()
	}
}

// fetchBlob fetches blob b of job from peer p, resuming after broken
// streams, and checks it against its CID and declared size.
func (n *Node) fetchBlob(ctx context.Context, p, job string, b market.Blob) ([]byte, error) {
	pid, err := wire.DecodePeer(p)
	if err != nil {
		return nil, err
	}
	if b.Size < 0 || b.Size > market.MaxModuleBytes+market.MaxInputBytes {
		return nil, fmt.Errorf("node: blob %s declares %d bytes", b.CID, b.Size)
	}
	data := make([]byte, b.Size) // exactly sized: a few MB module must not become 2× that
	got := int64(0)
	var lastErr error
	for try := 0; try < 4; try++ {
		if ctx.Err() != nil {
			break
		}
		err := func() error {
			req := market.DataRequest{Job: job, From: n.ID(), CID: b.CID, Offset: got, Created: n.now().UnixMilli()}
			env, err := canon.Seal(n.signer, market.KindData, req)
			if err != nil {
				return err
			}
			st, err := n.host.NewStream(ctx, pid, ProtoData)
			if err != nil {
				return err
			}
			defer st.Close()
			if dl, ok := ctx.Deadline(); ok {
				st.SetDeadline(dl)
			}
			if err := wire.WriteFrame(st, env.Encode()); err != nil {
				st.Reset()
				return err
			}
			st.CloseWrite()
			br := bufio.NewReader(st)
			hb, err := wire.ReadFrame(br, 1<<10)
			if err != nil {
				st.Reset()
				return err
			}
			var h dataHeader
			if err := canon.Unmarshal(hb, &h); err != nil {
				return err
			}
			if h.Error != "" {
				return &permanentError{fmt.Errorf("%s refused: %s", wire.ShortID(p), h.Error)}
			}
			if h.Size != b.Size {
				return &permanentError{fmt.Errorf("%s has %d bytes of %s, expected %d", wire.ShortID(p), h.Size, b.CID, b.Size)}
			}
			k, err := io.ReadFull(br, data[got:])
			got += int64(k)
			return err
		}()
		if err == nil && got == b.Size {
			break
		}
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		lastErr = err
		var pe *permanentError
		if errors.As(err, &pe) {
			return nil, err
		}
	}
	if got != b.Size {
		if lastErr == nil {
			lastErr = ctx.Err()
		}
		return nil, fmt.Errorf("node: fetch %s from %s: %w", b.CID, wire.ShortID(p), lastErr)
	}
	if !matchesCID(b.CID, data) {
		n.drops.Add("data/corrupt")
		return nil, fmt.Errorf("node: %s sent bytes that do not match %s", wire.ShortID(p), b.CID)
	}
	return data, nil
}

// minTransferRate is the slowest transfer a blob stream is allowed; a peer
// reading slower than this is cut off rather than holding the stream.
const minTransferRate = 256 << 10 // bytes per second

// transferTime is the deadline for moving n bytes over a stream.
func transferTime(n int64) time.Duration {
	return 30*time.Second + time.Duration(max(n, 0)/minTransferRate)*time.Second
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// handlePing echoes one small frame: the floor against which job latency
// is measured is a bare stream request like this one.
func handlePing(st network.Stream) {
	defer st.Close()
	b, err := wire.ReadFrame(bufio.NewReader(st), 1<<10)
	if err != nil {
		st.Reset()
		return
	}
	wire.WriteFrame(st, b)
}

// Ping measures one bare request/response round trip on a new stream to p.
func (n *Node) Ping(ctx context.Context, p string) (time.Duration, error) {
	pid, err := wire.DecodePeer(p)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	st, err := n.host.NewStream(ctx, pid, ProtoPing)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	if err := wire.WriteFrame(st, []byte("ping")); err != nil {
		st.Reset()
		return 0, err
	}
	st.CloseWrite()
	if _, err := wire.ReadFrame(bufio.NewReader(st), 1<<10); err != nil {
		st.Reset()
		return 0, err
	}
	return time.Since(start), nil
}
