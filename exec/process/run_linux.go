package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/exec/internal/outdir"
	"github.com/hayek-market/hayek/exec/process/internal/wire"
)

// capture keeps the first limit bytes written to it and counts, but drops,
// the rest, as exec/wasm's does: a job flooding stdout costs the node
// nothing beyond the limit. The job's writes all succeed.
type capture struct {
	limit     int64
	buf       []byte
	truncated bool
}

func (c *capture) Write(p []byte) (int, error) {
	n := len(p)
	if room := c.limit - int64(len(c.buf)); int64(n) > room {
		c.truncated = true
		p = p[:max(room, 0)]
	}
	c.buf = append(c.buf, p...)
	return n, nil
}

// Why the executor ended a run.
type stopReason int

const (
	notStopped stopReason = iota
	stoppedTimeout
	stoppedOOM
	stoppedContext
)

func (e *Executor) run(ctx context.Context, m *module, job exec.Job, l exec.Limits, gpus []devNode) (res exec.Result, err error) {
	name := fmt.Sprintf("%s-%d", e.instance, e.seq.Add(1))
	cg, err := e.cgroups.newJob(name, l.MemoryBytes, e.cfg.MaxProcesses, l.CPUs, append(slices.Clip(e.devices), gpus...))
	if err != nil {
		return exec.Result{}, &setupError{"make cgroup " + name, err}
	}
	defer func() {
		// However the run ended: nothing of it may outlive Run.
		if derr := cg.destroy(context.WithoutCancel(ctx)); derr != nil && err == nil {
			res, err = exec.Result{}, fmt.Errorf("exec/process: job %s: clean up: %w", job.ID, derr)
		}
	}()

	stdout := &capture{limit: l.StdoutBytes}
	stderr := &capture{limit: l.StderrBytes}
	sb, err := e.take(ctx, e.runSpec(job, l), job.Inputs, m.file, cg, gpus, job.Stdin, stdout, stderr)
	if sb != nil {
		defer sb.release()
	}
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return exec.Result{}, e.stopped(ctx, job.ID)
	case isExecFailure(err):
		// The kernel refused the module after all our checks.
		return exec.Result{Status: exec.StatusBadModule, Error: "the kernel refused to execute the module: " + err.Error()}, nil
	default:
		return exec.Result{}, fmt.Errorf("exec/process: job %s: %w", job.ID, err)
	}

	// The job runs from here.
	start := time.Now()
	oom := watchOOM(cg)
	defer oom.stop()
	timer := time.NewTimer(l.Timeout)
	defer timer.Stop()
	reason := notStopped
	select {
	case <-sb.waited:
	case <-timer.C:
		reason = stoppedTimeout
	case <-oom.fired:
		reason = stoppedOOM
	case <-ctx.Done():
		reason = stoppedContext
	}
	if reason != notStopped {
		sb.kill()
		<-sb.waited
	}
	wall := time.Since(start)
	// The streams end with the job's last process; read them to the end.
	sb.io.Wait()
	if reason == stoppedContext {
		return exec.Result{}, e.stopped(ctx, job.ID)
	}
	stats := cg.stats()
	report := <-sb.exit
	if e.testHookStats != nil {
		e.testHookStats(stats, report.exit)
	}

	res = exec.Result{
		Stdout:          stdout.buf,
		Stderr:          stderr.buf,
		StdoutTruncated: stdout.truncated,
		StderrTruncated: stderr.truncated,
		// Charges the kernel cannot refuse (an OOM victim's way out) can
		// push the counter a page or two past the limit; the job never
		// had that memory to use.
		Usage: exec.Usage{Wall: wall, MemoryBytes: min(stats.peakMemory, l.MemoryBytes)},
	}
	tmpFull, err := full(sb.tmp)
	if err != nil {
		return exec.Result{}, fmt.Errorf("exec/process: job %s: check /tmp: %w", job.ID, err)
	}
	outFull, err := full(sb.out)
	if err != nil {
		return exec.Result{}, fmt.Errorf("exec/process: job %s: check /out: %w", job.ID, err)
	}
	status := exitStatus(report.exit, e.cpuSeconds(l))
	switch {
	case reason == stoppedOOM || stats.oomKills > 0:
		res.Status = exec.StatusMemoryLimit
		res.Error = fmt.Sprintf("the job needed more than its memory limit of %d KiB (its processes and its files in /tmp and /out together); raise the job's memory limit or make it use less", l.MemoryBytes>>10)
	case reason == stoppedTimeout:
		res.Status = exec.StatusTimeout
		res.Error = fmt.Sprintf("job ran past its time limit of %s; raise the job's timeout (--timeout)", l.Timeout)
	case tmpFull:
		res.Status = exec.StatusMemoryLimit
		res.Error = fmt.Sprintf("the job filled /tmp, whose files count against its memory limit of %d KiB; raise the job's memory limit or make it use less scratch space", l.MemoryBytes>>10)
	case outFull:
		res.Status = exec.StatusOutputLimit
		res.Error = fmt.Sprintf("the job filled /out beyond its limits of %d bytes in %d files and directories; raise the job's output limits", l.OutputBytes, l.OutputFiles)
	case report.err != nil:
		// Not the job's doing: only the OOM killer, handled above, or the
		// executor can end the init early.
		return exec.Result{}, fmt.Errorf("exec/process: job %s: the sandbox init ended (%v) without saying how the job ended: %w", job.ID, sb.waitErr, report.err)
	case status.signal == syscall.SIGXCPU || (status.signal == syscall.SIGKILL && status.cpuLimit):
		res.Status = exec.StatusTimeout
		res.Error = "the job used up its CPU time (RLIMIT_CPU); raise the job's timeout"
	case status.signal == syscall.SIGXFSZ:
		res.Status = exec.StatusOutputLimit
		res.Error = "the job wrote a file past the largest size allowed (RLIMIT_FSIZE)"
	case status.signal != 0:
		res.Status = exec.StatusTrap
		res.Error = fmt.Sprintf("the job was killed by signal %d (%s)", int(status.signal), unix.SignalName(status.signal))
	case status.code == 0:
		res.Status = exec.StatusOK
	default:
		res.Status, res.ExitCode = exec.StatusExit, int32(status.code)
		res.Error = fmt.Sprintf("the job exited with code %d", status.code)
	}
	switch res.Status {
	case exec.StatusOK, exec.StatusExit, exec.StatusTrap:
		// As in exec/wasm: the job stopped by itself, so what it left is
		// its result; after a limit, the files are partial.
		files, err := collectOut(sb.out, l.OutputBytes, l.OutputFiles)
		var over *outdir.OverLimit
		switch {
		case errors.As(err, &over):
			res.Status, res.ExitCode, res.Error = exec.StatusOutputLimit, 0, over.Detail
		case err != nil:
			return exec.Result{}, fmt.Errorf("exec/process: job %s: collect /out: %w", job.ID, err)
		default:
			res.Outputs = files
		}
	}
	if stats.pidsRefused > 0 && res.Status != exec.StatusOK {
		res.Error += fmt.Sprintf("; the kernel refused %d of its forks at its limit of %d processes and threads", stats.pidsRefused, e.cfg.MaxProcesses)
	}
	return res, nil
}

