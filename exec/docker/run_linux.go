//go:build linux

package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/exec/gpu"
)

// Paths inside the container.
const (
	shimPath   = "/.hayek-init"
	ctlPath    = "/.hayek"
	statusPath = ctlPath + "/status"
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
	return l
}

func checkJob(job exec.Job) error {
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

	img, bad, err := e.prepare(setup, job.ModuleCID, job.Module)
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

	rd, err := e.newRunDir(job, lim)
	if err != nil {
		return exec.Result{}, err
	}
	// Cleanup must happen even when ctx is cancelled: it is what a
	// cancelled run owes the host.
	cleanupCtx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	}
	defer rd.remove()

	cfg, hc := e.containerConfig(job, img, argv, rd, lim, devices)
	created, err := e.cli.ContainerCreate(setup, client.ContainerCreateOptions{Config: cfg, HostConfig: hc})
	if err != nil {
		return exec.Result{}, fmt.Errorf("exec/docker: create the container for job %s: %w", job.ID, err)
	}
	id := created.ID
	defer func() {
		cctx, cancel := cleanupCtx()
		defer cancel()
		e.removeContainer(cctx, id)
	}()

	// Wait and attach before start: the exit and the first bytes of
	// output cannot be missed.
	waitCtx, stopWait := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWait()
	wait := e.cli.ContainerWait(waitCtx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	att, err := e.cli.ContainerAttach(setup, id, client.ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		return exec.Result{}, fmt.Errorf("exec/docker: attach to the container of job %s: %w", job.ID, err)
	}
	defer att.Close()

	stdout := &capped{limit: lim.StdoutBytes}
	stderr := &capped{limit: lim.StderrBytes}
	copied := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(stdout, stderr, att.Reader)
		copied <- err
	}()
	stdinDone := make(chan struct{})
	go func() {
		defer close(stdinDone)
		if len(job.Stdin) > 0 {
			att.Conn.Write(job.Stdin) // fails only when the job is gone or stops reading: its business
		}
		att.CloseWrite()
	}()

	if _, err := e.cli.ContainerStart(setup, id, client.ContainerStartOptions{}); err != nil {
		att.Close()
		<-stdinDone
		<-copied
		if strings.Contains(err.Error(), "exec format error") || strings.Contains(err.Error(), "no such file or directory") {
			return exec.Result{Status: exec.StatusBadModule, Error: fmt.Sprintf("the container did not start: %v", err)}, nil
		}
		return exec.Result{}, fmt.Errorf("exec/docker: start the container of job %s: %w", job.ID, err)
	}
	started := time.Now()
	timer := time.NewTimer(lim.Timeout)
	defer timer.Stop()

	var (
		timedOut bool
		exitCode int64
	)
	kill := func() {
		kctx, cancel := cleanupCtx()
		defer cancel()
		e.cli.ContainerKill(kctx, id, client.ContainerKillOptions{Signal: "KILL"})
	}
	select {
	case w := <-wait.Result:
		exitCode = w.StatusCode
	case err := <-wait.Error:
		kill()
		return exec.Result{}, fmt.Errorf("exec/docker: wait for job %s: %w", job.ID, err)
	case <-timer.C:
		timedOut = true
		kill()
		select {
		case <-wait.Result:
		case err := <-wait.Error:
			return exec.Result{}, fmt.Errorf("exec/docker: wait for job %s after killing it: %w", job.ID, err)
		}
	case <-ctx.Done():
		kill()
		// Let the container go before Run returns: nothing of the job may
		// outlive a cancelled run (the deferred remove finishes it).
		select {
		case <-wait.Result:
		case <-wait.Error:
		}
		att.Close()
		<-stdinDone
		<-copied
		return exec.Result{}, context.Cause(ctx)
	}
	wall := time.Since(started)

	// The container is gone: its streams end. A stream that does not is
	// the engine's fault; do not wait for it for ever.
	select {
	case <-copied:
	case <-time.After(10 * time.Second):
		att.Close()
		<-copied
	}
	att.Close()
	<-stdinDone

	res := exec.Result{
		Stdout:          stdout.buf,
		Stderr:          stderr.buf,
		StdoutTruncated: stdout.truncated,
		StderrTruncated: stderr.truncated,
		Usage:           exec.Usage{Wall: wall},
	}
	st, stErr := readStatus(filepath.Join(rd.ctl, "status"))
	if stErr == nil {
		res.Usage.MemoryBytes = min(st.maxRSS, lim.MemoryBytes)
	}
	ictx, cancel := cleanupCtx()
	defer cancel()
	insp, err := e.cli.ContainerInspect(ictx, id, client.ContainerInspectOptions{})
	if err != nil {
		return exec.Result{}, fmt.Errorf("exec/docker: inspect the container of job %s: %w", job.ID, err)
	}
	oom := insp.Container.State != nil && insp.Container.State.OOMKilled

	switch {
	case timedOut:
		res.Status, res.Error = exec.StatusTimeout, fmt.Sprintf("the job ran longer than its %s time limit and was killed", lim.Timeout)
		return res, nil
	case oom:
		res.Status, res.Error = exec.StatusMemoryLimit, fmt.Sprintf("the job used more than its %d MiB memory limit (its processes and its files in /tmp) and was killed", lim.MemoryBytes>>20)
		return res, nil
	case stErr != nil:
		return res, fmt.Errorf("exec/docker: job %s: container exited with code %d and the shim left no status: %v", job.ID, exitCode, stErr)
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
	files, err := collect(rd.out, lim.OutputBytes, lim.OutputFiles)
	var over *overLimit
	switch {
	case errors.As(err, &over):
		res.Status, res.Error = exec.StatusOutputLimit, over.detail
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

// containerConfig is the hardened container for one run.
func (e *Executor) containerConfig(job exec.Job, img *image, argv []string, rd *runDir, lim exec.Limits, devices []gpu.Device) (*container.Config, *container.HostConfig) {
	env := make([]string, 0, len(job.Env))
	for _, k := range slices.Sorted(maps.Keys(job.Env)) {
		env = append(env, k+"="+job.Env[k])
	}
	// The engine adds HOSTNAME, HOME and PATH, and the image's ENV: the
	// shim keeps only what the job (and, if allowed, the image) set.
	entry := []string{shimPath, "-status", statusPath}
	keep := slices.Collect(maps.Keys(job.Env))
	if e.cfg.ImageEnv {
		for _, kv := range img.env {
			name, _, _ := strings.Cut(kv, "=")
			keep = append(keep, name)
		}
	}
	slices.Sort(keep)
	for _, name := range slices.Compact(keep) {
		entry = append(entry, "-keep", name)
	}
	entry = append(entry, "--")
	workdir := img.workdir
	if workdir == "" {
		workdir = "/"
	}
	labels := map[string]string{
		LabelManaged:  "docker",
		LabelExecutor: e.instance,
		LabelJob:      labelValue(job.ID),
	}
	cfg := &container.Config{
		Image:           img.id,
		Entrypoint:      entry,
		Cmd:             argv,
		Env:             env,
		User:            e.user,
		WorkingDir:      workdir,
		Hostname:        "job",
		AttachStdin:     true,
		AttachStdout:    true,
		AttachStderr:    true,
		OpenStdin:       true,
		StdinOnce:       true,
		NetworkDisabled: true,
		Labels:          labels,
	}
	pids := int64(e.cfg.MaxProcesses) + 1 // and the shim
	hc := &container.HostConfig{
		NetworkMode:    "none",
		ReadonlyRootfs: true,
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges:true"},
		IpcMode:        container.IPCModePrivate,
		LogConfig:      container.LogConfig{Type: "none"},
		Runtime:        e.cfg.Runtime,
		Tmpfs: map[string]string{
			"/tmp": fmt.Sprintf("rw,nosuid,nodev,noexec,size=%d,mode=1777", lim.MemoryBytes),
		},
		Mounts: []mount.Mount{
			{Type: mount.TypeBind, Source: rd.in, Target: "/in", ReadOnly: true},
			{Type: mount.TypeBind, Source: rd.out, Target: "/out"},
			{Type: mount.TypeBind, Source: rd.ctl, Target: ctlPath},
			{Type: mount.TypeBind, Source: e.shim, Target: shimPath, ReadOnly: true},
		},
		Resources: container.Resources{
			Memory:     lim.MemoryBytes,
			MemorySwap: lim.MemoryBytes, // no swap: the limit is the limit
			PidsLimit:  &pids,
			NanoCPUs:   int64(e.cfg.CPUs * 1e9),
			Ulimits: []*container.Ulimit{
				{Name: "nofile", Soft: int64(e.cfg.MaxOpenFiles), Hard: int64(e.cfg.MaxOpenFiles)},
				{Name: "core", Soft: 0, Hard: 0},
			},
		},
	}
	if len(devices) > 0 {
		ids := make([]string, len(devices))
		for i, d := range devices {
			ids[i] = d.UUID
		}
		hc.DeviceRequests = []container.DeviceRequest{{Driver: "nvidia", DeviceIDs: ids, Capabilities: [][]string{{"gpu"}}}}
	}
	return cfg, hc
}

// labelValue keeps a job ID readable and bounded in a label.
func labelValue(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
	if len(s) > 128 {
		s = s[:128]
	}
	return s
}

// capped keeps the first limit bytes written and counts the rest away, so
// a flood costs the node no memory and never blocks the job.
type capped struct {
	limit     int64
	buf       []byte
	truncated bool
}

func (c *capped) Write(p []byte) (int, error) {
	room := c.limit - int64(len(c.buf))
	if int64(len(p)) > room {
		c.truncated = true
		c.buf = append(c.buf, p[:max(room, 0)]...)
	} else {
		c.buf = append(c.buf, p...)
	}
	return len(p), nil
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
