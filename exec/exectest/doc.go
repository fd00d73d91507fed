// Package exectest is the conformance suite for exec.Executor: every
// sandbox (exec/wasm, exec/process, exec/docker) runs it unchanged from its
// own tests, the way go-libp2p's transports run transport/testsuite:
//
//	func TestConformance(t *testing.T) {
//		exectest.Run(t, exectest.Target{
//			New: func(t *testing.T) exec.Executor {
//				e, err := process.New(t.Context(), process.DefaultConfig())
//				if errors.Is(err, process.ErrUnavailable) {
//					t.Skip(err) // say why this host cannot run it
//				}
//				...
//				return e
//			},
//			Program:   exectest.ToolboxPrograms(cid, native.Toolbox),
//			Leaks:     func(e exec.Executor) []string { return e.(*process.Executor).Leaks() },
//			Processes: true,
//		})
//	}
//
// # How an executor plugs in
//
// The suite is written in terms of Behaviours ("print argv", "dial these
// addresses", "fork N children", "allocate without end", "write a tree
// into /out"...), and the Target says how the executor runs each: a module
// (bytes and CID) and the arguments that select the behaviour. Every
// executor so far runs internal/samples/toolbox, one program with a
// subcommand per behaviour, in its own form: ToolboxPrograms maps each
// behaviour to the subcommand of that name in the module given
// (toolbox.wasm for exec/wasm, which brings its hand-written hello.wasm for
// Hello; the static Linux toolbox of internal/samples/native for
// exec/process; an image holding it for exec/docker).
//
// Target.Leaks lists what an executor left on the host — processes,
// mounts, cgroups, containers, temporary directories — and the suite
// calls it whenever no run is in flight: after every timed-out, cancelled
// or killed run and after Close, failing on anything listed. BadModules
// adds the executor's own refusals to the suite's generic ones (a script,
// a bare ELF header, a truncated toolbox). Processes says jobs can fork,
// so limits and cancellation must reach every process; Deterministic says
// the executor promises byte-identical runs, which the suite then checks.
//
// # What it pins
//
// What the node relies on, not how an executor does it: argv/env/stdin
// reach the job and stdout/stderr come back, capped, without the node
// buffering a flood; inputs are readable at /in/<name> and cannot be
// changed; files written to /out, in directories too, come back named by
// their path and sorted, also when the program reached them through a
// directory it opened itself (os.OpenRoot); directories count against the
// output file limit; /tmp is a writable scratch directory, empty at every
// start, never collected and never the host's, whose files count against
// the memory limit; exit codes, traps, time, memory, log and output limits
// end in the right Status; a time limit and a cancelled context stop the
// job and every process it started, and leave nothing behind; a fork bomb
// is stopped with a reason; a job reads no host file (a secret the test
// plants, by any path: absolute, escaping a mount, through /proc), writes
// nowhere but /out and /tmp, and reaches no listener on the host's
// loopback (TCP, UDP, Unix sockets by path and abstract); runs are safe
// concurrently; Run after Close fails with exec.ErrClosed; and, for an
// executor that gives Target.CPUQuotas, a job's exec.Limits.CPUs is the
// CPU quota its run gets, read back from the kernel or engine while the
// job runs (a setting, never a speed).
//
// New is called once per subtest and must return a fresh executor with
// default limits no tighter than the suite's jobs need (a few seconds of
// wall time, 64 MiB of memory); the suite closes it. Subtests run in
// parallel. Nothing measures speed: time limits are small and checked by
// Status, with only a generous sanity bound on how long a stopped run may
// take to return.
package exectest
