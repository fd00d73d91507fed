//go:build linux

package docker

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/exec/exectest"
	"github.com/hayek-market/hayek/exec/gpu"
	"github.com/hayek-market/hayek/internal/samples/native"
)

func toolbox(id string, args ...string) exec.Job {
	return exec.Job{ID: id, ModuleCID: toolboxCID, Module: toolboxArchive, Args: args}
}

func TestConformance(t *testing.T) {
	exectest.Run(t, exectest.Target{
		New: func(t *testing.T) exec.Executor { return newExecutor(t, nil) },
		Program: func(b exectest.Behaviour) exectest.Program {
			return exectest.ToolboxPrograms(toolboxCID, toolboxArchive)(b)
		},
		Leaks:     func(e exec.Executor) []string { return e.(*Executor).Leaks() },
		CPUQuotas: func(e exec.Executor) []float64 { return e.(*Executor).CPUQuotas() },
		Processes: true,
	})
}

func run(t *testing.T, e *Executor, job exec.Job) exec.Result {
	t.Helper()
	res, err := e.Run(t.Context(), job)
	if err != nil {
		t.Fatalf("Run(%s %q): %v", job.ID, job.Args, err)
	}
	return res
}

// TestHardening: what the job sees of itself says it is confined: not
// root, no capabilities, no_new_privs, the engine's seccomp filter, a
// read-only root, no network interface but loopback.
func TestHardening(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, nil)
	closeAtEnd(t, e)
	res := run(t, e, toolbox("status", "cat", "/proc/self/status"))
	if res.Status != exec.StatusOK {
		t.Fatalf("status %s: %s %s", res.Status, res.Error, res.Stderr)
	}
	for _, want := range []string{"Uid:\t65534\t65534\t65534\t65534", "Gid:\t65534\t65534\t65534\t65534",
		"CapInh:\t0000000000000000", "CapPrm:\t0000000000000000", "CapEff:\t0000000000000000",
		"CapBnd:\t0000000000000000", "CapAmb:\t0000000000000000", "NoNewPrivs:\t1", "Seccomp:\t2"} {
		if !strings.Contains(string(res.Stdout), want+"\n") {
			t.Errorf("/proc/self/status lacks %q:\n%s", want, res.Stdout)
		}
	}
	// The job sees neither its spec (the shim's end marker is in it) nor
	// the shim's memory or environment.
	res = run(t, e, toolbox("fs", "fsops", "write", "/x", "x", "write", "/etc/x", "x", "ls", "/sys/class/net", "write", "/tmp/x", "x",
		"ls", "/.hayek", "cat", "/proc/1/environ", "cat", "/proc/1/mem"))
	for _, want := range []string{"write /x x: error: read-only file system", "write /etc/x x: error: read-only file system",
		"ls /sys/class/net: lo\n", "write /tmp/x x: ok", "ls /.hayek: ok\n",
		"cat /proc/1/environ: error: permission denied", "cat /proc/1/mem: error: permission denied"} {
		if !strings.Contains(string(res.Stdout), want) {
			t.Errorf("stdout lacks %q:\n%s", want, res.Stdout)
		}
	}
}

// TestNoEscapes: what has broken containers out is refused inside.
func TestNoEscapes(t *testing.T) {
	t.Parallel()
	if runtime.GOARCH != "amd64" {
		t.Skip("the toolbox's escape attempts are written for amd64")
	}
	e := newExecutor(t, nil)
	closeAtEnd(t, e)
	job := toolbox("escape", "escape")
	job.Inputs = []exec.File{{Name: "a", Data: []byte("a")}}
	res := run(t, e, job)
	if res.Status != exec.StatusOK {
		t.Fatalf("status %s: %s\n%s", res.Status, res.Error, res.Stderr)
	}
	lines := strings.Split(strings.TrimSpace(string(res.Stdout)), "\n")
	if len(lines) < 15 {
		t.Fatalf("escape printed %d lines:\n%s", len(lines), res.Stdout)
	}
	for _, l := range lines {
		if !strings.Contains(l, ": denied (") {
			t.Errorf("allowed in the container: %s", l)
		}
	}
}

// TestNoEngine: without an engine New refuses, saying where it looked
// and what to do.
func TestNoEngine(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Host = "unix://" + filepath.Join(t.TempDir(), "no-docker.sock")
	_, err := New(t.Context(), cfg)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), cfg.Host) || !strings.Contains(err.Error(), "start it") {
		t.Fatalf("New without an engine: %v, want ErrUnavailable naming %s and what to do", err, cfg.Host)
	}
}

