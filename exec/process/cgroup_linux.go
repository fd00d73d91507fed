package process

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// hierarchy is one mounted cgroup hierarchy: v2's unified one, or a v1 one
// with its controllers.
type hierarchy struct {
	mount       string   // where it is mounted
	root        string   // the cgroup mounted there (not "/" inside a cgroup namespace or bind mount)
	controllers []string // v1: the controllers it carries
	own         string   // this process's cgroup in it, from /proc/self/cgroup
}

// dir is the directory of cgroup path p (absolute in the hierarchy).
func (h hierarchy) dir(p string) (string, error) {
	rel, ok := strings.CutPrefix(p, h.root)
	if !ok || (rel != "" && rel[0] != '/' && h.root != "/") {
		return "", fmt.Errorf("cgroup %s is outside the part of the hierarchy mounted at %s (%s)", p, h.mount, h.root)
	}
	return filepath.Join(h.mount, rel), nil
}

// cgroups is how the executor gives each job its cgroup: v2, or v1 with
// one hierarchy per controller. parents are the directories job cgroups
// are made in, by controller.
type cgroups struct {
	version int
	memory  string
	pids    string
	cpu     string // "" without the cpu controller
	devices string // v1's devices controller; "" without it (and always on v2)
	// v2: an eBPF device program is attached to every job cgroup (where
	// this process may load one).
	deviceFilter bool
}

// findHierarchies reads what is mounted and where this process sits.
func findHierarchies() (v2 *hierarchy, v1 map[string]*hierarchy, err error) {
	own := map[string]string{} // controller (or "" for v2) -> path
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, nil, err
	}
	for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			own[""] = parts[2]
			continue
		}
		for c := range strings.SplitSeq(parts[1], ",") {
			own[c] = parts[2]
		}
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	v1 = map[string]*hierarchy{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		fields := strings.Fields(sc.Text())
		sep := slices.Index(fields, "-")
		if sep < 6 || len(fields) < sep+4 {
			continue
		}
		root, mnt, fstype := unescapeMount(fields[3]), unescapeMount(fields[4]), fields[sep+1]
		switch fstype {
		case "cgroup2":
			if v2 == nil {
				v2 = &hierarchy{mount: mnt, root: root, own: own[""]}
			}
		case "cgroup":
			for opt := range strings.SplitSeq(fields[sep+3], ",") {
				switch opt {
				case "memory", "pids", "cpu", "devices":
					if v1[opt] == nil {
						v1[opt] = &hierarchy{mount: mnt, root: root, controllers: []string{opt}, own: own[opt]}
					}
				}
			}
		}
	}
	return v2, v1, sc.Err()
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// parentName is the cgroup, below the node's own, that holds job cgroups
// when Config.CgroupParent is empty.
const parentName = "hayek-process"

// setupCgroups finds the hierarchy to use and makes the parent cgroup(s).
// v2 is preferred when it has the memory and pids controllers; v1 is used
// where they are only there.
func setupCgroups(cfg Config) (*cgroups, error) {
	v2, v1, err := findHierarchies()
	if err != nil {
		return nil, fmt.Errorf("read cgroup mounts: %w", err)
	}
	parentPath := func(h *hierarchy) string {
		if cfg.CgroupParent != "" {
			return cfg.CgroupParent
		}
		return filepath.Join(h.own, parentName)
	}
	// The CPU controller holds each job to its own quota (exec.Limits.CPUs)
	// as well as Config.CPUs; it is required only for the latter. Without
	// it, jobs asking for a quota are refused (Run says why).
	needCPU := cfg.CPUs > 0
	var v2err error
	if v2 != nil {
		var c *cgroups
		if c, v2err = setupV2(v2, parentPath(v2), true); v2err == nil {
			return c, nil
		}
		if !needCPU {
			if c, err := setupV2(v2, parentPath(v2), false); err == nil {
				return c, nil
			}
		}
	}
	if v1["memory"] != nil && v1["pids"] != nil && (!needCPU || v1["cpu"] != nil) {
		c := &cgroups{version: 1}
		for _, ctl := range []string{"memory", "pids", "cpu"} {
			h := v1[ctl]
			if h == nil {
				continue // only cpu can be missing here, and is not needed
			}
			dir, err := h.dir(parentPath(h))
			if err != nil {
				return nil, err
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("cgroup v1 %s: %w", ctl, err)
			}
			switch ctl {
			case "memory":
				c.memory = dir
			case "pids":
				c.pids = dir
			case "cpu":
				c.cpu = dir
			}
		}
		// The devices controller lets a job open only the device nodes
		// its root holds. It backs up the mount namespace, and is not
		// required: without it (a node not allowed to make cgroups
		// there), Protections does not list it.
		if h := v1["devices"]; h != nil {
			if dir, err := h.dir(parentPath(h)); err == nil && os.MkdirAll(dir, 0o755) == nil {
				c.devices = dir
			}
		}
		return c, nil
	}
	var missing []string
	for _, ctl := range []string{"memory", "pids", "cpu"} {
		if v1[ctl] == nil && (ctl != "cpu" || needCPU) {
			missing = append(missing, ctl)
		}
	}
	switch {
	case v2err != nil:
		return nil, fmt.Errorf("cgroup v2: %w; and cgroup v1 lacks %s", v2err, strings.Join(missing, ", "))
	default:
		return nil, fmt.Errorf("no cgroup v2 mount, and cgroup v1 has no %s hierarchy mounted", strings.Join(missing, ", "))
	}
}

