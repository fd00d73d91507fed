package market

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/canon"
)

const testDigest = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

// withImage makes s a docker job naming image, its module the
// reference's text.
func withImage(s *JobSpec, image string) {
	s.Runtime, s.Image = RuntimeDocker, image
	s.Module = Blob{CID: canon.BlobCID([]byte(image)).String(), Size: int64(len(image))}
}

func goodJobSpec() JobSpec {
	s := JobSpec{
		Module:   Blob{CID: fzModule, Size: 1 << 20},
		Stdin:    &Blob{CID: fzInput, Size: 10},
		Inputs:   []Input{{Name: "a.txt", Blob: Blob{CID: fzInput, Size: 100}}},
		Args:     []string{"-v"},
		Env:      map[string]string{"K": "v"},
		MaxPrice: 100,
	}
	s.Defaults()
	return s
}

// reportedFields maps each reported field to the error it carries.
func reportedFields(t *testing.T, err error) map[string]error {
	t.Helper()
	out := map[string]error{}
	if err == nil {
		return out
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %T %v is not a *ValidationError", err, err)
	}
	for _, f := range ve.Fields {
		if _, dup := out[f.Field]; !dup {
			out[f.Field] = f
		}
	}
	return out
}

// checkReported asserts that exactly the fields in want are reported, each
// wrapping its sentinel.
func checkReported(t *testing.T, err error, want map[string]error) {
	t.Helper()
	got := reportedFields(t, err)
	for f, sentinel := range want {
		if got[f] == nil {
			t.Errorf("%s not reported (got %v)", f, err)
		} else if !errors.Is(got[f], sentinel) {
			t.Errorf("%s: %v does not wrap %q", f, got[f], sentinel)
		}
	}
	for f, e := range got {
		if _, ok := want[f]; !ok {
			t.Errorf("unexpected %v", e)
		}
	}
}

func specInputs(n int) []Input {
	out := make([]Input, n)
	for i := range out {
		out[i] = Input{Name: fmt.Sprintf("in%d", i), Blob: Blob{CID: fzInput, Size: 1}}
	}
	return out
}

