// Package exectest is the conformance suite for exec.Executor: every
// sandbox (exec/wasm today, process and docker later) runs it unchanged from
// its own tests, the way go-libp2p's transports run transport/testsuite:
//
//	func TestConformance(t *testing.T) {
//		exectest.Run(t, func(t *testing.T) exec.Executor {
//			e, err := wasm.New(t.Context(), wasm.DefaultConfig())
//			if err != nil {
//				t.Fatal(err)
//			}
//			return e
//		})
//	}
//
// The suite pins what the node relies on, not how an executor does it:
// argv/env/stdin reach the job and stdout/stderr come back; inputs are
// readable at /in/<name> and cannot be changed; files written to /out, in
// directories too, come back named by their path and sorted, also when
// the program reached them through a directory it opened itself
// (os.OpenRoot); directories count against the output file limit; /tmp
// is a writable scratch directory, empty at every start, never collected
// and never the host's, whose files count against the memory limit; exit
// codes, traps, time, memory, log and output limits end in the right
// Status; a cancelled context stops a run; a job cannot see the host file
// system; the same job gives the same bytes (file times included) twice
// and different job IDs get different randomness; runs are safe
// concurrently; Run after Close fails with exec.ErrClosed.
//
// It runs the sample modules of internal/samples. newExecutor is called once
// per subtest and must return a fresh executor with default limits no
// tighter than the suite's jobs need (a few seconds of wall time, 64 MiB of
// memory); the suite closes it. Subtests run in parallel. Nothing measures
// speed: time limits are small and checked by Status, with only a generous
// sanity bound on how long a stopped run may take to return.
package exectest
