// Package exec owns the sandboxes jobs run in. Executor is the interface the
// node drives: it hands over a Job (module bytes and CID, args, env, stdin,
// inputs, limits) and gets back a Result (status, exit code, captured and
// possibly truncated stdout/stderr, files from /out, usage), or an error
// when the executor itself failed.
//
// Implementations live in subpackages: exec/wasm (wazero, WASI preview 1,
// the default), exec/process (a static native program in new namespaces
// with cgroups, seccomp and Landlock) and exec/docker (container images
// through the Docker Engine API). exec/exectest is the conformance suite
// every implementation passes unchanged: each says how it runs a set of
// named behaviours and what it could leak, and the suite checks limits,
// cancellation, outputs and isolation. exec/gpu finds NVIDIA GPUs and
// hands them to jobs whole.
//
// Each implementation validates its Config the same way: a field that is
// wrong is an exec.ConfigError wrapping the package's own sentinel (an
// InvalidConfig, such as wasm.ErrInvalidConfig) and the reason, and
// Limits.Validate checks the default limits every executor falls back on.
package exec
