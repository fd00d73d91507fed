//go:build linux

package process

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/exec/gpu"
	"github.com/hayek-market/hayek/exec/process/internal/wire"
)

// fakeDevices makes character device nodes named like a driver's in a
// temporary directory: GPUs 0 and 1 and the control node, all /dev/null
// (1:3) but nvidia-uvm, which is /dev/zero (1:5) so that the devices a
// run may open can be told apart. It skips the test when it cannot make
// them (not root).
func fakeDevices(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	// The init opens them as the job's user.
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, dev := range map[string][2]uint32{"nvidia0": {1, 3}, "nvidia1": {1, 3}, "nvidiactl": {1, 3}, "nvidia-uvm": {1, 5}} {
		if err := unix.Mknod(filepath.Join(dir, name), unix.S_IFCHR|0o666, int(unix.Mkdev(dev[0], dev[1]))); err != nil {
			t.Skipf("cannot make device nodes (as root this works): %v", err)
		}
		if err := unix.Chmod(filepath.Join(dir, name), 0o666); err != nil { // past the umask
			t.Fatal(err)
		}
	}
	return dir
}

// TestGPUDevices: a run with GPUs sees exactly its own device nodes and
// the driver's control nodes, can use them, and is named them in
// CUDA_VISIBLE_DEVICES; the GPUs it was not given are not there.
func TestGPUDevices(t *testing.T) {
	t.Parallel()
	dir := fakeDevices(t)
	var (
		mu      sync.Mutex
		devices []string
	)
	e := newExecutor(t, func(c *Config) { c.DeviceDir = dir })
	closeAtEnd(t, e)
	e.testHookStats = func(s jobStats, _ *wire.Exit) {
		mu.Lock()
		defer mu.Unlock()
		devices = append(devices, s.devices)
	}
	gpus := []gpu.Device{{Index: "1", UUID: "GPU-bbbb", Model: "t4"}}
	// Under Landlock: its nodes are usable (nvidia-uvm is /dev/zero).
	res, err := e.RunWithDevices(t.Context(), toolbox("gpu", "fsops", "write", "/dev/nvidia1", "x",
		"write", "/dev/nvidiactl", "x", "write", "/dev/nvidia-uvm", "x", "cat", "/dev/nvidia0"), gpus)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"write /dev/nvidia1 x: ok", "write /dev/nvidiactl x: ok", "write /dev/nvidia-uvm x: ok",
		"cat /dev/nvidia0: error: no such file or directory"} {
		if !strings.Contains(string(res.Stdout), want) {
			t.Errorf("stdout lacks %q:\n%s", want, res.Stdout)
		}
	}
	res, err = e.RunWithDevices(t.Context(), toolbox("gpu-env", "env"), gpus)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CUDA_VISIBLE_DEVICES=GPU-bbbb\n", "NVIDIA_VISIBLE_DEVICES=GPU-bbbb\n"} {
		if !strings.Contains(string(res.Stdout), want) {
			t.Errorf("environment lacks %q:\n%s", want, res.Stdout)
		}
	}
	// A run without GPUs has none of their nodes.
	res, err = e.Run(t.Context(), toolbox("no-gpu", "fsops", "write", "/dev/nvidia1", "x", "write", "/dev/nvidiactl", "x"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"write /dev/nvidia1 x: error: ", "write /dev/nvidiactl x: error: "} {
		if !strings.Contains(string(res.Stdout), want) {
			t.Errorf("a run without GPUs: stdout lacks %q:\n%s", want, res.Stdout)
		}
	}
	// Without Landlock the job may list /dev: exactly its nodes are there.
	open := newExecutor(t, func(c *Config) { c.DeviceDir, c.Landlock = dir, false })
	closeAtEnd(t, open)
	res, err = open.RunWithDevices(t.Context(), toolbox("gpu-ls", "fsops", "ls", "/dev"), gpus)
	if err != nil {
		t.Fatal(err)
	}
	if want := "ls /dev: full null nvidia-uvm nvidia1 nvidiactl random urandom zero\n"; !strings.Contains(string(res.Stdout), want) {
		t.Errorf("stdout lacks %q:\n%s", want, res.Stdout)
	}

	mu.Lock()
	defer mu.Unlock()
	if e.cgroups.devices == "" {
		t.Log("no devices controller (cgroup v2, or not allowed): only the mount namespace limits the devices")
		return
	}
	// The devices controller lets the GPU runs open the base devices and
	// theirs, and the other run only the base ones (zero is 1:5 too).
	if len(devices) != 3 {
		t.Fatalf("saw %d runs' devices, want 3", len(devices))
	}
	for i, list := range devices {
		if strings.Contains(list, "a *:*") || !strings.Contains(list, "c 1:3 rw") || !strings.Contains(list, "c 1:5 rw") {
			t.Errorf("run %d may open:\n%s\nwant only character devices it holds", i, list)
		}
	}
}