func setupV2(h *hierarchy, parent string, needCPU bool) (*cgroups, error) {
	want := []string{"memory", "pids"}
	if needCPU {
		want = append(want, "cpu")
	}
	dir, err := h.dir(parent)
	if err != nil {
		return nil, err
	}
	// The parent's parent must hand the controllers down.
	above := filepath.Dir(dir)
	avail, err := os.ReadFile(filepath.Join(above, "cgroup.controllers"))
	if err != nil {
		return nil, err
	}
	have := strings.Fields(string(avail))
	for _, c := range want {
		if !slices.Contains(have, c) {
			return nil, fmt.Errorf("controller %s is not available in %s", c, above)
		}
	}
	if err := enableControllers(above, want); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := enableControllers(dir, want); err != nil {
		return nil, err
	}
	// Not required: loading the program takes CAP_BPF (or
	// CAP_SYS_ADMIN), which an unprivileged node lacks; Protections says
	// whether it is in force.
	c := &cgroups{version: 2, memory: dir, pids: dir, deviceFilter: canFilterDevices() == nil}
	if needCPU {
		c.cpu = dir
	}
	return c, nil
}

func enableControllers(dir string, want []string) error {
	cur, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	if err != nil {
		return err
	}
	var add []string
	for _, c := range want {
		if !slices.Contains(strings.Fields(string(cur)), c) {
			add = append(add, "+"+c)
		}
	}
	if len(add) == 0 {
		return nil
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte(strings.Join(add, " ")), 0); err != nil {
		if errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("cannot enable %s in %s: it holds processes (cgroup v2 lets only a cgroup without processes hand controllers down); run the node in a leaf cgroup and set CgroupParent to a sibling of it", strings.Join(add, " "), dir)
		}
		return fmt.Errorf("enable %s in %s: %w", strings.Join(add, " "), dir, err)
	}
	return nil
}

// makeParent makes a parent directory, handing the controllers down to
// job cgroups under v2.
func (c *cgroups) makeParent(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if c.version == 2 {
		want := []string{"memory", "pids"}
		if c.cpu != "" {
			want = append(want, "cpu")
		}
		return enableControllers(dir, want)
	}
	return nil
}

// dirs are the distinct parent directories.
func (c *cgroups) dirs() []string {
	var d []string
	for _, p := range []string{c.memory, c.pids, c.cpu, c.devices} {
		if p != "" && !slices.Contains(d, p) {
			d = append(d, p)
		}
	}
	return d
}

func (c *cgroups) String() string {
	ctls := "memory, pids"
	if c.cpu != "" {
		ctls += ", cpu"
	}
	if c.devices != "" {
		ctls += ", devices"
	}
	if c.deviceFilter {
		ctls += ", devices (eBPF)"
	}
	return fmt.Sprintf("cgroup v%d (%s) under %s", c.version, ctls, strings.Join(c.dirs(), ", "))
}

