package exectest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/internal/samples"
)

// stopBound is how long a run that must be stopped (time limit, cancelled
// context, Close) may take to return. It only catches a run that was not
// stopped at all; it is not a performance assertion.
const stopBound = 30 * time.Second

var (
	helloCID   = cidOf(samples.Hello)
	toolboxCID = cidOf(samples.Toolbox)
)

func cidOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Run runs the conformance suite. newExecutor returns a fresh executor for
// one subtest; the suite closes it.
func Run(t *testing.T, newExecutor func(t *testing.T) exec.Executor) {
	s := &suite{newExecutor: newExecutor}
	// Sequential first: it measures the process's allocations, which
	// parallel subtests would disturb.
	t.Run("StdoutFloodBoundedMemory", s.stdoutFloodBoundedMemory)
	for _, tc := range []struct {
		name string
		test func(*testing.T)
	}{
		{"Hello", s.hello},
		{"ArgsEnvStdin", s.argsEnvStdin},
		{"Inputs", s.inputs},
		{"InputsReadOnly", s.inputsReadOnly},
		{"Outputs", s.outputs},
		{"NestedOutputs", s.nestedOutputs},
		{"RelativePaths", s.relativePaths},
		{"ScratchTmp", s.scratchTmp},
		{"ScratchTmpCountsAsMemory", s.scratchTmpCountsAsMemory},
		{"ExitCode", s.exitCode},
		{"Trap", s.trap},
		{"Timeout", s.timeout},
		{"ContextCancel", s.contextCancel},
		{"MemoryLimit", s.memoryLimit},
		{"LogLimits", s.logLimits},
		{"OutputLimits", s.outputLimits},
		{"BadModule", s.badModule},
		{"NoHostFileSystem", s.noHostFileSystem},
		{"Determinism", s.determinism},
		{"Concurrent", s.concurrent},
		{"Close", s.close},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t)
		})
	}
}

type suite struct {
	newExecutor func(t *testing.T) exec.Executor
}

// start returns a fresh executor that is closed when the test ends.
func (s *suite) start(t *testing.T) exec.Executor {
	t.Helper()
	e := s.newExecutor(t)
	t.Cleanup(func() {
		// t.Context() is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), stopBound)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

func toolbox(id string, args ...string) exec.Job {
	return exec.Job{ID: id, ModuleCID: toolboxCID, Module: samples.Toolbox, Args: args}
}

func hello(id string, stdin string) exec.Job {
	return exec.Job{ID: id, ModuleCID: helloCID, Module: samples.Hello, Stdin: []byte(stdin)}
}

func run(t *testing.T, e exec.Executor, job exec.Job) exec.Result {
	t.Helper()
	res, err := e.Run(t.Context(), job)
	if err != nil {
		t.Fatalf("Run(%s %q): %v", job.ID, job.Args, err)
	}
	return res
}

// expect fails the test unless res has the status, showing what the job
// said about itself.
func expect(t *testing.T, res exec.Result, status exec.Status) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status = %s (exit %d, error %q), want %s\nstdout: %.500s\nstderr: %.500s",
			res.Status, res.ExitCode, res.Error, status, res.Stdout, res.Stderr)
	}
}

func expectOK(t *testing.T, res exec.Result) {
	t.Helper()
	expect(t, res, exec.StatusOK)
	if res.ExitCode != 0 {
		t.Fatalf("status ok with exit code %d", res.ExitCode)
	}
}

func expectStdout(t *testing.T, res exec.Result, want string) {
	t.Helper()
	if string(res.Stdout) != want {
		t.Fatalf("stdout = %q, want %q (stderr %q)", res.Stdout, want, res.Stderr)
	}
}

