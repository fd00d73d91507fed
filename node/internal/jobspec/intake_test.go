package jobspec

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/internal/samples"
	"github.com/hayek-market/hayek/node/api"
)

// memBlobs is a blob store in memory that counts its reads.
type memBlobs struct {
	data  map[string][]byte
	reads int
}

func (m *memBlobs) Size(c string) (int64, error) {
	b, ok := m.data[c]
	if !ok {
		return 0, fmt.Errorf("no blob %s", c)
	}
	return int64(len(b)), nil
}

func (m *memBlobs) Get(c string) ([]byte, error) {
	m.reads++
	b, ok := m.data[c]
	if !ok {
		return nil, fmt.Errorf("no blob %s", c)
	}
	return b, nil
}

func (m *memBlobs) PutBytes(b []byte) (cid.Cid, error) {
	c := canon.BlobCID(b)
	m.data[c.String()] = b
	return c, nil
}

func newIntake() (*Intake, *memBlobs) {
	m := &memBlobs{data: map[string][]byte{}}
	return New(Deps{Blobs: m}), m
}

// A request naming a held wasm module and inline inputs becomes a valid
// spec whose blobs are all held; the module is read (checked) once however
// often it is submitted.
func TestSpecFromRequest(t *testing.T) {
	in, m := newIntake()
	mod, _ := m.PutBytes(samples.Hello)
	req := api.SubmitRequest{Module: api.BlobRef{CID: mod.String()}, MaxPrice: 5,
		Stdin: &api.BlobRef{Text: "hi"}, Inputs: []api.InputRef{{Name: "a.txt", BlobRef: api.BlobRef{Base64: "aGk="}}}}
	for range 3 {
		spec, err := in.Spec(req)
		if err != nil {
			t.Fatal(err)
		}
		if err := spec.Validate(); err != nil {
			t.Fatalf("an invalid spec: %v", err)
		}
		for _, c := range []string{spec.Module.CID, spec.Stdin.CID, spec.Inputs[0].CID} {
			if _, ok := m.data[c]; !ok {
				t.Fatalf("the spec names %s, which is not held", c)
			}
		}
	}
	if m.reads != 1 {
		t.Fatalf("the module was read %d times, want once", m.reads)
	}
}

// Refusals are the API's errors, with the code a client acts on.
func TestSpecRefusals(t *testing.T) {
	in, m := newIntake()
	mod, _ := m.PutBytes(samples.Hello)
	absent := canon.BlobCID([]byte("absent")).String()
	for _, tc := range []struct {
		name string
		req  api.SubmitRequest
		code string
	}{
		{"no module", api.SubmitRequest{MaxPrice: 5}, api.CodeInvalidSpec},
		{"not wasm", api.SubmitRequest{Module: api.BlobRef{Text: "not wasm"}, MaxPrice: 5}, api.CodeInvalidModule},
		{"not elf", api.SubmitRequest{Runtime: "process", Module: api.BlobRef{Text: "#!/bin/sh"}, MaxPrice: 5}, api.CodeInvalidModule},
		{"two sources", api.SubmitRequest{Module: api.BlobRef{CID: mod.String(), Text: "x"}, MaxPrice: 5}, api.CodeInvalidSpec},
		{"not held", api.SubmitRequest{Module: api.BlobRef{CID: absent}, MaxPrice: 5}, api.CodeBlobNotFound},
		{"bad runtime", api.SubmitRequest{Runtime: "java", Module: api.BlobRef{CID: mod.String()}, MaxPrice: 5}, api.CodeInvalidSpec},
		{"image not docker", api.SubmitRequest{Image: "sha256:00", MaxPrice: 5}, api.CodeInvalidSpec},
		{"negative cpus", api.SubmitRequest{Module: api.BlobRef{CID: mod.String()}, MaxPrice: 5, CPUs: -1}, api.CodeInvalidSpec},
		{"no price", api.SubmitRequest{Module: api.BlobRef{CID: mod.String()}}, api.CodeInvalidSpec},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := in.Spec(tc.req)
			var ae *api.Error
			if !errors.As(err, &ae) || ae.Code != tc.code {
				t.Fatalf("got %v, want an API error %s", err, tc.code)
			}
		})
	}
}

// The node's default verification ([requester] verify) goes to a job that
// names none and leaves the node; a job that names one, "none" included,
// keeps it, and a job kept on the node's own provider is not checked.
func TestDefaultVerify(t *testing.T) {
	m := &memBlobs{data: map[string][]byte{}}
	mod, _ := m.PutBytes(samples.Hello)
	for _, tc := range []struct {
		name, def, named string
		local            bool
		want             string
	}{
		{"unnamed, default adaptive", "adaptive", "", false, "adaptive"},
		{"unnamed, default replicate", "replicate:3", "", false, "replicate:3"},
		{"named none keeps none", "adaptive", "none", false, "none"},
		{"named sample keeps it", "adaptive", "sample:0.5", false, "sample:0.5"},
		{"local is not checked", "adaptive", "", true, "none"},
		{"no default", "", "", false, "none"},
		{"default none", "none", "", false, "none"},
	} {
		in := New(Deps{Blobs: m, DefaultVerify: tc.def})
		req := api.SubmitRequest{Module: api.BlobRef{CID: mod.String()}, MaxPrice: 5, Verify: tc.named}
		spec, err := in.Spec(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if err := in.Verify(req, &spec, tc.local); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if spec.Verify != tc.want {
			t.Errorf("%s: verify %q, want %q", tc.name, spec.Verify, tc.want)
		}
	}
}
