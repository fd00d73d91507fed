// Package samples holds the WebAssembly modules that tests, benchmarks and
// demos run, compiled and committed so that a fresh clone needs neither wabt
// nor a wasip1 build to use them. scripts/gen-samples rebuilds them
// reproducibly from their sources here; `scripts/gen-samples --check` fails
// when a committed module no longer matches its source. The same toolbox
// built as a static Linux executable, for the executors that run native
// programs, is in package native.
//
// Hello (hello.wat, a few hundred bytes) writes "hello from hayek\n" and then
// copies stdin to stdout. It is the smallest real WASI command: warm-start
// benchmarks and smoke tests use it.
//
// Toolbox (toolbox/, a Go program built with GOOS=wasip1, about 3 MB) has one
// subcommand per behaviour an executor must handle, chosen with argv[1]:
//
//	hello                print "hello from hayek", then copy stdin to stdout
//	                     (hello.wasm's behaviour, for executors without it)
//	args                 print argv, one per line
//	env                  print the environment, sorted
//	upper                copy stdin to stdout upper-cased
//	cat FILE...          copy files to stdout
//	wc [FILE...]         count lines, words and bytes of stdin or of files
//	sha256               hash every file in /in; print the manifest and write
//	                     it to /out/manifest.sha256
//	ls DIR               list DIR with mode, size and mtime
//	write N SIZE         write N files of SIZE bytes to /out
//	touch PATH           create PATH; exit 1 if that fails
//	fsops OP ARGS...     run file operations (mkdir, write, append, fill,
//	                     cat, ls, rm, rmall, mv, stat, chtimes, symlink,
//	                     link, now), printing each outcome; "cd DIR" makes
//	                     later paths relative to os.OpenRoot(DIR)
//	readhost             try to reach the host file system; print "denied"
//	                     or "REACHED" per attempt
//	readfile PATH...     print a SHA-256 of each file's bytes or directory's
//	                     names, or the error, so a test can tell whether
//	                     the job read the host's own
//	dial NET:ADDR...     try to connect (tcp:, udp:, unix:PATH, unix:@NAME);
//	                     print "connected" or "failed (...)" per address
//	fork N               fork N children that sleep, then sleep; exit 1 if
//	                     a fork fails (not supported on wasip1)
//	escape               try what breaks out of containers (namespaces,
//	                     mounts, ptrace, io_uring, BPF, keyrings...), undoing
//	                     any that works; print "denied" or "ALLOWED" per
//	                     attempt (linux/amd64 only)
//	rand                 print crypto/rand and math/rand bytes, map order and
//	                     both clocks (for determinism tests)
//	primes N             count primes below N by trial division (CPU-bound)
//	spin                 loop forever
//	alloc                allocate 1 MiB blocks forever
//	flood [BYTES] [stdout|stderr]
//	                     write BYTES, or without end, to stdout or stderr
//	exit CODE            exit with CODE
//	trap                 load outside linear memory: a wasm trap; natively
//	                     a segfault, after which the runtime dies by SIGABRT
//
// An unknown subcommand prints the list to stderr and exits 2; a failing one
// prints its error to stderr and exits 1. The toolbox also builds natively
// (it is the native side of exec/wasm's speed benchmark, and what
// exec/process runs in its conformance suite).
package samples