func (s *suite) hello(t *testing.T) {
	e := s.start(t)
	res := run(t, e, hello("hello", "from stdin\n"))
	expectOK(t, res)
	expectStdout(t, res, "hello from hayek\nfrom stdin\n")
	if len(res.Stderr) != 0 || res.StdoutTruncated || res.StderrTruncated || len(res.Outputs) != 0 {
		t.Errorf("unexpected extras: stderr %q, truncated %v/%v, outputs %d",
			res.Stderr, res.StdoutTruncated, res.StderrTruncated, len(res.Outputs))
	}
	if res.Usage.Wall <= 0 || res.Usage.MemoryBytes <= 0 {
		t.Errorf("usage = %+v, want positive wall time and memory", res.Usage)
	}
}

func (s *suite) argsEnvStdin(t *testing.T) {
	e := s.start(t)

	args := []string{"one", "two words", "", "ünïcödé", "--flag=x"}
	res := run(t, e, toolbox("args", append([]string{"args"}, args...)...))
	expectOK(t, res)
	lines := strings.Split(strings.TrimSuffix(string(res.Stdout), "\n"), "\n")
	if len(lines) != len(args)+2 || lines[0] == "" || lines[1] != "args" || !slices.Equal(lines[2:], args) {
		t.Errorf("argv = %q, want [argv0 args %q]", lines, args)
	}

	job := toolbox("env", "env")
	job.Env = map[string]string{"HAYEK_A": "1", "B": "x=y", "EMPTY": "", "Z": "ünï"}
	res = run(t, e, job)
	expectOK(t, res)
	// Exactly these: nothing from the host's environment leaks in.
	expectStdout(t, res, "B=x=y\nEMPTY=\nHAYEK_A=1\nZ=ünï\n")

	job = toolbox("upper", "upper")
	job.Stdin = []byte("hello, wörld\nline two\n")
	res = run(t, e, job)
	expectOK(t, res)
	expectStdout(t, res, "HELLO, WÖRLD\nLINE TWO\n")

	big := bytes.Repeat([]byte("abcdefgh\n"), 1<<17) // 1.1 MiB of stdin
	job = toolbox("wc", "wc")
	job.Stdin = big
	res = run(t, e, job)
	expectOK(t, res)
	expectStdout(t, res, fmt.Sprintf("%d %d %d\n", 1<<17, 1<<17, len(big)))
}

func sampleInputs() []exec.File {
	bin := make([]byte, 256)
	for i := range bin {
		bin[i] = byte(i)
	}
	return []exec.File{
		{Name: "b.bin", Data: bin},
		{Name: "a.txt", Data: []byte("alpha\nbeta gamma\n")},
		{Name: "empty", Data: nil},
	}
}

func (s *suite) inputs(t *testing.T) {
	e := s.start(t)
	inputs := sampleInputs()
	var manifest strings.Builder
	for _, name := range []string{"a.txt", "b.bin", "empty"} {
		i := slices.IndexFunc(inputs, func(f exec.File) bool { return f.Name == name })
		sum := sha256.Sum256(inputs[i].Data)
		fmt.Fprintf(&manifest, "%s  %s\n", hex.EncodeToString(sum[:]), name)
	}

	job := toolbox("sha256", "sha256")
	job.Inputs = inputs
	res := run(t, e, job)
	expectOK(t, res)
	expectStdout(t, res, manifest.String())
	if len(res.Outputs) != 1 || res.Outputs[0].Name != "manifest.sha256" || string(res.Outputs[0].Data) != manifest.String() {
		t.Errorf("outputs = %v, want manifest.sha256 with the manifest", names(res.Outputs))
	}

	job = toolbox("cat", "cat", "/in/a.txt", "/in/empty")
	job.Inputs = inputs
	res = run(t, e, job)
	expectOK(t, res)
	expectStdout(t, res, "alpha\nbeta gamma\n")

	job = toolbox("wc", "wc", "/in/a.txt")
	job.Inputs = inputs
	res = run(t, e, job)
	expectOK(t, res)
	expectStdout(t, res, "2 3 17 /in/a.txt\n")
}

