package exectest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hayek-market/hayek/exec"
)

// runStopped runs a job that only a limit or ctx can end, and checks it
// returned within stopBound.
func runStopped(t *testing.T, ctx context.Context, e exec.Executor, job exec.Job) (exec.Result, error) {
	t.Helper()
	start := time.Now()
	res, err := e.Run(ctx, job)
	if d := time.Since(start); d > stopBound {
		t.Errorf("Run(%s %q) took %s to stop", job.ID, job.Args, d)
	}
	return res, err
}

func (s *suite) timeout(t *testing.T) {
	e := s.start(t)
	for _, args := range [][]string{{"spin"}, {"flood"}, {"alloc"}} {
		job := s.toolbox("timeout", args...)
		job.Limits.Timeout = 50 * time.Millisecond
		job.Limits.MemoryBytes = 512 << 20 // alloc should run into the time limit first
		job.Limits.StdoutBytes = 100
		res, err := runStopped(t, t.Context(), e, job)
		if err != nil {
			t.Fatalf("%s: %v", args, err)
		}
		if args[0] == "alloc" && res.Status == exec.StatusMemoryLimit {
			continue // a fast machine can fill 512 MiB in 50ms; either limit stopped it
		}
		expect(t, res, exec.StatusTimeout)
		// How much the flood wrote before the limit depends on the
		// machine's speed; only the cap is certain.
		if len(res.Stdout) > 100 {
			t.Errorf("%s: %d bytes of stdout kept, above the 100-byte limit", args, len(res.Stdout))
		}
		s.noLeaks(t, e, fmt.Sprintf("after %s ran into its time limit", args))
	}
}

// timeoutStopsEveryProcess: the time limit ends the whole job, the
// children it forked included, and leaves nothing behind.
func (s *suite) timeoutStopsEveryProcess(t *testing.T) {
	e := s.start(t)
	job := s.job("fork", Fork, "8")
	if !s.Processes {
		expect(t, run(t, e, job), exec.StatusExit) // it cannot fork: it says so and exits 1
		return
	}
	job.Limits.Timeout = 2 * time.Second // long enough to fork, on a slow machine too
	res, err := runStopped(t, t.Context(), e, job)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, res, exec.StatusTimeout)
	s.noLeaks(t, e, "after a job with 8 children ran into its time limit")
}

// cancelStopsEveryProcess: ending the caller's context ends the whole
// job, its children included, and leaves nothing behind by the time Run
// returns.
func (s *suite) cancelStopsEveryProcess(t *testing.T) {
	e := s.start(t)
	job := s.job("fork", Fork, "8")
	if !s.Processes {
		expect(t, run(t, e, job), exec.StatusExit) // it cannot fork: it says so and exits 1
		return
	}
	job.Limits.Timeout = time.Hour
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	res, err := runStopped(t, ctx, e, job)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run: %v (status %s), want context.DeadlineExceeded", err, res.Status)
	}
	s.noLeaks(t, e, "right after Run of a job with 8 children returned for its cancelled context")
}

// forkBomb: a job that forks without end is stopped at the executor's
// process limit, with a reason, and leaves nothing behind.
func (s *suite) forkBomb(t *testing.T) {
	e := s.start(t)
	job := s.job("fork", Fork, "1000")
	job.Limits.Timeout = 30 * time.Second
	res, err := runStopped(t, t.Context(), e, job)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status == exec.StatusOK || res.Error == "" {
		t.Errorf("fork 1000: status %s, error %q; want it stopped, and why\nstdout: %.300s\nstderr: %.300s", res.Status, res.Error, res.Stdout, res.Stderr)
	}
	if s.Processes && strings.Contains(string(res.Stdout), "forked 1000 children") {
		t.Errorf("a job forked 1000 children: no process limit")
	}
	s.noLeaks(t, e, "after a fork bomb")
}

