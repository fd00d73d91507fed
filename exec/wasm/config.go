package wasm

import (
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/hayek-market/hayek/exec"
)

// Config configures an Executor. Start from DefaultConfig and change what you
// need; New rejects a Config that fails Validate.
type Config struct {
	// CacheDir is where compiled machine code is kept across restarts
	// (wazero's file cache, in a subdirectory per wazero version, OS and
	// architecture). Empty keeps compiled code in memory only, so every
	// restart pays the cold compile again. The directory holds native code
	// the executor will run: it must be writable by the node's user only
	// (it is created 0700).
	CacheDir string

	// MaxCachedModules bounds how many compiled modules are kept in memory,
	// least recently used first out. Each costs roughly its module size in
	// machine code.
	MaxCachedModules int

	// MaxCachedBytes bounds the total size of the module binaries whose
	// compiled code is kept in memory. A module larger than this on its own
	// is compiled for each run (from CacheDir when set, which is fast).
	MaxCachedBytes int64

	// DefaultLimits replace the zero fields of a job's Limits. Every field
	// must be positive: an executor without a default would run a job with
	// no limit at all.
	DefaultLimits exec.Limits

	// CompileWorkers is how many goroutines compile one module's functions
	// in parallel. More makes cold starts of big modules faster and takes
	// CPU from running jobs while it lasts.
	CompileWorkers int
}

// Defaults used by DefaultConfig.
const (
	DefaultMaxCachedModules = 64
	DefaultMaxCachedBytes   = 512 << 20
)

// DefaultLimits are the limits DefaultConfig gives jobs that leave a field
// zero: generous enough for real work, small enough that a handful of
// concurrent jobs cannot exhaust a modest provider.
var DefaultLimits = exec.Limits{
	MemoryBytes: 256 << 20,
	Timeout:     time.Minute,
	StdoutBytes: 1 << 20,
	StderrBytes: 1 << 20,
	OutputBytes: 64 << 20,
	OutputFiles: 256,
}

// maxMemoryBytes is the whole 32-bit address space: no wasm32 module can
// use more, so larger limits are clamped to it.
const maxMemoryBytes = 1 << 32

// DefaultConfig returns the configuration a provider gets unless it says
// otherwise: no disk cache, the default limits, and one compile worker per
// CPU.
func DefaultConfig() Config {
	return Config{
		MaxCachedModules: DefaultMaxCachedModules,
		MaxCachedBytes:   DefaultMaxCachedBytes,
		DefaultLimits:    DefaultLimits,
		CompileWorkers:   runtime.GOMAXPROCS(0),
	}
}

// ErrInvalidConfig is wrapped by every ConfigError.
var ErrInvalidConfig = &exec.InvalidConfig{Pkg: "exec/wasm"}

// ConfigError names the Config field that is wrong, its value and why.
type ConfigError = exec.ConfigError

// Validate reports the first field that would make the executor unsafe or
// unusable. It never changes c.
func (c Config) Validate() error {
	l := c.DefaultLimits
	if err := ErrInvalidConfig.CheckPositive(
		exec.Positive{Field: "MaxCachedModules", Value: int64(c.MaxCachedModules)},
		exec.Positive{Field: "MaxCachedBytes", Value: c.MaxCachedBytes},
		exec.Positive{Field: "CompileWorkers", Value: int64(c.CompileWorkers)},
	); err != nil {
		return err
	}
	if err := l.Validate(ErrInvalidConfig, "DefaultLimits"); err != nil {
		return err
	}
	if l.MemoryBytes < pageSize {
		return ErrInvalidConfig.Field("DefaultLimits.MemoryBytes", l.MemoryBytes,
			fmt.Errorf("is less than one %d-byte wasm page, so no module with memory could run", pageSize))
	}
	if l.MemoryBytes > maxMemoryBytes {
		return ErrInvalidConfig.Field("DefaultLimits.MemoryBytes", l.MemoryBytes,
			errors.New("exceeds the 4 GiB a wasm32 module can address"))
	}
	return nil
}
