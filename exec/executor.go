package exec

import (
	"context"
	"errors"
	"time"
)

// Job is one run of a module with its inputs and limits. Module bytes are
// given with their CID so executors can cache compiled modules by CID.
type Job struct {
	ID        string // seeds deterministic randomness, names the run in logs
	ModuleCID string
	Module    []byte
	Args      []string // argv[1:]; argv[0] is fixed by the executor ("job" for wasm)
	Env       map[string]string
	Stdin     []byte
	Inputs    []File // mounted read-only at /in/<name>
	Limits    Limits
}

// File is a named blob.
type File struct {
	Name string
	Data []byte
}

// Limits are hard caps on a run. Zero means the executor's default.
type Limits struct {
	MemoryBytes int64         // linear memory and files in /tmp together, rounded down to 64 KiB pages
	Timeout     time.Duration // wall time from start of instantiation
	StdoutBytes int64         // bytes of stdout kept; more is truncated and reported
	StderrBytes int64
	OutputBytes int64 // total bytes of files written under /out
	OutputFiles int   // number of files and directories under /out

	// CPUs is the CPU time the job may use per second of wall time, in
	// cores (0.5 is half a core, 2 is two): the job's own quota. Native
	// executors hold it to the smaller of this and their own cap
	// (CPUQuota); zero leaves only their cap. A wasm module runs on one
	// thread, and exec/wasm ignores it.
	CPUs float64
}

// MinCPUs is the smallest CPU quota executors keep to: below a
// hundredth of a core the kernel's CFS period would hand out slices
// shorter than it enforces.
const MinCPUs = 0.01

// CPUQuota is the quota a run is held to: the smaller of the job's own
// (cpus) and the executor's cap (limit), either zero meaning none, and at
// least MinCPUs. Zero means no quota.
func CPUQuota(cpus, limit float64) float64 {
	q := cpus
	if q <= 0 || (limit > 0 && limit < q) {
		q = limit
	}
	if q <= 0 {
		return 0
	}
	return max(q, MinCPUs)
}

// Status is how a run ended.
type Status string

// Statuses. Everything but StatusOK and StatusExit is a limit or a fault of
// the module itself; executor faults are returned as errors from Run.
const (
	StatusOK          Status = "ok"
	StatusExit        Status = "exit"         // non-zero exit code
	StatusTrap        Status = "trap"         // unreachable, out-of-bounds access, stack overflow...
	StatusTimeout     Status = "timeout"      // wall-time limit reached
	StatusMemoryLimit Status = "memory_limit" // memory (with /tmp) grew beyond the limit, or initial memory too large
	StatusOutputLimit Status = "output_limit" // /out exceeded its byte or file limit
	StatusBadModule   Status = "bad_module"   // not a valid WASI preview 1 module
)

// Result is the outcome of a run that the executor could carry out.
type Result struct {
	Status          Status
	ExitCode        int32
	Error           string // human detail for non-OK statuses
	Stdout          []byte
	Stderr          []byte
	StdoutTruncated bool
	StderrTruncated bool
	Outputs         []File // regular files left under /out, named by their path below it ("dir/file"), sorted by name
	Usage           Usage
}

// Usage is what a run consumed.
type Usage struct {
	Wall        time.Duration
	MemoryBytes int64 // peak linear memory size
}

// Executor runs jobs in a sandbox. Run returns an error only when the
// executor itself failed (the job's own failures are Results); it honours
// ctx cancellation as a hard stop. Implementations are safe for concurrent
// use.
type Executor interface {
	Run(ctx context.Context, job Job) (Result, error)
	Close(ctx context.Context) error
}

// Warmer is implemented by executors that cache prepared modules: Warm
// reports whether a run of the module with this CID would start without
// preparing (compiling) it first.
type Warmer interface {
	Warm(cid string) bool
}

// ErrClosed is returned by Run after Close.
var ErrClosed = errors.New("exec: executor is closed")
