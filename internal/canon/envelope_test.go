package canon_test

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/hayek-market/hayek/internal/canon"
)

// The fuzz seeds double as a table of what strict decoding must accept and
// reject, and why.
func TestDecodeEnvelopeSeeds(t *testing.T) {
	want := map[string]error{ // nil: accepted; errNonNil: any error
		"sealed-note-alice": nil, "sealed-note-bob": nil, "sealed-memo-alice": nil, "sealed-memo-bob": nil,
		"zero-envelope": nil, "flipped-sig": nil, "relabelled-kind": nil,
		"truncated": errNonNil, "trailing-byte": errNonNil, "duplicate-key": errNonNil,
		"unknown-field": errNonNil, "indefinite-map": errNonNil, "tagged": errNonNil,
		"kind-as-bytes": errNonNil, "invalid-utf8-kind": errNonNil,
		"unsorted-keys": canon.ErrNonCanonical, "long-length": canon.ErrNonCanonical,
		"missing-field": canon.ErrNonCanonical,
	}
	seeds := envelopeSeeds()
	if len(seeds) != len(want) {
		t.Fatalf("%d seeds, %d expectations", len(seeds), len(want))
	}
	for _, s := range seeds {
		t.Run(s.name, func(t *testing.T) {
			w, ok := want[s.name]
			if !ok {
				t.Fatalf("no expectation for seed %q", s.name)
			}
			env, err := canon.DecodeEnvelope(s.data)
			switch {
			case w == nil && err != nil:
				t.Fatalf("rejected: %v", err)
			case w == nil:
				if !bytes.Equal(env.Encode(), s.data) {
					t.Fatalf("accepted but does not re-encode to the input")
				}
			case err == nil:
				t.Fatalf("accepted %x", s.data)
			case w != errNonNil && !errors.Is(err, w):
				t.Fatalf("error %v, want %v", err, w)
			case !strings.HasPrefix(err.Error(), "canon: "):
				t.Fatalf("error %q lacks the package prefix", err)
			}
		})
	}
}

var errNonNil = errors.New("any error")

func TestUnmarshalSeeds(t *testing.T) {
	accept := map[string]bool{"full": true, "zero": true, "nan-ratio": true}
	for _, s := range unmarshalSeeds() {
		t.Run(s.name, func(t *testing.T) {
			var v sample
			err := canon.Unmarshal(s.data, &v)
			if accept[s.name] != (err == nil) {
				t.Fatalf("accepted=%v, want %v (err %v)", err == nil, accept[s.name], err)
			}
		})
	}
	var v sample
	if err := canon.Unmarshal(canon.MustMarshal(fullSample()), &v); err != nil {
		t.Fatal(err)
	}
	if v.Items[0].CID != "x" || v.Env["AA"] != "" || len(v.Env) != 3 || v.Seq != math.MaxUint64 {
		t.Fatalf("round trip lost data: %+v", v)
	}
}

// Non-canonical encodings of values that decode fine are rejected: a
// receiver hashes and verifies bytes as received, so two encodings of one
// value must never both pass.
func TestUnmarshalRejectsNonShortestNumbers(t *testing.T) {
	type num struct {
		N int64   `cbor:"n"`
		F float64 `cbor:"f"`
	}
	good := canon.MustMarshal(num{N: 1, F: 1.5})
	if err := canon.Unmarshal(good, &num{}); err != nil {
		t.Fatalf("canonical input rejected: %v", err)
	}
	for name, data := range map[string][]byte{
		"int in two bytes":  cat(head(5, 2), tstr("f"), []byte{0xf9, 0x3e, 0x00}, tstr("n"), []byte{0x18, 0x01}),
		"float16 as double": cat(head(5, 2), tstr("f"), []byte{0xfb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0}, tstr("n"), []byte{0x01}),
		"NaN with payload":  cat(head(5, 2), tstr("f"), []byte{0xf9, 0x7e, 0x01}, tstr("n"), []byte{0x01}),
	} {
		if err := canon.Unmarshal(data, &num{}); err == nil {
			t.Errorf("%s: accepted %x", name, data)
		}
	}
}

func TestOpen(t *testing.T) {
	keys := fuzzKeyring()
	env, err := canon.Seal(keys.Signer("alice"), "note", note{From: "alice", Text: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	var n note
	if err := env.Open(keys, "note", &n); err != nil || n.Text != "hi" {
		t.Fatalf("open: %v %+v", err, n)
	}
	checkOpenFailsWhenTampered(t, keys, env)

	// Claiming to be someone else: the signature is checked against the
	// sender the body names.
	forged := env
	forged.Body = canon.MustMarshal(note{From: "bob", Text: "hi"})
	if err := forged.Open(keys, "note", &note{}); !errors.Is(err, canon.ErrBadSignature) {
		t.Fatalf("forged sender: %v", err)
	}
	if _, err := canon.Seal(keys.Signer("alice"), "note", note{From: "bob"}); err == nil {
		t.Fatal("sealed bob's note with alice's key")
	}
	anon, err := canon.Seal(anonSigner{}, "note", note{})
	if err != nil {
		t.Fatal(err)
	}
	if err := anon.Open(keys, "note", &note{}); err == nil || errors.Is(err, canon.ErrBadSignature) {
		t.Fatalf("note without sender: %v", err)
	}
	if got, want := canon.Domain("bid"), "hayek/bid/v1"; got != want {
		t.Fatalf("Domain = %q, want %q", got, want)
	}
	if (canon.Envelope{}).CIDOrEmpty() != "" || env.CIDOrEmpty() != env.CID() {
		t.Fatal("CIDOrEmpty")
	}
}

type anonSigner struct{}

func (anonSigner) ID() string                  { return "" }
func (anonSigner) Sign([]byte) ([]byte, error) { return make([]byte, 64), nil }
