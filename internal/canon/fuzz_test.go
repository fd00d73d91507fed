package canon_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/internal/canon/canontest"
)

// genCorpus rewrites the committed seed corpora under testdata/fuzz from the
// builders below: go test ./internal/canon -run TestWriteFuzzCorpus -gencorpus
var genCorpus = flag.Bool("gencorpus", false, "rewrite testdata/fuzz seed corpora")

// note is a minimal signed message, standing in for the market's kinds.
type note struct {
	From string `cbor:"from"`
	Text string `cbor:"text"`
	N    int64  `cbor:"n"`
}

func (n note) Sender() string { return n.From }

// fuzzKinds are the kinds seeds are sealed under; an envelope of any other
// kind is only checked for its canonical round trip.
var fuzzKinds = []string{"note", "memo"}

// sample mirrors the shapes of hayek's wire types: every scalar width they
// use, byte strings, nested and embedded structs, optional pointers, slices
// and string maps.
type sample struct {
	Name   string            `cbor:"name"`
	Count  int64             `cbor:"count"`
	Small  uint16            `cbor:"small"`
	Seq    uint64            `cbor:"seq"`
	Code   int32             `cbor:"code"`
	Bids   int               `cbor:"bids"`
	Ratio  float64           `cbor:"ratio"`
	OK     bool              `cbor:"ok"`
	Data   []byte            `cbor:"data"`
	Chunks [][]byte          `cbor:"chunks"`
	Tags   []string          `cbor:"tags"`
	Env    map[string]string `cbor:"env"`
	Ref    *sampleBlob       `cbor:"ref"`
	Items  []sampleItem      `cbor:"items"`
	Inner  sampleBlob        `cbor:"inner"`
}

type sampleBlob struct {
	CID  string `cbor:"cid"`
	Size int64  `cbor:"size"`
}

// sampleItem embeds its blob the way market.Input embeds market.Blob, so
// the blob's fields are promoted into the item's map.
type sampleItem struct {
	Label string `cbor:"label"`
	sampleBlob
}

func fullSample() sample {
	return sample{
		Name: "job-1", Count: -1 << 40, Small: 999, Seq: math.MaxUint64, Code: math.MinInt32, Bids: 3,
		Ratio: 0.25, OK: true, Data: []byte{0, 1, 2}, Chunks: [][]byte{{}, {0xff}},
		Tags: []string{"a", "", "ünï"}, Env: map[string]string{"B": "2", "A": "1", "AA": ""},
		Ref:   &sampleBlob{CID: "bafk", Size: 7},
		Items: []sampleItem{{Label: "in", sampleBlob: sampleBlob{CID: "x", Size: 1}}},
		Inner: sampleBlob{CID: "y", Size: math.MaxInt64},
	}
}

