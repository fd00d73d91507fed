package blobs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/libp2p/go-libp2p/core/host"
	"io"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/internal/wire"
)

// Authorizer says whether peer may fetch blob c of job: the provider
// holding the job's award its module and inputs, the requester its outputs.
type Authorizer interface {
	AuthorizeFetch(job, peer, c string) bool
}

// Deps are what the blob service needs.
type Deps struct {
	Host     host.Host
	Store    *Store
	Signer   canon.Signer
	Verifier canon.Verifier
	Drops    *wire.Drops
	Log      *slog.Logger
	Now      func() time.Time
	// Freshness is how old a signed data request may be.
	Freshness time.Duration
	// Authorize are asked in turn; one yes serves the blob.
	Authorize []Authorizer
	// GCEvery and Retention drive collection: blobs neither written nor
	// read for Retention are deleted every GCEvery, unless Pins names them.
	GCEvery, Retention time.Duration
	Pins               func() map[string]bool
}

// Service serves blobs on /hayek/data/1.0.0, fetches them from peers and
// collects old ones.
type Service struct {
	d Deps
}

// New returns the blob service. Register HandleData for wire.ProtoData and
// run Run for collection.
func New(d Deps) *Service { return &Service{d: d} }

// Store is the service's blob store.
func (s *Service) Store() *Store { return s.d.Store }

// DataHeader answers a data request; the blob's bytes from the requested
// offset follow it on the stream, so blobs of any size stream in the
// muxer's own flow-controlled chunks and never meet a message-size limit.
type DataHeader struct {
	Size  int64  `cbor:"size"` // whole blob
	Error string `cbor:"error"`
}

// HandleData serves blobs of jobs: module and inputs to the provider
// holding the job's award, outputs to the job's requester, nothing to
// anyone else. The request must be signed by the peer on the stream.
func (s *Service) HandleData(st network.Stream) {
	d := s.d
	defer st.Close()
	refuse := func(drop, msg string) {
		d.Drops.Add(drop)
		wire.WriteFrame(st, canon.MustMarshal(DataHeader{Error: msg}))
	}
	in := wire.Inbox{Verifier: d.Verifier, Drops: d.Drops, Now: d.Now, Freshness: d.Freshness}
	b, ok := in.ReadFrame(st, wire.MaxDataReq, "data")
	if !ok {
		return
	}
	var req market.DataRequest
	if _, err := in.OpenFrame(b, wire.Expect{What: "data", Kind: market.KindData, From: st.Conn().RemotePeer().String(),
		WrongFrom: "wrong_peer", Created: func() int64 { return req.Created }}, &req); err != nil {
		wire.WriteFrame(st, canon.MustMarshal(DataHeader{Error: refusal(err)}))
		return
	}
	if !s.authorized(req.Job, req.From, req.CID) {
		refuse("data/unauthorized", "not authorized for this blob")
		return
	}
	r, size, err := d.Store.Open(req.CID)
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
	if err := wire.WriteFrame(st, canon.MustMarshal(DataHeader{Size: size})); err != nil {
		st.Reset()
		return
	}
	if _, err := io.Copy(st, r); err != nil {
		st.Reset()
	}
}

// refusal is what a peer whose request Inbox dropped is told.
func refusal(err error) string {
	switch {
	case errors.Is(err, wire.ErrNotEnvelope):
		return "malformed request"
	case errors.Is(err, wire.ErrWrongSender):
		return "request signed by another peer"
	case errors.Is(err, wire.ErrStale):
		return "stale request"
	}
	return "bad request signature"
}

// Fetch fetches blob b of job from peer p, resuming after broken
// streams, and checks it against its CID and declared size.
func (s *Service) Fetch(ctx context.Context, p, job string, b market.Blob) ([]byte, error) {
	d := s.d
	pid, err := wire.DecodePeer(p)
	if err != nil {
		return nil, err
	}
	if b.Size < 0 || b.Size > market.MaxModuleBytes+market.MaxInputBytes {
		return nil, fmt.Errorf("blobs: blob %s declares %d bytes", b.CID, b.Size)
	}
	data := make([]byte, b.Size) // exactly sized: a few MB module must not become 2× that
	got := int64(0)
	var lastErr error
	for try := 0; try < 4; try++ {
		if ctx.Err() != nil {
			break
		}
		err := func() error {
			req := market.DataRequest{Job: job, From: d.Signer.ID(), CID: b.CID, Offset: got, Created: d.Now().UnixMilli()}
			env, err := canon.Seal(d.Signer, market.KindData, req)
			if err != nil {
				return err
			}
			st, err := d.Host.NewStream(ctx, pid, wire.ProtoData)
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
			var h DataHeader
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
		return nil, fmt.Errorf("blobs: fetch %s from %s: %w", b.CID, wire.ShortID(p), lastErr)
	}
	if !MatchesCID(b.CID, data) {
		d.Drops.Add("data/corrupt")
		return nil, fmt.Errorf("blobs: %s sent bytes that do not match %s", wire.ShortID(p), b.CID)
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

func (s *Service) authorized(job, peer, c string) bool {
	for _, a := range s.d.Authorize {
		if a.AuthorizeFetch(job, peer, c) {
			return true
		}
	}
	return false
}

// Run collects old blobs every GCEvery until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	wire.Every(ctx, s.d.GCEvery, s.Collect)
	return nil
}

// Collect deletes blobs past their retention that no live job needs.
func (s *Service) Collect() {
	pins := s.d.Pins()
	deleted, freed, err := s.d.Store.Collect(s.d.Retention, func(c string) bool { return pins[c] })
	if err != nil {
		s.d.Log.Warn("blob collection failed", "err", err)
		return
	}
	if deleted > 0 {
		s.d.Log.Info("collected old blobs", "blobs", deleted, "bytes", freed)
	}
}

// AuthorizeFunc is a function that is an Authorizer.
type AuthorizeFunc func(job, peer, c string) bool

// AuthorizeFetch calls f.
func (f AuthorizeFunc) AuthorizeFetch(job, peer, c string) bool { return f(job, peer, c) }
