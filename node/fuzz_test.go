package node

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/internal/blobs"
	"github.com/hayek-market/hayek/node/internal/wire"
)

// Fuzz targets of the node's pure stream decoders: frames, result
// deliveries, data headers and result replies. Everything else in node
// needs a running host. Seeds are committed under testdata/fuzz; rewrite
// them with go test ./node -run TestWriteFuzzCorpus -gencorpus

var fuzzGenCorpus = flag.Bool("gencorpus", false, "rewrite the seed corpora under testdata/fuzz")

var fuzzNow = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// fuzzSigner is a libp2p identity derived from name, so seeds are
// reproducible and verify with the node's own verifier.
func fuzzSigner(t testing.TB, name string) *wire.Signer {
	t.Helper()
	seed := sha256.Sum256([]byte("node/fuzz/" + name))
	key, err := crypto.UnmarshalEd25519PrivateKey(ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		t.Fatal(err)
	}
	s, err := wire.NewSigner(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// FuzzReadFrame: any bytes and any cap the node uses. readFrame never
// returns more than the cap, never returns a frame with an error, stops at
// the first error, and what it returns goes back through writeFrame
// unchanged.
func FuzzReadFrame(f *testing.F) {
	for _, s := range fuzzFrameSeeds() {
		f.Add(s.data, s.max)
	}
	f.Fuzz(func(t *testing.T, data []byte, max32 uint32) {
		// Small arbitrary caps keep most inputs cheap (readFrame allocates
		// the declared length up front); the top bit picks a cap in use.
		limit := int(max32 % (1<<16 + 2))
		if max32 >= 1<<31 {
			caps := []int{wire.MaxOfferFrame, wire.MaxBidFrame, wire.MaxAwardFrame, wire.MaxAckFrame, wire.MaxResultFrame, wire.MaxDataReq, 1 << 10, 4 << 10}
			limit = caps[max32%uint32(len(caps))]
		}
		src := bytes.NewReader(data)
		r := bufio.NewReader(src)
		for {
			offset := len(data) - src.Len() - r.Buffered() // where this frame starts
			b, err := wire.ReadFrame(r, limit)
			if err != nil {
				if b != nil {
					t.Fatalf("returned %d bytes with error %v", len(b), err)
				}
				if errors.Is(err, wire.ErrFrameTooLarge) {
					// The declared length really was above the cap.
					n, _ := binary.ReadUvarint(bytes.NewReader(data[offset:]))
					if n <= uint64(limit) {
						t.Fatalf("declared %d ≤ cap %d, yet %v", n, limit, err)
					}
				}
				return
			}
			if len(b) > limit || cap(b) > limit {
				t.Fatalf("frame of len %d cap %d above the cap %d", len(b), cap(b), limit)
			}
			if end := len(data) - src.Len() - r.Buffered(); end-offset < len(b)+1 || !bytes.Equal(data[end-len(b):end], b) {
				t.Fatalf("frame of %d bytes is not the %d bytes consumed", len(b), end-offset)
			}
			var buf bytes.Buffer
			if err := wire.WriteFrame(&buf, b); err != nil {
				t.Fatal(err)
			}
			again, err := wire.ReadFrame(bufio.NewReader(&buf), limit)
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("frame of %d bytes does not round trip: %v", len(b), err)
			}
		}
	})
}

// FuzzResultDelivery: the frame a provider sends on /hayek/result/1.0.0.
// Decoding never panics; what decodes is canonical and fits back in a
// frame; the result it carries opens with the node's verifier only when
// signed by the peer it names.
func FuzzResultDelivery(f *testing.F) {
	for _, s := range fuzzDeliverySeeds(f) {
		f.Add(s.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var del wire.ResultDelivery
		if err := canon.Unmarshal(data, &del); err != nil {
			return
		}
		if !bytes.Equal(canon.MustMarshal(del), data) {
			t.Fatalf("accepted a non-canonical delivery %x", data)
		}
		if len(data) <= wire.MaxResultFrame {
			fuzzFrameRoundTrip(t, data, wire.MaxResultFrame)
		}
		for _, b := range del.Blobs {
			if !blobs.MatchesCID(canon.BlobCID(b).String(), b) {
				t.Fatalf("inline blob does not match its own CID")
			}
		}
		env, err := canon.DecodeEnvelope(del.Result)
		if err != nil {
			return
		}
		var res market.Result
		v := wire.NewVerifier()
		if err := env.Open(v, market.KindResult, &res); err != nil {
			// Not signed by the peer it names: the body may still decode;
			// what the handler reads of it must not panic either.
			if canon.Unmarshal(env.Body, &res) != nil {
				return
			}
		} else {
			if _, err := wire.DecodePeer(res.Provider); err != nil {
				t.Fatalf("opened a result from %q, which is no peer ID", res.Provider)
			}
			bad := env
			bad.Sig = bytes.Clone(env.Sig)
			bad.Sig[len(bad.Sig)-1] ^= 0x01
			if err := bad.Open(v, market.KindResult, &market.Result{}); !errors.Is(err, canon.ErrBadSignature) {
				t.Fatalf("flipped signature still opens: %v", err)
			}
		}
		for _, bl := range res.Blobs() {
			if c, err := canon.ParseBlobCID(bl.CID); err == nil && canon.CheckBlobCID(c) != nil {
				t.Fatalf("%q parsed but is no blob CID", bl.CID)
			}
		}
	})
}

// FuzzDataHeader: the header answering a data request, read by blobs.Service.Fetch
// under a 1 KiB frame cap.
func FuzzDataHeader(f *testing.F) {
	for _, s := range fuzzHeaderSeeds() {
		f.Add(s.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var h blobs.DataHeader
		if err := canon.Unmarshal(data, &h); err != nil {
			return
		}
		if !bytes.Equal(canon.MustMarshal(h), data) {
			t.Fatalf("accepted a non-canonical header %x", data)
		}
		if len(data) <= 1<<10 {
			fuzzFrameRoundTrip(t, data, 1<<10)
		}
	})
}

// FuzzResultReply: the requester's answer to a delivery, read by the
// provider under a 4 KiB frame cap.
func FuzzResultReply(f *testing.F) {
	for _, s := range fuzzReplySeeds() {
		f.Add(s.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var rr wire.ResultReply
		if err := canon.Unmarshal(data, &rr); err != nil {
			return
		}
		if !bytes.Equal(canon.MustMarshal(rr), data) {
			t.Fatalf("accepted a non-canonical reply %x", data)
		}
	})
}

func fuzzFrameRoundTrip(t *testing.T, b []byte, limit int) {
	t.Helper()
	var buf bytes.Buffer
	if err := wire.WriteFrame(&buf, b); err != nil {
		t.Fatal(err)
	}
	got, err := wire.ReadFrame(bufio.NewReader(&buf), limit)
	if err != nil || !bytes.Equal(got, b) {
		t.Fatalf("%d bytes do not round trip a frame capped at %d: %v", len(b), limit, err)
	}
}

// readFrame rejects a declared length above the cap before allocating it,
// and allocates no more than the declared length otherwise, even when the
// bytes never arrive.
func TestReadFrameAllocation(t *testing.T) {
	for _, c := range []struct {
		name     string
		data     []byte
		limit    int
		maxBytes uint64
	}{
		{"above the cap", binary.AppendUvarint(nil, 1<<40), wire.MaxResultFrame, 64 << 10},
		{"just above the cap", binary.AppendUvarint(nil, wire.MaxResultFrame+1), wire.MaxResultFrame, 64 << 10},
		{"declared but not sent", binary.AppendUvarint(nil, 1<<20), wire.MaxResultFrame, 1<<20 + 64<<10},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := bufio.NewReader(bytes.NewReader(c.data))
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			b, err := wire.ReadFrame(r, c.limit)
			runtime.ReadMemStats(&after)
			if err == nil || b != nil {
				t.Fatalf("read %d bytes, err %v", len(b), err)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > c.maxBytes {
				t.Fatalf("allocated %d bytes, want at most %d", got, c.maxBytes)
			}
		})
	}
	r := bufio.NewReader(bytes.NewReader(nil))
	if _, err := wire.ReadFrame(r, 10); err != io.EOF {
		t.Fatalf("empty stream: %v, want io.EOF", err)
	}
}