// TestAllowedImages: a job may name an image by digest only when the
// provider allows it; a tag is refused as a tag.
func TestAllowedImages(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, nil)
	closeAtEnd(t, e)
	ref := exec.Job{ID: "ref", ModuleCID: "ref:" + toolboxImageID, Module: []byte(toolboxImageID), Args: []string{"exit", "0"}}
	res := run(t, e, ref)
	if res.Status != exec.StatusBadModule || !strings.Contains(res.Error, "allow-list") {
		t.Errorf("an image not on the allow-list: %s %q, want bad_module naming the allow-list", res.Status, res.Error)
	}
	tag := exec.Job{ID: "tag", ModuleCID: "tag", Module: []byte("alpine:latest"), Args: []string{"exit", "0"}}
	if res := run(t, e, tag); res.Status != exec.StatusBadModule || !strings.Contains(res.Error, "by tag") {
		t.Errorf("a tag: %s %q, want bad_module saying tags are refused", res.Status, res.Error)
	}

	allowed := newExecutor(t, func(c *Config) {
		c.AllowedImages = []string{toolboxImageID}
		c.RunJobImages = false
	})
	closeAtEnd(t, allowed)
	if res := run(t, allowed, ref); res.Status != exec.StatusOK {
		t.Errorf("an allowed image: %s %q %s", res.Status, res.Error, res.Stderr)
	}
	if res := run(t, allowed, toolbox("archive", "exit", "0")); res.Status != exec.StatusBadModule || !strings.Contains(res.Error, "allow-list") {
		t.Errorf("an archive where only allowed images run: %s %q", res.Status, res.Error)
	}
}

// TestWarm: an archive is loaded once, then remembered by its CID.
func TestWarm(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, nil)
	closeAtEnd(t, e)
	if e.Warm(toolboxCID) {
		t.Error("warm before any run")
	}
	if res := run(t, e, toolbox("w", "exit", "0")); res.Status != exec.StatusOK {
		t.Fatalf("%s %s", res.Status, res.Error)
	}
	if !e.Warm(toolboxCID) {
		t.Error("not warm after a run")
	}
	bad := exec.Job{ID: "bad", ModuleCID: "bad", Module: []byte("junk")}
	run(t, e, bad)
	if e.Warm("bad") {
		t.Error("a bad module is warm")
	}
	// Modules without a CID are told apart by their bytes.
	good := toolbox("nocid", "exit", "0")
	good.ModuleCID, bad.ModuleCID = "", ""
	if res := run(t, e, good); res.Status != exec.StatusOK {
		t.Errorf("the toolbox without a CID: %s %s", res.Status, res.Error)
	}
	if res := run(t, e, bad); res.Status != exec.StatusBadModule {
		t.Errorf("junk without a CID, after the toolbox without one: %s", res.Status)
	}
}

// TestDeviceRequest: GPUs a job holds reach the container as one NVIDIA
// device request naming exactly their UUIDs.
func TestDeviceRequest(t *testing.T) {
	e := &Executor{cfg: DefaultConfig(), user: DefaultUser, shim: "/shim"}
	devs := []gpu.Device{{Index: "0", UUID: "GPU-aaaa"}, {Index: "1/2", UUID: "MIG-bbbb", MIG: true}}
	lim := e.limits(exec.Limits{})
	_, hc := e.containerConfig(&image{id: "sha256:x"}, &runDir{}, lim, devs, "gpu")
	want := []container.DeviceRequest{{Driver: "nvidia", DeviceIDs: []string{"GPU-aaaa", "MIG-bbbb"}, Capabilities: [][]string{{"gpu"}}}}
	if !reflect.DeepEqual(hc.DeviceRequests, want) {
		t.Errorf("device requests = %+v, want %+v", hc.DeviceRequests, want)
	}
	_, hc = e.containerConfig(&image{id: "sha256:x"}, &runDir{}, lim, nil, "cpu")
	if len(hc.DeviceRequests) != 0 {
		t.Errorf("a job without GPUs gets device requests %+v", hc.DeviceRequests)
	}
}

// TestForgedStatus: what a job writes where the shim reports does not
// become its result; the shim's own report, after the job's end, does.
func TestForgedStatus(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, nil)
	closeAtEnd(t, e)
	res := run(t, e, toolbox("forge", "fsops", "write", "/.hayek/status", "exit 0 signal 0 maxrss 1\n", "spin-then-exit"))
	// fsops fails on the unknown op: exit 1, whatever the forged status says.
	if res.Status != exec.StatusExit || res.ExitCode == 0 {
		t.Errorf("status %s exit %d (%s), want the job's own non-zero exit\n%s", res.Status, res.ExitCode, res.Error, res.Stdout)
	}
	job := toolbox("forge", "fsops", "write", "/.hayek/status", "exit 0 signal 0 maxrss 1\n")
	job.Args = append(job.Args, "write", "/out/x", "x")
	res = run(t, e, job)
	if res.Status != exec.StatusOK || res.Usage.MemoryBytes <= 1 || len(res.Outputs) != 1 {
		t.Errorf("status %s usage %+v outputs %d, want ok with the shim's measure", res.Status, res.Usage, len(res.Outputs))
	}
}