func (s *suite) inputsReadOnly(t *testing.T) {
	e := s.start(t)
	for _, path := range []string{"/in/a.txt", "/in/new.txt", "/in"} {
		inputs := sampleInputs()
		job := toolbox("touch", "touch", path)
		job.Inputs = inputs
		res := run(t, e, job)
		expect(t, res, exec.StatusExit)
		if res.ExitCode != 1 {
			t.Errorf("touch %s: exit %d, want 1 (stderr %q)", path, res.ExitCode, res.Stderr)
		}
		if !slices.EqualFunc(inputs, sampleInputs(), func(a, b exec.File) bool {
			return a.Name == b.Name && bytes.Equal(a.Data, b.Data)
		}) {
			t.Errorf("touch %s changed the job's input data", path)
		}
		if len(res.Outputs) != 0 {
			t.Errorf("touch %s: outputs %v, want none", path, names(res.Outputs))
		}
	}
}

func names(files []exec.File) []string {
	s := make([]string, len(files))
	for i, f := range files {
		s[i] = f.Name
	}
	return s
}

func (s *suite) outputs(t *testing.T) {
	e := s.start(t)
	res := run(t, e, toolbox("write", "write", "12", "10"))
	expectOK(t, res)
	if len(res.Outputs) != 12 {
		t.Fatalf("outputs = %v, want 12 files", names(res.Outputs))
	}
	if !slices.IsSortedFunc(res.Outputs, func(a, b exec.File) int { return strings.Compare(a.Name, b.Name) }) {
		t.Errorf("outputs not sorted by name: %v", names(res.Outputs))
	}
	for i, f := range res.Outputs {
		want := make([]byte, 10)
		for j := range want {
			want[j] = byte('a' + (i+j)%26)
		}
		if f.Name != fmt.Sprintf("file-%04d", i) || !bytes.Equal(f.Data, want) {
			t.Errorf("output %d = %s %q, want file-%04d %q", i, f.Name, f.Data, i, want)
		}
	}

	res = run(t, e, toolbox("touch", "touch", "/out/touched"))
	expectOK(t, res)
	if len(res.Outputs) != 1 || res.Outputs[0].Name != "touched" || string(res.Outputs[0].Data) != "touched\n" {
		t.Errorf("outputs = %v, want touched", names(res.Outputs))
	}
}

// nestedOutputs: directories in /out can be made, renamed and removed,
// and the files left in them come back named by their path, sorted.
func (s *suite) nestedOutputs(t *testing.T) {
	e := s.start(t)
	res := run(t, e, toolbox("tree", "fsops",
		"mkdirall", "/out/a/b", "write", "/out/a/b/c", "deep", "write", "/out/a/x", "x",
		"mkdir", "/out/empty", "mkdir", "/out/gone", "write", "/out/gone/f", "f", "rmall", "/out/gone",
		"mv", "/out/a/b", "/out/moved", "write", "/out/a-z", "sorts before a/", "write", "/out/top", "top",
		"ls", "/out", "ls", "/out/a"))
	expectOK(t, res)
	for _, line := range []string{"ls /out: a/ a-z empty/ moved/ top\n", "ls /out/a: x\n"} {
		if !strings.Contains(string(res.Stdout), line) {
			t.Errorf("stdout lacks %q:\n%s", line, res.Stdout)
		}
	}
	want := []exec.File{
		{Name: "a-z", Data: []byte("sorts before a/")},
		{Name: "a/x", Data: []byte("x")},
		{Name: "moved/c", Data: []byte("deep")},
		{Name: "top", Data: []byte("top")},
	}
	if !slices.EqualFunc(res.Outputs, want, func(a, b exec.File) bool { return a.Name == b.Name && bytes.Equal(a.Data, b.Data) }) {
		t.Errorf("outputs = %v, want %v (files only, by path, sorted)", names(res.Outputs), names(want))
	}
}