// FuzzUnmarshal: strict decoding never panics, and whatever it accepts is
// the canonical encoding of what it decoded — re-encoding gives the input
// back byte for byte, and decoding again gives the same value.
func FuzzUnmarshal(f *testing.F) {
	for _, s := range unmarshalSeeds() {
		f.Add(s.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v sample
		if err := canon.Unmarshal(data, &v); err != nil {
			return
		}
		again, err := canon.Marshal(v)
		if err != nil {
			t.Fatalf("accepted %x but cannot re-encode %+v: %v", data, v, err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("accepted non-canonical input\n in: %x\nout: %x", data, again)
		}
		var w sample
		if err := canon.Unmarshal(again, &w); err != nil {
			t.Fatalf("re-encoding of accepted input rejected: %v", err)
		}
		if b := canon.MustMarshal(w); !bytes.Equal(b, data) {
			t.Fatalf("second decode differs: %x vs %x", b, data)
		}
	})
}

// FuzzDecodeEnvelope: decoding never panics; an accepted envelope is its own
// canonical encoding; and an envelope that opens stops opening under another
// kind, with a flipped signature byte, or with a flipped body byte.
func FuzzDecodeEnvelope(f *testing.F) {
	for _, s := range envelopeSeeds() {
		f.Add(s.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := canon.DecodeEnvelope(data)
		if err != nil {
			if env.Kind != "" || env.Body != nil || env.Sig != nil {
				t.Fatalf("failed decode returned a non-zero envelope %+v", env)
			}
			return
		}
		if enc := env.Encode(); !bytes.Equal(enc, data) {
			t.Fatalf("accepted non-canonical envelope\n in: %x\nout: %x", data, enc)
		}
		if env.CID() != canon.DocCID(data).String() {
			t.Fatalf("envelope CID is not the CID of its bytes")
		}
		keys := fuzzKeyring()
		var n note
		if err := env.Open(keys, env.Kind, &n); err != nil {
			return
		}
		checkOpenFailsWhenTampered(t, keys, env)
	})
}

// checkOpenFailsWhenTampered asserts the signature properties of an
// envelope that opens as its own kind.
func checkOpenFailsWhenTampered(t *testing.T, v canon.Verifier, env canon.Envelope) {
	t.Helper()
	var n note
	other := env.Kind + "x"
	if err := env.Open(v, other, &n); !errors.Is(err, canon.ErrWrongKind) {
		t.Fatalf("opened as kind %q: %v", other, err)
	}
	// Relabelled as another kind, the signature must not carry over.
	relabelled := env
	relabelled.Kind = other
	if err := relabelled.Open(v, other, &n); !errors.Is(err, canon.ErrBadSignature) {
		t.Fatalf("signature of %q passed as %q: %v", env.Kind, other, err)
	}
	for _, i := range []int{0, len(env.Sig) / 2, len(env.Sig) - 1} {
		bad := env
		bad.Sig = bytes.Clone(env.Sig)
		bad.Sig[i] ^= 0x01
		if err := bad.Open(v, env.Kind, &n); !errors.Is(err, canon.ErrBadSignature) {
			t.Fatalf("flipped signature byte %d still opens: %v", i, err)
		}
	}
	bad := env
	bad.Body = bytes.Clone(env.Body)
	bad.Body[len(bad.Body)-1] ^= 0x01
	if err := bad.Open(v, env.Kind, &n); err == nil {
		t.Fatalf("flipped body byte still opens")
	}
}

// fuzzKeyring knows the identities seeds are signed by.
func fuzzKeyring() *canontest.Keyring {
	k := canontest.NewKeyring()
	for _, id := range []string{"alice", "bob"} {
		k.Signer(id)
	}
	return k
}

type seed struct {
	name string
	data []byte
}

func sealedNotes() []seed {
	keys := fuzzKeyring()
	var out []seed
	for _, kind := range fuzzKinds {
		for _, from := range []string{"alice", "bob"} {
			env, err := canon.Seal(keys.Signer(from), kind, note{From: from, Text: "hello " + kind, N: int64(len(kind))})
			if err != nil {
				panic(err)
			}
			out = append(out, seed{fmt.Sprintf("sealed-%s-%s", kind, from), env.Encode()})
		}
	}
	return out
}

func envelopeSeeds() []seed {
	out := sealedNotes()
	good := out[0].data
	env, err := canon.DecodeEnvelope(good)
	if err != nil {
		panic(err)
	}
	flipped := env
	flipped.Sig = bytes.Clone(env.Sig)
	flipped.Sig[0] ^= 1
	relabelled := env
	relabelled.Kind = "memo"
	kind, body, sig := tstr(env.Kind), bstr(env.Body), bstr(env.Sig)
	out = append(out,
		seed{"zero-envelope", canon.MustMarshal(canon.Envelope{})},
		seed{"flipped-sig", flipped.Encode()},
		seed{"relabelled-kind", relabelled.Encode()},
		seed{"truncated", good[:len(good)-1]},
		seed{"trailing-byte", append(bytes.Clone(good), 0x00)},
		seed{"unsorted-keys", cat(head(5, 3), tstr("k"), kind, tstr("b"), body, tstr("s"), sig)},
		seed{"duplicate-key", cat(head(5, 4), tstr("b"), body, tstr("k"), kind, tstr("k"), kind, tstr("s"), sig)},
		seed{"unknown-field", cat(head(5, 4), tstr("b"), body, tstr("k"), kind, tstr("s"), sig, tstr("x"), tstr("y"))},
		seed{"missing-field", cat(head(5, 2), tstr("b"), body, tstr("k"), kind)},
		seed{"indefinite-map", cat([]byte{0xbf}, tstr("b"), body, tstr("k"), kind, tstr("s"), sig, []byte{0xff})},
		seed{"tagged", cat([]byte{0xd8, 0x18}, good)},
		seed{"long-length", cat(head(5, 3), tstr("b"), []byte{0x59, 0x00, byte(len(env.Body))}, env.Body, tstr("k"), kind, tstr("s"), sig)},
		seed{"kind-as-bytes", cat(head(5, 3), tstr("b"), body, tstr("k"), bstr([]byte(env.Kind)), tstr("s"), sig)},
		seed{"invalid-utf8-kind", cat(head(5, 3), tstr("b"), body, tstr("k"), cat(head(3, 2), []byte{0xc3, 0x28}), tstr("s"), sig)},
	)
	return out
}

func unmarshalSeeds() []seed {
	full := canon.MustMarshal(fullSample())
	zero := canon.MustMarshal(sample{})
	// sample has 15 fields: a map header of one byte, 0xaf.
	if full[0] != 0xaf {
		panic(fmt.Sprintf("sample map header %#x; update the mutations", full[0]))
	}
	deep := []byte{}
	for range 20 {
		deep = append(deep, 0x81) // [[[[...]]]]: nested deeper than allowed
	}
	deep = append(deep, 0x00)
	nan := fullSample()
	nan.Ratio = math.NaN()
	return []seed{
		{"full", full},
		{"zero", zero},
		{"nan-ratio", canon.MustMarshal(nan)},
		{"unknown-field", cat([]byte{0xb0}, full[1:], tstr("zzzzzz"), []byte{0x00})},
		{"trailing-byte", append(bytes.Clone(full), 0xf6)},
		{"truncated", full[:len(full)/2]},
		{"not-a-map", []byte{0x80}},
		{"deep-nesting", deep},
		{"huge-length", []byte{0x5b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	}
}

// Minimal CBOR writers for hand-made malformed inputs.
func head(major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return []byte{m | byte(n)}
	case n < 1<<8:
		return []byte{m | 24, byte(n)}
	case n < 1<<16:
		return []byte{m | 25, byte(n >> 8), byte(n)}
	default:
		return []byte{m | 26, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	}
}

func tstr(s string) []byte { return cat(head(3, uint64(len(s))), []byte(s)) }
func bstr(b []byte) []byte { return cat(head(2, uint64(len(b))), b) }

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// TestWriteFuzzCorpus writes the seeds above as committed corpus files, so
// plain `go test` replays them even if the builders change later.
func TestWriteFuzzCorpus(t *testing.T) {
	if !*genCorpus {
		t.Skip("run with -gencorpus to rewrite testdata/fuzz")
	}
	writeCorpus(t, "FuzzDecodeEnvelope", envelopeSeeds())
	writeCorpus(t, "FuzzUnmarshal", unmarshalSeeds())
}

func writeCorpus(t *testing.T, target string, seeds []seed) {
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range seeds {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s.data)
		if err := os.WriteFile(filepath.Join(dir, "seed-"+s.name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
