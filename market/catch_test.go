package market

import (
	"errors"
	"testing"

	"github.com/hayek-market/hayek/internal/canon"
)

func TestSpecDigestIsAttemptIndependent(t *testing.T) {
	base := RunSpec{Module: Blob{CID: fzModule, Size: 10}, Inputs: []Input{{Name: "a", Blob: Blob{CID: fzInput, Size: 1}}},
		Args: []string{"x"}, Env: map[string]string{"K": "v"}, MemoryBytes: 1 << 20, TimeoutMs: 1000, MaxOutputBytes: 1 << 20}
	same := base
	same.MemoryBytes, same.TimeoutMs, same.MaxOutputBytes, same.CPUMilli = 2<<20, 500, 2<<20, 100 // limits differ between check runs
	if SpecDigest(base) != SpecDigest(same) {
		t.Error("limits changed the spec digest")
	}
	wasm := base
	wasm.Runtime = RuntimeWasm
	if SpecDigest(base) != SpecDigest(wasm) {
		t.Error("the default runtime, named, changed the spec digest")
	}
	for name, f := range map[string]func(*RunSpec){
		"module":  func(r *RunSpec) { r.Module.CID = fzInput },
		"stdin":   func(r *RunSpec) { r.Stdin = &Blob{CID: fzInput} },
		"inputs":  func(r *RunSpec) { r.Inputs = nil },
		"args":    func(r *RunSpec) { r.Args = []string{"y"} },
		"env":     func(r *RunSpec) { r.Env = map[string]string{"K": "w"} },
		"runtime": func(r *RunSpec) { r.Runtime = "runtime/process" },
	} {
		other := base
		f(&other)
		if SpecDigest(base) == SpecDigest(other) {
			t.Errorf("another %s, the same spec digest", name)
		}
	}
}

// A run stopped by a limit is no proof of a wrong output: where a limit
// bites depends on the machine.
func TestOpenCatchRefusesALimitHit(t *testing.T) {
	ids := newFzIDs()
	run := func(job, p string, st Status, out string) CaughtRun {
		a := Award{Job: job, Attempt: 1, Requester: fzReq, Provider: p, Run: RunSpec{Module: Blob{CID: fzModule}}}
		env := fzSeal(t, ids, KindAward, a)
		r := Result{Job: job, Attempt: 1, Award: env.CID(), Provider: p, Requester: fzReq, Status: st,
			Stdout: Stream{Blob: Blob{CID: canon.BlobCID([]byte(out)).String()}}}
		return CaughtRun{Award: env.Encode(), Result: fzSeal(t, ids, KindResult, r).Encode()}
	}
	c := Catch{Job: "j", Spec: SpecDigest(RunSpec{Module: Blob{CID: fzModule}}), Reporter: fzReq,
		Accused: run("j", "p1", StatusOK, "wrong"), Checkers: []CaughtRun{run("j-s1", "p2", StatusOK, "right")}}
	p, err := OpenCatch(ids, c)
	if err != nil || p.Accused != "p1" || len(p.Checkers) != 1 || p.Checkers[0] != "p2" || p.Capability != RuntimeWasm {
		t.Fatalf("valid catch: %+v, %v", p, err)
	}
	c.Accused = run("j", "p1", StatusTimeout, "")
	if _, err := OpenCatch(ids, c); !errors.Is(err, ErrCatch) {
		t.Fatalf("a timed-out run accused: %v, want ErrCatch", err)
	}
	c.Accused = run("j", fzReq, StatusOK, "wrong")
	if _, err := OpenCatch(ids, c); !errors.Is(err, ErrCatch) {
		t.Fatalf("the reporter accused itself: %v, want ErrCatch", err)
	}
}
