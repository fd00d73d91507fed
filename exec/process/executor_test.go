//go:build linux

package process

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/exec/exectest"
	"github.com/hayek-market/hayek/exec/process/internal/wire"
	"github.com/hayek-market/hayek/internal/samples/native"
)

// newExecutor starts an executor with the test defaults, or skips the test
// with the reason the host cannot isolate jobs.
func newExecutor(t testing.TB, change func(*Config)) *Executor {
	t.Helper()
	if native.Toolbox == nil {
		t.Skipf("no native toolbox for %s/%s: run scripts/gen-samples to build one", runtime.GOOS, runtime.GOARCH)
	}
	cfg := DefaultConfig()
	cfg.DefaultLimits.Timeout = 2 * time.Minute // generous: -race on 2 busy cores
	if change != nil {
		change(&cfg)
	}
	e, err := New(context.Background(), cfg)
	if errors.Is(err, ErrUnavailable) {
		t.Skipf("this host cannot run the process sandbox: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func closeAtEnd(t *testing.T, e *Executor) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			t.Error(err)
		}
		if leaks := e.Leaks(); len(leaks) > 0 {
			t.Errorf("leaks after Close: %q", leaks)
		}
	})
}

const toolboxCID = "toolbox-linux"

func toolbox(id string, args ...string) exec.Job {
	return exec.Job{ID: id, ModuleCID: toolboxCID, Module: native.Toolbox, Args: args}
}

func TestConformance(t *testing.T) {
	bad := map[string][]byte{}
	// A dynamically linked program: the sandbox has no libraries for it.
	if b, err := os.ReadFile("/bin/true"); err == nil && checkExecutable(b) != nil {
		bad["dynamically linked"] = b
	}
	// A static executable for another machine.
	other := map[string]string{"amd64": "initproc-linux-arm64", "arm64": "initproc-linux-amd64"}[runtime.GOARCH]
	if b, err := os.ReadFile(other); err == nil {
		bad["other architecture"] = b
	}
	exectest.Run(t, exectest.Target{
		New:        func(t *testing.T) exec.Executor { return newExecutor(t, nil) },
		Program:    exectest.ToolboxPrograms(toolboxCID, native.Toolbox),
		Leaks:      func(e exec.Executor) []string { return e.(*Executor).Leaks() },
		BadModules: bad,
		CPUQuotas:  func(e exec.Executor) []float64 { return e.(*Executor).CPUQuotas() },
		Processes:  true,
	})
}

func TestProtections(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, nil)
	closeAtEnd(t, e)
	p := e.Protections()
	t.Logf("protections: %s", p)
	if len(p.Namespaces) != 7 || !p.Seccomp || !p.NoNewPrivs || !p.CapabilitiesDropped || p.Cgroup == "" || len(p.Rlimits) < 5 {
		t.Errorf("protections = %+v, want every namespace, seccomp, no_new_privs, no capabilities, a cgroup and rlimits", p)
	}
	if p.Landlock == 0 && p.LandlockMissing == "" {
		t.Error("no Landlock, and no reason why")
	}
	if p.HostUID == 0 || p.HostGID == 0 {
		t.Errorf("jobs run as host uid %d gid %d: root", p.HostUID, p.HostGID)
	}
}

// TestNoEscapes: what has broken containers out is refused inside, by the
// seccomp filter or for want of capabilities.
func TestNoEscapes(t *testing.T) {
	t.Parallel()
	if runtime.GOARCH != "amd64" {
		t.Skip("the toolbox's escape attempts are written for amd64")
	}
	e := newExecutor(t, nil)
	closeAtEnd(t, e)
	job := toolbox("escape", "escape")
	job.Inputs = []exec.File{{Name: "a", Data: []byte("a")}}
	res, err := e.Run(t.Context(), job)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != exec.StatusOK {
		t.Fatalf("status %s: %s\n%s", res.Status, res.Error, res.Stderr)
	}
	lines := strings.Split(strings.TrimSpace(string(res.Stdout)), "\n")
	if len(lines) < 15 {
		t.Fatalf("escape printed %d lines:\n%s", len(lines), res.Stdout)
	}
	for _, l := range lines {
		if !strings.Contains(l, ": denied (") {
			t.Errorf("allowed in the sandbox: %s", l)
		}
	}
	// These are refused by the filter itself (EPERM before any
	// permission check); without it an unprivileged process may make
	// them.
	for _, call := range []string{"io_uring_setup", "unshare user namespace", "clone into a user namespace", "ptrace a child", "userfaultfd", "keyctl"} {
		if !strings.Contains(string(res.Stdout), call+": denied (operation not permitted)") {
			t.Errorf("%s not refused with EPERM by seccomp:\n%s", call, res.Stdout)
		}
	}
}