// The CFS bandwidth period job quotas are set in, and the least quota
// the kernel accepts, both in µs.
const (
	cfsPeriod = 100000
	minQuota  = 1000
)

// jobCgroup is one run's cgroup, in every hierarchy used.
type jobCgroup struct {
	c    *cgroups
	name string
	oom  *os.File // v1: an eventfd the kernel signals on an OOM in the job
}

func writeFile(dir, name, value string) error {
	if err := os.WriteFile(filepath.Join(dir, name), []byte(value), 0); err != nil {
		return fmt.Errorf("set %s to %s: %w", name, value, err)
	}
	return nil
}

// devNode is a character device a job may open: its path on the host
// and its numbers.
type devNode struct {
	path         string
	major, minor uint32
}

// newJob makes the cgroup of one run with its limits. devices are the
// only device nodes the job may open, where the devices controller is
// used.
func (c *cgroups) newJob(name string, memory int64, pids int, cpus float64, devices []devNode) (j *jobCgroup, err error) {
	j = &jobCgroup{c: c, name: name}
	defer func() {
		if err != nil {
			_ = j.destroy(context.Background())
		}
	}()
	for _, d := range c.dirs() {
		err := os.Mkdir(filepath.Join(d, name), 0o755)
		if errors.Is(err, fs.ErrNotExist) {
			// Another executor of this process closed and removed the
			// default parent just now: make it again.
			if err = c.makeParent(d); err == nil {
				err = os.Mkdir(filepath.Join(d, name), 0o755)
			}
		}
		if err != nil {
			return j, err
		}
	}
	mem, pid := filepath.Join(c.memory, name), filepath.Join(c.pids, name)
	mb := strconv.FormatInt(memory, 10)
	if c.version == 2 {
		if err := writeFile(mem, "memory.max", mb); err != nil {
			return j, err
		}
		if err := writeFile(mem, "memory.swap.max", "0"); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return j, err
		}
		// One process out of memory ends the whole job, as in wasm.
		if err := writeFile(mem, "memory.oom.group", "1"); err != nil {
			return j, err
		}
	} else {
		if err := writeFile(mem, "memory.limit_in_bytes", mb); err != nil {
			return j, err
		}
		// With swap accounting, the job must not swap either.
		if err := writeFile(mem, "memory.memsw.limit_in_bytes", mb); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return j, err
		}
		if j.oom, err = oomEvents(mem); err != nil {
			return j, err
		}
	}
	if err := writeFile(pid, "pids.max", strconv.Itoa(pids)); err != nil {
		return j, err
	}
	if cpus > 0 && c.cpu == "" {
		return j, errors.New("the job asks for a CPU quota and this host's cgroups have no cpu controller")
	}
	if cpus > 0 {
		quota := strconv.FormatInt(max(int64(cpus*cfsPeriod), minQuota), 10)
		cpu := filepath.Join(c.cpu, name)
		if c.version == 2 {
			err = writeFile(cpu, "cpu.max", quota+" "+strconv.Itoa(cfsPeriod))
		} else {
			err = writeFile(cpu, "cpu.cfs_period_us", strconv.Itoa(cfsPeriod))
			if err == nil {
				err = writeFile(cpu, "cpu.cfs_quota_us", quota)
			}
		}
		if err != nil {
			return j, err
		}
	}
	if c.deviceFilter {
		if err := attachDeviceFilter(mem, devices); err != nil {
			return j, err
		}
	}
	if c.devices != "" {
		dev := filepath.Join(c.devices, name)
		if err := writeFile(dev, "devices.deny", "a"); err != nil {
			return j, err
		}
		for _, d := range devices {
			if err := writeFile(dev, "devices.allow", fmt.Sprintf("c %d:%d rw", d.major, d.minor)); err != nil {
				return j, err
			}
		}
	}
	return j, nil
}

