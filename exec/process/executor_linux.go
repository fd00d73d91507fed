package process

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	iofs "io/fs"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/exec/gpu"
	"github.com/hayek-market/hayek/exec/internal/seccomp"
	"github.com/hayek-market/hayek/exec/process/internal/wire"
	"github.com/hayek-market/hayek/internal/canon"
)

// Executor runs jobs as native programs in Linux sandboxes. It is safe for
// concurrent use; Close it to stop running jobs and free cached modules.
type Executor struct {
	cfg         Config
	uid, gid    int
	cgroups     *cgroups
	devices     []devNode // the base devices every job may open
	init        *os.File  // the sealed initproc binary
	seccomp     []byte
	staging     string
	instance    string // prefix of this executor's cgroup names
	modules     *moduleCache
	programs    []string // CIDs of Config.Programs, in order
	protections Protections

	// testHookStats, when set by a test, sees what the kernel counted for
	// each run and how the init says the job ended.
	testHookStats func(jobStats, *wire.Exit)

	// The pool of inits launched ahead of runs (pool_linux.go).
	pool     chan *sandbox
	closing  chan struct{} // closed by Close: fill stops
	fillDone chan struct{}
	liveMu   sync.Mutex
	live     map[*sandbox]bool // launched and not reaped: true while waiting in the pool

	seq     atomic.Uint64
	mu      sync.Mutex
	closed  bool
	nextRun uint64
	running map[uint64]context.CancelCauseFunc
	wg      sync.WaitGroup
}

var (
	_ exec.Executor = (*Executor)(nil)
	_ exec.Warmer   = (*Executor)(nil)
	// Not named here (exec/process does not import the node): the
	// provider's DeviceRunner.
	_ interface {
		RunWithDevices(context.Context, exec.Job, []gpu.Device) (exec.Result, error)
	} = (*Executor)(nil)
)

// ArgV0 is the program name every job sees as argv[0], as in exec/wasm.
const ArgV0 = "job"

// Hostname is the host name a job sees.
const Hostname = "job"

// instances numbers the executors of this process, so each can tell its
// own cgroups from another's.
var instances atomic.Uint64

// New checks that the host can isolate jobs, sweeps what an earlier
// executor left behind after a crash, and runs a probe sandbox with every
// protection the Config asks for. It returns an error wrapping
// ErrUnavailable when the host cannot give that isolation, rather than an
// executor that would run jobs unconfined.
func New(ctx context.Context, cfg Config) (*Executor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if initBinary == nil {
		return nil, unavailable("the sandbox init is not built for linux/"+runtimeArch, errors.New("no binary embedded"),
			"run scripts/gen-samples to build it for this architecture")
	}
	e := &Executor{
		cfg:      cfg,
		seccomp:  seccomp.Filter(),
		modules:  newModuleCache(cfg.MaxCachedModules, cfg.MaxCachedBytes),
		running:  map[uint64]context.CancelCauseFunc{},
		instance: instanceName(os.Getpid(), instances.Add(1)),
		pool:     make(chan *sandbox, cfg.WarmSandboxes),
		closing:  make(chan struct{}),
		fillDone: make(chan struct{}),
		live:     map[*sandbox]bool{},
	}
	e.uid, e.gid = cfg.HostUID, cfg.HostGID
	if e.uid < 0 {
		e.uid = os.Geteuid()
		if e.uid == 0 {
			e.uid = nobody
		}
	}
	if e.gid < 0 {
		e.gid = os.Getegid()
		if os.Geteuid() == 0 {
			e.gid = nobody
		}
	}
	var err error
	if e.staging, err = stagingDir(); err != nil {
		return nil, unavailable("no directory to build sandboxes on", err, "")
	}
	if e.cgroups, err = setupCgroups(cfg); err != nil {
		return nil, unavailable("cgroups", err, "")
	}
	if e.devices, err = hostBaseDevices(); err != nil {
		return nil, unavailable("the host's /dev", err, "")
	}
	if e.init, err = sealedMemfd("hayek-init", initBinary); err != nil {
		return nil, unavailable("sealed memfd for the sandbox init", err, "")
	}
	if err := e.sweep(ctx); err != nil {
		e.init.Close()
		return nil, err
	}
	p, err := e.probe(ctx)
	if err != nil {
		e.init.Close()
		return nil, err
	}
	e.protections = p
	for _, path := range cfg.Programs {
		if err := e.addProgram(path); err != nil {
			e.modules.close()
			e.init.Close()
			return nil, err
		}
	}
	if cfg.WarmSandboxes > 0 {
		go e.fill()
	} else {
		close(e.fillDone)
	}
	return e, nil
}

const nobody = 65534

