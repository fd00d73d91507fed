package process

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"time"

	"github.com/hayek-market/hayek/exec"
)

// Config configures an Executor. Start from DefaultConfig and change what
// you need; New rejects a Config that fails Validate.
type Config struct {
	// DefaultLimits replace the zero fields of a job's Limits. Every field
	// must be positive. MemoryBytes caps the job's cgroup: everything its
	// processes allocate, the files they keep in /tmp and /out, and the
	// kernel memory spent on their behalf.
	DefaultLimits exec.Limits

	// MaxProcesses caps the processes and threads a job may have at once
	// (the pids cgroup and RLIMIT_NPROC). A Go program needs a handful of
	// threads; a fork bomb meets this wall.
	MaxProcesses int

	// MaxOpenFiles is RLIMIT_NOFILE for the job.
	MaxOpenFiles int

	// AddressSpaceBytes is RLIMIT_AS for each of the job's processes. It
	// is not the memory limit (the cgroup is): runtimes such as Go's and
	// the JVM's reserve far more address space than they use, so it only
	// stops absurd mappings. Zero leaves address space unlimited.
	AddressSpaceBytes int64

	// CPUs caps how much CPU time a job gets per second of wall time, in
	// cores (the cgroup's CPU quota): 0.5 is half a core, 2 is two. A job
	// asking for less (exec.Limits.CPUs) gets its own quota. Zero sets no
	// cap: a job without CPUs of its own competes for the CPU like any
	// process.
	CPUs float64

	// CgroupParent is the cgroup, as a path from the hierarchy's root
	// ("/hayek"), under which each job gets its own cgroup. Empty means a
	// "hayek-process" cgroup below the node's own, which keeps jobs inside
	// whatever limits the node runs under. With cgroup v2 the parent's
	// parent must delegate the memory and pids controllers, so the node
	// cannot sit in the parent's parent itself (see doc.go). Leftovers of
	// a crash are found below this cgroup when the next executor starts,
	// so a fixed path finds them even when the node's own cgroup changes
	// between runs.
	CgroupParent string

	// HostUID and HostGID are the host user and group the job runs as
	// (uid and gid 0 inside its user namespace are mapped to them, and
	// files it writes are theirs). -1 picks: the nobody user (65534) when
	// the node runs as root; the node's own user otherwise, the only one
	// an unprivileged process may map.
	HostUID, HostGID int

	// Proc mounts a /proc for the job that shows its own processes and
	// nothing of the host's (subset=pid): many runtimes read
	// /proc/self/exe, /proc/self/maps or /proc/self/fd.
	Proc bool

	// Landlock adds a Landlock ruleset behind the namespaces where the
	// kernel has Landlock: the job may read /in, read and write /out and
	// /tmp and the devices, and make no TCP connection. It is not
	// required: without kernel support it is skipped and Protections says
	// why.
	Landlock bool

	// Programs are executables the provider offers (a static Python, a
	// solver...), by host path. They are loaded at New and named by their
	// content's CID, so a job runs one by setting Job.ModuleCID to that
	// CID and leaving Job.Module empty; Executor.Programs lists them.
	Programs []string

	// RunJobModules lets jobs bring their own executable in Job.Module.
	// Without it, only Programs run.
	RunJobModules bool

	// MaxCachedModules and MaxCachedBytes bound the executables kept in
	// memory (sealed memfds) between runs, least recently used first out.
	// Programs are kept regardless.
	MaxCachedModules int
	MaxCachedBytes   int64

	// SetupTimeout bounds how long building a sandbox may take before the
	// run fails as the executor's fault. It is not part of the job's time.
	SetupTimeout time.Duration

	// DeviceDir is where the GPU device nodes are (nvidia0, nvidiactl...)
	// for RunWithDevices: "/dev" when empty. Tests point it at nodes of
	// their own.
	DeviceDir string

	// WarmSandboxes is how many sandbox inits are kept launched ahead of
	// the runs that will use them, so that the clone of the namespaces and
	// the init's start-up are not on a run's path. Each is an idle process
	// of a few MiB in the node's cgroup. Zero launches one per run.
	WarmSandboxes int
}

// Defaults used by DefaultConfig.
const (
	DefaultMaxProcesses     = 64
	DefaultMaxOpenFiles     = 1024
	DefaultAddressSpace     = 64 << 30
	DefaultMaxCachedModules = 32
	DefaultMaxCachedBytes   = 512 << 20
	DefaultSetupTimeout     = 30 * time.Second
	DefaultWarmSandboxes    = 1
)

// DefaultLimits are the limits DefaultConfig gives jobs that leave a
// field zero: the same as exec/wasm's.
var DefaultLimits = exec.Limits{
	MemoryBytes: 256 << 20,
	Timeout:     time.Minute,
	StdoutBytes: 1 << 20,
	StderrBytes: 1 << 20,
	OutputBytes: 64 << 20,
	OutputFiles: 256,
}

// minMemoryBytes is the least memory limit that lets a sandbox start at
// all: the init and a small static program.
const minMemoryBytes = 4 << 20

