package exectest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hayek-market/hayek/exec"
)

// badModule: what is not a program for the executor is refused with a
// reason: the suite's generic cases, and the target's own.
func (s *suite) badModule(t *testing.T) {
	e := s.start(t)
	toolbox := s.Program(Args).Module
	cases := map[string][]byte{
		"shell script":     []byte("#!/bin/sh\necho this is not a program\n"),
		"ELF header alone": []byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00"),
		"truncated":        toolbox[:min(4096, len(toolbox)/2)],
		"text":             []byte("hello, I am not a module"),
	}
	for name, module := range s.BadModules {
		cases[name] = module
	}
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		module := cases[name]
		job := exec.Job{ID: "bad", ModuleCID: cidOf(module), Module: module}
		res := run(t, e, job)
		if res.Status != exec.StatusBadModule || res.Error == "" {
			t.Errorf("%s: status %s error %q, want bad_module with a reason", name, res.Status, res.Error)
		}
		// Asking again gives the same answer (an executor may remember it).
		if res2 := run(t, e, job); res2.Status != exec.StatusBadModule {
			t.Errorf("%s, second run: status %s", name, res2.Status)
		}
	}
}

// determinism: an executor that promises it gives the same bytes for the
// same job, and other randomness to other job IDs.
func (s *suite) determinism(t *testing.T) {
	if !s.Deterministic {
		t.Skip("the executor does not promise deterministic runs (real clocks and randomness)")
	}
	e1, e2 := s.start(t), s.start(t)
	jobs := []exec.Job{
		s.toolbox("det-1", "rand"),
		s.toolbox("det-1", "ls", "/in"),
		s.toolbox("det-1", "sha256"),
		s.toolbox("det-1", "readhost"),
		// File times are part of what a job sees.
		s.toolbox("det-1", "fsops", "write", "/out/f", "x", "now", "append", "/out/f", "y", "mkdir", "/out/d",
			"stat", "/out/f", "stat", "/out/d", "stat", "/in/a.txt"),
	}
	for _, job := range jobs {
		job.Inputs = sampleInputs()
		a := run(t, e1, job)
		b := run(t, e1, job)
		c := run(t, e2, job) // a fresh executor: nothing carried over
		for _, r := range []exec.Result{a, b, c} {
			expectOK(t, r)
		}
		if !sameOutcome(a, b) || !sameOutcome(a, c) {
			t.Errorf("%q differs between runs of the same job:\n%s\n--\n%s\n--\n%s", job.Args, a.Stdout, b.Stdout, c.Stdout)
		}
	}

	// The job ID seeds randomness: another job draws other bytes.
	a := run(t, e1, s.toolbox("det-1", "rand"))
	b := run(t, e1, s.toolbox("det-2", "rand"))
	if randLine(a.Stdout) == randLine(b.Stdout) {
		t.Errorf("jobs det-1 and det-2 drew the same random bytes: %s", randLine(a.Stdout))
	}
}

func randLine(stdout []byte) string {
	for l := range strings.SplitSeq(string(stdout), "\n") {
		if strings.HasPrefix(l, "crypto/rand:") {
			return l
		}
	}
	return ""
}

func sameOutcome(a, b exec.Result) bool {
	return a.Status == b.Status && a.ExitCode == b.ExitCode &&
		bytes.Equal(a.Stdout, b.Stdout) && bytes.Equal(a.Stderr, b.Stderr) &&
		slices.EqualFunc(a.Outputs, b.Outputs, func(x, y exec.File) bool {
			return x.Name == y.Name && bytes.Equal(x.Data, y.Data)
		})
}

func (s *suite) concurrent(t *testing.T) {
	e := s.start(t)
	const n = 16
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var (
				job   exec.Job
				check func(exec.Result) error
			)
			switch i % 4 {
			case 0:
				stdin := fmt.Sprintf("run %d\n", i)
				job = s.helloJob(fmt.Sprint("c", i), stdin)
				check = func(r exec.Result) error {
					if r.Status != exec.StatusOK || string(r.Stdout) != "hello from hayek\n"+stdin {
						return fmt.Errorf("hello: %s %q", r.Status, r.Stdout)
					}
					return nil
				}
			case 1:
				job = s.toolbox(fmt.Sprint("c", i), "upper")
				job.Stdin = []byte(fmt.Sprintf("job %d", i))
				check = func(r exec.Result) error {
					if r.Status != exec.StatusOK || string(r.Stdout) != fmt.Sprintf("JOB %d", i) {
						return fmt.Errorf("upper: %s %q", r.Status, r.Stdout)
					}
					return nil
				}
			case 2:
				job = s.toolbox(fmt.Sprint("c", i), "exit", fmt.Sprint(i))
				check = func(r exec.Result) error {
					if r.Status != exec.StatusExit || r.ExitCode != int32(i) {
						return fmt.Errorf("exit %d: %s %d", i, r.Status, r.ExitCode)
					}
					return nil
				}
			case 3:
				job = s.toolbox(fmt.Sprint("c", i), "spin")
				job.Limits.Timeout = 20 * time.Millisecond
				check = func(r exec.Result) error {
					if r.Status != exec.StatusTimeout {
						return fmt.Errorf("spin: %s", r.Status)
					}
					return nil
				}
			}
			res, err := e.Run(t.Context(), job)
			if err == nil {
				err = check(res)
			}
			if err != nil {
				t.Errorf("concurrent run %d: %v", i, err)
			}
		})
	}
	wg.Wait()
}

func (s *suite) close(t *testing.T) {
	e := s.New(t) // closed here, not by start's cleanup
	job := s.toolbox("spin", "spin")
	job.Limits.Timeout = time.Hour

	done := make(chan error, 1)
	go func() {
		_, err := runStopped(t, t.Context(), e, job)
		done <- err
	}()
	// Whether Close comes before or during the run, the run must end with
	// ErrClosed.
	ctx, cancel := context.WithTimeout(t.Context(), stopBound)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-done; !errors.Is(err, exec.ErrClosed) {
		t.Errorf("run during Close: err = %v, want exec.ErrClosed", err)
	}
	if _, err := e.Run(t.Context(), s.helloJob("after", "")); !errors.Is(err, exec.ErrClosed) {
		t.Errorf("Run after Close: err = %v, want exec.ErrClosed", err)
	}
}