// TestGPUDevicesRefused: a MIG instance, or a GPU whose node is missing,
// is not run.
func TestGPUDevicesRefused(t *testing.T) {
	t.Parallel()
	dir := fakeDevices(t)
	e := newExecutor(t, func(c *Config) { c.DeviceDir = dir })
	closeAtEnd(t, e)
	_, err := e.RunWithDevices(t.Context(), toolbox("mig", "exit", "0"), []gpu.Device{{Index: "0/1", UUID: "MIG-x", MIG: true}})
	if !errors.Is(err, ErrInvalidJob) {
		t.Errorf("a MIG instance: err %v, want ErrInvalidJob", err)
	}
	_, err = e.RunWithDevices(t.Context(), toolbox("missing", "exit", "0"), []gpu.Device{{Index: "7", UUID: "GPU-7"}})
	if err == nil || !strings.Contains(err.Error(), "nvidia7") {
		t.Errorf("a GPU without a node: err %v", err)
	}
	var _ exec.Executor = e
}

// TestJobCPUQuota: a job's own CPUs is its cgroup's quota, within the
// executor's cap, read back from the kernel while it runs.
func TestJobCPUQuota(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, func(c *Config) { c.CPUs = 0.5 })
	closeAtEnd(t, e)
	for _, tc := range []struct{ job, want float64 }{{0, 0.5}, {0.2, 0.2}, {3, 0.5}, {0.001, 0.01}} {
		job := toolbox("quota", "spin")
		job.Limits.CPUs, job.Limits.Timeout = tc.job, time.Hour
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = e.Run(ctx, job)
		}()
		// The cgroup is there a moment before its quota is written: wait
		// for the one wanted, up to a deadline.
		var seen []float64
		matches := func() bool { return len(seen) == 1 && math.Abs(seen[0]-tc.want) < 1e-9 }
		for deadline := time.Now().Add(time.Minute); !matches() && time.Now().Before(deadline); {
			select {
			case <-done:
				t.Fatalf("job asking for %v CPUs ended before its quota was seen", tc.job)
			case <-time.After(5 * time.Millisecond):
			}
			seen = e.CPUQuotas()
		}
		cancel()
		<-done
		if !matches() {
			t.Errorf("a job asking for %v CPUs under a cap of 0.5 ran with quotas %v, want [%v]", tc.job, seen, tc.want)
		}
	}
}

// TestDeviceFilter: the cgroup v2 device program lets a process in its
// cgroup open the devices it allows, and no other. It runs wherever a
// cgroup2 hierarchy is mounted and this process may load the program,
// whichever version the executor uses.
func TestDeviceFilter(t *testing.T) {
	t.Parallel()
	v2, _, err := findHierarchies()
	if err != nil || v2 == nil {
		t.Skip("no cgroup2 hierarchy mounted")
	}
	if err := canFilterDevices(); err != nil {
		t.Skipf("cannot load a cgroup device program here: %v", err)
	}
	parent, err := v2.dir(v2.own)
	if err != nil {
		t.Skip(err)
	}
	dir := filepath.Join(parent, fmt.Sprintf("hayek-devfilter-test-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot make a cgroup2 cgroup: %v", err)
	}
	t.Cleanup(func() { _ = removeCgroup(context.Background(), dir, 2) })
	null, err := charDevice("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	if err := attachDeviceFilter(dir, []devNode{null}); err != nil {
		t.Fatal(err)
	}
	cg, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Close()
	cmd := osexec.CommandContext(t.Context(), "/bin/sh", "-c",
		"echo x >/dev/null && echo null-written; cat /dev/null && echo null-read; echo x >/dev/zero || echo zero-refused; head -c1 /dev/zero >/dev/null || echo zero-read-refused")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cg.Fd())}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Logf("sh: %v", err)
	}
	for _, want := range []string{"null-written\n", "null-read\n", "zero-refused\n", "zero-read-refused\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestDevicesCgroup: a job cgroup lets its processes open the devices it
// allows and no other: the v1 devices controller, or v2's eBPF program.
func TestDevicesCgroup(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, nil)
	closeAtEnd(t, e)
	if e.cgroups.devices == "" && !e.cgroups.deviceFilter {
		t.Skipf("no device rule on this host's job cgroups: %s", e.cgroups)
	}
	null, err := charDevice("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	cg, err := e.cgroups.newJob(e.instance+"-devtest", 64<<20, 16, 0, []devNode{null})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cg.destroy(context.Background()) })
	// The shell waits for a line, so that it opens nothing before it is
	// in the cgroup.
	cmd := osexec.CommandContext(t.Context(), "/bin/sh", "-c",
		"read x; echo x >/dev/null && echo null-written; echo x >/dev/zero || echo zero-refused")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := cg.join(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	_, _ = stdin.Write([]byte("go\n"))
	stdin.Close()
	_ = cmd.Wait()
	for _, want := range []string{"null-written\n", "zero-refused\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