func specArgs(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func specEnv(n int) map[string]string {
	out := map[string]string{}
	for i := range n {
		out[fmt.Sprintf("K%d", i)] = "v"
	}
	return out
}

func TestJobSpecValidate(t *testing.T) {
	caps := func(n int) []Capability {
		out := make([]Capability, n)
		for i := range out {
			out[i] = Capability(fmt.Sprintf("gpu/model%d", i))
		}
		return out
	}
	const cidV0 = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
	for _, c := range []struct {
		name string
		mut  func(*JobSpec)
		want map[string]error
	}{
		{"valid", func(*JobSpec) {}, nil},
		{"minimal", func(s *JobSpec) { *s = JobSpec{Module: Blob{CID: fzModule}, MaxPrice: 1}; s.Defaults() }, nil},
		{"at every bound", func(s *JobSpec) {
			s.Capabilities = caps(8)
			s.Module.Size = MaxModuleBytes
			s.Stdin = nil
			s.Inputs = specInputs(MaxInputs)
			s.Inputs[0].Name = strings.Repeat("n", 255)
			s.Inputs[1].Size = MaxInputBytes - MaxInputs + 1
			// Every count at its bound, one argument and one variable at
			// their size bound, the total within MaxArgEnvBytes.
			s.Args = specArgs("a", MaxArgs)
			s.Args[0] = strings.Repeat("a", MaxArgBytes)
			s.Env = specEnv(MaxEnv)
			s.Env[strings.Repeat("k", 256)] = strings.Repeat("v", MaxArgBytes)
			delete(s.Env, "K0")
			s.MemoryBytes, s.TimeoutMs, s.MaxOutputBytes = MaxMemoryBytes, MaxTimeout.Milliseconds(), MaxInputBytes
			s.MaxPrice, s.DeadlineMs, s.Verify = MaxPriceCap, MaxDeadline.Milliseconds(), fmt.Sprintf("replicate:%d", MaxReplicas)
			s.ValueOfTime, s.MinReputation = MaxValueOfTime, 1
		}, nil},
		{"at every lower bound", func(s *JobSpec) {
			s.Module.Size, s.Stdin.Size, s.Inputs[0].Size = 0, 0, 0
			s.MemoryBytes, s.TimeoutMs, s.MaxOutputBytes, s.MaxPrice, s.DeadlineMs = MinMemoryBytes, 1, 1, 1, 1
		}, nil},

		{"args and env over the total", func(s *JobSpec) {
			s.Args = specArgs(strings.Repeat("a", MaxArgBytes), 17)
		}, map[string]error{"args": ErrTooLarge}},
		{"runtime", func(s *JobSpec) { s.Runtime = "runtime/jvm" }, map[string]error{"runtime": ErrInvalid}},
		{"runtime: process", func(s *JobSpec) { s.Runtime = RuntimeProcess }, nil},
		{"runtime: docker", func(s *JobSpec) { s.Runtime = RuntimeDocker }, nil},
		{"native memory above 4GiB", func(s *JobSpec) { s.Runtime, s.MemoryBytes = RuntimeDocker, 64<<30 }, nil},
		{"native memory at its bounds", func(s *JobSpec) { s.Runtime, s.MemoryBytes = RuntimeProcess, MaxNativeMemoryBytes }, nil},
		{"native memory above 1TiB", func(s *JobSpec) { s.Runtime, s.MemoryBytes = RuntimeProcess, MaxNativeMemoryBytes+1 },
			map[string]error{"memory": ErrRange}},
		{"native memory below 8MiB", func(s *JobSpec) { s.Runtime, s.MemoryBytes = RuntimeDocker, MinNativeMemoryBytes-1 },
			map[string]error{"memory": ErrRange}},
		{"cpus", func(s *JobSpec) { s.Runtime, s.CPUMilli = RuntimeProcess, 4500 }, nil},
		{"cpus: at the bound", func(s *JobSpec) { s.Runtime, s.CPUMilli = RuntimeDocker, MaxCPUMilli }, nil},
		{"cpus: above the bound", func(s *JobSpec) { s.Runtime, s.CPUMilli = RuntimeDocker, MaxCPUMilli+1 },
			map[string]error{"cpus": ErrRange}},
		{"cpus: negative", func(s *JobSpec) { s.CPUMilli = -1 }, map[string]error{"cpus": ErrRange}},
		{"cpus: wasm has one thread", func(s *JobSpec) { s.CPUMilli = 1001 }, map[string]error{"cpus": ErrRange}},
		{"gpus", func(s *JobSpec) {
			s.Runtime, s.GPUs = RuntimeDocker, &GPUs{Count: 2, Model: "a100", MinVRAMMiB: 40 << 10}
		}, nil},
		{"gpus: any model", func(s *JobSpec) { s.Runtime, s.GPUs = RuntimeProcess, &GPUs{Count: MaxGPUs} }, nil},
		{"gpus: wasm", func(s *JobSpec) { s.GPUs = &GPUs{Count: 1} }, map[string]error{"gpus": ErrInvalid}},
		{"gpus: none", func(s *JobSpec) { s.Runtime, s.GPUs = RuntimeDocker, &GPUs{} }, map[string]error{"gpus.count": ErrRange}},
		{"gpus: too many", func(s *JobSpec) { s.Runtime, s.GPUs = RuntimeDocker, &GPUs{Count: MaxGPUs + 1} },
			map[string]error{"gpus.count": ErrRange}},
		{"gpus: bad model", func(s *JobSpec) { s.Runtime, s.GPUs = RuntimeDocker, &GPUs{Count: 1, Model: "H100/x"} },
			map[string]error{"gpus.model": ErrInvalid}},
		{"image", func(s *JobSpec) { withImage(s, "ghcr.io/acme/solver@"+testDigest) }, nil},
		{"image by id", func(s *JobSpec) { withImage(s, testDigest) }, nil},
		{"image by tag", func(s *JobSpec) { withImage(s, "alpine:latest") }, map[string]error{"image": ErrInvalid}},
		{"image of wasm", func(s *JobSpec) { withImage(s, testDigest); s.Runtime = RuntimeWasm }, map[string]error{"image": ErrInvalid}},
		{"image not the module", func(s *JobSpec) { withImage(s, testDigest); s.Module = Blob{CID: fzModule, Size: 71} },
			map[string]error{"image": ErrInvalid}},
		{"gpus: negative vram", func(s *JobSpec) { s.Runtime, s.GPUs = RuntimeDocker, &GPUs{Count: 1, MinVRAMMiB: -1} },
			map[string]error{"gpus.min_vram": ErrRange}},
		{"capabilities: too many", func(s *JobSpec) { s.Capabilities = caps(9) }, map[string]error{"capabilities": ErrTooLarge}},
		{"capabilities: syntax", func(s *JobSpec) { s.Capabilities = []Capability{"gpu/a", "GPU/b"} },
			map[string]error{"capabilities[1]": ErrInvalid}},

		{"module: no CID", func(s *JobSpec) { s.Module.CID = "" }, map[string]error{"module.cid": ErrRequired}},
		{"module: not a CID", func(s *JobSpec) { s.Module.CID = "module.wasm" }, map[string]error{"module.cid": ErrInvalid}},
		{"module: document CID", func(s *JobSpec) { s.Module.CID = canon.DocCID([]byte("x")).String() },
			map[string]error{"module.cid": ErrInvalid}},
		{"module: CIDv0", func(s *JobSpec) { s.Module.CID = cidV0 }, map[string]error{"module.cid": ErrInvalid}},
		{"module: negative size", func(s *JobSpec) { s.Module.Size = -1 }, map[string]error{"module.size": ErrRange}},
		{"module: too big", func(s *JobSpec) { s.Module.Size = MaxModuleBytes + 1 }, map[string]error{"module.size": ErrRange}},

		{"stdin: bad CID", func(s *JobSpec) { s.Stdin.CID = cidV0 }, map[string]error{"stdin.cid": ErrInvalid}},
		{"stdin: negative size", func(s *JobSpec) { s.Stdin.Size = -1 }, map[string]error{"stdin.size": ErrRange}},
		{"stdin: too big", func(s *JobSpec) { s.Stdin.Size = MaxInputBytes + 1 },
			map[string]error{"stdin.size": ErrRange, "inputs": ErrTooLarge}},

		{"inputs: too many", func(s *JobSpec) { s.Inputs = specInputs(MaxInputs + 1) }, map[string]error{"inputs": ErrTooLarge}},
		{"inputs: total too big", func(s *JobSpec) {
			s.Inputs = specInputs(2)
			s.Inputs[0].Size, s.Inputs[1].Size = 600<<20, 600<<20
		}, map[string]error{"inputs": ErrTooLarge}},
		{"inputs: one too big", func(s *JobSpec) { s.Inputs[0].Size = MaxInputBytes + 1 },
			map[string]error{"inputs[0].size": ErrRange, "inputs": ErrTooLarge}},
		{"inputs: bad CID", func(s *JobSpec) { s.Inputs[0].CID = "nope" }, map[string]error{"inputs[0].cid": ErrInvalid}},
		{"inputs: duplicate name", func(s *JobSpec) { s.Inputs = append(specInputs(2), specInputs(1)...) },
			map[string]error{"inputs[2].name": ErrInvalid}},

		{"args: too many", func(s *JobSpec) { s.Args = specArgs("a", MaxArgs+1) }, map[string]error{"args": ErrTooLarge}},
		{"args: too long", func(s *JobSpec) { s.Args = []string{"ok", strings.Repeat("a", MaxArgBytes+1)} },
			map[string]error{"args[1]": ErrInvalid}},
		{"args: NUL", func(s *JobSpec) { s.Args = []string{"a\x00b"} }, map[string]error{"args[0]": ErrInvalid}},
		{"args: not UTF-8", func(s *JobSpec) { s.Args = []string{"\xc3\x28"} }, map[string]error{"args[0]": ErrInvalid}},

		{"env: too many", func(s *JobSpec) { s.Env = specEnv(MaxEnv + 1) }, map[string]error{"env": ErrTooLarge}},
		{"env: empty name", func(s *JobSpec) { s.Env = map[string]string{"": "v"} }, map[string]error{"env": ErrInvalid}},
		{"env: '=' in name", func(s *JobSpec) { s.Env = map[string]string{"A=B": "v"} }, map[string]error{"env": ErrInvalid}},
		{"env: NUL in name", func(s *JobSpec) { s.Env = map[string]string{"A\x00": "v"} }, map[string]error{"env": ErrInvalid}},
		{"env: long name", func(s *JobSpec) { s.Env = map[string]string{strings.Repeat("k", 257): "v"} },
			map[string]error{"env": ErrInvalid}},
		{"env: NUL in value", func(s *JobSpec) { s.Env = map[string]string{"K": "a\x00"} }, map[string]error{"env.K": ErrInvalid}},
		{"env: long value", func(s *JobSpec) { s.Env = map[string]string{"K": strings.Repeat("v", MaxArgBytes+1)} },
			map[string]error{"env.K": ErrInvalid}},
		{"env: value not UTF-8", func(s *JobSpec) { s.Env = map[string]string{"K": "\xff"} }, map[string]error{"env.K": ErrInvalid}},

		{"memory: negative", func(s *JobSpec) { s.MemoryBytes = -1 }, map[string]error{"memory": ErrRange}},
		{"memory: below a page", func(s *JobSpec) { s.MemoryBytes = MinMemoryBytes - 1 }, map[string]error{"memory": ErrRange}},
		{"memory: above 4GiB", func(s *JobSpec) { s.MemoryBytes = MaxMemoryBytes + 1 }, map[string]error{"memory": ErrRange}},
		{"timeout: negative", func(s *JobSpec) { s.TimeoutMs = -1 }, map[string]error{"timeout": ErrRange}},
		{"timeout: above 24h", func(s *JobSpec) { s.TimeoutMs, s.DeadlineMs = MaxTimeout.Milliseconds()+1, MaxDeadline.Milliseconds() },
			map[string]error{"timeout": ErrRange}},
		{"max_output: negative", func(s *JobSpec) { s.MaxOutputBytes = -1 }, map[string]error{"max_output": ErrRange}},
		{"max_output: above 1GiB", func(s *JobSpec) { s.MaxOutputBytes = MaxInputBytes + 1 }, map[string]error{"max_output": ErrRange}},
		{"max_price: zero", func(s *JobSpec) { s.MaxPrice = 0 }, map[string]error{"max_price": ErrRange}},
		{"max_price: negative", func(s *JobSpec) { s.MaxPrice = -1 }, map[string]error{"max_price": ErrRange}},
		{"max_price: above the cap", func(s *JobSpec) { s.MaxPrice = MaxPriceCap + 1 }, map[string]error{"max_price": ErrRange}},
		{"max_price: a hold that wrapped to 2", func(s *JobSpec) { s.MaxPrice, s.Verify = 2049638230412172402, "replicate:6" },
			map[string]error{"max_price": ErrRange}},
		{"max_price: a hold that gave a 500", func(s *JobSpec) { s.MaxPrice, s.Verify = 2305843009213693951, "replicate:3" },
			map[string]error{"max_price": ErrRange}},
		{"deadline: before the timeout", func(s *JobSpec) { s.TimeoutMs, s.DeadlineMs = 2000, 1999 }, map[string]error{"deadline": ErrRange}},
		{"deadline: above 7 days", func(s *JobSpec) { s.DeadlineMs = MaxDeadline.Milliseconds() + 1 }, map[string]error{"deadline": ErrRange}},
		{"value_of_time: negative", func(s *JobSpec) { s.ValueOfTime = -1 }, map[string]error{"value_of_time": ErrRange}},
		{"value_of_time: above the cap", func(s *JobSpec) { s.ValueOfTime = MaxValueOfTime + 1 }, map[string]error{"value_of_time": ErrRange}},
		{"min_reputation: negative", func(s *JobSpec) { s.MinReputation = -0.01 }, map[string]error{"min_reputation": ErrRange}},
		{"min_reputation: above 1", func(s *JobSpec) { s.MinReputation = 1.01 }, map[string]error{"min_reputation": ErrRange}},
		{"min_reputation: NaN", func(s *JobSpec) { s.MinReputation = math.NaN() }, map[string]error{"min_reputation": ErrRange}},
		{"min_reputation: infinite", func(s *JobSpec) { s.MinReputation = math.Inf(1) }, map[string]error{"min_reputation": ErrRange}},
		{"verify", func(s *JobSpec) { s.Verify = "replicate:1" }, map[string]error{"verify": ErrInvalid}},
		{"verify: replicate", func(s *JobSpec) { s.Verify = "replicate:3" }, nil},
		{"verify: sample", func(s *JobSpec) { s.Verify = "sample:0.25" }, nil},
		{"verify: junk", func(s *JobSpec) { s.Verify = "trust me" }, map[string]error{"verify": ErrInvalid}},

		{"several at once", func(s *JobSpec) {
			s.Runtime, s.Module.CID, s.MemoryBytes, s.MaxPrice, s.Verify = "runtime/jvm", "", -1, 0, "sample:1.5"
			s.Inputs[0].Name = "../etc"
		}, map[string]error{"runtime": ErrInvalid, "module.cid": ErrRequired, "inputs[0].name": ErrInvalid,
			"memory": ErrRange, "max_price": ErrRange, "verify": ErrInvalid}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := goodJobSpec()
			c.mut(&s)
			err := s.Validate()
			checkReported(t, err, c.want)
			if err != nil {
				for sentinel := range sentinels(c.want) {
					if !errors.Is(err, sentinel) {
						t.Errorf("errors.Is(err, %q) = false on the whole error", sentinel)
					}
				}
				if got, want := len(reportedFields(t, err)), len(c.want); got != want {
					t.Errorf("%d fields reported, want %d: %v", got, want, err)
				}
			}
		})
	}
}