// TestLandlock: with Landlock, the job cannot even list its own root;
// without, it sees only its own mounts.
func TestLandlock(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{true, false} {
		e := newExecutor(t, func(c *Config) { c.Landlock = on })
		closeAtEnd(t, e)
		if on && e.Protections().Landlock == 0 {
			t.Logf("no Landlock here: %s", e.Protections().LandlockMissing)
			continue
		}
		res, err := e.Run(t.Context(), toolbox("ls", "fsops", "ls", "/", "ls", "/dev", "write", "/tmp/x", "x", "cat", "/dev/null"))
		if err != nil {
			t.Fatal(err)
		}
		out := string(res.Stdout)
		if on {
			if !strings.Contains(out, "ls /: error: permission denied") || !strings.Contains(out, "ls /dev: error: permission denied") {
				t.Errorf("with Landlock: %s", out)
			}
		} else if !strings.Contains(out, "ls /: dev/ in/ out/ proc/ tmp/\n") || !strings.Contains(out, "ls /dev: full null random urandom zero\n") {
			t.Errorf("without Landlock, want the sandbox's own root and devices: %s", out)
		}
		if !strings.Contains(out, "write /tmp/x x: ok") || !strings.Contains(out, `cat /dev/null: ""`) {
			t.Errorf("Landlock %v: /tmp not writable or /dev/null not readable: %s", on, out)
		}
	}
}

// TestCPUQuota: with Config.CPUs the job gets no more CPU than that.
func TestCPUQuota(t *testing.T) {
	t.Parallel()
	var (
		mu    sync.Mutex
		stats jobStats
		exit  *wire.Exit
	)
	// A quota well below what a busy machine still gives one spinning
	// process, so it bites however loaded the host is.
	e := newExecutor(t, func(c *Config) { c.CPUs = 0.05 })
	closeAtEnd(t, e)
	e.testHookStats = func(s jobStats, x *wire.Exit) {
		mu.Lock()
		defer mu.Unlock()
		stats, exit = s, x
	}
	job := toolbox("spin", "spin")
	job.Limits.Timeout = time.Second
	res, err := e.Run(t.Context(), job)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != exec.StatusTimeout {
		t.Fatalf("status %s, want timeout", res.Status)
	}
	mu.Lock()
	defer mu.Unlock()
	if stats.throttled == 0 {
		t.Errorf("a job spinning for %s under a 0.05-core quota was never throttled: %+v", res.Usage.Wall, stats)
	}
	_ = exit // killed at the time limit: the init reports nothing
}

// TestSweep: a job cgroup left by a dead node, with a process still in
// it, is emptied and removed when the next executor starts.
func TestSweep(t *testing.T) {
	e := newExecutor(t, nil)
	closeAtEnd(t, e)
	// No process has PID 1 with start time 1: the owner is dead. The
	// counter is this test binary's PID so that two test binaries on one
	// machine (two checkouts tested at once) do not plant the same name.
	name := fmt.Sprintf("%s1-1-%d-7", cgroupPrefix, os.Getpid())
	var dirs []string
	for _, d := range e.cgroups.dirs() {
		dir := filepath.Join(d, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, dir)
	}
	t.Cleanup(func() {
		for _, d := range dirs {
			killProcs(d)
			_ = removeCgroup(context.Background(), d, e.cgroups.version)
		}
	})
	orphan := osexec.Command("/proc/self/exe", "-test.run=^$")
	orphan.Env = append(os.Environ(), "HAYEK_TEST_SLEEP=1")
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- orphan.Wait() }()
	for _, d := range dirs {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(orphan.Process.Pid)), 0); err != nil {
			orphan.Process.Kill()
			t.Fatal(err)
		}
	}

	e2 := newExecutor(t, nil) // sweeps at start
	closeAtEnd(t, e2)
	for _, d := range dirs {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("leftover cgroup %s still there (%v)", d, err)
		}
	}
	select {
	case <-done:
	case <-time.After(stopBound):
		orphan.Process.Kill()
		t.Fatal("the process in the leftover cgroup survived the sweep")
	}
	// A live executor's cgroups are not swept: its probe cgroup is gone
	// by now, but a run's would stay. e is still usable.
	if res, err := e.Run(t.Context(), toolbox("ok", "exit", "0")); err != nil || res.Status != exec.StatusOK {
		t.Errorf("the first executor after another's sweep: %v %s", err, res.Status)
	}
}

const stopBound = 30 * time.Second

