//go:build linux

package docker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/exec/gpu"
	"github.com/hayek-market/hayek/exec/internal/outdir"
)

// Paths inside the container.
const (
	shimPath   = "/.hayek-init"
	ctlPath    = "/.hayek"
	statusPath = ctlPath + "/status"
	specPath   = ctlPath + "/spec"
)

// Run runs job in a new container and removes it before returning, on
// every path.
func (e *Executor) Run(ctx context.Context, job exec.Job) (exec.Result, error) {
	return e.RunWithDevices(ctx, job, nil)
}

// RunWithDevices is Run with GPUs: the devices (from an exec/gpu
// Allocation the caller holds for the run) are passed to the container
// as an NVIDIA device request, by UUID, and no others.
func (e *Executor) RunWithDevices(ctx context.Context, job exec.Job, devices []gpu.Device) (exec.Result, error) {
	if err := ctx.Err(); err != nil {
		return exec.Result{}, fmt.Errorf("exec/docker: run %s: %w", job.ID, context.Cause(ctx))
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return exec.Result{}, exec.ErrClosed
	}
	e.runs.Add(1)
	e.mu.Unlock()
	defer e.runs.Done()

	// Close ends the run like a cancelled context, with its own cause.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-e.closing:
			cancel(exec.ErrClosed)
		case <-ctx.Done():
		}
	}()
	res, err := e.run(ctx, job, devices)
	if err != nil && ctx.Err() != nil {
		err = context.Cause(ctx)
		if !errors.Is(err, exec.ErrClosed) {
			err = fmt.Errorf("exec/docker: run %s: %w", job.ID, err)
		}
	}
	return res, err
}

func (e *Executor) limits(l exec.Limits) exec.Limits {
	d := e.cfg.DefaultLimits
	if l.MemoryBytes <= 0 {
		l.MemoryBytes = d.MemoryBytes
	}
	if l.Timeout <= 0 {
		l.Timeout = d.Timeout
	}
	if l.StdoutBytes <= 0 {
		l.StdoutBytes = d.StdoutBytes
	}
	if l.StderrBytes <= 0 {
		l.StderrBytes = d.StderrBytes
	}
	if l.OutputBytes <= 0 {
		l.OutputBytes = d.OutputBytes
	}
	if l.OutputFiles <= 0 {
		l.OutputFiles = d.OutputFiles
	}
	l.MemoryBytes = max(l.MemoryBytes, minMemoryBytes)
	// The engine refuses a quota above the host's cores, which would be
	// no limit anyway; the engine is local (New insists).
	l.CPUs = min(exec.CPUQuota(l.CPUs, e.cfg.CPUs), float64(runtime.NumCPU()))
	return l
}

// nanoCPUs is the engine's form of a run's CPU quota: billionths of a
// core, 0 for none.
func nanoCPUs(l exec.Limits) int64 { return int64(l.CPUs * 1e9) }

func checkJob(job exec.Job) error {
	if c := job.Limits.CPUs; !(c >= 0) || math.IsInf(c, 1) {
		return fmt.Errorf("%w: cpus %v: want a number of cores, or zero for the executor's cap", ErrInvalidJob, c)
	}
	seen := map[string]bool{}
	for _, f := range job.Inputs {
		if f.Name == "" || f.Name == "." || f.Name == ".." || strings.ContainsAny(f.Name, "/\x00") {
			return fmt.Errorf("%w: input name %q: want a plain file name, no slashes", ErrInvalidJob, f.Name)
		}
		if seen[f.Name] {
			return fmt.Errorf("%w: input %q given twice", ErrInvalidJob, f.Name)
		}
		seen[f.Name] = true
	}
	for k := range job.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return fmt.Errorf("%w: environment variable name %q", ErrInvalidJob, k)
		}
	}
	return nil
}

