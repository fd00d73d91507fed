// Package process is the sandbox for native programs: an exec.Executor that
// runs a job's static Linux executable (or one of the provider's own
// programs) in a fresh set of namespaces, under cgroup limits, rlimits, a
// seccomp filter and, where the kernel has it, Landlock. It refuses to
// start, rather than run anything unconfined, when the host cannot give
// all of that.
//
// # Driving it
//
//	p, err := process.Probe(ctx, cfg)           // what this host gives, or why not (ErrUnavailable)
//	e, err := process.New(ctx, cfg)             // one per node; sweeps a crashed run's leftovers
//	defer e.Close(ctx)
//	res, err := e.Run(ctx, exec.Job{...})       // from any goroutine
//
// New validates the Config, finds the cgroup hierarchy, removes job
// cgroups that an executor of a dead process left (named
// hayek-job-PID-STARTTIME-..., so a live node's are never touched), and
// runs one probe sandbox with every protection, whose report becomes
// Protections: a node logs it and offers runtime/process only when New
// succeeded. Run returns an error for a malformed Job (ErrInvalidJob),
// after Close (exec.ErrClosed), when ctx ends first (wrapping ctx's
// cause), or when the executor or the host failed (a sandbox that could
// not be built or cleaned up); what the job does is a Result:
//
//	ok            the job's process exited 0
//	exit          it exited with another code (ExitCode)
//	trap          it was killed by a signal it did not handle (SIGSEGV, SIGABRT...)
//	timeout       Limits.Timeout passed (counted from the job's exec, not the
//	              sandbox's set-up), or it used up its CPU-time rlimit
//	memory_limit  the job's cgroup ran out of memory (the kernel's OOM killer
//	              acted, or the executor stopped it at the OOM event), or it
//	              filled /tmp, whose size is the memory limit
//	output_limit  /out held more than Limits.OutputBytes or OutputFiles, or
//	              the job wrote past the file-size rlimit
//	bad_module    not a static executable for this machine (a script, a
//	              dynamically linked or foreign ELF, garbage), or the kernel
//	              refused to execute it; or, with Config.RunJobModules off,
//	              not one of the provider's programs
//
// As in exec/wasm, outputs are returned for ok, exit and trap only; stdout
// and stderr always, truncated to their limits (the rest is read and
// dropped: a flood costs the node nothing). When the kernel refused some
// of the job's forks at its process limit, Error says so.
//
// # What a job sees
//
// argv is ArgV0 ("job") and Job.Args; the environment is exactly Job.Env;
// stdin is Job.Stdin. The job is PID 2 of its own PID namespace, uid and
// gid 0 of its own user namespace (mapped to Config.HostUID/HostGID,
// nobody by default when the node is root) holding no capability at all,
// with host name "job", no network but a loopback that is down, and this
// root, read-only, in a tmpfs of its own:
//
//	/in     Job.Inputs, read-only (the superblock, not just the mount)
//	/out    empty, writable, a tmpfs the executor reads when the job ends
//	/tmp    empty, writable, a tmpfs of Limits.MemoryBytes
//	/dev    null, zero, full, random, urandom (the host's, bound in)
//	/proc   its own processes only (subset=pid), with Config.Proc
//
// Outputs are the regular files left under /out, named by their path
// ("dir/file"), sorted, like exec/wasm's; symbolic links, FIFOs and
// sockets are not outputs, every entry counts against OutputFiles, and
// the executor reads them through descriptors of directories it opened
// itself, never following a link. Time and randomness are the machine's:
// unlike exec/wasm, two runs of one job are only as deterministic as the
// program makes them.
//
// # How a run goes
//
// The executor embeds a small init program (internal/initproc, committed as
// initproc-linux-{amd64,arm64} and rebuilt by scripts/gen-samples; a test
// fails when it is stale) and keeps it, like every job executable, in a
// sealed memfd: nothing a job brings touches the host's disk, and nothing
// can change an executable after it was checked. It starts the init with
// clone(2) in new user, mount, PID, network, IPC and UTS namespaces, and
// the init at once builds the part of the root that is the same for every
// run: it makes every mount private, mounts a tmpfs on a host directory
// (in its private mount namespace only) with the mount points, the
// devices and /proc, pivots into it, detaches the host's tree, and makes
// / and /dev read-only. Config.WarmSandboxes inits are kept launched that
// far ahead of the runs that will need them, so the clone and the init's
// start-up are off a run's path.
//
// For a run the executor makes the job's cgroup and hands an init, over a
// socket, the executable (as a descriptor), the spec and the inputs. The
// init mounts /in, writes the inputs and remounts it read-only, mounts
// /out and /tmp, and hands the executor descriptors of those two. The
// executor then moves it into the job's cgroup (so the inputs are not
// charged to the job) and lets it go on: a cgroup namespace, drop the
// capability bounding and ambient sets and lock root out of capabilities
// (securebits), no_new_privs, Landlock, the seccomp filter, the rlimits,
// and fork the job from the memfd (execveat). The init stays as PID 1,
// under the same restrictions, reaping orphans; when the job ends it
// reports the job's wait status and exits, and the kernel kills whatever
// else is left in the PID namespace. A timeout, a cancelled ctx, Close or
// an OOM event kill the init, with the same effect. Then the executor
// reads the cgroup's counters, collects /out through its descriptor (the
// tmpfs outlives the mount namespace while the descriptor is open),
// removes the cgroup, killing anything still in it, and closes the rest.
//
// # GPUs
//
// RunWithDevices gives a run the GPUs of an exec/gpu Allocation: a fresh
// init (not a pooled one: the nodes are bound while the root is built)
// binds each GPU's own node (/dev/nvidia<minor>, Config.DeviceDir in
// tests) and the driver's control nodes that exist (nvidiactl,
// nvidia-uvm, nvidia-uvm-tools) read-write into the job's /dev, Landlock
// allows read, write and ioctl on them, and CUDA_VISIBLE_DEVICES names
// the GPUs by UUID. No other GPU's node is in the root. On cgroup v1 the
// devices controller backs this up: a job cgroup denies every device
// but the base ones and the run's GPU nodes (for every run, with or
// without GPUs). On cgroup v2 the same rule is an eBPF program
// (BPF_PROG_TYPE_CGROUP_DEVICE, devfilter_linux.go) attached to each job
// cgroup, where the node may load one (CAP_BPF or CAP_SYS_ADMIN;
// Protections.Cgroup lists "devices (eBPF)"). Without either, the mount
// namespace alone decides which nodes a job reaches (it cannot make
// nodes: no CAP_MKNOD, and nodes on its own tmpfs mounts are unusable in
// a user namespace). MIG instances are
// refused: they need the capability nodes of /dev/nvidia-caps. The
// driver's user-space libraries (libcuda) are not bound: a job brings
// what it drives the device with.
//
// A run leaves nothing on the host but its cgroup, and only while it runs:
// its mounts live in its own namespace, its files in tmpfs and memfds that
// vanish with the last process or descriptor, and the init ends the
// sandbox when the node's end of its control socket closes, which the
// kernel does when the node dies, however it dies. A crashed node's
// cgroups are swept by the next New. Executor.Leaks lists what an executor left (cgroups, and
// processes in them); exec/exectest checks it is empty after every
// stopped run.
//
// # What it protects against
//
//   - Reading or writing the host's files: the job's root holds nothing of
//     the host's; the host's tree is detached; Landlock (where present)
//     would refuse host paths even if one were reachable.
//   - The network: a network namespace with nothing in it; Landlock also
//     refuses TCP bind and connect, abstract Unix sockets outside the
//     sandbox and signals to outside processes.
//   - Other processes and jobs: a PID namespace; ptrace, process_vm_*,
//     kcmp, pidfd_getfd are refused by seccomp.
//   - Privilege: no capabilities in any namespace, no_new_privs, and the
//     calls that have broken containers out refused by seccomp: mount and
//     the new mount API, pivot_root, chroot, unshare, setns and clone with
//     namespace flags (clone3 fails with ENOSYS so C libraries fall back
//     to clone, whose flags the filter can read), BPF, perf_event_open,
//     userfaultfd, io_uring, keyrings, kernel modules, kexec, open_by_handle_at,
//     the clocks; any other system-call ABI (x32, i386) kills the process.
//   - Exhausting the host: memory (the cgroup, /tmp and /out included, no
//     swap), processes and threads (the pids cgroup; RLIMIT_NPROC at twice
//     that as a backstop), CPU (a cgroup quota, cfs_quota_us on v1 and
//     cpu.max on v2: the job's own exec.Limits.CPUs, within Config.CPUs;
//     a CPU-time rlimit derived from the timeout and that quota), wall time, open files, file size,
//     address space (Config.AddressSpaceBytes), output sizes; no core
//     dumps (RLIMIT_CORE is 1, which the kernel reads as "not even to a
//     core_pattern pipe", so a crash never hands the job's memory to a
//     host program).
//
// What it does not protect against: a kernel bug reachable through the
// system calls a job may make (the filter is a deny-list: a new kernel
// interface is allowed until it is listed); the CPU's side channels
// (Spectre-class leaks between jobs on shared cores); a job's timing or
// use of the disk cache of its own files; the host's devices it is given
// (null, zero, full, random, urandom, and the GPU nodes of a run with
// GPUs, whose driver it can talk to). Before Linux 5.14, RLIMIT_NPROC is
// counted per host user, so with a shared HostUID one job's processes
// count against another's backstop (the pids cgroup is per job either
// way). The names and contents of outputs are the job's: whatever serves
// them further must not trust them. And it cannot hide that the job runs
// on Linux, on this CPU, with this kernel (uname, CPUID).
//
// # Enabling it, and what each protection needs from the host
//
// Linux 5.8 or newer (proc's subset=pid; 5.14 for the per-namespace
// RLIMIT_NPROC), on amd64 or arm64 (the architectures the init is built
// for), with:
//
//   - user namespaces: CONFIG_USER_NS, and not switched off
//     (kernel.unprivileged_userns_clone=1 where that sysctl exists,
//     user.max_user_namespaces above zero, no AppArmor policy such as
//     Ubuntu 24.04's apparmor_restrict_unprivileged_userns forbidding them
//     to the node's binary). In a container, its seccomp profile and
//     AppArmor must allow clone with namespace flags (Docker's default
//     profile does not: run the node with --security-opt
//     seccomp=unconfined or a profile that allows them). The node may run
//     as root (jobs then run as nobody) or as an ordinary user (jobs run as
//     that user, the only one it can map).
//   - PID, mount, network, IPC, UTS and cgroup namespaces (any
//     distribution kernel).
//   - cgroups with the memory and pids controllers, and cpu for a CPU
//     quota: cgroup v2, or v1 where the controllers are only there (as on
//     this project's development machine). The node needs write access to
//     the parent cgroup: root, or a delegated subtree (systemd:
//     Delegate=yes). Under v2 the parent's parent must hand the
//     controllers down, which the kernel allows only to a cgroup without
//     processes: run the node in a leaf (e.g. <unit>/node) and set
//     Config.CgroupParent to a sibling (<unit>/jobs). The default parent is
//     "hayek-process" below the node's own cgroup, which works under v1
//     and when the node's cgroup is a v2 root.
//   - seccomp filters (CONFIG_SECCOMP_FILTER; every distribution kernel).
//   - memfd_create and execveat (3.19+), not forbidden by
//     vm.memfd_noexec=2.
//   - Landlock is optional: CONFIG_SECURITY_LANDLOCK and "landlock" in the
//     lsm= boot parameter (on by default in recent Ubuntu, Fedora, Arch).
//     Protections says which ABI is in force or why there is none.
//
// New and Probe return an error wrapping ErrUnavailable that names what is
// missing and what to do. `hayek devnet` can enable the executor for
// every node (they are all the user's own); `hayek serve` only when the
// operator configures it.
//
// # Speed
//
// Measured on this project's development machine: 2 virtual cores that
// other work kept busy (load average 5-9 throughout), where even a static
// Go program's start and exit takes 6-10 ms of wall time and about 9 ms
// of CPU, several times an idle machine's. Absolute times there vary by
// 1.5x from one run to the next; ratios measured in one benchmark hold
// better.
//
//	go test -run '^$' -bench . -benchtime 10x ./exec/process
//
//	                                                    this machine, four runs
//	New (cgroups, sweep, one probe sandbox)             23-34 ms
//	trivial job (`toolbox exit 0`), native              5.8-8.4 ms
//	  in the sandbox, warm (cached, an init waiting)    21-34 ms
//	  back-to-back (the pool refilling meanwhile)       22-35 ms
//	  without the pool (WarmSandboxes 0)                23-51 ms
//	  cold (an executable not seen before)              24-45 ms
//	primes below 10^6, native                           158-245 ms
//	  in the sandbox, start-up included                 1.10-1.23x native
//	primes below 4*10^6, native                         1005 ms
//	  in the sandbox, start-up included                 1034 ms, 1.03x native
//
// The job itself runs at native speed: the CPU-bound ratio is the
// sandbox's start-up (15-55 ms here) over the program's run, and shrinks
// as the program runs longer. The start-up is not CPU so much as
// waiting: a run hands control between processes a dozen times (node,
// init, job, and back), and on a loaded machine each hand-off waits for a
// core; tracing one run, its set-up steps took 1-2 ms each in the init
// (mounts and inputs, privileges, Landlock and seccomp together) but
// 2-6 ms to be scheduled around them, and the cgroup v1 move costs a
// synchronize_rcu. The pool saves the init's start-up, as long as a
// program's; here that was lost in the noise in some runs and worth
// 10-17 ms in others. The 5 ms goal for a warm start could not be checked
// here; with a program start at about 1 ms on an idle machine, the same
// steps should take a few milliseconds, and the figures above are what to
// compare against on one.
package process
