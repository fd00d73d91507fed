package exectest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hayek-market/hayek/exec"
)

// stopBound is how long a run that must be stopped (time limit, cancelled
// context, Close) may take to return. It only catches a run that was not
// stopped at all; it is not a performance assertion, so it is far beyond
// what the work takes on a loaded machine (filling 32 MiB of /tmp under
// the race detector with both cores taken by other work took 36 s).
const stopBound = 3 * time.Minute

// Behaviour names a program the suite runs by what it does; each executor
// supplies its own form of it (Target.Program). The names are the
// subcommands of internal/samples/toolbox, which every executor so far
// runs in its native form (toolbox.wasm; a static Linux executable), plus
// Hello.
type Behaviour string

// The behaviours. Arguments follow the behaviour's own program arguments.
const (
	Hello    Behaviour = "hello"           // print "hello from hayek\n", then copy stdin to stdout
	Args     Behaviour = "args"            // print argv, one per line
	Env      Behaviour = "env"             // print the environment, sorted
	Upper    Behaviour = "upper"           // copy stdin to stdout upper-cased
	Cat      Behaviour = "cat"             // FILE...: copy files to stdout
	Wc       Behaviour = "wc"              // [FILE...]: count lines, words, bytes
	Sha256   Behaviour = "sha256"          // hash /in, print and write /out/manifest.sha256
	Write    Behaviour = "write"           // N SIZE: write N files to /out
	Touch    Behaviour = "touch"           // PATH: create PATH, exit 1 on failure
	FSOps    Behaviour = "fsops"           // OP ARGS...: file operations, one line each
	ReadHost Behaviour = "readhost"        // probe the host file system (fixed list)
	ReadFile Behaviour = "readfile"        // PATH...: digest what each path holds
	Dial     Behaviour = "dial"            // NET:ADDR...: try to connect, one line each
	Fork     Behaviour = "fork"            // N: fork N sleeping children, then sleep; exit 1 if a fork fails
	Rand     Behaviour = "rand"            // print randomness and clocks
	Primes   Behaviour = "primes"          // N: count primes below N (CPU-bound)
	Spin     Behaviour = "spin"            // loop forever
	Alloc    Behaviour = "alloc"           // allocate and touch 1 MiB blocks forever
	Flood    Behaviour = "flood"           // [BYTES] [stdout|stderr]: write without end
	Exit     Behaviour = "exit"            // CODE: exit with CODE
	Trap     Behaviour = "trap"            // fault: a wasm trap, natively death by a signal
	Ls       Behaviour = "ls"              // DIR: list DIR with mode, size and mtime
	Usage    Behaviour = "no-such-command" // print the usage to stderr and exit 2
)

// Program is an executor's form of one behaviour: the module to run and
// the arguments that select the behaviour, put before the behaviour's own.
type Program struct {
	CID    string
	Module []byte
	Args   []string
}

// ToolboxPrograms maps every behaviour to the toolbox subcommand of the
// same name, in the module given (the toolbox built for the executor).
func ToolboxPrograms(cid string, toolbox []byte) func(Behaviour) Program {
	return func(b Behaviour) Program {
		return Program{CID: cid, Module: toolbox, Args: []string{string(b)}}
	}
}

// Target is the executor under test and what the suite needs to drive it.
type Target struct {
	// New returns a fresh executor for one subtest, with default limits
	// no tighter than the suite's jobs need (a few seconds of wall time,
	// 64 MiB of memory). The suite closes it.
	New func(t *testing.T) exec.Executor

	// Program returns the executor's form of b. Required.
	Program func(b Behaviour) Program

	// Leaks lists what e has left on the host and not cleaned up, one
	// line each: processes, mounts, cgroups, containers, temporary
	// directories. The suite calls it when no run of e is in flight —
	// after cancelled, timed-out and stopped runs, and after Close — and
	// fails on anything listed. Nil for an executor that keeps nothing
	// outside the Go heap (exec/wasm); the checks then only check the runs.
	Leaks func(e exec.Executor) []string

	// BadModules are modules, by name, the executor must refuse with
	// StatusBadModule. The suite adds its own: a shell script, a bare
	// ELF header, a truncated toolbox.
	BadModules map[string][]byte

	// Processes is true when jobs can start processes (fork, exec): the
	// suite then checks that time limits, cancellation and the process
	// limit reach every one of them. Otherwise it checks that Fork fails.
	Processes bool

	// CPUQuotas reads back, from the kernel or the engine, the CPU quota
	// in cores of each of e's runs in flight (0 for a run without one).
	// The suite then checks that a job's exec.Limits.CPUs is the quota its
	// run gets. Nil for an executor that does not enforce a job's CPUs
	// (exec/wasm runs one thread).
	CPUQuotas func(e exec.Executor) []float64

	// Deterministic is true when the executor promises the same bytes for
	// the same job (a fake clock, randomness seeded by the job ID), as
	// exec/wasm does: the suite then checks it.
	Deterministic bool
}

// Run runs the conformance suite against target.
func Run(t *testing.T, target Target) {
	if target.New == nil || target.Program == nil {
		t.Fatal("exectest: Target needs New and Program")
	}
	s := &suite{Target: target}
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
		{"TimeoutStopsEveryProcess", s.timeoutStopsEveryProcess},
		{"ContextCancel", s.contextCancel},
		{"CancelStopsEveryProcess", s.cancelStopsEveryProcess},
		{"ForkBomb", s.forkBomb},
		{"MemoryLimit", s.memoryLimit},
		{"CPUQuota", s.cpuQuota},
		{"LogLimits", s.logLimits},
		{"OutputLimits", s.outputLimits},
		{"BadModule", s.badModule},
		{"NoHostFiles", s.noHostFiles},
		{"NoWritesOutside", s.noWritesOutside},
		{"NoNetwork", s.noNetwork},
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
	Target
}

// start returns a fresh executor that is closed when the test ends, and
// then must have left nothing behind.
func (s *suite) start(t *testing.T) exec.Executor {
	t.Helper()
	e := s.New(t)
	t.Cleanup(func() {
		// t.Context() is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), stopBound)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		s.noLeaks(t, e, "after Close")
	})
	return e
}

// noLeaks fails the test if the executor, with no run in flight, left
// anything on the host.
func (s *suite) noLeaks(t *testing.T, e exec.Executor, when string) {
	t.Helper()
	if s.Leaks == nil {
		return
	}
	if leaks := s.Leaks(e); len(leaks) > 0 {
		t.Errorf("%s, the executor left behind:\n\t%s", when, strings.Join(leaks, "\n\t"))
	}
}

// job is a run of behaviour b with args, in the executor's form.
func (s *suite) job(id string, b Behaviour, args ...string) exec.Job {
	p := s.Program(b)
	return exec.Job{ID: id, ModuleCID: p.CID, Module: p.Module, Args: append(slices.Clip(p.Args), args...)}
}

// toolbox is a run of the toolbox subcommand args[0] with the rest.
func (s *suite) toolbox(id string, args ...string) exec.Job {
	return s.job(id, Behaviour(args[0]), args[1:]...)
}

func (s *suite) helloJob(id string, stdin string) exec.Job {
	job := s.job(id, Hello)
	job.Stdin = []byte(stdin)
	return job
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

// cidOf names a module the suite makes up.
func cidOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
