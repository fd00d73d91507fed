//go:build linux

package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"

	"github.com/hayek-market/hayek/exec"
)

// Labels on everything the executor creates in the engine. LabelManaged
// marks a container as a hayek job's, whoever started it, so that
// `docker ps -a --filter label=hayek.exec=docker` finds them all and a
// sweep can remove those whose executor is gone.
const (
	LabelManaged  = "hayek.exec"     // = "docker"
	LabelExecutor = "hayek.executor" // = the executor instance: "<pid>-<process start>-<random>"
	LabelJob      = "hayek.job"      // = the job's ID, for people reading `docker ps`
)

// ErrUnavailable is wrapped by New's error when there is no engine this
// executor can use.
var ErrUnavailable = errors.New("exec/docker: no usable Docker engine")

// ErrInvalidJob is wrapped by Run's errors about a malformed Job.
var ErrInvalidJob = errors.New("exec/docker: invalid job")

// Executor runs jobs as containers of the Docker engine. It is safe for
// concurrent use.
type Executor struct {
	cfg      Config
	cli      *client.Client
	instance string
	user     string
	arch     string // the engine's architecture, GOARCH-style
	dir      string // this instance's directory: the shim and one directory per run
	shim     string

	closing chan struct{} // closed by Close
	runs    sync.WaitGroup
	bg      sync.WaitGroup // refills of warm boxes, teardowns

	mu        sync.Mutex
	closed    bool
	prepped   map[string]*prepared // by module CID
	warm      map[string]*box      // a started box per image, waiting for a job
	warmOrder []string             // images in the order their boxes were started
	filling   map[string]bool      // images whose warm box is being started
	tearing   int                  // boxes being discarded in the background
	settled   *sync.Cond           // on mu: a refill or a teardown ended
}

var _ exec.Executor = (*Executor)(nil)
var _ exec.Warmer = (*Executor)(nil)

// New connects to the engine and gets ready to run jobs. It fails with
// ErrUnavailable, saying why, when no engine answers or it cannot run
// this executor's containers; it removes what crashed executors on this
// host left behind (Sweep).
func New(ctx context.Context, cfg Config) (*Executor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(shimBinary) == 0 {
		return nil, fmt.Errorf("%w: no shim built for %s/%s (scripts/gen-samples builds it)", ErrUnavailable, runtime.GOOS, runtime.GOARCH)
	}
	opts := []client.Opt{client.FromEnv}
	if cfg.Host != "" {
		opts = append(opts, client.WithHost(cfg.Host))
	}
	cli, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	e, err := connect(ctx, cfg, cli)
	if err != nil {
		cli.Close()
		return nil, err
	}
	return e, nil
}

func connect(ctx context.Context, cfg Config, cli *client.Client) (*Executor, error) {
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return nil, fmt.Errorf("%w: no engine answers at %s: %v; start it (systemctl start docker), or point Config.Host or DOCKER_HOST at it", ErrUnavailable, cli.DaemonHost(), err)
	}
	v, err := cli.ServerVersion(pctx, client.ServerVersionOptions{})
	if err != nil {
		return nil, fmt.Errorf("%w: engine at %s: version: %v", ErrUnavailable, cli.DaemonHost(), err)
	}
	if v.Os != "linux" {
		return nil, fmt.Errorf("%w: the engine at %s runs %s containers; jobs need a Linux engine", ErrUnavailable, cli.DaemonHost(), v.Os)
	}
	if v.Arch != runtime.GOARCH {
		return nil, fmt.Errorf("%w: the engine runs on %s and this node on %s: its shim would not run there", ErrUnavailable, v.Arch, runtime.GOARCH)
	}
	if !strings.HasPrefix(cli.DaemonHost(), "unix://") {
		// A remote engine could not bind this host's directories.
		return nil, fmt.Errorf("%w: the engine at %s is not on this host's socket; the executor binds local directories into containers and needs a local engine", ErrUnavailable, cli.DaemonHost())
	}

	user := cfg.User
	if user == "" {
		user = pickUser()
	}
	work := cfg.WorkDir
	if work == "" {
		work = filepath.Join(os.TempDir(), "hayek-docker")
	}
	if err := os.MkdirAll(work, 0o711); err != nil {
		return nil, fmt.Errorf("exec/docker: work directory: %w", err)
	}
	// Every mode is set past the process's umask: a node makes its files
	// private (umask 077), yet the job's user must reach the shim, its
	// spec and /in through these directories.
	if err := os.Chmod(work, 0o711); err != nil {
		return nil, fmt.Errorf("exec/docker: work directory: %w", err)
	}
	instance, err := newInstanceID()
	if err != nil {
		return nil, err
	}
	e := &Executor{
		cfg:      cfg,
		cli:      cli,
		instance: instance,
		user:     user,
		arch:     v.Arch,
		dir:      filepath.Join(work, instance),
		closing:  make(chan struct{}),
		prepped:  map[string]*prepared{},
		warm:     map[string]*box{},
		filling:  map[string]bool{},
	}
	e.settled = sync.NewCond(&e.mu)
	if err := e.Sweep(ctx); err != nil {
		return nil, err
	}
	if err := mkdirMode(e.dir, 0o711); err != nil {
		return nil, fmt.Errorf("exec/docker: %w", err)
	}
	e.shim = filepath.Join(e.dir, "shim")
	if err := writeFileMode(e.shim, shimBinary, 0o555); err != nil {
		os.RemoveAll(e.dir)
		return nil, fmt.Errorf("exec/docker: write the shim: %w", err)
	}
	return e, nil
}

