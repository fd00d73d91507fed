// Package exec owns the sandboxes jobs run in. Executor is the interface the
// node drives: it hands over a Job (module bytes and CID, args, env, stdin,
// inputs, limits) and gets back a Result (status, exit code, captured and
// possibly truncated stdout/stderr, files from /out, usage), or an error
// when the executor itself failed.
//
// Implementations live in subpackages: exec/wasm (wazero, the default) and,
// later, process and docker. exec/exectest is the conformance suite every
// implementation passes unchanged.
package exec