// DefaultConfig returns what a provider gets unless it says otherwise:
// every protection the host offers, Landlock where present, /proc with
// the job's own processes, job-supplied executables allowed, no CPU
// quota.
func DefaultConfig() Config {
	return Config{
		DefaultLimits:     DefaultLimits,
		MaxProcesses:      DefaultMaxProcesses,
		MaxOpenFiles:      DefaultMaxOpenFiles,
		AddressSpaceBytes: DefaultAddressSpace,
		HostUID:           -1,
		HostGID:           -1,
		Proc:              true,
		Landlock:          true,
		RunJobModules:     true,
		MaxCachedModules:  DefaultMaxCachedModules,
		MaxCachedBytes:    DefaultMaxCachedBytes,
		SetupTimeout:      DefaultSetupTimeout,
		WarmSandboxes:     DefaultWarmSandboxes,
	}
}

// ErrInvalidConfig is wrapped by every ConfigError.
var ErrInvalidConfig = &exec.InvalidConfig{Pkg: "exec/process"}

// ConfigError names the Config field that is wrong, its value and why.
type ConfigError = exec.ConfigError

// Validate reports the first field that would make the executor unsafe or
// unusable. It never changes c and does not look at the host (Probe does).
func (c Config) Validate() error {
	l := c.DefaultLimits
	if err := l.Validate(ErrInvalidConfig, "DefaultLimits"); err != nil {
		return err
	}
	if err := ErrInvalidConfig.CheckPositive(
		exec.Positive{Field: "MaxProcesses", Value: int64(c.MaxProcesses)},
		exec.Positive{Field: "MaxOpenFiles", Value: int64(c.MaxOpenFiles)},
		exec.Positive{Field: "MaxCachedModules", Value: int64(c.MaxCachedModules)},
		exec.Positive{Field: "MaxCachedBytes", Value: c.MaxCachedBytes},
		exec.Positive{Field: "SetupTimeout", Value: int64(c.SetupTimeout)},
	); err != nil {
		return err
	}
	switch {
	case l.MemoryBytes < minMemoryBytes:
		return ErrInvalidConfig.Field("DefaultLimits.MemoryBytes", l.MemoryBytes,
			fmt.Errorf("is below the %d MiB a sandbox needs to start", minMemoryBytes>>20))
	case c.MaxOpenFiles < 16:
		return ErrInvalidConfig.Field("MaxOpenFiles", c.MaxOpenFiles, errors.New("is below 16: not even a runtime's own descriptors fit"))
	case c.AddressSpaceBytes < 0:
		return ErrInvalidConfig.Field("AddressSpaceBytes", c.AddressSpaceBytes, errors.New("must be zero (unlimited) or positive"))
	case c.AddressSpaceBytes > 0 && c.AddressSpaceBytes < 1<<30:
		return ErrInvalidConfig.Field("AddressSpaceBytes", c.AddressSpaceBytes,
			errors.New("is below 1 GiB, which Go and JVM programs reserve at start-up; the memory limit is what caps memory"))
	case c.CPUs < 0 || c.CPUs > float64(1<<20):
		return ErrInvalidConfig.Field("CPUs", c.CPUs, errors.New("must be zero (no quota) or a positive number of cores"))
	case c.CPUs > 0 && c.CPUs < 0.01:
		return ErrInvalidConfig.Field("CPUs", c.CPUs, errors.New("is below 0.01 cores, the smallest quota the kernel keeps to"))
	case c.HostUID < -1 || c.HostGID < -1:
		return ErrInvalidConfig.Field("HostUID/HostGID", fmt.Sprint(c.HostUID, "/", c.HostGID), errors.New("must be -1 (pick) or a host id"))
	case c.CgroupParent != "" && c.CgroupParent[0] != '/':
		return ErrInvalidConfig.Field("CgroupParent", c.CgroupParent, errors.New(`must be absolute in the hierarchy, like "/hayek"`))
	case c.WarmSandboxes < 0 || c.WarmSandboxes > 64:
		return ErrInvalidConfig.Field("WarmSandboxes", c.WarmSandboxes, errors.New("must be between 0 and 64"))
	case c.DeviceDir != "" && !filepath.IsAbs(c.DeviceDir):
		return ErrInvalidConfig.Field("DeviceDir", c.DeviceDir, errors.New(`must be absolute, like "/dev"`))
	case !c.RunJobModules && len(c.Programs) == 0:
		return ErrInvalidConfig.Field("RunJobModules", false, errors.New("with no Programs either, no job could run"))
	}
	return nil
}

// cpuCount is how many cores a job's CPU-time rlimit assumes it can keep
// busy: the quota, or every core.
func (c Config) cpuCount() float64 {
	if c.CPUs > 0 {
		return c.CPUs
	}
	return float64(runtime.NumCPU())
}

func (c Config) deviceDir() string {
	if c.DeviceDir == "" {
		return "/dev"
	}
	return c.DeviceDir
}