// TestNoProgram: an image whose program is not there is a bad module,
// with the reason.
func TestNoProgram(t *testing.T) {
	t.Parallel()
	setup(t)
	id, err := buildImage(t.Context(), testClient, map[string][]byte{
		"Dockerfile": []byte("FROM scratch\nCOPY toolbox /toolbox\nLABEL hayek.test.noentry=1\n"),
		"toolbox":    native.Toolbox,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeImage(testClient, id) }) // after the executor's Close
	e := newExecutor(t, func(c *Config) { c.AllowedImages = []string{id} })
	closeAtEnd(t, e)
	res := run(t, e, exec.Job{ID: "none", ModuleCID: "none", Module: []byte(id)})
	if res.Status != exec.StatusBadModule || !strings.Contains(res.Error, "no entrypoint or command") {
		t.Errorf("no program at all: %s %q", res.Status, res.Error)
	}
	res = run(t, e, exec.Job{ID: "nope", ModuleCID: "nope", Module: []byte(id), Args: []string{"/nope"}})
	if res.Status != exec.StatusBadModule || !strings.Contains(res.Error, "/nope") {
		t.Errorf("a program the image lacks: %s %q", res.Status, res.Error)
	}
	res = run(t, e, exec.Job{ID: "tb", ModuleCID: "tb", Module: []byte(id), Args: []string{"/toolbox", "exit", "3"}})
	if res.Status != exec.StatusExit || res.ExitCode != 3 {
		t.Errorf("the image's program named by the job: %s %d %q", res.Status, res.ExitCode, res.Error)
	}
}

// TestBadCPUs: a job's cpus must be a number of cores.
func TestBadCPUs(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, nil)
	closeAtEnd(t, e)
	for _, c := range []float64{-1, math.NaN(), math.Inf(1)} {
		job := toolbox("bad-cpus", "exit", "0")
		job.Limits.CPUs = c
		if _, err := e.Run(t.Context(), job); !errors.Is(err, ErrInvalidJob) {
			t.Errorf("cpus %v: err %v, want ErrInvalidJob", c, err)
		}
	}
}

// TestCgroupLimits: the limits reach the container's cgroups, on a
// container started for the run and on a warm one whose memory limit the
// run changes.
func TestCgroupLimits(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, func(c *Config) { c.CPUs = 0.5 })
	closeAtEnd(t, e)
	files := []string{"/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us",
		"/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"}
	if _, err := os.Stat("/sys/fs/cgroup/memory"); err != nil {
		t.Skip("the engine's host has no cgroup v1 memory hierarchy: this test reads v1 files")
	}
	// The second and later runs take the warm box; a job's own CPUs
	// lower its quota below the executor's cap, and an executor without
	// a cap gives a job its own.
	uncapped := newExecutor(t, nil)
	closeAtEnd(t, uncapped)
	for i, tc := range []struct {
		e     *Executor
		mem   int64
		cpus  float64
		quota int
	}{{e, 48 << 20, 0, 50000}, {e, 40 << 20, 0, 50000}, {e, 40 << 20, 0.25, 25000}, {e, 40 << 20, 2, 50000},
		{uncapped, 48 << 20, 0, -1}, {uncapped, 48 << 20, 0.25, 25000},
		// More cores than the host has (the engine would refuse them) is
		// all of them.
		{uncapped, 48 << 20, 1000, runtime.NumCPU() * 100000}} {
		tc.e.waitFills()
		job := toolbox("cg", append([]string{"cat"}, files...)...)
		job.Limits.MemoryBytes, job.Limits.CPUs = tc.mem, tc.cpus
		res := run(t, tc.e, job)
		if res.Status != exec.StatusOK {
			t.Fatalf("run %d: %s %s %s", i, res.Status, res.Error, res.Stderr)
		}
		mem := tc.mem
		want := fmt.Sprintf("%d\n100000\n%d\n%d\n%d\n", tc.quota, DefaultMaxProcesses+1, mem, mem)
		if !strings.HasSuffix(string(res.Stdout), "\n") || !strings.Contains(string(res.Stdout), want) {
			t.Errorf("run %d: cgroup files say %q, want %q", i, res.Stdout, want)
		}
	}
}