// sentinels returns the distinct sentinels of want.
func sentinels(want map[string]error) map[error]bool {
	out := map[error]bool{}
	for _, e := range want {
		out[e] = true
	}
	return out
}

func TestJobSpecInputNames(t *testing.T) {
	for _, n := range []string{"", ".", "..", "a/b", "/abs", `a\b`, "a\x00b", strings.Repeat("n", 256), "\xff"} {
		t.Run(fmt.Sprintf("%q", n), func(t *testing.T) {
			s := goodJobSpec()
			s.Inputs[0].Name = n
			checkReported(t, s.Validate(), map[string]error{"inputs[0].name": ErrInvalid})
		})
	}
	for _, n := range []string{"a", ".hidden", "...", "a b", "ünï.txt", "a.tar.gz"} {
		s := goodJobSpec()
		s.Inputs[0].Name = n
		if err := s.Validate(); err != nil {
			t.Errorf("%q rejected: %v", n, err)
		}
	}
}

func TestJobSpecBlobWithoutCID(t *testing.T) {
	s := goodJobSpec()
	s.Inputs = []Input{{Name: "a", Blob: Blob{Size: math.MaxInt64}}, {Name: "b", Blob: Blob{Size: math.MaxInt64}}}
	if err := s.Validate(); err == nil {
		t.Fatalf("accepted inputs totalling %d bytes", s.InputBytes())
	}
}