type exitInfo struct {
	code     int
	signal   syscall.Signal
	cpuLimit bool // the process used up its CPU rlimit (the hard limit kills with SIGKILL)
}

func exitStatus(x *wire.Exit, cpuSeconds uint64) exitInfo {
	if x == nil {
		return exitInfo{}
	}
	ws := syscall.WaitStatus(x.WaitStatus)
	if !ws.Signaled() {
		return exitInfo{code: ws.ExitStatus()}
	}
	info := exitInfo{signal: ws.Signal()}
	// RLIMIT_CPU's hard limit kills with SIGKILL, like the OOM killer and
	// the executor itself; only the CPU time used tells it apart.
	if used := time.Duration(x.UserNanos + x.SysNanos); used >= time.Duration(cpuSeconds)*time.Second {
		info.cpuLimit = true
	}
	return info
}

// oomWatch turns the v1 memory cgroup's OOM notifications into a channel.
type oomWatch struct {
	fired chan struct{}
	file  *os.File
	done  chan struct{}
}

func watchOOM(cg *jobCgroup) *oomWatch {
	w := &oomWatch{fired: make(chan struct{}), done: make(chan struct{})}
	if cg.oom == nil {
		close(w.done)
		return w
	}
	w.file = cg.oom
	go func() {
		defer close(w.done)
		buf := make([]byte, 8)
		if n, err := w.file.Read(buf); err == nil && n == 8 {
			close(w.fired)
		}
	}()
	return w
}

// stop ends the watch and waits for its goroutine.
func (w *oomWatch) stop() {
	if w.file != nil {
		_ = w.file.SetReadDeadline(time.Now())
	}
	<-w.done
}