// stagingDir is a host directory that the new root can be mounted on
// inside each sandbox's private mount namespace (the host never sees the
// mount).
func stagingDir() (string, error) {
	for _, d := range []string{"/tmp", "/var/tmp", "/mnt", "/run", "/media", "/srv", "/opt"} {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return d, nil
		}
	}
	return "", errors.New("none of /tmp, /var/tmp, /mnt, /run, /media, /srv, /opt is a directory")
}

// ErrUnavailable is wrapped by New's and Probe's errors when the host
// cannot isolate jobs as the Config asks.
var ErrUnavailable = errors.New("exec/process: isolation unavailable")

func unavailable(what string, err error, hint string) error {
	if hint == "" {
		hint = "see exec/process's documentation for what each protection needs from the host"
	}
	return fmt.Errorf("%w: %s: %w; %s", ErrUnavailable, what, err, hint)
}

// addProgram loads a provider program and names it by its CID.
func (e *Executor) addProgram(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("exec/process: program %s: %w; fix Config.Programs", path, err)
	}
	cid := canon.BlobCID(data).String()
	m, err := e.modules.acquire(cid, data, true)
	if err != nil {
		return fmt.Errorf("exec/process: program %s: %w; only static Linux executables can run", path, err)
	}
	e.modules.release(m)
	e.programs = append(e.programs, cid)
	return nil
}

// Programs returns the CIDs of the provider's programs (Config.Programs),
// in the order configured: what a job names in Job.ModuleCID to run one.
func (e *Executor) Programs() []string { return append([]string(nil), e.programs...) }

// Protections reports what New found in force in its probe sandbox; every
// run gets the same.
func (e *Executor) Protections() Protections { return e.protections }

// Warm reports whether a run of the module with this CID would start
// without loading and checking it first.
func (e *Executor) Warm(cid string) bool { return e.modules.warm(cid) }

// enter registers a run, or fails after Close.
func (e *Executor) enter(ctx context.Context) (context.Context, func(), error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, nil, exec.ErrClosed
	}
	ctx, cancel := context.WithCancelCause(ctx)
	id := e.nextRun
	e.nextRun++
	e.running[id] = cancel
	e.wg.Add(1)
	return ctx, func() {
		e.mu.Lock()
		delete(e.running, id)
		e.mu.Unlock()
		cancel(nil)
		e.wg.Done()
	}, nil
}

// ErrInvalidJob is wrapped by Run's errors about a malformed Job.
var ErrInvalidJob = errors.New("exec/process: invalid job")