func (s *suite) contextCancel(t *testing.T) {
	e := s.start(t)
	job := s.toolbox("cancel", "spin")
	job.Limits.Timeout = time.Hour

	// A deadline on the caller's context, not the job's limit, ends the run.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := runStopped(t, ctx, e, job)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run with a 50ms context: err = %v, want context.DeadlineExceeded", err)
	}

	s.noLeaks(t, e, "after a run stopped by its context's deadline")

	// Cancelled while running, from another goroutine.
	ctx, cancelCause := context.WithCancelCause(t.Context())
	stop := errors.New("requester withdrew the job")
	done := make(chan error, 1)
	go func() {
		_, err := runStopped(t, ctx, e, job)
		done <- err
	}()
	cancelCause(stop)
	if err := <-done; !errors.Is(err, stop) && !errors.Is(err, context.Canceled) {
		t.Errorf("Run cancelled with a cause: err = %v, want the cause or context.Canceled", err)
	}
	s.noLeaks(t, e, "after a cancelled run")

	// Already cancelled.
	ctx, cancel = context.WithCancel(t.Context())
	cancel()
	if _, err := e.Run(ctx, s.toolbox("cancelled", "exit", "0")); !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a cancelled context: err = %v, want context.Canceled", err)
	}
}

func (s *suite) memoryLimit(t *testing.T) {
	e := s.start(t)
	const limit = 32 << 20
	job := s.toolbox("alloc", "alloc")
	job.Limits.MemoryBytes = limit
	job.Limits.Timeout = 5 * time.Minute // the memory limit, not time, must end it
	res, err := runStopped(t, t.Context(), e, job)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, res, exec.StatusMemoryLimit)
	s.noLeaks(t, e, "after a run stopped at its memory limit")
	if res.Usage.MemoryBytes > limit {
		t.Errorf("peak memory %d bytes, above the %d limit", res.Usage.MemoryBytes, limit)
	}

	// The same module within a roomier limit is fine.
	job = s.toolbox("small", "exit", "0")
	job.Limits.MemoryBytes = limit
	expectOK(t, run(t, e, job))
}

func (s *suite) stdoutFloodBoundedMemory(t *testing.T) {
	e := s.start(t)
	expectOK(t, run(t, e, s.toolbox("warm", "exit", "0"))) // compile outside the measurement

	const flood = 256 << 20
	job := s.toolbox("flood", "flood", fmt.Sprint(flood))
	job.Limits.StdoutBytes = 1000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res := run(t, e, job)
	runtime.ReadMemStats(&after)
	expectOK(t, res)
	if len(res.Stdout) != 1000 || !res.StdoutTruncated || string(res.Stdout) != strings.Repeat("x", 1000) {
		t.Errorf("stdout: %d bytes, truncated %v; want the first 1000 bytes and truncated", len(res.Stdout), res.StdoutTruncated)
	}
	// Everything the run allocated, garbage included, stays far below the
	// 256 MiB written: the flood was not buffered.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > flood/4 {
		t.Errorf("a run flooding %d MiB of stdout allocated %d MiB in this process", flood>>20, alloc>>20)
	}
}

func (s *suite) logLimits(t *testing.T) {
	e := s.start(t)
	job := s.toolbox("stderr", "flood", fmt.Sprint(1<<20), "stderr")
	job.Limits.StderrBytes = 100
	res := run(t, e, job)
	expectOK(t, res)
	if len(res.Stderr) != 100 || !res.StderrTruncated || res.StdoutTruncated || len(res.Stdout) != 0 {
		t.Errorf("stderr %d bytes truncated %v, stdout %d bytes truncated %v; want 100 true, 0 false",
			len(res.Stderr), res.StderrTruncated, len(res.Stdout), res.StdoutTruncated)
	}

	// Exactly at the limit is not truncated.
	job = s.toolbox("exact", "flood", "100")
	job.Limits.StdoutBytes = 100
	res = run(t, e, job)
	expectOK(t, res)
	if len(res.Stdout) != 100 || res.StdoutTruncated {
		t.Errorf("stdout %d bytes truncated %v; want 100 false", len(res.Stdout), res.StdoutTruncated)
	}
}

