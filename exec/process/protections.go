package process

import (
	"fmt"
	"strings"
)

// Protections is what isolates a job on this host, as found by running a
// probe sandbox with the executor's Config: every run gets the same. A
// node logs String() at start-up and may advertise it.
type Protections struct {
	// Namespaces the job runs in: always user, pid, mount, network, ipc,
	// uts and cgroup (New refuses to start without them).
	Namespaces []string
	// Cgroup says which cgroup version and controllers limit the job
	// ("v1: memory, pids" ...).
	Cgroup string
	// Seccomp is true when the system-call filter is installed (New
	// refuses to start without it).
	Seccomp bool
	// NoNewPrivs and CapabilitiesDropped: the job can gain no privilege,
	// and holds no capability even in its own user namespace.
	NoNewPrivs          bool
	CapabilitiesDropped bool
	// Landlock is the Landlock ABI version in force, 0 when none;
	// LandlockMissing says why not.
	Landlock        int
	LandlockMissing string
	// Rlimits lists the resource limits set on the job.
	Rlimits []string
	// Proc is true when the job has a /proc of its own processes.
	Proc bool
	// HostUID and HostGID are the host ids the job runs as.
	HostUID, HostGID int
}

// String is one line for logs.
func (p Protections) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "namespaces: %s; %s; seccomp: %v; no_new_privs: %v; capabilities dropped: %v; ",
		strings.Join(p.Namespaces, ", "), p.Cgroup, p.Seccomp, p.NoNewPrivs, p.CapabilitiesDropped)
	if p.Landlock > 0 {
		fmt.Fprintf(&b, "landlock: ABI %d; ", p.Landlock)
	} else {
		fmt.Fprintf(&b, "landlock: off (%s); ", p.LandlockMissing)
	}
	fmt.Fprintf(&b, "rlimits: %s; /proc: %v; runs as host uid %d gid %d", strings.Join(p.Rlimits, ", "), p.Proc, p.HostUID, p.HostGID)
	return b.String()
}