func (e *Executor) run(ctx context.Context, job exec.Job, devices []gpu.Device) (exec.Result, error) {
	if err := checkJob(job); err != nil {
		return exec.Result{}, err
	}
	lim := e.limits(job.Limits)
	setup, cancelSetup := context.WithTimeout(ctx, e.cfg.SetupTimeout)
	defer cancelSetup()

	key := job.ModuleCID
	if key == "" { // nothing names it: its own digest does
		sum := sha256.Sum256(job.Module)
		key = "sha256:" + hex.EncodeToString(sum[:])
	}
	img, bad, err := e.prepare(setup, key, job.Module)
	if err != nil {
		return exec.Result{}, err
	}
	if bad != "" {
		return exec.Result{Status: exec.StatusBadModule, Error: bad}, nil
	}
	argv := slices.Concat(img.entrypoint, job.Args)
	if len(job.Args) == 0 {
		argv = slices.Concat(img.entrypoint, img.cmd)
	}
	if len(argv) == 0 {
		return exec.Result{Status: exec.StatusBadModule, Error: "the image has no entrypoint or command, and the job gives no arguments"}, nil
	}
	var nonce [16]byte
	if _, err := randRead(nonce[:]); err != nil {
		return exec.Result{}, err
	}
	end := []byte("\x00hayek-end-" + hex.EncodeToString(nonce[:]) + "\x00")
	spec, err := json.Marshal(struct {
		Argv []string `json:"argv"`
		Env  []string `json:"env"`
		End  string   `json:"end"`
	}{argv, e.jobEnv(job, img), string(end)})
	if err != nil {
		return exec.Result{}, fmt.Errorf("exec/docker: job %s: %w", job.ID, err)
	}

	b := e.take(img.id, lim, devices)
	if b == nil {
		if b, err = e.startBox(setup, img, lim, devices, job.ID); err != nil {
			return exec.Result{}, fmt.Errorf("exec/docker: job %s: %w", job.ID, err)
		}
	}
	// A job that ended by itself (its shim said so) leaves the
	// container's teardown to the background (Close and Leaks wait for
	// it): its processes are all dead by then. Any other end removes the container before Run
	// returns.
	async := false
	defer func() {
		if async {
			e.teardown(b)
		} else {
			b.discard(e)
		}
	}()
	if len(devices) == 0 {
		e.refill(img) // for the next run of this image
	}
	if err := b.rd.writeJob(job.Inputs, spec); err != nil {
		return exec.Result{}, fmt.Errorf("exec/docker: job %s: write its inputs: %w", job.ID, err)
	}
	// A warm box was made with the executor's defaults; the engine leaves
	// the zero fields of an update as they are. A job's CPU quota is never
	// above the box's (the executor's cap), so it never needs to be lifted.
	var update container.Resources
	if lim.MemoryBytes != b.memory {
		update.Memory, update.MemorySwap = lim.MemoryBytes, lim.MemoryBytes
	}
	if nano := nanoCPUs(lim); nano != b.nanoCPUs {
		update.NanoCPUs = nano
	}
	if update.Memory != 0 || update.NanoCPUs != 0 {
		if _, err := e.cli.ContainerUpdate(setup, b.id, client.ContainerUpdateOptions{Resources: &update}); err != nil {
			return exec.Result{}, fmt.Errorf("exec/docker: job %s: set its memory and CPU limits: %w", job.ID, err)
		}
	}
	b.stdout.setJob(lim.StdoutBytes, end)
	b.stderr.setJob(lim.StderrBytes, end)
	// The shim's end marker on both streams says the job's processes
	// are all dead, its status is written and its output is all in. Only
	// the shim knows the marker: a job cannot end its run early.
	ended := make(chan struct{})
	stopEnded := make(chan struct{})
	defer close(stopEnded)
	go func() {
		for _, c := range []*capped{b.stdout, b.stderr} {
			select {
			case <-c.ended:
			case <-stopEnded:
				return
			}
		}
		close(ended)
	}()

	// The go byte, then stdin; closing it tells the job it has all.
	stdinDone := make(chan struct{})
	go func() {
		defer close(stdinDone)
		// Fails only when the job is gone or stops reading: its business.
		b.att.Conn.Write(append([]byte{'g'}, job.Stdin...))
		b.att.CloseWrite()
	}()
	defer func() { b.att.Close(); <-stdinDone }()
	started := time.Now()
	timer := time.NewTimer(lim.Timeout)
	defer timer.Stop()

	kill := func() {
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		e.cli.ContainerKill(kctx, b.id, client.ContainerKillOptions{Signal: "KILL"})
	}
	timedOut, finished := false, false
	select {
	case <-ended:
		finished = true
	case <-b.wait.Result:
	case err := <-b.wait.Error:
		return exec.Result{}, fmt.Errorf("exec/docker: wait for job %s: %w", job.ID, err)
	case <-timer.C:
		timedOut = true
		kill()
		select {
		case <-b.wait.Result:
		case err := <-b.wait.Error:
			return exec.Result{}, fmt.Errorf("exec/docker: wait for job %s after killing it: %w", job.ID, err)
		}
	case <-ctx.Done():
		// The deferred discard removes the container before Run returns:
		// nothing of the job outlives a cancelled run.
		kill()
		return exec.Result{}, context.Cause(ctx)
	}
	wall := time.Since(started)

	if !finished {
		// The container is gone: its streams end. A stream that does not
		// is the engine's fault; do not wait for it for ever.
		select {
		case <-b.copied:
			close(b.copied) // discard must not wait for it again
		case <-time.After(10 * time.Second):
		}
		// The engine may report the container's exit before it has
		// delivered the last of its streams: a shim that wrote both
		// markers and exited finished the job, whichever came first.
		if !timedOut && closed(b.stdout.ended) && closed(b.stderr.ended) {
			finished = true
		}
	}
	b.att.Close()
	async = finished
	stdout, stdoutTrunc := b.stdout.result()
	stderr, stderrTrunc := b.stderr.result()
	res := exec.Result{
		Stdout:          stdout,
		Stderr:          stderr,
		StdoutTruncated: stdoutTrunc,
		StderrTruncated: stderrTrunc,
		Usage:           exec.Usage{Wall: wall},
	}
	// The status is the shim's only when its marker followed: a job
	// may have written one itself, and the shim replaced it at the end.
	st, stErr := status{}, errors.New("the container ended before its shim reported the job's end")
	if finished {
		st, stErr = readStatus(filepath.Join(b.rd.ctl, "status"))
	}
	if stErr == nil {
		res.Usage.MemoryBytes = min(st.maxRSS, lim.MemoryBytes)
	}
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	insp, err := e.cli.ContainerInspect(ictx, b.id, client.ContainerInspectOptions{})
	if err != nil {
		return exec.Result{}, fmt.Errorf("exec/docker: inspect the container of job %s: %w", job.ID, err)
	}
	state := insp.Container.State
	unreported := !finished && !timedOut && stErr != nil
	// A shim killed by SIGKILL before it reported, in a container we
	// neither stopped nor timed out, met the kernel's OOM killer (nothing
	// else here sends SIGKILL to PID 1), whether or not the engine's flag
	// has caught up: on a loaded machine it can lag for seconds.
	oom := state != nil && (state.OOMKilled || unreported && state.ExitCode == 128+int(syscall.SIGKILL))
	// Otherwise the engine may still learn of an OOM kill from an event
	// that comes after the exit it reports (the killer may take the shim
	// too, when /tmp holds the memory): ask again for a moment before
	// calling it anything else.
	for wait := 0; !oom && unreported && wait < 30; wait++ {
		select {
		case <-ictx.Done():
			wait = 30
			continue
		case <-time.After(100 * time.Millisecond):
		}
		if again, err := e.cli.ContainerInspect(ictx, b.id, client.ContainerInspectOptions{}); err == nil {
			oom = again.Container.State != nil && again.Container.State.OOMKilled
		}
	}

	switch {
	case timedOut:
		res.Status, res.Error = exec.StatusTimeout, fmt.Sprintf("the job ran longer than its %s time limit and was killed", lim.Timeout)
		return res, nil
	case oom:
		res.Status, res.Error = exec.StatusMemoryLimit, fmt.Sprintf("the job used more than its %d MiB memory limit (its processes and its files in /tmp) and was killed", lim.MemoryBytes>>20)
		return res, nil
	case stErr != nil:
		return res, fmt.Errorf("exec/docker: job %s: the container ended and its shim left no status: %v", job.ID, stErr)
	case st.startErr != "":
		res.Status, res.ExitCode, res.Error = exec.StatusBadModule, 127, "the image's program did not start: "+st.startErr
		return res, nil
	case st.signal == int(syscall.SIGKILL):
		// Nothing but the kernel's OOM killer sends SIGKILL to a job we
		// did not kill ourselves, unless the job did (it may; then it is
		// still its own doing). The engine's OOM flag can lag behind.
		res.Status, res.Error = exec.StatusMemoryLimit, fmt.Sprintf("the job was killed by SIGKILL, which here is the kernel's OOM killer at its %d MiB memory limit", lim.MemoryBytes>>20)
		return res, nil
	case st.signal != 0:
		res.Status, res.ExitCode = exec.StatusTrap, int32(128+st.signal)
		res.Error = fmt.Sprintf("the job died by signal %d (%s)", st.signal, syscall.Signal(st.signal))
		return res, nil
	}
	res.ExitCode = int32(st.exit)
	files, err := collectOut(b.rd.out, lim.OutputBytes, lim.OutputFiles)
	var over *outdir.OverLimit
	switch {
	case errors.As(err, &over):
		res.Status, res.Error = exec.StatusOutputLimit, over.Detail
		return res, nil
	case err != nil:
		return res, fmt.Errorf("exec/docker: job %s: collect /out: %w", job.ID, err)
	}
	res.Outputs = files
	if st.exit != 0 {
		res.Status, res.Error = exec.StatusExit, fmt.Sprintf("the job exited with code %d", st.exit)
		return res, nil
	}
	res.Status = exec.StatusOK
	return res, nil
}

// status is the shim's report on the job.
type status struct {
	exit, signal int
	maxRSS       int64
	startErr     string
}

// readStatus reads the line the shim wrote when the job ended.
func readStatus(path string) (status, error) {
	f, err := os.Open(path)
	if err != nil {
		return status{}, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return status{}, err
	}
	line := strings.TrimSpace(string(b))
	if msg, ok := strings.CutPrefix(line, "error "); ok {
		return status{startErr: msg}, nil
	}
	f2 := strings.Fields(line)
	if len(f2) != 6 || f2[0] != "exit" || f2[2] != "signal" || f2[4] != "maxrss" {
		return status{}, fmt.Errorf("malformed status %q", line)
	}
	var st status
	var errs [3]error
	st.exit, errs[0] = strconv.Atoi(f2[1])
	st.signal, errs[1] = strconv.Atoi(f2[3])
	st.maxRSS, errs[2] = strconv.ParseInt(f2[5], 10, 64)
	if err := errors.Join(errs[:]...); err != nil {
		return status{}, fmt.Errorf("malformed status %q: %w", line, err)
	}
	return st, nil
}

// closed reports whether ch is closed, without waiting.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
