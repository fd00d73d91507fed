package wasm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	iofs "io/fs"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/hayek-market/hayek/exec"
)

// Executor runs jobs in wazero. It is safe for concurrent use; Close it to
// stop running jobs and free compiled code.
type Executor struct {
	cfg     Config
	runtime wazero.Runtime
	ccache  wazero.CompilationCache // nil without CacheDir
	wasi    map[string]api.FunctionDefinition
	modules *moduleCache
	base    wazero.ModuleConfig

	mu      sync.Mutex
	closed  bool
	nextRun uint64
	running map[uint64]context.CancelCauseFunc // stops each run on Close
	wg      sync.WaitGroup                     // runs and compilations in flight
}

var _ exec.Executor = (*Executor)(nil)

// Stats counts what the compiled-module cache did, for metrics and tests.
type Stats struct {
	Compiles      uint64 // compilations started (from CacheDir when it has the module)
	Hits          uint64 // runs that found their module compiled, compiling, or known bad
	Evictions     uint64
	CachedModules int
	CachedBytes   int64 // module binary bytes behind the cached code
}

// ArgV0 is the program name every job sees as argv[0]. It is fixed so that
// a job's output cannot depend on how a provider names modules.
const ArgV0 = "job"

var (
	errTimeout = errors.New("exec/wasm: time limit reached")
	// ErrInvalidJob is wrapped by Run's errors about a malformed Job (as
	// opposed to a module that fails, which is a Result).
	ErrInvalidJob    = errors.New("exec/wasm: invalid job")
	errModuleMissing = fmt.Errorf("%w: no module bytes, and its ModuleCID is not compiled here; pass Job.Module", ErrInvalidJob)
)

// New starts an executor: one wazero runtime with WASI preview 1, its
// compiled-module cache and, when cfg.CacheDir is set, its file cache.
func New(ctx context.Context, cfg Config) (*Executor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// No WithCloseOnContextDone: time limits are enforced by the stop
	// checks instrument inserts, at a fraction of the cost (see
	// interrupt.go and doc.go). No DWARF: instrumenting shifts code
	// offsets, and traces name functions from the name section anyway.
	rc := wazero.NewRuntimeConfig().
		WithCoreFeatures(api.CoreFeaturesV2).
		WithDebugInfoEnabled(false)
	var ccache wazero.CompilationCache
	if cfg.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("exec/wasm: open compile cache in %s: %w; make the directory writable by this user or leave CacheDir empty", cfg.CacheDir, err)
		}
		ccache = c
		rc = rc.WithCompilationCache(c)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		_ = rt.Close(ctx)
		if ccache != nil {
			_ = ccache.Close(ctx)
		}
		return nil, fmt.Errorf("exec/wasm: instantiate WASI preview 1: %w", err)
	}
	e := &Executor{
		cfg:     cfg,
		runtime: rt,
		ccache:  ccache,
		wasi:    wasiFunctions(rt),
		running: map[uint64]context.CancelCauseFunc{},
		// No name: many instances of one module run at once. No start
		// functions: Run calls _start itself, to tell a failed
		// instantiation (bad module) from a failed run.
		base: wazero.NewModuleConfig().WithName("").WithStartFunctions(),
	}
	e.modules = newModuleCache(cfg.MaxCachedModules, cfg.MaxCachedBytes, e.compile, e.spawn)
	return e, nil
}

// enter registers a run or precompile, or fails after Close.
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

// spawn runs a background compilation that Close waits for. It is only
// called from within a registered run, so the WaitGroup is never at zero.
func (e *Executor) spawn(f func()) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		f()
	}()
}

