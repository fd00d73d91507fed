package docker

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hayek-market/hayek/exec"
)

// Config configures an Executor. Start from DefaultConfig and change what
// you need; New rejects a Config that fails Validate.
type Config struct {
	// Host is the engine's address ("unix:///var/run/docker.sock",
	// "tcp://…"). Empty means DOCKER_HOST, or the engine's default socket.
	// The engine must run on this host: /in, /out and the shim are bind
	// mounts of the executor's own directories.
	Host string

	// DefaultLimits replace the zero fields of a job's Limits. Every field
	// must be positive. MemoryBytes caps the container's memory cgroup
	// (no swap): what its processes allocate and what they keep in /tmp.
	// A job's memory limit below 8 MiB is raised to that: the engine
	// refuses less than 6 MiB, and the shim needs some.
	DefaultLimits exec.Limits

	// MaxProcesses is the container's pids limit: processes and threads
	// together. A fork bomb meets this wall.
	MaxProcesses int

	// MaxOpenFiles is the container's RLIMIT_NOFILE.
	MaxOpenFiles int

	// CPUs caps the CPU time a job gets per second of wall time, in cores
	// (the engine's NanoCPUs); a job asking for less (exec.Limits.CPUs)
	// gets its own quota. Zero sets no cap.
	CPUs float64

	// User is the user:group jobs run as, numeric so that no image's
	// /etc/passwd decides it. It must not be root. Empty picks: nobody
	// (65534:65534) when the node runs as root, the node's own user
	// otherwise, so that what jobs leave in /out is the node's to remove.
	User string

	// AllowedImages are the images a job may name instead of shipping an
	// archive: references by digest ("sha256:<hex>" for an image ID,
	// "name@sha256:<hex>" for a repository digest), present in the
	// engine. Jobs name them in Job.Module (see doc.go).
	AllowedImages []string

	// ImageEnv gives jobs the variables their image's ENV sets (PATH,
	// LANG, …) besides their own. Off, a job's environment is exactly
	// Job.Env, as with every executor; the image's PATH still finds its
	// program.
	ImageEnv bool

	// RunJobImages lets jobs ship their image as a `docker save` archive
	// in Job.Module. Without it only AllowedImages run.
	RunJobImages bool

	// MaxArchiveBytes bounds an image archive a job ships.
	MaxArchiveBytes int64

	// WorkDir holds a directory per run (inputs, outputs, the shim's
	// status) and the shim itself. Empty means a "hayek-docker" directory
	// in os.TempDir(). It must be on this host, where the engine can bind
	// it.
	WorkDir string

	// Runtime is the OCI runtime the engine runs jobs with ("runsc" for
	// gVisor, where installed). Empty means the engine's default (runc).
	Runtime string

	// WarmImages is how many images get a container created and started
	// ahead of their next run (with DefaultLimits; a run asking for more
	// memory than they have, or for GPUs, starts its own): the engine's
	// create and start are most of a short job's time. Each is an idle
	// container holding its shim, a few MiB. Zero starts one per run.
	WarmImages int

	// SetupTimeout bounds preparing a run (loading an archive, creating
	// the container) before it fails as the executor's fault. It is not
	// part of the job's time.
	SetupTimeout time.Duration
}

// Defaults used by DefaultConfig.
const (
	DefaultMaxProcesses    = 64
	DefaultMaxOpenFiles    = 1024
	DefaultUser            = "65534:65534"
	DefaultMaxArchiveBytes = 1 << 30
	DefaultSetupTimeout    = 2 * time.Minute
	DefaultWarmImages      = 2
)

// DefaultLimits are the limits DefaultConfig gives jobs that leave a
// field zero: the same as exec/process's.
var DefaultLimits = exec.Limits{
	MemoryBytes: 256 << 20,
	Timeout:     time.Minute,
	StdoutBytes: 1 << 20,
	StderrBytes: 1 << 20,
	OutputBytes: 64 << 20,
	OutputFiles: 256,
}