func TestMain(m *testing.M) {
	// TestSweep's stand-in for a job a crashed node left running.
	if os.Getenv("HAYEK_TEST_SLEEP") != "" {
		select {}
	}
	if os.Getenv("HAYEK_TEST_CRASHING_NODE") != "" {
		crashingNode()
	}
	os.Exit(m.Run())
}

// crashingNode is TestNodeCrash's node: it starts a job that forks and
// sleeps, prints the job's cgroups once they exist, and waits to be
// killed.
func crashingNode() {
	e, err := New(context.Background(), DefaultConfig())
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	go e.Run(context.Background(), toolbox("crash", "fork", "4"))
	for deadline := time.Now().Add(stopBound); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		var cgroups []string
		procs := 0
		for _, l := range e.Leaks() {
			if dir, ok := strings.CutPrefix(l, "cgroup "); ok {
				cgroups = append(cgroups, dir)
			} else if strings.HasPrefix(l, "process ") {
				procs++
			}
		}
		if procs >= 6 { // the init, the job and its 4 children
			fmt.Println(strings.Join(cgroups, " "))
			select {}
		}
	}
	fmt.Println("error: the job did not start")
	os.Exit(1)
}

// TestNodeCrash: when the node dies mid-run (SIGKILL: no Close, no
// deferred clean-up), the job and every process it forked end with it,
// and the next executor removes the cgroup they were in.
func TestNodeCrash(t *testing.T) {
	e := newExecutor(t, nil) // skips where the sandbox cannot run
	closeAtEnd(t, e)
	node := osexec.Command("/proc/self/exe", "-test.run=^$")
	node.Env = append(os.Environ(), "HAYEK_TEST_CRASHING_NODE=1")
	out, err := node.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.HasPrefix(line, "error") {
		node.Process.Kill()
		node.Wait()
		t.Fatalf("the node said %q (%v)", line, err)
	}
	cgroups := strings.Fields(line)
	if err := node.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	node.Wait()

	// The sandbox notices its node is gone and ends: the cgroups empty.
	for _, dir := range cgroups {
		deadline := time.Now().Add(stopBound)
		for {
			b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
			if err != nil {
				t.Fatal(err)
			}
			if len(strings.TrimSpace(string(b))) == 0 {
				break
			}
			if time.Now().After(deadline) {
				killProcs(dir)
				t.Fatalf("processes still running in %s %s after their node died: %s", dir, stopBound, b)
			}
			time.Sleep(time.Millisecond) // a poll interval
		}
	}
	e2 := newExecutor(t, nil) // sweeps
	closeAtEnd(t, e2)
	for _, dir := range cgroups {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the dead node's cgroup %s is still there (%v)", dir, err)
		}
	}
}

// TestPrograms: a provider's programs run by CID, and with RunJobModules
// off, nothing else does.
func TestPrograms(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "toolbox")
	if err := os.WriteFile(path, native.Toolbox, 0o644); err != nil {
		t.Fatal(err)
	}
	e := newExecutor(t, func(c *Config) { c.Programs, c.RunJobModules = []string{path}, false })
	closeAtEnd(t, e)
	cids := e.Programs()
	if len(cids) != 1 || !e.Warm(cids[0]) {
		t.Fatalf("programs %q, warm %v", cids, len(cids) == 1 && e.Warm(cids[0]))
	}
	res, err := e.Run(t.Context(), exec.Job{ID: "p", ModuleCID: cids[0], Args: []string{"hello"}, Stdin: []byte("x")})
	if err != nil || res.Status != exec.StatusOK || string(res.Stdout) != "hello from hayek\nx" {
		t.Errorf("program run: %v %s %q", err, res.Status, res.Stdout)
	}
	res, err = e.Run(t.Context(), toolbox("own", "exit", "0"))
	if err != nil || res.Status != exec.StatusBadModule {
		t.Errorf("a job's own executable with RunJobModules off: %v %s, want bad_module", err, res.Status)
	}
	if _, err := e.Run(t.Context(), exec.Job{ID: "unknown", ModuleCID: "bafkunknown"}); !errors.Is(err, ErrInvalidJob) {
		t.Errorf("an unknown CID without bytes: %v, want ErrInvalidJob", err)
	}
}

