package wire

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/hayek-market/hayek/internal/canon"
)

func TestFrameRoundTripAndCap(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteFrame(&buf, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFrame(&buf, bytes.Repeat([]byte{1}, 100)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(&buf)
	b, err := ReadFrame(r, 10)
	if err != nil || string(b) != "hello" {
		t.Fatalf("first frame = %q, %v", b, err)
	}
	if _, err := ReadFrame(r, 10); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversized frame: err = %v, want ErrFrameTooLarge", err)
	}
	if _, err := ReadFrame(bufio.NewReader(&bytes.Buffer{}), 10); err != io.EOF {
		t.Fatalf("empty stream: err = %v, want io.EOF", err)
	}
}

func TestSignerVerifier(t *testing.T) {
	key, err := crypto.UnmarshalEd25519PrivateKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	vf := NewVerifier()
	sg, err := NewSigner(key, vf)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := sg.Sign([]byte("msg"))
	if err != nil {
		t.Fatal(err)
	}
	if err := NewVerifier().Verify(sg.ID(), []byte("msg"), sig); err != nil {
		t.Fatalf("a fresh verifier refuses a good signature: %v", err)
	}
	if err := NewVerifier().Verify(sg.ID(), []byte("other"), sig); err == nil {
		t.Fatal("a signature verified over other bytes")
	}
	if err := vf.Verify(sg.ID(), []byte("msg"), sig); err != nil {
		t.Fatalf("the signer's own verifier refuses what it signed: %v", err)
	}
}

func TestDropReason(t *testing.T) {
	if got := dropReason("bid", canon.ErrBadSignature); got != "bid/bad_signature" {
		t.Fatalf("dropReason(bad signature) = %q", got)
	}
	if got := dropReason("bid", errors.New("junk")); got != "bid/malformed" {
		t.Fatalf("dropReason(junk) = %q", got)
	}
	d := NewDrops()
	d.Add("x")
	d.Add("x")
	if d.Snapshot()["x"] != 2 {
		t.Fatalf("snapshot = %v", d.Snapshot())
	}
}

func TestGroupStopWaitsAndRefusesAfter(t *testing.T) {
	g, ctx := NewGroup(t.Context())
	var ticks, ended atomic.Int32
	if !g.Go(func() {
		Every(ctx, time.Millisecond, func() { ticks.Add(1) })
		ended.Add(1)
	}) {
		t.Fatal("Go refused before Stop")
	}
	deadline := time.Now().Add(10 * time.Second)
	for ticks.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("Every never ticked")
		}
		time.Sleep(time.Millisecond)
	}
	g.Stop()
	if ended.Load() != 1 {
		t.Fatal("Stop returned before its goroutine ended")
	}
	if g.Go(func() {}) {
		t.Fatal("Go ran after Stop")
	}
}

// A loop that fails ends the group's context, so the others stop, and
// Stop returns its error; an error after the group stopped is no failure.
func TestGroupRunSeesErrors(t *testing.T) {
	g, ctx := NewGroup(t.Context())
	boom := errors.New("boom")
	g.Go(func() { <-ctx.Done() })
	g.Run(func(ctx context.Context) error { return boom })
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("a failed loop did not end the group's context")
	}
	if err := g.Stop(); !errors.Is(err, boom) {
		t.Fatalf("Stop = %v, want %v", err, boom)
	}

	g, _ = NewGroup(t.Context())
	g.Run(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	if err := g.Stop(); err != nil {
		t.Fatalf("Stop = %v, want nil: the loop ended because the group stopped", err)
	}
}