// minMemoryBytes is the least memory limit the engine accepts (6 MiB)
// with room for the shim.
const minMemoryBytes = 8 << 20

// DefaultConfig returns what a provider gets unless it says otherwise:
// the user picked for the host, job-shipped archives allowed, no named images, no CPU
// quota.
func DefaultConfig() Config {
	return Config{
		DefaultLimits:   DefaultLimits,
		MaxProcesses:    DefaultMaxProcesses,
		MaxOpenFiles:    DefaultMaxOpenFiles,
		RunJobImages:    true,
		MaxArchiveBytes: DefaultMaxArchiveBytes,
		SetupTimeout:    DefaultSetupTimeout,
		WarmImages:      DefaultWarmImages,
	}
}

// ErrInvalidConfig is wrapped by every ConfigError.
var ErrInvalidConfig = &exec.InvalidConfig{Pkg: "exec/docker"}

// ConfigError names the Config field that is wrong, its value and why.
type ConfigError = exec.ConfigError

// Validate reports the first field that would make the executor unsafe or
// unusable. It does not look at the engine (New does).
func (c Config) Validate() error {
	l := c.DefaultLimits
	if err := l.Validate(ErrInvalidConfig, "DefaultLimits"); err != nil {
		return err
	}
	if err := ErrInvalidConfig.CheckPositive(
		exec.Positive{Field: "MaxProcesses", Value: int64(c.MaxProcesses)},
		exec.Positive{Field: "MaxOpenFiles", Value: int64(c.MaxOpenFiles)},
		exec.Positive{Field: "MaxArchiveBytes", Value: c.MaxArchiveBytes},
		exec.Positive{Field: "SetupTimeout", Value: int64(c.SetupTimeout)},
	); err != nil {
		return err
	}
	if l.MemoryBytes < minMemoryBytes {
		return ErrInvalidConfig.Field("DefaultLimits.MemoryBytes", l.MemoryBytes, fmt.Errorf("is below the %d MiB a container needs to start", minMemoryBytes>>20))
	}
	if c.MaxOpenFiles < 16 {
		return ErrInvalidConfig.Field("MaxOpenFiles", c.MaxOpenFiles, errors.New("is below 16: not even a runtime's own descriptors fit"))
	}
	if c.WarmImages < 0 || c.WarmImages > 64 {
		return ErrInvalidConfig.Field("WarmImages", c.WarmImages, errors.New("must be between 0 and 64"))
	}
	if c.CPUs < 0 || (c.CPUs > 0 && c.CPUs < 0.01) {
		return ErrInvalidConfig.Field("CPUs", c.CPUs, errors.New("must be zero (no quota) or at least 0.01 cores"))
	}
	if err := checkUser(c.User); c.User != "" && err != nil {
		return ErrInvalidConfig.Field("User", c.User, err)
	}
	for _, ref := range c.AllowedImages {
		if _, err := parseReference(ref); err != nil {
			return ErrInvalidConfig.Field("AllowedImages", ref, err)
		}
	}
	if !c.RunJobImages && len(c.AllowedImages) == 0 {
		return ErrInvalidConfig.Field("RunJobImages", false, errors.New("with no AllowedImages either, no job could run"))
	}
	return nil
}

// checkUser accepts a numeric, non-root uid:gid.
func checkUser(u string) error {
	uid, gid, ok := strings.Cut(u, ":")
	if !ok {
		return errors.New(`want numeric "uid:gid", like "65534:65534"`)
	}
	for _, id := range []string{uid, gid} {
		n, err := strconv.ParseUint(id, 10, 32)
		if err != nil {
			return fmt.Errorf(`%q is not a numeric id; want "uid:gid", like "65534:65534"`, id)
		}
		if n == 0 {
			return errors.New("jobs must not run as root (uid or gid 0)")
		}
	}
	return nil
}