// cpuQuota reads back the CPU quota the kernel holds the job cgroup in
// dir to, in cores: 0 for none.
func cpuQuota(dir string, version int) float64 {
	var quota, period int64
	if version == 2 {
		b, err := os.ReadFile(filepath.Join(dir, "cpu.max"))
		if err != nil {
			return 0
		}
		q, p, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
		quota, _ = strconv.ParseInt(q, 10, 64) // "max": no quota, 0
		period, _ = strconv.ParseInt(p, 10, 64)
	} else {
		quota = fileValue(filepath.Join(dir, "cpu.cfs_quota_us")) // -1: no quota
		period = fileValue(filepath.Join(dir, "cpu.cfs_period_us"))
	}
	if quota <= 0 || period <= 0 {
		return 0
	}
	return float64(quota) / float64(period)
}

// oomEvents registers an eventfd for the v1 memory cgroup's OOM
// notifications (cgroup.event_control).
func oomEvents(dir string) (*os.File, error) {
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	ev := os.NewFile(uintptr(efd), "oom-events")
	ctl, err := os.Open(filepath.Join(dir, "memory.oom_control"))
	if err != nil {
		ev.Close()
		return nil, err
	}
	defer ctl.Close()
	if err := writeFile(dir, "cgroup.event_control", fmt.Sprintf("%d %d", efd, ctl.Fd())); err != nil {
		ev.Close()
		return nil, err
	}
	return ev, nil
}

// join moves pid into the job's cgroup in every hierarchy.
func (j *jobCgroup) join(pid int) error {
	for _, d := range j.c.dirs() {
		if err := writeFile(filepath.Join(d, j.name), "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// jobStats is what the kernel counted for a run.
type jobStats struct {
	oomKills    int64  // processes the OOM killer ended
	peakMemory  int64  // bytes, 0 when the kernel does not say
	pidsRefused int64  // forks refused at the pids limit
	throttled   int64  // CPU periods in which the quota stopped the job
	devices     string // v1: the devices the job may open (devices.list)
}

func (j *jobCgroup) stats() jobStats {
	var s jobStats
	mem, pid := filepath.Join(j.c.memory, j.name), filepath.Join(j.c.pids, j.name)
	if j.c.version == 2 {
		s.oomKills = keyedValue(filepath.Join(mem, "memory.events"), "oom_kill")
		s.peakMemory = fileValue(filepath.Join(mem, "memory.peak"))
	} else {
		s.oomKills = keyedValue(filepath.Join(mem, "memory.oom_control"), "oom_kill")
		s.peakMemory = fileValue(filepath.Join(mem, "memory.max_usage_in_bytes"))
	}
	s.pidsRefused = keyedValue(filepath.Join(pid, "pids.events"), "max")
	if j.c.cpu != "" {
		s.throttled = keyedValue(filepath.Join(j.c.cpu, j.name, "cpu.stat"), "nr_throttled")
	}
	if j.c.devices != "" {
		b, _ := os.ReadFile(filepath.Join(j.c.devices, j.name, "devices.list"))
		s.devices = string(b)
	}
	return s
}

func fileValue(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	v, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return v
}

// keyedValue reads "key value" from a flat-keyed cgroup file.
func keyedValue(path, key string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		k, v, ok := bytes.Cut(line, []byte(" "))
		if ok && string(k) == key {
			n, _ := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			return n
		}
	}
	return 0
}

// destroy kills whatever is left in the job's cgroup and removes it.
func (j *jobCgroup) destroy(ctx context.Context) error {
	if j.oom != nil {
		j.oom.Close()
		j.oom = nil
	}
	var errs []error
	for _, d := range j.c.dirs() {
		if err := removeCgroup(ctx, filepath.Join(d, j.name), j.c.version); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeCgroup kills every process in dir and removes it, waiting (up to
// ctx) for the kernel to let go: processes take a moment to leave after
// SIGKILL.
func removeCgroup(ctx context.Context, dir string, version int) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	killed := false
	for wait := 100 * time.Microsecond; ; wait = min(2*wait, 50*time.Millisecond) {
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
		if version == 2 && !killed {
			if err := writeFile(dir, "cgroup.kill", "1"); err == nil {
				killed = true
			}
		}
		if !killed || version == 1 {
			killProcs(dir)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("remove cgroup %s: still busy after killing its processes: %w", dir, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// killProcs sends SIGKILL to every process listed in a cgroup.
func killProcs(dir string) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return
	}
	for f := range strings.FieldsSeq(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
}