func TestJobSpecErrorMessages(t *testing.T) {
	s := goodJobSpec()
	s.Module.CID, s.MemoryBytes = "", -1
	err := s.Validate()
	want := "market: invalid job spec: module.cid: is required; memory: is out of range: must be between 64KiB and 4GiB for runtime/wasm (got -1)"
	if err == nil || err.Error() != want {
		t.Fatalf("error\n got %v\nwant %s", err, want)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "module.cid" {
		t.Fatalf("errors.As found %+v", fe)
	}
}

// The hold is max price × the runs verification may need, checked: the
// largest allowed max price fits with the most runs, and a refusal names
// max_price and the largest value allowed.
func TestJobSpecMaxCost(t *testing.T) {
	for _, c := range []struct {
		price  int64
		verify string
		want   int64
	}{
		{100, "", 100},
		{100, "sample:0.1", 300},
		{100, "replicate:2", 400},
		{100, "replicate:6", 900},
		{MaxPriceCap, "replicate:9", MaxPriceCap * 13},
		{MaxPriceCap, "", MaxPriceCap},
	} {
		s := goodJobSpec()
		s.MaxPrice, s.Verify = c.price, c.verify
		s.Defaults()
		if got, err := s.MaxCost(); err != nil || got != c.want {
			t.Errorf("MaxCost(%d, %q) = %d, %v; want %d", c.price, c.verify, got, err, c.want)
		}
		if err := s.Validate(); err != nil {
			t.Errorf("a spec with a hold of %d is refused: %v", c.want, err)
		}
	}
	if MaxJobRuns != (Verification{Mode: VerifyReplicate, K: MaxReplicas}).MaxRuns() {
		t.Fatalf("MaxJobRuns %d is not the runs of replicate:%d", MaxJobRuns, MaxReplicas)
	}
	for _, c := range []struct {
		price    int64
		verify   string
		overflow bool
	}{
		{2049638230412172402, "replicate:6", true}, // wrapped to 2 before
		{2305843009213693951, "replicate:3", true}, // a 500 before
		{MaxPriceCap + 1, "", false},               // fits, but above the cap every spec shares
		{0, "", false},
	} {
		s := goodJobSpec()
		s.MaxPrice, s.Verify = c.price, c.verify
		got, err := s.MaxCost()
		var fe *FieldError
		if err == nil || !errors.As(err, &fe) || fe.Field != "max_price" || !errors.Is(err, ErrRange) {
			t.Errorf("MaxCost(%d, %q) = %d, %v; want a max_price field error", c.price, c.verify, got, err)
			continue
		}
		if errors.Is(err, ErrOverflow) != c.overflow {
			t.Errorf("MaxCost(%d, %q): %v: overflow %v, want %v", c.price, c.verify, err, errors.Is(err, ErrOverflow), c.overflow)
		}
		if c.price > 0 && !strings.Contains(err.Error(), fmt.Sprint("at most ", int64(MaxPriceCap))) {
			t.Errorf("%v does not name the largest allowed max price", err)
		}
	}
	s := goodJobSpec()
	s.Verify = "replicate:99"
	if _, err := s.MaxCost(); !errors.Is(err, ErrInvalid) {
		t.Errorf("MaxCost of replicate:99: %v", err)
	}
}

// Sentinels carry the package prefix; inside a field error only their
// words show, and both the kind and the cause are reachable.
func TestFieldErrorShape(t *testing.T) {
	for _, e := range []error{ErrRequired, ErrInvalid, ErrRange, ErrTooLarge, ErrOverflow} {
		if !strings.HasPrefix(e.Error(), "market: ") {
			t.Errorf("sentinel %q lacks the package prefix", e)
		}
	}
	s := goodJobSpec()
	s.MaxPrice, s.Verify = 2049638230412172402, "replicate:6"
	_, err := s.MaxCost()
	want := "market: invalid job spec: max_price: is out of range: must be at most 709490156681136600: " +
		"max_price × 9 runs (what replicate:6 may need) does not fit in an int64 (got 2049638230412172402)"
	if err == nil || err.Error() != want {
		t.Fatalf("error\n got %v\nwant %s", err, want)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || !errors.Is(fe, ErrRange) || !errors.Is(fe, ErrOverflow) || fe.Value != s.MaxPrice {
		t.Fatalf("field error %#v does not unwrap to both ErrRange and ErrOverflow", fe)
	}
}

// A field error built from another error keeps it reachable.
func TestFieldErrorCause(t *testing.T) {
	s := goodJobSpec()
	s.Module.CID = "Qmnotacid"
	err := s.Validate()
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "module.cid" || !errors.Is(fe, ErrInvalid) {
		t.Fatalf("%v: want a module.cid field error of kind ErrInvalid", err)
	}
	if !strings.HasPrefix(fe.Error(), "module.cid: is invalid: canon: ") {
		t.Fatalf("message %q", fe)
	}
	// The cause (canon's CID error) is reachable, not only printed.
	var causes int
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if strings.HasPrefix(e.Error(), "canon: ") {
			causes++
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		}
	}
	walk(fe)
	if causes == 0 {
		t.Fatalf("%v: the cause is not in the error tree", fe)
	}
}

func TestJobSpecDefaults(t *testing.T) {
	var s JobSpec
	s.Defaults()
	want := JobSpec{Runtime: RuntimeWasm, MemoryBytes: DefaultMemory, TimeoutMs: DefaultTimeout.Milliseconds(),
		MaxOutputBytes: DefaultMaxOutput, DeadlineMs: 3*DefaultTimeout.Milliseconds() + 30_000, Verify: "none"}
	if s.Digest() != want.Digest() {
		t.Fatalf("defaults %+v, want %+v", s, want)
	}
	// Set fields are kept; the deadline follows a set timeout.
	s = JobSpec{TimeoutMs: 2000, MemoryBytes: 1 << 20, Verify: "x"}
	s.Defaults()
	if s.TimeoutMs != 2000 || s.MemoryBytes != 1<<20 || s.Verify != "x" || s.DeadlineMs != 36_000 {
		t.Fatalf("defaults overrode set fields: %+v", s)
	}
	s = JobSpec{DeadlineMs: time.Hour.Milliseconds()}
	s.Defaults()
	if s.DeadlineMs != time.Hour.Milliseconds() {
		t.Fatalf("deadline %d", s.DeadlineMs)
	}
	before := s.Digest()
	s.Defaults()
	if s.Digest() != before {
		t.Fatal("Defaults is not idempotent")
	}
}

func TestJobSpecNeeds(t *testing.T) {
	s := goodJobSpec()
	s.Capabilities = []Capability{"gpu/nvidia/h100"}
	n := s.Needs()
	if len(n.Capabilities) != 2 || n.Capabilities[0] != RuntimeWasm || n.Capabilities[1] != "gpu/nvidia/h100" {
		t.Fatalf("capabilities %v: the runtime must come first", n.Capabilities)
	}
	if n.InputBytes != 110 || n.ModuleBytes != 1<<20 || n.Module != fzModule || n.MaxPrice != 100 {
		t.Fatalf("needs %+v", n)
	}
}

// A wasm job that asks for neither CPUs nor GPUs encodes exactly as
// before those fields existed, so nodes of the previous version take its
// calls and awards and its digest (idempotency keys) is unchanged.
func TestWasmEncodingUnchanged(t *testing.T) {
	type legacyNeeds struct {
		Capabilities []Capability `cbor:"caps"`
		MemoryBytes  int64        `cbor:"memory"`
		TimeoutMs    int64        `cbor:"timeout_ms"`
		Module       string       `cbor:"module"`
		ModuleBytes  int64        `cbor:"module_size"`
		InputBytes   int64        `cbor:"input_size"`
		MaxPrice     int64        `cbor:"max_price"`
		ValueOfTime  int64        `cbor:"value_of_time"`
	}
	type legacyRun struct {
		Module         Blob              `cbor:"module"`
		Stdin          *Blob             `cbor:"stdin"`
		Inputs         []Input           `cbor:"inputs"`
		Args           []string          `cbor:"args"`
		Env            map[string]string `cbor:"env"`
		MemoryBytes    int64             `cbor:"memory"`
		TimeoutMs      int64             `cbor:"timeout_ms"`
		MaxOutputBytes int64             `cbor:"max_output"`
	}
	s := goodJobSpec()
	n := s.Needs()
	old := legacyNeeds{n.Capabilities, n.MemoryBytes, n.TimeoutMs, n.Module, n.ModuleBytes, n.InputBytes, n.MaxPrice, n.ValueOfTime}
	if !bytes.Equal(canon.MustMarshal(n), canon.MustMarshal(old)) {
		t.Fatal("a wasm job's needs encode differently from before")
	}
	run := RunSpec{Runtime: s.runRuntime(), Module: s.Module, Stdin: s.Stdin, Inputs: s.Inputs, Args: s.Args, Env: s.Env,
		MemoryBytes: s.MemoryBytes, TimeoutMs: s.TimeoutMs, MaxOutputBytes: s.MaxOutputBytes}
	oldRun := legacyRun{s.Module, s.Stdin, s.Inputs, s.Args, s.Env, s.MemoryBytes, s.TimeoutMs, s.MaxOutputBytes}
	if !bytes.Equal(canon.MustMarshal(run), canon.MustMarshal(oldRun)) {
		t.Fatal("a wasm job's run spec encodes differently from before")
	}
	// An explicit zero is not canonical: one encoding per meaning.
	withZero := struct {
		legacyNeeds
		CPUs int64 `cbor:"cpus"`
	}{legacyNeeds: old}
	var back Needs
	if err := canon.Unmarshal(canon.MustMarshal(withZero), &back); !errors.Is(err, canon.ErrNonCanonical) {
		t.Fatalf("needs with an explicit cpus 0 decoded: %v", err)
	}
}