type fuzzSeed struct {
	name string
	data []byte
	max  uint32 // FuzzReadFrame only
}

func fuzzFrame(b []byte) []byte {
	var buf bytes.Buffer
	if err := wire.WriteFrame(&buf, b); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func fuzzFrameSeeds() []fuzzSeed {
	two := append(fuzzFrame([]byte("ping")), fuzzFrame(bytes.Repeat([]byte{7}, 300))...)
	return []fuzzSeed{
		{"ping", fuzzFrame([]byte("ping")), 1 << 10},
		{"empty-frame", fuzzFrame(nil), 0},
		{"two-frames", two, 4 << 10},
		{"above-cap", fuzzFrame([]byte("hello")), 4},
		{"at-cap", fuzzFrame([]byte("hello")), 5},
		{"declared-not-sent", binary.AppendUvarint(nil, 60_000), 60_000},
		{"result-cap", binary.AppendUvarint(nil, wire.MaxResultFrame), 1<<31 + 4}, // caps[4]: wire.MaxResultFrame
		{"truncated-body", fuzzFrame(bytes.Repeat([]byte{1}, 200))[:100], 1 << 10},
		{"non-minimal-length", []byte{0x84, 0x00, 'p', 'i', 'n', 'g'}, 1 << 10},
		{"overflowing-length", append(bytes.Repeat([]byte{0xff}, 10), 0x01), math.MaxUint32},
		{"truncated-length", []byte{0x80}, 1 << 10},
		{"nothing", nil, 1 << 10},
	}
}

func fuzzSealedResult(t testing.TB, mut func(*market.Result)) canon.Envelope {
	t.Helper()
	prov, req := fuzzSigner(t, "provider"), fuzzSigner(t, "requester")
	out := []byte("hello, world\n")
	r := market.Result{
		Job: "job-1", Attempt: 1, Award: canon.DocCID([]byte("award")).String(), Provider: prov.ID(), Requester: req.ID(),
		Status: market.StatusOK, Stdout: market.Stream{Blob: market.Blob{CID: canon.BlobCID(out).String(), Size: int64(len(out))}},
		Stderr:  market.Stream{Blob: market.Blob{CID: canon.BlobCID(nil).String()}},
		Outputs: []market.Output{{Name: "out.txt", Blob: market.Blob{CID: canon.BlobCID(out).String(), Size: int64(len(out))}}},
		Usage:   market.Usage{WallUs: 1200, MemoryBytes: 1 << 20}, StartedAfterMs: 30, StartHeld: true,
		Created: fuzzNow.UnixMilli(),
	}
	if mut != nil {
		mut(&r)
	}
	env, err := canon.Seal(prov, market.KindResult, r)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func fuzzDeliverySeeds(t testing.TB) []fuzzSeed {
	out := []byte("hello, world\n")
	good := fuzzSealedResult(t, nil)
	forged := good
	forged.Sig = bytes.Clone(good.Sig)
	forged.Sig[0] ^= 1
	// Declared sizes whose sum overflows int64: see the report on
	// requester.handleResult.
	overflow := fuzzSealedResult(t, func(r *market.Result) {
		r.Stdout.Size, r.Stderr.Size = math.MaxInt64, 1
	})
	strange := fuzzSealedResult(t, func(r *market.Result) {
		r.Status, r.ExitCode, r.Requester = "weird", -1, "not-a-peer"
	})
	return []fuzzSeed{
		{name: "inline", data: canon.MustMarshal(wire.ResultDelivery{Result: good.Encode(), Blobs: [][]byte{out, {}}})},
		{name: "no-blobs", data: canon.MustMarshal(wire.ResultDelivery{Result: good.Encode()})},
		{name: "forged", data: canon.MustMarshal(wire.ResultDelivery{Result: forged.Encode()})},
		{name: "overflowing-sizes", data: canon.MustMarshal(wire.ResultDelivery{Result: overflow.Encode()})},
		{name: "strange", data: canon.MustMarshal(wire.ResultDelivery{Result: strange.Encode()})},
		{name: "garbage-result", data: canon.MustMarshal(wire.ResultDelivery{Result: []byte("nope"), Blobs: [][]byte{nil}})},
		{name: "empty", data: canon.MustMarshal(wire.ResultDelivery{})},
		{name: "unknown-field", data: append([]byte{0xa3}, append(canon.MustMarshal(wire.ResultDelivery{})[1:], 0x61, 'x', 0x00)...)},
	}
}

func fuzzHeaderSeeds() []fuzzSeed {
	return []fuzzSeed{
		{name: "size", data: canon.MustMarshal(blobs.DataHeader{Size: 13})},
		{name: "big", data: canon.MustMarshal(blobs.DataHeader{Size: 1 << 40})},
		{name: "negative", data: canon.MustMarshal(blobs.DataHeader{Size: -1})},
		{name: "refused", data: canon.MustMarshal(blobs.DataHeader{Error: "not authorized for this blob"})},
		{name: "both", data: canon.MustMarshal(blobs.DataHeader{Size: 5, Error: "x"})},
		{name: "long-int", data: []byte{0xa2, 0x64, 's', 'i', 'z', 'e', 0x18, 0x05, 0x65, 'e', 'r', 'r', 'o', 'r', 0x60}},
	}
}

func fuzzReplySeeds() []fuzzSeed {
	return []fuzzSeed{
		{name: "ok", data: canon.MustMarshal(wire.ResultReply{OK: true})},
		{name: "refused", data: canon.MustMarshal(wire.ResultReply{Error: "job job-1 is not awarded to you"})},
		{name: "true-and-error", data: canon.MustMarshal(wire.ResultReply{OK: true, Error: "?"})},
	}
}

// TestWriteFuzzCorpus writes the seeds as committed corpus files.
func TestWriteFuzzCorpus(t *testing.T) {
	if !*fuzzGenCorpus {
		t.Skip("run with -gencorpus to rewrite testdata/fuzz")
	}
	write := func(target string, seeds []fuzzSeed) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, s := range seeds {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s.data)
			if target == "FuzzReadFrame" {
				body += fmt.Sprintf("uint32(%d)\n", s.max)
			}
			if err := os.WriteFile(filepath.Join(dir, "seed-"+s.name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("FuzzReadFrame", fuzzFrameSeeds())
	write("FuzzResultDelivery", fuzzDeliverySeeds(t))
	write("FuzzDataHeader", fuzzHeaderSeeds())
	write("FuzzResultReply", fuzzReplySeeds())
}

// The delivery seeds are what they claim: the good one opens with the
// node's verifier, the forged one does not.
func TestFuzzDeliverySeeds(t *testing.T) {
	v := wire.NewVerifier()
	for _, s := range fuzzDeliverySeeds(t) {
		var del wire.ResultDelivery
		if err := canon.Unmarshal(s.data, &del); err != nil {
			if s.name == "unknown-field" {
				continue
			}
			t.Fatalf("%s: %v", s.name, err)
		}
		env, err := canon.DecodeEnvelope(del.Result)
		if err != nil {
			continue
		}
		err = env.Open(v, market.KindResult, &market.Result{})
		if want := s.name == "inline" || s.name == "no-blobs" || s.name == "overflowing-sizes" || s.name == "strange"; (err == nil) != want {
			t.Errorf("%s: open = %v", s.name, err)
		}
	}
}