// pickUser runs jobs as nobody when the node is root, and as the node's
// own user otherwise: files jobs leave in /out are then the node's to
// remove.
func pickUser() string {
	if os.Geteuid() == 0 {
		return DefaultUser
	}
	return fmt.Sprintf("%d:%d", os.Geteuid(), os.Getegid())
}

// Warm reports whether a run of the module with this CID would start
// without loading or inspecting its image first.
func (e *Executor) Warm(cid string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.prepped[cid]
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return p.img != nil
	default:
		return false
	}
}

// Close stops every run (they return exec.ErrClosed), removes their
// containers and the executor's files, and closes the engine client.
func (e *Executor) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	close(e.closing)
	e.mu.Unlock()

	done := make(chan struct{})
	go func() {
		e.runs.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("exec/docker: close: runs still stopping: %w", context.Cause(ctx))
	}
	e.drain()
	var errs []error
	if err := e.removeContainers(ctx, LabelExecutor+"="+e.instance); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(e.dir); err != nil {
		errs = append(errs, fmt.Errorf("exec/docker: close: %w", err))
	}
	errs = append(errs, e.cli.Close())
	return errors.Join(errs...)
}

// Leaks lists what the executor has left behind: containers of this
// executor in the engine, run directories and mounts on the host, other
// than its warm boxes. With no run in flight it should be empty. It
// waits first for warm boxes on their way and for teardowns.
func (e *Executor) Leaks() []string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e.waitFills()
	warmContainers, warmDirs := e.warmIDs()
	var leaks []string
	list, err := e.cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", LabelExecutor+"="+e.instance),
	})
	if err != nil {
		leaks = append(leaks, fmt.Sprintf("cannot list containers: %v", err))
	}
	for _, c := range list.Items {
		if !warmContainers[c.ID] {
			leaks = append(leaks, fmt.Sprintf("container %.12s (%s, job %s)", c.ID, c.State, c.Labels[LabelJob]))
		}
	}
	entries, _ := os.ReadDir(e.dir)
	for _, d := range entries {
		if dir := filepath.Join(e.dir, d.Name()); d.Name() != "shim" && !warmDirs[dir] {
			leaks = append(leaks, "run directory "+dir)
		}
	}
	if e.closed && dirExists(e.dir) {
		leaks = append(leaks, "directory "+e.dir)
	}
	for _, m := range mountsUnder(e.dir) {
		if !warmDirs[filepath.Dir(strings.TrimPrefix(m, "mount "))] {
			leaks = append(leaks, m)
		}
	}
	return leaks
}

func dirExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// mountsUnder lists the host mounts at or below dir.
func mountsUnder(dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			out = append(out, "mount "+f[4])
		}
	}
	return out
}

// removeContainers force-removes the containers matching a label filter.
func (e *Executor) removeContainers(ctx context.Context, label string) error {
	list, err := e.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", label)})
	if err != nil {
		return fmt.Errorf("exec/docker: list containers labelled %s: %w", label, err)
	}
	var errs []error
	for _, c := range list.Items {
		if err := e.removeContainer(ctx, c.ID); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (e *Executor) removeContainer(ctx context.Context, id string) error {
	_, err := e.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("exec/docker: remove container %.12s: %w", id, err)
	}
	return nil
}

// newInstanceID names an executor by its process and a random part:
// Sweep tells from the process part whether the executor can still be
// alive.
func newInstanceID() (string, error) {
	start, err := processStart(os.Getpid())
	if err != nil {
		return "", fmt.Errorf("exec/docker: %w", err)
	}
	var b [6]byte
	if _, err := randRead(b[:]); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d-%d-%x", os.Getpid(), start, b), nil
}

// processStart is the start time of a process in clock ticks since boot
// (field 22 of /proc/PID/stat): with the PID it names the process even
// after the PID is reused.
func processStart(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// ownerAlive reports whether the executor instance that made something is
// in a process still running on this host.
func ownerAlive(instance string) bool {
	parts := strings.SplitN(instance, "-", 3)
	if len(parts) != 3 {
		return false
	}
	pid, err1 := strconv.Atoi(parts[0])
	start, err2 := strconv.ParseUint(parts[1], 10, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	got, err := processStart(pid)
	return err == nil && got == start
}

// CPUQuotas reads back, from the engine, the CPU quota of each run's
// container in flight, in cores (0 for a run without one), in no
// particular order; warm containers waiting for a run are not listed. It
// is how a test or an operator sees that a job is held to
// exec.Limits.CPUs.
func (e *Executor) CPUQuotas() []float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	warm, _ := e.warmIDs()
	list, err := e.cli.ContainerList(ctx, client.ContainerListOptions{
		Filters: make(client.Filters).Add("label", LabelExecutor+"="+e.instance),
	})
	if err != nil {
		return nil
	}
	var quotas []float64
	for _, c := range list.Items {
		if warm[c.ID] {
			continue
		}
		insp, err := e.cli.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if err != nil || insp.Container.HostConfig == nil {
			continue // gone since the list
		}
		quotas = append(quotas, float64(insp.Container.HostConfig.NanoCPUs)/1e9)
	}
	return quotas
}
