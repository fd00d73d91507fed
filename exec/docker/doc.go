// Package docker runs jobs as containers of a local Docker engine, through
// the Engine API (github.com/moby/moby/client), never the docker CLI. It
// owns the containers it creates and the run directories under its work
// directory; it is driven like every exec.Executor: New, then Run from any
// goroutine, then Close. It passes exec/exectest unchanged.
//
// # What a job names
//
// Job.Module is either
//
//   - an image reference by digest, "sha256:<hex>" (an image ID) or
//     "name@sha256:<hex>", which must be on Config.AllowedImages and
//     present in the engine (tags are refused: they move); or
//   - an image archive as `docker save` writes it (the legacy layout or
//     the OCI layout), when Config.RunJobImages allows it. ParseArchive
//     checks it first — size, entry types, names and links that stay
//     inside it, one image, a config whose digest matches its name — and
//     strips the names it would give the image, so a job cannot retag a
//     provider's images. It is loaded once and remembered by the module's
//     CID (Warm); an image loaded before is not loaded again. Loaded
//     images stay in the engine, untagged, as a cache: removing them
//     (docker image prune) is the provider's call.
//
// Anything else is StatusBadModule with the reason. Preparing the image is
// not part of the job's time. Job.Args follow the image's entrypoint (or
// replace its command, as `docker run IMAGE ARGS` does).
//
// # The container
//
// Every run gets a fresh container, used once: network none, every
// capability dropped, no-new-privileges, a read-only root file system,
// a non-root numeric user (Config.User; by default nobody when the node
// is root, the node's own user otherwise), a private IPC namespace, the
// memory limit on the memory cgroup without swap, a pids limit
// (Config.MaxProcesses), RLIMIT_NOFILE, a CPU quota (NanoCPUs: the
// job's own exec.Limits.CPUs, within Config.CPUs), no logs kept by the engine, /tmp a tmpfs whose files
// count against the memory limit, /in the job's inputs bound read-only,
// /out bound read-write and collected afterwards with the same caps as
// every executor (files by path, sorted, directories counted, links and
// devices never followed). As root, /out is a host tmpfs of the output
// limits' size, so a job cannot fill the host's disk through it. GPUs
// from an exec/gpu Allocation reach the container as an NVIDIA device
// request by UUID (RunWithDevices), and only those.
//
// PID 1 of the container is the shim (internal/shim, a static binary
// bind-mounted read-only at /.hayek-init). It stacks a seccomp deny-list
// (exec/process's: mounts, namespaces, ptrace, BPF, io_uring, keyrings,
// kernel modules, the clocks…) on the engine's default profile, which in
// Docker 20.10 still allows ptrace and io_uring; starts the image's
// program with exactly the job's environment (Config.ImageEnv adds the
// image's ENV; the engine's HOSTNAME, HOME and PATH never reach it);
// reaps, and at the end kills, every process the job started; and then
// writes a status line the executor reads: death by a signal is told
// from an exit code above 128 (StatusTrap), and the peak resident memory
// of the job's largest process is its Usage.MemoryBytes. The engine's
// OOM flag, or a SIGKILL the executor did not send, is StatusMemoryLimit.
//
// # How a run goes, and why it is quick
//
// The engine's create and start are most of a short job's time (0.6–0.9
// s on the development machine), so a container is created and started
// before its job is known: its shim waits for one byte on stdin. After a
// run of an image the executor starts the next container of that image
// in the background (Config.WarmImages images stay warm, with
// DefaultLimits; a run asking for more memory, or for GPUs, starts its
// own). A run writes its inputs into the bound /in, argv, environment and
// a random end marker into the shim's spec file (which the shim removes
// before the job starts), updates the memory limit if it differs, and
// sends the byte with stdin behind it; the time limit counts from there.
// The job's end is seen on the host (inotify on the shim's status file)
// and its output is complete when the end marker, which only the shim
// knows, follows it on stdout and stderr. Run then returns; removing the
// container, which the engine does slowly, goes on in the background,
// and Close and Leaks wait for it. A run stopped by its time limit,
// its context or Close removes its container before Run returns.
//
// # Cleaning up
//
// Everything in the engine is labelled hayek.exec=docker and
// hayek.executor=<instance>, the instance naming the node's process;
// New sweeps (Sweep) the containers and run directories of instances
// whose process is gone, so a node crash leaves nothing behind for
// longer than the next start. By hand:
//
//	docker rm -f $(docker ps -aq --filter label=hayek.exec=docker)
//
// Leaks lists what an instance still holds (containers, run directories,
// mounts); the conformance suite checks it after every stopped run.
//
// # When there is no engine
//
// New fails with ErrUnavailable and the reason — no engine answering at
// the address, a non-Linux engine, another architecture, a remote engine
// (the executor binds local directories) — so a node can say why it does
// not sell runtime/docker.
package docker