// moduleKey names a job's module in the cache: its CID, trusted to name
// the bytes (the node checks every blob against its CID), or a hash of
// the bytes.
func moduleKey(job exec.Job) string {
	if job.ModuleCID != "" {
		return job.ModuleCID
	}
	sum := sha256.Sum256(job.Module)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Run runs job to completion, to a limit, or until ctx ends. It returns an
// error for a malformed job (ErrInvalidJob), after Close
// (exec.ErrClosed), when ctx ends first (wrapping ctx's cause), or when
// the executor itself fails (a sandbox that could not be built or
// cleaned up); everything the job does is a Result.
func (e *Executor) Run(ctx context.Context, job exec.Job) (exec.Result, error) {
	return e.runWith(ctx, job, nil)
}

// runWith is Run with the GPU device nodes the job gets.
func (e *Executor) runWith(ctx context.Context, job exec.Job, gpus []devNode) (exec.Result, error) {
	limits, err := e.limits(job)
	if err != nil {
		return exec.Result{}, err
	}
	runCtx, leave, err := e.enter(ctx)
	if err != nil {
		return exec.Result{}, err
	}
	defer leave()
	if err := runCtx.Err(); err != nil {
		return exec.Result{}, e.stopped(runCtx, job.ID)
	}
	key := moduleKey(job)
	if !e.cfg.RunJobModules && len(job.Module) > 0 && !e.isProgram(key) {
		return exec.Result{Status: exec.StatusBadModule,
			Error: "this provider runs only its own programs (" + strings.Join(e.programs, ", ") + "), not executables jobs bring"}, nil
	}
	m, err := e.modules.acquire(key, job.Module, false)
	var bad *badModuleError
	switch {
	case errors.As(err, &bad):
		return exec.Result{Status: exec.StatusBadModule, Error: bad.reason}, nil
	case errors.Is(err, errNoModule):
		return exec.Result{}, fmt.Errorf("%w %s: %w", ErrInvalidJob, job.ID, err)
	case err != nil:
		return exec.Result{}, fmt.Errorf("exec/process: job %s: load module: %w", job.ID, err)
	}
	defer e.modules.release(m)
	return e.run(runCtx, m, job, limits, gpus)
}

func (e *Executor) isProgram(cid string) bool {
	for _, p := range e.programs {
		if p == cid {
			return true
		}
	}
	return false
}

// stopped explains why a run ended without a result: Close, or ctx.
func (e *Executor) stopped(ctx context.Context, id string) error {
	cause := context.Cause(ctx)
	if errors.Is(cause, exec.ErrClosed) {
		return fmt.Errorf("exec/process: job %s stopped: %w", id, exec.ErrClosed)
	}
	return fmt.Errorf("exec/process: job %s stopped by its context: %w", id, cause)
}

// limits fills the zero fields of job.Limits from the defaults and checks
// the job is well-formed.
func (e *Executor) limits(job exec.Job) (exec.Limits, error) {
	l, d := job.Limits, e.cfg.DefaultLimits
	invalid := func(format string, args ...any) (exec.Limits, error) {
		return exec.Limits{}, fmt.Errorf("%w %s: %s", ErrInvalidJob, job.ID, fmt.Sprintf(format, args...))
	}
	if l.MemoryBytes < 0 || l.Timeout < 0 || l.StdoutBytes < 0 || l.StderrBytes < 0 || l.OutputBytes < 0 || l.OutputFiles < 0 || !(l.CPUs >= 0) || math.IsInf(l.CPUs, 1) {
		return invalid("negative limit in %+v; use zero for the executor's default", l)
	}
	fill := func(v *int64, def int64) {
		if *v == 0 {
			*v = def
		}
	}
	fill(&l.MemoryBytes, d.MemoryBytes)
	fill(&l.StdoutBytes, d.StdoutBytes)
	fill(&l.StderrBytes, d.StderrBytes)
	fill(&l.OutputBytes, d.OutputBytes)
	if l.Timeout == 0 {
		l.Timeout = d.Timeout
	}
	if l.OutputFiles == 0 {
		l.OutputFiles = d.OutputFiles
	}
	l.CPUs = exec.CPUQuota(l.CPUs, e.cfg.CPUs)
	if l.MemoryBytes < minMemoryBytes {
		return invalid("memory limit of %d bytes is below the %d MiB a sandbox needs to start", l.MemoryBytes, minMemoryBytes>>20)
	}
	if len(job.Module) == 0 && job.ModuleCID == "" {
		return invalid("no module: set Job.Module (and Job.ModuleCID to cache it), or Job.ModuleCID of one of the provider's programs")
	}
	for _, a := range job.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return invalid("argument %q contains a NUL byte, which exec cannot pass", a)
		}
	}
	for k, v := range job.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.IndexByte(v, 0) >= 0 {
			return invalid("environment variable %q=%q: names must be non-empty without '=' or NUL, values without NUL", k, v)
		}
	}
	seen := make(map[string]bool, len(job.Inputs))
	for _, f := range job.Inputs {
		if !iofs.ValidPath(f.Name) || strings.Contains(f.Name, "/") || f.Name == "." {
			return invalid("input name %q: want a plain file name (no '/', not '.' or '..'), it is mounted at /in/<name>", f.Name)
		}
		if seen[f.Name] {
			return invalid("two inputs are named %q", f.Name)
		}
		seen[f.Name] = true
	}
	return l, nil
}

// Close stops running jobs (their Run returns exec.ErrClosed), waits for
// them to be cleaned up, and frees the cached modules. If ctx ends first,
// Close returns its error and the rest happens when the last run ends.
// Close is idempotent.
func (e *Executor) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	for _, cancel := range e.running {
		cancel(exec.ErrClosed)
	}
	e.mu.Unlock()

	close(e.closing)
	done := make(chan struct{})
	go func() {
		<-e.fillDone
		e.drain()
		e.wg.Wait()
		e.modules.close()
		e.init.Close()
		if e.cfg.CgroupParent == "" {
			// The default parent is ours to tidy: it goes with the last
			// executor (the kernel refuses while another has jobs in it).
			for _, d := range e.cgroups.dirs() {
				_ = unix.Rmdir(d)
			}
		}
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("exec/process: close: %w; a run is still being cleaned up and will be freed when it ends", ctx.Err())
	}
}

// instanceName prefixes the cgroups of one executor: the node's PID and
// start time (so a sweep can tell a live owner from a dead one whose PID
// was reused) and the executor's number in the process.
func instanceName(pid int, n uint64) string {
	return fmt.Sprintf("%s%d-%d-%d", cgroupPrefix, pid, processStart(pid), n)
}

// cgroupPrefix starts the name of every job cgroup.
const cgroupPrefix = "hayek-job-"

// processStart is a process's start time in clock ticks since boot (field
// 22 of /proc/PID/stat), 0 when it does not exist.
func processStart(pid int) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name, field 2, is in parentheses and may hold anything.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 20 {
		return 0
	}
	v, _ := strconv.ParseUint(fields[19], 10, 64)
	return v
}