// TestLargeInputs: inputs larger than the socket buffers arrive whole,
// and do not count against the job's memory limit.
func TestLargeInputs(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, nil)
	closeAtEnd(t, e)
	big := make([]byte, 48<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	job := toolbox("big", "wc", "/in/big")
	job.Inputs = []exec.File{{Name: "big", Data: big}, {Name: "small", Data: []byte("x")}}
	job.Limits.MemoryBytes = 32 << 20 // less than the input
	res, err := e.Run(t.Context(), job)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != exec.StatusOK || !strings.HasSuffix(strings.TrimSpace(string(res.Stdout)), fmt.Sprintf("%d /in/big", len(big))) {
		t.Errorf("status %s (%s): %s", res.Status, res.Error, res.Stdout)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		field  string
		change func(*Config)
	}{
		{"DefaultLimits.MemoryBytes", func(c *Config) { c.DefaultLimits.MemoryBytes = 1 << 20 }},
		{"DefaultLimits.Timeout", func(c *Config) { c.DefaultLimits.Timeout = 0 }},
		{"MaxProcesses", func(c *Config) { c.MaxProcesses = 0 }},
		{"MaxOpenFiles", func(c *Config) { c.MaxOpenFiles = 3 }},
		{"AddressSpaceBytes", func(c *Config) { c.AddressSpaceBytes = 100 << 20 }},
		{"CPUs", func(c *Config) { c.CPUs = -1 }},
		{"CgroupParent", func(c *Config) { c.CgroupParent = "hayek" }},
		{"RunJobModules", func(c *Config) { c.RunJobModules = false }},
		{"HostUID/HostGID", func(c *Config) { c.HostUID = -2 }},
	} {
		c := DefaultConfig()
		tc.change(&c)
		err := c.Validate()
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field || !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate() = %v, want a ConfigError for it", tc.field, err)
		}
		if _, err := New(t.Context(), c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: New accepted an invalid config: %v", tc.field, err)
		}
	}
}

func TestCheckExecutable(t *testing.T) {
	t.Parallel()
	if err := checkExecutable(native.Toolbox); native.Toolbox != nil && err != nil {
		t.Errorf("the static toolbox: %v", err)
	}
	for _, tc := range []struct {
		name, data, reason string
	}{
		{"empty", "", "empty"},
		{"script", "#!/usr/bin/env python3\nprint(1)\n", "script"},
		{"not ELF", "MZ\x90\x00", "not an ELF"},
		{"bare header", "\x7fELF\x02\x01\x01", "not a valid ELF"},
	} {
		err := checkExecutable([]byte(tc.data))
		var bad *badModuleError
		if !errors.As(err, &bad) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%s: %v, want a bad module mentioning %q", tc.name, err, tc.reason)
		}
	}
	if b, err := os.ReadFile("/bin/true"); err == nil {
		if err := checkExecutable(b); err == nil || !strings.Contains(err.Error(), "dynamically linked") {
			t.Logf("/bin/true: %v (static on this host?)", err)
		}
	}
}

// TestInitBinaryMatchesSource rebuilds the embedded init with the Go
// toolchain that runs the test, when it is the one that built the
// artefact, and fails if the bytes differ: the artefact is stale.
func TestInitBinaryMatchesSource(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the init: slow")
	}
	info, err := buildinfo.Read(bytes.NewReader(initBinary))
	if err != nil {
		t.Fatal(err)
	}
	if info.GoVersion != runtime.Version() {
		t.Skipf("the init was built with %s, this is %s: the bytes cannot match", info.GoVersion, runtime.Version())
	}
	goBin, err := osexec.LookPath("go")
	if err != nil {
		t.Skip("no go command to rebuild the init with")
	}
	out := filepath.Join(t.TempDir(), "initproc")
	cmd := osexec.Command(goBin, "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", out, "./internal/initproc")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	built, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(built, initBinary) {
		t.Errorf("exec/process/initproc-linux-%s is stale: run scripts/gen-samples and commit the result", runtime.GOARCH)
	}
}

// TestOutputsNeverFollowLinks: links a job leaves in /out are not
// outputs, and never lead the executor anywhere.
func TestOutputsNeverFollowLinks(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, nil)
	closeAtEnd(t, e)
	res, err := e.Run(t.Context(), toolbox("links", "fsops",
		"write", "/out/f", "data", "symlink", "/in/a", "/out/to-input", "symlink", "/etc/passwd", "/out/to-host",
		"mkdir", "/out/d", "symlink", "..", "/out/d/up", "link", "/out/f", "/out/d/hard"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != exec.StatusOK {
		t.Fatalf("status %s (%s): %s", res.Status, res.Error, res.Stdout)
	}
	var got []string
	for _, f := range res.Outputs {
		got = append(got, f.Name+"="+string(f.Data))
	}
	if fmt.Sprint(got) != "[d/hard=data f=data]" {
		t.Errorf("outputs %q, want the file and its hard link only", got)
	}
}
