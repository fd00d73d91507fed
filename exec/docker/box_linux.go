//go:build linux

package docker

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/exec/gpu"
)

// A box is a started container whose shim waits for its job: created,
// attached, waited for and started before the job is known, so that a
// run of an image the executor keeps warm skips all of that (the
// engine's create and start are most of a trivial job's time). What
// depends on the job comes later: inputs are written into the bound
// directory, argv and env into the shim's spec file, the memory limit is
// updated if it differs, and one byte on stdin starts the job.
type box struct {
	id       string
	image    string
	rd       *runDir
	memory   int64 // the memory limit it was created with, and /tmp's size
	nanoCPUs int64 // the CPU quota it was created with
	devices  bool

	att            client.ContainerAttachResult
	stdout, stderr *capped
	copied         chan error
	wait           client.ContainerWaitResult
	stopWait       context.CancelFunc
}

// startBox creates and starts a box for img with limits lim.
func (e *Executor) startBox(ctx context.Context, img *image, lim exec.Limits, devices []gpu.Device, label string) (_ *box, err error) {
	rd, err := e.newRunDir(lim)
	if err != nil {
		return nil, err
	}
	b := &box{image: img.id, rd: rd, memory: lim.MemoryBytes, nanoCPUs: nanoCPUs(lim), devices: len(devices) > 0,
		stdout: newCapped(), stderr: newCapped(), copied: make(chan error, 1)}
	defer func() {
		if err != nil {
			b.discard(e)
		}
	}()
	cfg, hc := e.containerConfig(img, rd, lim, devices, label)
	// Not cancelled half-way: the engine may finish creating a container
	// whose request was abandoned, and then nobody would know its ID.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.SetupTimeout)
	created, err := e.cli.ContainerCreate(cctx, client.ContainerCreateOptions{Config: cfg, HostConfig: hc})
	cancel()
	if err != nil {
		return nil, fmt.Errorf("exec/docker: create a container of %s: %w", img.id, err)
	}
	b.id = created.ID
	if err := ctx.Err(); err != nil {
		return nil, context.Cause(ctx)
	}
	// Wait and attach before start: the exit and the first bytes of
	// output cannot be missed. The wait lives as long as the box.
	waitCtx, stopWait := context.WithCancel(context.WithoutCancel(ctx))
	b.stopWait = stopWait
	b.wait = e.cli.ContainerWait(waitCtx, b.id, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if b.att, err = e.cli.ContainerAttach(ctx, b.id, client.ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true}); err != nil {
		b.att = client.ContainerAttachResult{}
		close(b.copied)
		return nil, fmt.Errorf("exec/docker: attach to container %.12s: %w", b.id, err)
	}
	go func() {
		_, err := stdcopy.StdCopy(b.stdout, b.stderr, b.att.Reader)
		b.copied <- err
	}()
	if _, err := e.cli.ContainerStart(ctx, b.id, client.ContainerStartOptions{}); err != nil {
		return nil, fmt.Errorf("exec/docker: start container %.12s: %w", b.id, err)
	}
	return b, nil
}

// alive reports whether the box's shim still waits for a job.
func (b *box) alive() bool {
	select {
	case <-b.wait.Result:
		return false
	case <-b.wait.Error:
		return false
	default:
		return true
	}
}

// discard removes the box from the engine and the host. It is what every
// run owes the host, cancelled or not, so it has its own deadline.
func (b *box) discard(e *Executor) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if b.id != "" {
		e.removeContainer(ctx, b.id)
	}
	if b.stopWait != nil {
		b.stopWait()
	}
	if b.att.Conn != nil {
		b.att.Close()
		<-b.copied
	}
	b.rd.remove()
}

// containerConfig is the hardened container for a box.
func (e *Executor) containerConfig(img *image, rd *runDir, lim exec.Limits, devices []gpu.Device, label string) (*container.Config, *container.HostConfig) {
	workdir := img.workdir
	if workdir == "" {
		workdir = "/"
	}
	cfg := &container.Config{
		Image:           img.id,
		Entrypoint:      []string{shimPath, "-status", statusPath, "-spec", specPath},
		Cmd:             []string{},
		User:            e.user,
		WorkingDir:      workdir,
		Hostname:        "job",
		AttachStdin:     true,
		AttachStdout:    true,
		AttachStderr:    true,
		OpenStdin:       true,
		StdinOnce:       true,
		NetworkDisabled: true,
		Labels: map[string]string{
			LabelManaged:  "docker",
			LabelExecutor: e.instance,
			LabelJob:      labelValue(label),
		},
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
			// Its pages are charged to the memory cgroup, which is what
			// stops a job filling it; the size only bounds it the same.
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
			NanoCPUs:   nanoCPUs(lim),
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

// jobEnv is the job's whole environment: its own variables, after the
// image's when the provider allows those.
func (e *Executor) jobEnv(job exec.Job, img *image) []string {
	var env []string
	if e.cfg.ImageEnv {
		for _, kv := range img.env {
			if name, _, _ := strings.Cut(kv, "="); job.Env == nil || !hasKey(job.Env, name) {
				env = append(env, kv)
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(job.Env)) {
		env = append(env, k+"="+job.Env[k])
	}
	if env == nil {
		env = []string{}
	}
	return env
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

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
// a flood costs the node no memory and never blocks the job. The limit is
// set when the job is known, after the box started copying. The stream
// ends with the shim's end marker, which is not the job's: capped keeps
// the stream's last bytes to see it arrive, and leaves it out.
type capped struct {
	mu        sync.Mutex
	limit     int64
	buf       []byte
	total     int64
	end       []byte
	tail      []byte
	ended     chan struct{} // closed when the stream ends with end
	endedOnce bool
}

func newCapped() *capped { return &capped{ended: make(chan struct{})} }

func (c *capped) setJob(limit int64, end []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.limit, c.end = limit, end
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total += int64(len(p))
	if room := c.limit + int64(len(c.end)) - int64(len(c.buf)); room > 0 {
		c.buf = append(c.buf, p[:min(int64(len(p)), room)]...)
	}
	if n := len(c.end); n > 0 {
		c.tail = append(c.tail, p[max(len(p)-n, 0):]...)
		c.tail = c.tail[max(len(c.tail)-n, 0):]
		if !c.endedOnce && string(c.tail) == string(c.end) {
			c.endedOnce = true
			close(c.ended)
		}
	}
	return len(p), nil
}

// result is what the job wrote, at most limit bytes, and whether it
// wrote more.
func (c *capped) result() ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.total
	if c.endedOnce {
		n -= int64(len(c.end))
	}
	kept := min(n, c.limit, int64(len(c.buf)))
	return c.buf[:kept:kept], n > c.limit
}