// compile turns module bytes into code, refusing what is not a WASI
// preview 1 command. Errors wrapping ErrBadModule blame the module; others
// are the executor's (e.g. the disk cache failing).
func (e *Executor) compile(ctx context.Context, module []byte) (wazero.CompiledModule, error) {
	if err := CheckModule(module); err != nil {
		return nil, err
	}
	module, err := instrument(module)
	if err != nil {
		return nil, err
	}
	ctx = experimental.WithCompilationWorkers(ctx, e.cfg.CompileWorkers)
	cm, err := e.runtime.CompileModule(ctx, module)
	if err != nil {
		var pathErr *iofs.PathError
		var linkErr *os.LinkError
		if errors.As(err, &pathErr) || errors.As(err, &linkErr) {
			return nil, fmt.Errorf("exec/wasm: compile cache in %s: %w; check free space and permissions, or leave CacheDir empty", e.cfg.CacheDir, err)
		}
		return nil, badModule("%v", err)
	}
	if err := checkCommand(cm, e.wasi); err != nil {
		_ = cm.Close(ctx)
		return nil, err
	}
	return cm, nil
}

// moduleKey names a job's module in the cache. The node verifies blobs
// against their CID before they get here, so the CID is trusted to name the
// bytes; without one, the bytes are hashed.
func moduleKey(job exec.Job) string {
	if job.ModuleCID != "" {
		return job.ModuleCID
	}
	sum := sha256.Sum256(job.Module)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Precompile compiles a module into the cache ahead of its first run (a
// provider warming modules it expects). It returns an error wrapping
// ErrBadModule for a module Run would refuse.
func (e *Executor) Precompile(ctx context.Context, cid string, module []byte) error {
	ctx, leave, err := e.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	c, err := e.modules.acquire(ctx, moduleKey(exec.Job{ModuleCID: cid, Module: module}), module)
	if err != nil {
		return e.stopped(ctx, "precompile "+cid, err)
	}
	e.modules.release(ctx, c)
	return nil
}

// Warm reports whether the module with this CID is compiled and cached in
// memory, so a run of it starts without compiling: a provider uses it to
// commit to a start time that holds.
func (e *Executor) Warm(cid string) bool { return e.modules.warm(cid) }

var _ exec.Warmer = (*Executor)(nil)

// Stats reports the compiled-module cache's counters.
func (e *Executor) Stats() Stats { return e.modules.snapshot() }

// Run runs job to completion, to a limit, or until ctx ends. It returns an
// error for a malformed job (ErrInvalidJob), after Close (exec.ErrClosed),
// when ctx ends first (wrapping ctx's cause), or when the executor itself
// fails; everything the module does, including being invalid, is a Result.
func (e *Executor) Run(ctx context.Context, job exec.Job) (exec.Result, error) {
	limits, err := e.limits(job)
	if err != nil {
		return exec.Result{}, err
	}
	runCtx, leave, err := e.enter(ctx)
	if err != nil {
		return exec.Result{}, err
	}
	defer leave()

	c, err := e.modules.acquire(runCtx, moduleKey(job), job.Module)
	switch {
	case errors.Is(err, ErrBadModule):
		return exec.Result{Status: exec.StatusBadModule, Error: err.Error()}, nil
	case err != nil:
		return exec.Result{}, e.stopped(runCtx, "job "+job.ID, err)
	}
	defer e.modules.release(ctx, c)
	return e.run(runCtx, c.module, job, limits)
}

// stopped explains why a run or precompile ended without a result.
func (e *Executor) stopped(ctx context.Context, what string, err error) error {
	if ctx.Err() == nil {
		return err
	}
	cause := context.Cause(ctx)
	if errors.Is(cause, exec.ErrClosed) {
		return fmt.Errorf("exec/wasm: %s stopped: %w", what, exec.ErrClosed)
	}
	return fmt.Errorf("exec/wasm: %s stopped by its context: %w", what, cause)
}

func (e *Executor) run(ctx context.Context, module wazero.CompiledModule, job exec.Job, limits exec.Limits) (exec.Result, error) {
	state := &runState{}
	stdout := &capture{limit: limits.StdoutBytes}
	stderr := &capture{limit: limits.StderrBytes}
	memory := &memoryLimiter{run: state, limit: uint64(limits.MemoryBytes) &^ (pageSize - 1)}
	clock := &jobClock{}
	out := newOutputFS(state, clock, limits.OutputBytes, limits.OutputFiles)
	var fsc wazero.FSConfig = wazero.NewFSConfig()
	fsc = fsc.(sysfs.FSConfig).WithSysFSMount(newInputFS(job.Inputs), "/in")
	fsc = fsc.(sysfs.FSConfig).WithSysFSMount(out, "/out")
	fsc = fsc.(sysfs.FSConfig).WithSysFSMount(newScratchFS(state, clock, memory), "/tmp")

	mc := e.base.
		WithArgs(append([]string{ArgV0}, job.Args...)...).
		WithStdin(bytes.NewReader(job.Stdin)).
		WithStdout(stdout).
		WithStderr(stderr).
		WithRandSource(newRandSource(job.ID)).
		WithWalltime(clock.walltime, clockResolution).
		WithFSConfig(fsc)
	// Sorted so the environment block is the same bytes on every replica.
	for _, k := range slices.Sorted(maps.Keys(job.Env)) {
		mc = mc.WithEnv(k, job.Env[k])
	}

	runCtx, cancel := context.WithTimeoutCause(ctx, limits.Timeout, errTimeout)
	defer cancel()

	start := time.Now()
	mod, instErr := instantiate(experimental.WithMemoryAllocator(runCtx, memory), e.runtime, module, mc)
	var err error
	var stopped atomic.Bool
	if instErr == nil {
		err = e.call(runCtx, mod, &stopped)
		// Closing flushes nothing (everything is in memory) but closes the
		// guest's open files, so /out is final when collected below.
		_ = mod.Close(ctx)
	}
	wall := time.Since(start)

	res := exec.Result{
		Stdout:          stdout.buf,
		Stderr:          stderr.buf,
		StdoutTruncated: stdout.truncated,
		StderrTruncated: stderr.truncated,
		Usage:           exec.Usage{Wall: wall, MemoryBytes: int64(memory.peak)},
	}
	if instErr != nil {
		err = instErr
	}
	if errors.Is(err, errNotInstrumented) {
		return exec.Result{}, err // a bug here, not the module's fault
	}
	// The stop check traps with "unreachable"; only the flag says the trap
	// was ours. A run that exited by itself just as its context ended
	// keeps its own outcome.
	var exitErr *sys.ExitError
	stoppedByContext := err != nil && stopped.Load() && !errors.As(err, &exitErr)
	switch {
	case state.exceeded != nil:
		res.Status, res.Error = state.exceeded.status, state.exceeded.detail
	case stoppedByContext && errors.Is(context.Cause(runCtx), errTimeout):
		res.Status = exec.StatusTimeout
		res.Error = fmt.Sprintf("job ran past its time limit of %s; raise the job's timeout (--timeout)", limits.Timeout)
	case stoppedByContext:
		return exec.Result{}, e.stopped(runCtx, "job "+job.ID, err)
	case err == nil:
		res.Status = exec.StatusOK
	case errors.As(err, &exitErr) && exitErr.ExitCode() == 0:
		res.Status = exec.StatusOK
	case errors.As(err, &exitErr):
		res.Status, res.ExitCode = exec.StatusExit, int32(exitErr.ExitCode())
		res.Error = fmt.Sprintf("module exited with code %d", res.ExitCode)
	case instErr != nil:
		res.Status = exec.StatusBadModule
		res.Error = fmt.Sprintf("module could not be instantiated: %v", instErr)
	default:
		res.Status, res.Error = exec.StatusTrap, trapDetail(err)
	}
	switch res.Status {
	case exec.StatusOK, exec.StatusExit, exec.StatusTrap:
		// The module stopped by itself at a deterministic point: what it
		// wrote is its result. After a limit or a timeout, the files are
		// partial and would differ between replicas, so none are returned.
		res.Outputs = out.outputs()
	}
	return res, nil
}

// call runs the instrumented module's start function, if it had one, then
// _start, arming the stop global to trap the guest when ctx ends.
func (e *Executor) call(ctx context.Context, mod api.Module, stopped *atomic.Bool) error {
	stop, ok1 := mod.ExportedGlobal(stopExport).(api.MutableGlobal)
	budget, ok2 := mod.ExportedGlobal(budgetExport).(api.MutableGlobal)
	if !ok1 || !ok2 {
		return errNotInstrumented
	}
	defer context.AfterFunc(ctx, func() {
		// These stores race with the guest's loads by design: the guest
		// sees $stop at its next poll, which a $budget of 1 brings forward
		// to the next call (interrupt.go).
		stopped.Store(true)
		stop.Set(1)
		budget.Set(1)
	})()
	if ctx.Err() != nil {
		// AfterFunc runs on its own goroutine; a context that is already
		// done must stop the run before it starts, not a moment later.
		stopped.Store(true)
		return ctx.Err()
	}
	if start := mod.ExportedFunction(startExport); start != nil {
		if _, err := start.Call(ctx); err != nil {
			return err
		}
	}
	_, err := mod.ExportedFunction("_start").Call(ctx)
	return err
}

// instantiate turns a limit hit while instantiating (the module's initial
// memory) into an error; any other panic is a bug and propagates.
func instantiate(ctx context.Context, rt wazero.Runtime, module wazero.CompiledModule, mc wazero.ModuleConfig) (mod api.Module, err error) {
	defer func() {
		if r := recover(); r != nil {
			le, ok := r.(*limitError)
			if !ok {
				panic(r)
			}
			mod, err = nil, le
		}
	}()
	return rt.InstantiateModule(ctx, module, mc)
}

// maxTrapDetail keeps a trap's wasm stack trace useful but bounded.
const maxTrapDetail = 4 << 10

func trapDetail(err error) string {
	s := err.Error()
	if len(s) > maxTrapDetail {
		s = s[:maxTrapDetail] + "\n\t..."
	}
	return s
}

// limits fills the zero fields of job.Limits from the defaults and checks
// the job is well-formed.
func (e *Executor) limits(job exec.Job) (exec.Limits, error) {
	l, d := job.Limits, e.cfg.DefaultLimits
	invalid := func(format string, args ...any) (exec.Limits, error) {
		return exec.Limits{}, fmt.Errorf("%w %s: %s", ErrInvalidJob, job.ID, fmt.Sprintf(format, args...))
	}
	if l.MemoryBytes < 0 || l.Timeout < 0 || l.StdoutBytes < 0 || l.StderrBytes < 0 || l.OutputBytes < 0 || l.OutputFiles < 0 {
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
	l.MemoryBytes = min(l.MemoryBytes, maxMemoryBytes)

	if len(job.Module) == 0 && job.ModuleCID == "" {
		return invalid("no module: set Job.Module (and Job.ModuleCID to cache it)")
	}
	for _, a := range job.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return invalid("argument %q contains a NUL byte, which WASI cannot pass", a)
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
// them and for compilations in progress, then frees all compiled code. If
// ctx ends first, Close returns its error and the rest is freed in the
// background as soon as the last run or compilation ends. Close is
// idempotent.
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

	done := make(chan struct{})
	go func() {
		e.wg.Wait()
		// Freeing must not race with a compilation still writing to the
		// runtime, so it happens here, after the wait, whatever ctx does.
		bg := context.WithoutCancel(ctx)
		e.modules.closeAll(bg)
		_ = e.runtime.Close(bg)
		if e.ccache != nil {
			_ = e.ccache.Close(bg)
		}
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("exec/wasm: close: %w; a compilation is still running and resources will be freed when it ends", ctx.Err())
	}
}