func (s *suite) outputLimits(t *testing.T) {
	e := s.start(t)
	for _, tc := range []struct {
		name   string
		args   []string
		limits exec.Limits
		want   exec.Status
	}{
		{"too many files", []string{"write", "4", "10"}, exec.Limits{OutputFiles: 3}, exec.StatusOutputLimit},
		{"too many bytes", []string{"write", "1", "5000"}, exec.Limits{OutputBytes: 4096}, exec.StatusOutputLimit},
		{"too many bytes in total", []string{"write", "3", "2000"}, exec.Limits{OutputBytes: 4096}, exec.StatusOutputLimit},
		{"exactly at both limits", []string{"write", "3", "100"}, exec.Limits{OutputFiles: 3, OutputBytes: 300}, exec.StatusOK},
		// Empty directories are no outputs, but cost the host memory or
		// inodes all the same.
		{"directories count as files", []string{"fsops", "mkdir", "/out/a", "mkdir", "/out/b", "mkdir", "/out/c"}, exec.Limits{OutputFiles: 2}, exec.StatusOutputLimit},
		{"a file in a directory at the limit", []string{"fsops", "mkdir", "/out/a", "write", "/out/a/f", "x"}, exec.Limits{OutputFiles: 2}, exec.StatusOK},
	} {
		job := s.toolbox("out", tc.args...)
		job.Limits = tc.limits
		res := run(t, e, job)
		if res.Status != tc.want {
			t.Errorf("%s: status %s (%s), want %s", tc.name, res.Status, res.Error, tc.want)
			continue
		}
		var total int64
		for _, f := range res.Outputs {
			total += int64(len(f.Data))
		}
		if (tc.limits.OutputFiles > 0 && len(res.Outputs) > tc.limits.OutputFiles) ||
			(tc.limits.OutputBytes > 0 && total > tc.limits.OutputBytes) {
			t.Errorf("%s: returned %d files, %d bytes: beyond the limits %+v", tc.name, len(res.Outputs), total, tc.limits)
		}
		if tc.want == exec.StatusOutputLimit && res.Error == "" {
			t.Errorf("%s: output_limit without an error detail", tc.name)
		}
	}
}

// scratchTmpCountsAsMemory: files in /tmp live in memory the job's limit
// pays for, so filling /tmp beyond it ends the run like memory would.
func (s *suite) scratchTmpCountsAsMemory(t *testing.T) {
	e := s.start(t)
	const limit = 32 << 20
	job := s.toolbox("fill", "fsops", "fill", "/tmp/big", fmt.Sprint(limit))
	job.Limits.MemoryBytes = limit
	res, err := runStopped(t, t.Context(), e, job)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, res, exec.StatusMemoryLimit)
	if res.Error == "" {
		t.Error("memory_limit without an error detail")
	}

	job = s.toolbox("fill", "fsops", "fill", "/tmp/small", fmt.Sprint(4<<20))
	job.Limits.MemoryBytes = limit
	expectOK(t, run(t, e, job))
}

// cpuQuota: a job's own CPUs is the quota its run is held to, as the
// kernel or engine reports it while the job runs. Nothing is timed: the
// setting is read back, not the speed measured.
func (s *suite) cpuQuota(t *testing.T) {
	if s.CPUQuotas == nil {
		t.Skip("the executor does not enforce a job's CPUs")
	}
	e := s.start(t)
	const want = 0.25
	job := s.toolbox("cpu-quota", "spin")
	job.Limits.CPUs = want
	job.Limits.Timeout = time.Hour
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := e.Run(ctx, job)
		done <- err
	}()
	deadline := time.Now().Add(stopBound)
	var seen []float64
	for found := false; !found; {
		seen = s.CPUQuotas(e)
		for _, q := range seen {
			found = found || math.Abs(q-want) < 1e-6
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a job asking for %v CPUs never ran under that quota; the runs in flight had %v", want, seen)
		}
		select {
		case err := <-done:
			t.Fatalf("the spinning job ended (%v) before its quota of %v CPUs was seen; last seen %v", err, want, seen)
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err == nil {
		t.Error("a cancelled run returned no error")
	}
	s.noLeaks(t, e, "after a job with a CPU quota was cancelled")
}
