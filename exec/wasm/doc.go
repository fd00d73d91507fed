// Package wasm is hayek's default sandbox: an exec.Executor that runs
// WebAssembly modules written for WASI preview 1 in wazero, inside the node
// process, with hard limits and byte-for-byte reproducible results.
//
// # Driving it
//
//	e, err := wasm.New(ctx, wasm.DefaultConfig())  // one per node
//	defer e.Close(ctx)
//	res, err := e.Run(ctx, exec.Job{...})          // from any goroutine
//
// Run returns an error only for a malformed Job (ErrInvalidJob), after
// Close (exec.ErrClosed), when ctx ends first (wrapping ctx's cause), or
// when the executor itself fails. Everything the module does is a Result:
//
//	ok            _start returned, or the module called proc_exit(0)
//	exit          proc_exit with another code (ExitCode holds it)
//	trap          unreachable, out-of-bounds access, stack overflow, division by zero...
//	timeout       Limits.Timeout passed, counted from the start of instantiation
//	memory_limit  the module needed more than Limits.MemoryBytes for its linear
//	              memory and its files in /tmp together, at start, on a
//	              memory.grow or on a write to /tmp; the run stops at that
//	              instruction or call
//	output_limit  a write, create or mkdir in /out went past Limits.OutputBytes
//	              or Limits.OutputFiles; the run stops at that call
//	bad_module    not WebAssembly, invalid, a component, no _start, or imports
//	              other than wasi_snapshot_preview1
//
// Outputs are returned for ok, exit and trap, where the module stopped by
// itself at a point every replica reaches; after a limit or a timeout the
// files are partial and would differ, so none are returned. Stdout and
// stderr are always returned, truncated to their limits.
//
// CheckModule is the cheap test a requester can run at submit time (magic,
// version and section framing: under a microsecond for a 3 MB module);
// Precompile is the full check, and warms the cache.
//
// # What a job sees
//
// argv is ArgV0 ("job") followed by Job.Args. The environment is exactly
// Job.Env, in sorted order, and nothing of the host's. Stdin is Job.Stdin.
// /in holds Job.Inputs, read-only, as a flat directory of regular files.
// /out is an empty, writable directory kept in memory, where the job may
// make subdirectories, rename and remove files and directories. The
// regular files left under /out when the module ends are the outputs,
// named by their path below /out ("dir/file") and sorted by it; empty
// directories leave no trace. Paths work the same whether the program
// uses absolute paths or reaches files through a directory it opened
// itself (os.OpenRoot, openat). /tmp is a writable scratch directory,
// empty at every start, also in memory: its files count against the job's
// memory limit and are not outputs. Renaming between /tmp and /out fails
// (ENOSYS, from wazero; a program that falls back to copying on a failed
// rename works). There is nothing else: no "/", no host path, no socket,
// no network.
//
// Links, symbolic or hard, are not supported: making one fails with
// ENOTSUP (after the errno any file system would give for that path:
// EEXIST, ENOENT, ENOTDIR, EROFS), so nothing can point outside the tree
// or make one file two outputs. chmod, which WASI preview 1 cannot ask
// for anyway, fails with ENOTSUP too.
//
// All metadata is deterministic: fixed modes, inode numbers in name or
// creation order, sorted listings, and times from the job's fake clock:
// the epoch for /in; for the rest, the clock's latest reading (taken
// without advancing it) when a file or directory is made, written,
// renamed or removed, or what the job sets with utimes. Reading leaves
// the access time alone, as with noatime.
//
// Time and randomness are deterministic. The wall clock reads as wazero's
// default fake clock (from 2022-01-01, 1 ms more per reading; the executor
// keeps its own copy, clock.go, so file times can follow it), the
// monotonic clock is wazero's fake one, and sleeping returns at once;
// random_get reads ChaCha8 keyed by SHA-256 of the job ID.
// So two runs of one job — on one provider or on two replicas — produce
// the same bytes, and jobs with different IDs draw different randomness.
// Threads are not enabled. One source of divergence remains in the
// WebAssembly standard itself: the bit pattern of a NaN produced by float
// arithmetic may differ between CPU architectures.
//
// # Limits, and how each is enforced
//
// Memory: every run gets its own experimental.MemoryAllocator, which backs
// linear memory with a Go slice and refuses growth past the job's limit.
// wazero's own limit, RuntimeConfig.WithMemoryLimitPages, is per runtime,
// and a runtime per limit would split the compiled-module cache. The
// refusal panics out of the host call with an internal error, which is
// also how wazero's proc_exit unwinds the guest: the run stops at the
// exact instruction, identically on every replica. Files in /tmp share
// the limit: their bytes, plus 1 KiB for each file or directory (more than
// the host spends on one, so millions of empty ones run into the limit),
// and the linear memory's current size stay within it, whichever grows;
// the check is on sizes every replica computes alike. Usage.MemoryBytes
// is the peak linear memory, without /tmp. Linear memory never takes more
// than the limit (growth doubles capacity, capped at the limit); file
// buffers in /tmp and /out are charged by their length and may hold up to
// twice that while they grow. A provider must size its limits ×
// concurrency to its RAM.
//
// Stdout, stderr: the first N bytes are kept, the rest counted and
// dropped, and the guest is told every write succeeded, so its behaviour
// does not depend on the cap. A module flooding stdout costs no memory.
//
// /out: the quota counts the bytes and the entries, files and directories
// alike, alive at any moment (an entry counts until removed and closed),
// so Limits.OutputFiles also bounds how many empty directories a job can
// make; growth is charged before it is allocated, so writing one byte at
// offset 2^62 fails without allocating. Names are at most 255 bytes.
//
// Time: see the next section. A cancelled ctx and Close stop a run the same
// way.
//
// # Speed: why modules are instrumented
//
// Go cannot preempt a goroutine while it runs wazero's machine code. So an
// in-process executor must get the guest back into Go regularly: to stop it
// at a time limit, and to let the garbage collector stop the world (a
// guest that never calls the host would otherwise freeze the whole node).
// wazero's WithCloseOnContextDone does this by calling into Go at every
// function entry and loop iteration. Measured on this project's 2-core
// machine (AMD EPYC, Go 1.26, wazero 1.12.0; other work was running, so
// absolute times vary by 2x between runs while the ratios, measured
// interleaved in one benchmark, hold), counting primes below 10^6 by trial
// division, the toolbox's `primes` subcommand, a fresh process or instance
// per run:
//
//	go test -run '^$' -bench PrimesRatio -benchtime 5x ./exec/wasm
//
//	                                           one run    ratio       over three runs
//	native binary                              129 ms
//	wazero compiler, plain                     162 ms     1.26x native    1.26-1.35x
//	wazero compiler, WithCloseOnContextDone   1968 ms     12.1x plain     10.9-13.5x
//	this executor (instrumented, see below)    212 ms     1.31x plain     1.16-1.31x
//	                                                      1.65x native    1.57-1.73x
//
// A 12x slowdown of CPU-bound jobs is not acceptable for a compute market,
// and a plain runtime cannot enforce a time limit at all. A child process
// per run, killed at the deadline, would keep the plain speed but pay
// process start-up plus loading machine code from the disk cache (44-108 ms
// for the Go-built toolbox) on every run, or a pool of worker processes and
// an IPC protocol. Instead, before compiling, the executor rewrites each
// module (interrupt.go): every loop head counts in a local, every function
// that makes calls counts in a global, and once every 65536 counts the
// guest enters Go through a memory.grow of 0 pages and checks a stop flag.
// The count is a register add, mask and branch per loop iteration (a load,
// store and branch per call): the 16-31% above, on about the tightest loop
// there is. The guest reaches Go at least every few tens of microseconds,
// so a garbage collection while a guest spins in `loop br 0` took 0.4-2 ms
// here, as without it (15 ms at worst under load), and a cancelled run
// stopped within 0.1-0.2 ms (TestGarbageCollectionWhileGuestSpins hangs
// without the poll). The rewrite gives the same bytes for the same module,
// so the disk cache still hits.
//
// # Cache and start-up latency
//
// Compiled modules are kept in memory by CID (Config.MaxCachedModules,
// Config.MaxCachedBytes, least recently used out; a module still running is
// freed only when its last run ends), and, with Config.CacheDir, on disk by
// wazero, keyed by the hash of the instrumented bytes, wazero's version and
// the CPU. Concurrent first runs of one CID compile once; modules found bad
// are remembered, so a module submitted again is refused without
// compiling. The executor trusts Job.ModuleCID to name Job.Module: the node
// checks every blob against its CID before it gets here. A Job may omit
// Module when its CID is cached (after Precompile). Measured as above:
//
//	go test -run '^$' -bench 'WarmStart|ColdCompile' -benchtime 10x ./exec/wasm
//
//	warm run, hello.wasm (337 B, hand-written)           14-31 µs
//	warm run, toolbox.wasm (3 MB, Go), `toolbox args`    4.0-5.4 ms (mostly Go's runtime start-up)
//	cold compile, hello.wasm                             0.4-0.7 ms
//	cold compile, toolbox.wasm, 1 compile worker         0.8-1.3 s
//	cold compile, toolbox.wasm, 2 compile workers        0.46 s idle, up to 2.6 s when the other core is busy
//	toolbox.wasm from a warm CacheDir (node restart)     44-108 ms
//	CheckModule(toolbox.wasm)                            0.25-0.5 µs
//
// Timeout counts from instantiation, so a cold compile is the provider's
// cost, not the job's.
//
// # Concurrency
//
// An Executor is safe for concurrent use. Each run has its own memory, file
// systems and buffers, touched only by the goroutine running the guest;
// the compiled code is shared. Close stops running jobs (their Run returns
// exec.ErrClosed), waits for them and for compilations in progress, and
// frees everything.
package wasm
