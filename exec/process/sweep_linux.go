package process

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// sweep removes the job cgroups that executors of processes no longer
// running left behind (a node that crashed or was killed mid-run), killing
// whatever still runs in them. Cgroups are the only thing a run leaves on
// the host: its mounts live in its own mount namespace, its files in
// tmpfs and memfds that vanish with the last process or descriptor.
func (e *Executor) sweep(ctx context.Context) error {
	var errs []error
	for _, dir := range e.cgroups.dirs() {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue // another executor closed and tidied it: nothing to sweep
		}
		if err != nil {
			return unavailable("list "+dir, err, "")
		}
		for _, ent := range entries {
			if !ent.IsDir() || !strings.HasPrefix(ent.Name(), cgroupPrefix) || ownerAlive(ent.Name()) {
				continue
			}
			if err := removeCgroup(ctx, filepath.Join(dir, ent.Name()), e.cgroups.version); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("exec/process: sweep leftovers of an earlier run: %w; remove them by hand (rmdir) once their processes are gone", err)
	}
	return nil
}

// ownerAlive reports whether the process that made a job cgroup named
// hayek-job-PID-START-... still runs: the same PID with the same start
// time.
func ownerAlive(name string) bool {
	parts := strings.SplitN(strings.TrimPrefix(name, cgroupPrefix), "-", 3)
	if len(parts) < 3 {
		return false
	}
	pid, err1 := strconv.Atoi(parts[0])
	start, err2 := strconv.ParseUint(parts[1], 10, 64)
	if err1 != nil || err2 != nil || pid <= 0 {
		return false
	}
	return processStart(pid) == start
}

// Leaks lists what this executor has left on the host and not cleaned up:
// sandbox inits not reaped, job cgroups, and processes still in them. With
// no run in flight it is empty (the inits waiting in the pool for the next
// run are not leftovers, until Close); exec/exectest checks it after every
// stopped run and after Close. Each entry names the leftover and where it
// is.
func (e *Executor) Leaks() []string {
	leaks := e.liveInits()
	prefix := e.instance + "-"
	for _, dir := range e.cgroups.dirs() {
		entries, _ := os.ReadDir(dir)
		for _, ent := range entries {
			if strings.HasPrefix(ent.Name(), prefix) {
				leaks = append(leaks, "cgroup "+filepath.Join(dir, ent.Name()))
			}
		}
	}
	// A process in one of our cgroups, wherever its directory is.
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cgroup"))
		if err == nil && strings.Contains(string(b), "/"+prefix) {
			leaks = append(leaks, "process "+p.Name()+" in "+strings.TrimSpace(string(b)))
		}
	}
	return leaks
}

// CPUQuotas reads back, from the kernel, the CPU quota of each run in
// flight, in cores (0 for a run without one), in no particular order. It
// is how a test or an operator sees that a job is held to
// exec.Limits.CPUs.
func (e *Executor) CPUQuotas() []float64 {
	if e.cgroups.cpu == "" {
		return nil
	}
	var quotas []float64
	entries, _ := os.ReadDir(e.cgroups.cpu)
	for _, ent := range entries {
		if strings.HasPrefix(ent.Name(), e.instance+"-") {
			quotas = append(quotas, cpuQuota(filepath.Join(e.cgroups.cpu, ent.Name()), e.cgroups.version))
		}
	}
	return quotas
}