// relativePaths: a program that opens a directory itself (os.OpenRoot,
// openat) reaches the files below it through that descriptor.
func (s *suite) relativePaths(t *testing.T) {
	e := s.start(t)
	job := toolbox("root", "fsops",
		"cd", "/out", "mkdir", "d", "write", "d/f", "in d", "write", "top", "top", "mv", "top", "d/top", "ls", "d",
		"cd", "/in", "cat", "a.txt", "ls", ".")
	job.Inputs = sampleInputs()
	res := run(t, e, job)
	expectOK(t, res)
	for _, line := range []string{"ls d: f top\n", `cat a.txt: "alpha\nbeta gamma\n"` + "\n", "ls .: a.txt b.bin empty\n"} {
		if !strings.Contains(string(res.Stdout), line) {
			t.Errorf("stdout lacks %q:\n%s", line, res.Stdout)
		}
	}
	if got := fmt.Sprint(names(res.Outputs)); got != "[d/f d/top]" {
		t.Errorf("outputs = %s, want [d/f d/top]", got)
	}
}

func (s *suite) exitCode(t *testing.T) {
	e := s.start(t)
	for _, code := range []int32{1, 3, 42, 255} {
		res := run(t, e, toolbox("exit", "exit", fmt.Sprint(code)))
		expect(t, res, exec.StatusExit)
		if res.ExitCode != code {
			t.Errorf("exit %d: got code %d", code, res.ExitCode)
		}
	}
	expectOK(t, run(t, e, toolbox("exit0", "exit", "0")))

	res := run(t, e, toolbox("unknown", "no-such-command"))
	expect(t, res, exec.StatusExit)
	if res.ExitCode != 2 || !strings.Contains(string(res.Stderr), "unknown command") {
		t.Errorf("unknown command: exit %d, stderr %q; want exit 2 and the usage on stderr", res.ExitCode, res.Stderr)
	}
}

func (s *suite) trap(t *testing.T) {
	e := s.start(t)
	res := run(t, e, toolbox("trap", "trap"))
	expect(t, res, exec.StatusTrap)
	if res.Error == "" {
		t.Error("trap without an error detail")
	}
}

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
		job := toolbox("timeout", args...)
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
	}
}

func (s *suite) contextCancel(t *testing.T) {
	e := s.start(t)
	job := toolbox("cancel", "spin")
	job.Limits.Timeout = time.Hour

	// A deadline on the caller's context, not the job's limit, ends the run.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := runStopped(t, ctx, e, job)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run with a 50ms context: err = %v, want context.DeadlineExceeded", err)
	}

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

	// Already cancelled.
	ctx, cancel = context.WithCancel(t.Context())
	cancel()
	if _, err := e.Run(ctx, toolbox("cancelled", "exit", "0")); !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a cancelled context: err = %v, want context.Canceled", err)
	}
}

func (s *suite) memoryLimit(t *testing.T) {
	e := s.start(t)
	const limit = 32 << 20
	job := toolbox("alloc", "alloc")
	job.Limits.MemoryBytes = limit
	job.Limits.Timeout = 5 * time.Minute // the memory limit, not time, must end it
	res, err := runStopped(t, t.Context(), e, job)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, res, exec.StatusMemoryLimit)
	if res.Usage.MemoryBytes > limit {
		t.Errorf("peak memory %d bytes, above the %d limit", res.Usage.MemoryBytes, limit)
	}

	// The same module within a roomier limit is fine.
	job = toolbox("small", "exit", "0")
	job.Limits.MemoryBytes = limit
	expectOK(t, run(t, e, job))
}

func (s *suite) stdoutFloodBoundedMemory(t *testing.T) {
	e := s.start(t)
	expectOK(t, run(t, e, toolbox("warm", "exit", "0"))) // compile outside the measurement

	const flood = 256 << 20
	job := toolbox("flood", "flood", fmt.Sprint(flood))
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
	job := toolbox("stderr", "flood", fmt.Sprint(1<<20), "stderr")
	job.Limits.StderrBytes = 100
	res := run(t, e, job)
	expectOK(t, res)
	if len(res.Stderr) != 100 || !res.StderrTruncated || res.StdoutTruncated || len(res.Stdout) != 0 {
		t.Errorf("stderr %d bytes truncated %v, stdout %d bytes truncated %v; want 100 true, 0 false",
			len(res.Stderr), res.StderrTruncated, len(res.Stdout), res.StdoutTruncated)
	}

	// Exactly at the limit is not truncated.
	job = toolbox("exact", "flood", "100")
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
		job := toolbox("out", tc.args...)
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

// Hand-assembled modules for the bad-module cases: each is valid
// WebAssembly that is not a runnable WASI preview 1 command.
var (
	// (module)
	emptyModule = []byte("\x00asm\x01\x00\x00\x00")
	// (module (import "env" "launch_missiles" (func)) (func (export "_start")))
	foreignImportModule = []byte("\x00asm\x01\x00\x00\x00" +
		"\x01\x04\x01\x60\x00\x00" + // type 0: () -> ()
		"\x02\x17\x01\x03env\x0flaunch_missiles\x00\x00" + // import env.launch_missiles: func type 0
		"\x03\x02\x01\x00" + // one function of type 0
		"\x07\x0a\x01\x06_start\x00\x01" + // export it as _start
		"\x0a\x04\x01\x02\x00\x0b") // its body: end
)

func (s *suite) badModule(t *testing.T) {
	e := s.start(t)
	for _, tc := range []struct {
		name   string
		module []byte
	}{
		{"text", []byte("#!/bin/sh\necho this is not wasm\n")},
		{"ELF", []byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00")},
		{"truncated", samples.Toolbox[:4096]},
		{"component", []byte("\x00asm\x0d\x00\x01\x00")},
		{"no _start", emptyModule},
		{"foreign import", foreignImportModule},
	} {
		job := exec.Job{ID: "bad", ModuleCID: cidOf(tc.module), Module: tc.module}
		res := run(t, e, job)
		if res.Status != exec.StatusBadModule || res.Error == "" {
			t.Errorf("%s: status %s error %q, want bad_module with a reason", tc.name, res.Status, res.Error)
		}
		// Asking again gives the same answer (an executor may remember it).
		if res2 := run(t, e, job); res2.Status != exec.StatusBadModule {
			t.Errorf("%s, second run: status %s", tc.name, res2.Status)
		}
	}
}

func (s *suite) noHostFileSystem(t *testing.T) {
	e := s.start(t)
	job := toolbox("readhost", "readhost")
	job.Inputs = sampleInputs()
	res := run(t, e, job)
	expectOK(t, res)
	lines := strings.Split(strings.TrimSpace(string(res.Stdout)), "\n")
	if len(lines) < 10 {
		t.Fatalf("readhost printed %d lines, want one per probe:\n%s", len(lines), res.Stdout)
	}
	for _, l := range lines {
		if !strings.Contains(l, ": denied (") {
			t.Errorf("host file system reachable: %s", l)
		}
	}
	for _, path := range []string{"/out/../escape", "/escape", "/tmp/../escape"} {
		res := run(t, e, toolbox("touch", "touch", path))
		expect(t, res, exec.StatusExit)
	}
	// /tmp is the job's own: what it writes there never reaches the host.
	name := fmt.Sprintf("hayek-exectest-%d", os.Getpid())
	res = run(t, e, toolbox("touch", "touch", "/tmp/"+name))
	expectOK(t, res)
	if _, err := os.Stat(filepath.Join(os.TempDir(), name)); !errors.Is(err, os.ErrNotExist) {
		os.Remove(filepath.Join(os.TempDir(), name))
		t.Errorf("a job's /tmp/%s reached the host's temporary directory (stat: %v)", name, err)
	}
}

// scratchTmp: /tmp is writable and empty at every start, holds
// directories, and nothing in it is an output.
func (s *suite) scratchTmp(t *testing.T) {
	e := s.start(t)
	res := run(t, e, toolbox("tmp", "fsops",
		"ls", "/tmp", "write", "/tmp/a", "scratch", "mkdir", "/tmp/d", "write", "/tmp/d/f", "x",
		"mv", "/tmp/a", "/tmp/d/a", "cat", "/tmp/d/a", "ls", "/tmp/d", "write", "/out/result", "done"))
	expectOK(t, res)
	for _, line := range []string{"ls /tmp: ok\n", `cat /tmp/d/a: "scratch"` + "\n", "ls /tmp/d: a f\n"} {
		if !strings.Contains(string(res.Stdout), line) {
			t.Errorf("stdout lacks %q:\n%s", line, res.Stdout)
		}
	}
	if got := fmt.Sprint(names(res.Outputs)); got != "[result]" {
		t.Errorf("outputs = %s, want only [result]: /tmp is not collected", got)
	}
	// A run does not see what an earlier one left in /tmp.
	res = run(t, e, toolbox("tmp2", "fsops", "ls", "/tmp"))
	expectOK(t, res)
	expectStdout(t, res, "ls /tmp: ok\n")
}

// scratchTmpCountsAsMemory: files in /tmp live in memory the job's limit
// pays for, so filling /tmp beyond it ends the run like memory would.
func (s *suite) scratchTmpCountsAsMemory(t *testing.T) {
	e := s.start(t)
	const limit = 32 << 20
	job := toolbox("fill", "fsops", "fill", "/tmp/big", fmt.Sprint(limit))
	job.Limits.MemoryBytes = limit
	res, err := runStopped(t, t.Context(), e, job)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, res, exec.StatusMemoryLimit)
	if res.Error == "" {
		t.Error("memory_limit without an error detail")
	}

	job = toolbox("fill", "fsops", "fill", "/tmp/small", fmt.Sprint(4<<20))
	job.Limits.MemoryBytes = limit
	expectOK(t, run(t, e, job))
}

func (s *suite) determinism(t *testing.T) {
	e1, e2 := s.start(t), s.start(t)
	jobs := []exec.Job{
		toolbox("det-1", "rand"),
		toolbox("det-1", "ls", "/in"),
		toolbox("det-1", "sha256"),
		toolbox("det-1", "readhost"),
		// File times are part of what a job sees.
		toolbox("det-1", "fsops", "write", "/out/f", "x", "now", "append", "/out/f", "y", "mkdir", "/out/d",
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
	a := run(t, e1, toolbox("det-1", "rand"))
	b := run(t, e1, toolbox("det-2", "rand"))
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
				job = hello(fmt.Sprint("c", i), stdin)
				check = func(r exec.Result) error {
					if r.Status != exec.StatusOK || string(r.Stdout) != "hello from hayek\n"+stdin {
						return fmt.Errorf("hello: %s %q", r.Status, r.Stdout)
					}
					return nil
				}
			case 1:
				job = toolbox(fmt.Sprint("c", i), "upper")
				job.Stdin = []byte(fmt.Sprintf("job %d", i))
				check = func(r exec.Result) error {
					if r.Status != exec.StatusOK || string(r.Stdout) != fmt.Sprintf("JOB %d", i) {
						return fmt.Errorf("upper: %s %q", r.Status, r.Stdout)
					}
					return nil
				}
			case 2:
				job = toolbox(fmt.Sprint("c", i), "exit", fmt.Sprint(i))
				check = func(r exec.Result) error {
					if r.Status != exec.StatusExit || r.ExitCode != int32(i) {
						return fmt.Errorf("exit %d: %s %d", i, r.Status, r.ExitCode)
					}
					return nil
				}
			case 3:
				job = toolbox(fmt.Sprint("c", i), "spin")
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
	e := s.newExecutor(t) // closed here, not by start's cleanup
	job := toolbox("spin", "spin")
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
	if _, err := e.Run(t.Context(), hello("after", "")); !errors.Is(err, exec.ErrClosed) {
		t.Errorf("Run after Close: err = %v, want exec.ErrClosed", err)
	}
}
