//go:build linux

package main

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hayek-market/hayek/exec/process/internal/wire"
)

var ctl *os.File

func main() {
	// Credentials, the capability bounding set, no_new_privs, Landlock and
	// the seccomp filter belong to a thread; execveat keeps only the
	// calling thread. So everything happens on this one.
	runtime.LockOSThread()
	_ = unix.Close(wire.FDInit) // our own executable: the job must not inherit it
	// Signals the job sends its PID 1 are ignored (the kernel drops
	// uncaught ones for a namespace's init anyway; Go catches them).
	signal.Ignore(syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGUSR2,
		syscall.SIGPIPE, syscall.SIGALRM, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGXCPU, syscall.SIGXFSZ)
	ctl = os.NewFile(wire.FDControl, "control")

	// argv: the staging directory, "proc" or "noproc", the host name,
	// then the host paths of the GPU device nodes the job is given.
	if len(os.Args) < 4 {
		fail("arguments", nil, "want STAGING proc|noproc HOSTNAME [DEVICE...]")
	}
	buildRoot(os.Args[1], os.Args[2] == "proc", os.Args[3], os.Args[4:])
	receiveModule()
	typ, payload, err := wire.ReadFrame(ctl)
	if err != nil || typ != wire.MsgSpec {
		fail("read spec", err, "want a spec frame, got type "+strconv.Itoa(int(typ)))
	}
	spec, err := wire.DecodeSpec(payload)
	if err != nil {
		fail("decode spec", err, "")
	}
	run(spec)
}

// receiveModule reads the Module frame, which the executor may send long
// after starting this init, and puts the executable it carries on fd 4,
// close-on-exec: execveat takes it from there, and the job need not
// inherit it.
func receiveModule() {
	hdr := make([]byte, 5)
	oob := make([]byte, unix.CmsgSpace(4))
	var n, oobn int
	var err error
	for {
		n, oobn, _, _, err = unix.Recvmsg(wire.FDControl, hdr, oob, unix.MSG_CMSG_CLOEXEC)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil || n != 5 || hdr[4] != wire.MsgModule {
		fail("read module", err, "want a module frame with a descriptor")
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		fail("read module", err, "no descriptor with the module frame")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		fail("read module", err, "want one descriptor")
	}
	if fds[0] != wire.FDModule {
		check("dup module", unix.Dup3(fds[0], wire.FDModule, unix.O_CLOEXEC))
		unix.Close(fds[0])
	}
}

// fail reports a failed step and exits; it never returns.
func fail(stage string, err error, detail string) {
	e := &wire.Error{Stage: stage, Detail: detail}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		e.Errno = uint32(errno)
	}
	if err != nil {
		if e.Detail != "" {
			e.Detail += ": "
		}
		e.Detail += err.Error()
	}
	if ctl != nil {
		_, _ = ctl.Write(wire.Frame(wire.MsgError, e.Encode()))
	}
	os.Exit(wire.ExitSetup)
}

func check(stage string, err error) {
	if err != nil {
		fail(stage, err, "")
	}
}

func tmpfsOptions(sz wire.Size, mode string) string {
	return "size=" + strconv.FormatInt(sz.Bytes, 10) + ",nr_inodes=" + strconv.FormatInt(sz.Inodes, 10) + ",mode=" + mode
}

// devices are bind-mounted from the host: the only ones a job gets, with
// the GPU device nodes of its run (gpuNodes).
var devices = []string{"null", "zero", "full", "random", "urandom"}

// gpuNodes are the names under /dev of the GPU device nodes bound for
// this run: read, write and ioctl, which is how a GPU is driven.
var gpuNodes []string

// buildRoot makes the job's root, before there is a job: everything here
// is the same for every run of an executor, so an init launched ahead of
// its run has done it by the time the run needs it. It pivots into a
// tmpfs holding the mount points, the devices and /proc, detaches the
// host's tree, and makes / and /dev read-only.
func buildRoot(staging string, proc bool, hostname string, gpus []string) {
	// Nothing mounted from here on may reach the host's mount table.
	check("make mounts private", unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""))
	root := staging
	// The GPU nodes are held open first: the root may be mounted over
	// where they are (a staging /tmp over a test's /tmp/.../nvidia0).
	gpuFDs := make([]int, len(gpus))
	for i, src := range gpus {
		fd, err := unix.Open(src, unix.O_PATH|unix.O_CLOEXEC, 0)
		check("open "+src, err)
		gpuFDs[i] = fd
	}
	check("mount root tmpfs", unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV,
		tmpfsOptions(wire.Size{Bytes: 256 << 10, Inodes: 64}, "0755")))
	dirs := []string{"in", "out", "tmp", "dev"}
	if proc {
		dirs = append(dirs, "proc")
	}
	for _, d := range dirs {
		check("mkdir /"+d, unix.Mkdir(root+"/"+d, 0o755))
	}
	check("mount /dev", unix.Mount("tmpfs", root+"/dev", "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC,
		tmpfsOptions(wire.Size{Bytes: 64 << 10, Inodes: 32}, "0755")))
	for _, d := range devices {
		target := root + "/dev/" + d
		fd, err := unix.Open(target, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o666)
		check("create /dev/"+d, err)
		unix.Close(fd)
		check("bind /dev/"+d, unix.Mount("/dev/"+d, target, "", unix.MS_BIND, ""))
	}
	for i, src := range gpus {
		name := src[strings.LastIndexByte(src, '/')+1:]
		if name == "" || slices.Contains(devices, name) || slices.Contains(gpuNodes, name) {
			fail("bind a GPU device", nil, "bad or repeated device node "+src)
		}
		target := root + "/dev/" + name
		fd, err := unix.Open(target, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o666)
		check("create /dev/"+name, err)
		unix.Close(fd)
		// The host's /proc is still here: its magic link reaches the node.
		check("bind "+src, unix.Mount("/proc/self/fd/"+strconv.Itoa(gpuFDs[i]), target, "", unix.MS_BIND, ""))
		unix.Close(gpuFDs[i])
		gpuNodes = append(gpuNodes, name)
	}
	if proc {
		// Only while the host's /proc is still in this mount namespace may
		// a new proc be mounted (the kernel refuses one that would show
		// more than an existing, fully visible proc). subset=pid shows the
		// job's own processes and nothing of the host (/proc/sys,
		// /proc/meminfo...).
		err := unix.Mount("proc", root+"/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "subset=pid")
		check("mount /proc", err)
	}
	pivot(root)
	// Mounting on /in, /out and /tmp later needs no write access to /.
	check("remount / read-only", unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""))
	check("remount /dev read-only", unix.Mount("", "/dev", "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NOEXEC, ""))
	check("sethostname", unix.Sethostname([]byte(hostname)))
	check("setdomainname", unix.Setdomainname([]byte(hostname)))
}

// run gives the root the job's mounts and inputs, and starts the job.
func run(spec *wire.Spec) {
	check("mount /in", unix.Mount("tmpfs", "/in", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, tmpfsOptions(spec.In, "0755")))
	writeInputs(spec, "/in")
	// Read-only for good: the superblock, not just this mount.
	check("remount /in read-only", unix.Mount("", "/in", "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""))
	check("mount /out", unix.Mount("tmpfs", "/out", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, tmpfsOptions(spec.Out, "0755")))
	check("mount /tmp", unix.Mount("tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, tmpfsOptions(spec.Tmp, "1777")))

	// The executor collects /out and checks /tmp through these after the
	// job and its namespaces are gone.
	outFD, err := unix.Open("/out", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	check("open /out", err)
	tmpFD, err := unix.Open("/tmp", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	check("open /tmp", err)
	check("send ready", unix.Sendmsg(wire.FDControl, wire.Frame(wire.MsgReady, nil), unix.UnixRights(outFD, tmpFD), nil, 0))
	unix.Close(outFD)
	unix.Close(tmpFD)

	typ, _, err := wire.ReadFrame(ctl)
	if err != nil || typ != wire.MsgGo {
		fail("wait for cgroups", err, "want go, got type "+strconv.Itoa(int(typ)))
	}
	// The executor moved us into the job's cgroups; a cgroup namespace
	// rooted there hides the host's cgroup paths from /proc/self/cgroup.
	check("unshare cgroup namespace", unix.Unshare(unix.CLONE_NEWCGROUP))

	report := &wire.Report{Proc: spec.Proc}
	dropPrivileges()
	report.CapsDropped = true
	check("no_new_privs", unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
	report.NoNewPrivs = true
	if spec.Landlock {
		report.Landlock, report.LandlockNote = landlock(spec.Proc)
	} else {
		report.LandlockNote = "disabled by the executor's configuration"
	}
	installSeccomp(spec.Seccomp)
	report.Seccomp = len(spec.Seccomp) > 0
	// Limits last: the address-space limit in particular could starve
	// this Go program, which is not what it is meant for.
	setRlimits(spec.Rlimits)

	if spec.Probe {
		check("send report", writeAll(ctl, wire.Frame(wire.MsgReport, report.Encode())))
		os.Exit(0)
	}
	pid := startJob(spec.Argv, spec.Env)
	check("send started", writeAll(ctl, wire.Frame(wire.MsgStarted, nil)))
	go watchExecutor()
	reap(pid)
}

func setRlimits(limits []wire.Rlimit) {
	for _, r := range limits {
		check("setrlimit "+strconv.Itoa(r.Resource), unix.Prlimit(0, r.Resource, &unix.Rlimit{Cur: r.Cur, Max: r.Max}, nil))
	}
}

func writeAll(f *os.File, b []byte) error {
	_, err := f.Write(b)
	return err
}

// writeInputs copies the input bytes following the spec into dir. They are
// written before the executor puts this process into the job's cgroups, so
// the job's memory limit does not pay for its inputs.
func writeInputs(spec *wire.Spec, dir string) {
	buf := make([]byte, 64<<10)
	for _, in := range spec.Inputs {
		f, err := os.OpenFile(dir+"/"+in.Name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
		check("create input "+in.Name, err)
		n, err := io.CopyBuffer(f, io.LimitReader(ctl, in.Size), buf)
		if err == nil && n != in.Size {
			err = io.ErrUnexpectedEOF
		}
		check("write input "+in.Name, err)
		check("close input "+in.Name, f.Close())
	}
	check("chmod /in", unix.Chmod(dir, 0o555))
}

// pivot makes root the root of this mount namespace and detaches the
// host's tree, the way runc does without a spare directory.
func pivot(root string) {
	oldRoot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	check("open old root", err)
	newRoot, err := unix.Open(root, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	check("open new root", err)
	check("chdir new root", unix.Fchdir(newRoot))
	check("pivot_root", unix.PivotRoot(".", "."))
	// The old root is now stacked on the new one, at "/": detach it.
	check("chdir old root", unix.Fchdir(oldRoot))
	check("make old root a slave", unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""))
	check("detach old root", unix.Unmount(".", unix.MNT_DETACH))
	check("chdir /", unix.Chdir("/"))
	unix.Close(oldRoot)
	unix.Close(newRoot)
}

// Securebits (linux/securebits.h): the job, uid 0 in its user namespace,
// gains no capabilities from being root, on exec or on setuid, for good.
const (
	secbitNoRoot                = 1 << 0
	secbitNoRootLocked          = 1 << 1
	secbitNoSetuidFixup         = 1 << 2
	secbitNoSetuidFixupLocked   = 1 << 3
	secbitKeepCapsLocked        = 1 << 5
	secbitNoCapAmbientRaise     = 1 << 6
	secbitNoCapAmbientRaiseLock = 1 << 7
)

// dropPrivileges empties the bounding and ambient sets and locks root
// out of capabilities, so the executed job holds none, even in its own
// user namespace.
func dropPrivileges() {
	check("clear ambient capabilities", unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0))
	for c := 0; c <= 63; c++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			if err == unix.EINVAL { // beyond the kernel's last capability
				break
			}
			fail("drop capability "+strconv.Itoa(c), err, "")
		}
	}
	check("securebits", unix.Prctl(unix.PR_SET_SECUREBITS,
		secbitNoRoot|secbitNoRootLocked|secbitNoSetuidFixup|secbitNoSetuidFixupLocked|
			secbitKeepCapsLocked|secbitNoCapAmbientRaise|secbitNoCapAmbientRaiseLock, 0, 0, 0))
	// Inheritable must be empty too: exec keeps pI & fI.
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	check("capget", unix.Capget(&hdr, &data[0]))
	data[0].Inheritable, data[1].Inheritable = 0, 0
	check("capset", unix.Capset(&hdr, &data[0]))
}

func installSeccomp(prog []byte) {
	if len(prog) == 0 {
		return
	}
	if len(prog)%8 != 0 {
		fail("seccomp", nil, "program length "+strconv.Itoa(len(prog))+" is not a multiple of 8")
	}
	fprog := unix.SockFprog{Len: uint16(len(prog) / 8), Filter: (*unix.SockFilter)(unsafe.Pointer(&prog[0]))}
	// TSYNC puts every thread of this Go process under the filter, not
	// just this one; execveat keeps only this thread anyway.
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if errno != 0 {
		fail("seccomp", errno, "")
	}
}

// startJob forks the job and executes it in the child, returning its PID
// once execveat succeeded. The child is made with a raw fork: os/exec
// cannot execute a file descriptor, and the child must inherit this
// thread's credentials, Landlock domain and cgroup namespace, which a
// fork from this (locked) thread does.
func startJob(argv, env []string) int {
	argvp, err := syscall.SlicePtrFromStrings(argv)
	check("exec", err)
	envp, err := syscall.SlicePtrFromStrings(env)
	check("exec", err)
	empty := []byte{0}
	var pipe [2]int
	check("exec: pipe", unix.Pipe2(pipe[:], unix.O_CLOEXEC))

	syscall.ForkLock.Lock()
	pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if errno == 0 && pid == 0 {
		execChild(uintptr(unsafe.Pointer(&argvp[0])), uintptr(unsafe.Pointer(&envp[0])), uintptr(unsafe.Pointer(&empty[0])), uintptr(pipe[1]))
	}
	syscall.ForkLock.Unlock()
	runtime.KeepAlive(argvp)
	runtime.KeepAlive(envp)
	runtime.KeepAlive(empty)
	unix.Close(pipe[1])
	if errno != 0 {
		fail("exec: fork", errno, "")
	}
	// The pipe closes on a successful execveat; otherwise the child wrote
	// the errno.
	var buf [4]byte
	n, err := readFull(pipe[0], buf[:])
	unix.Close(pipe[0])
	if err == nil && n == 4 {
		var ws unix.WaitStatus
		_, _ = unix.Wait4(int(pid), &ws, 0, nil)
		fail("exec", syscall.Errno(binary.NativeEndian.Uint32(buf[:])), "")
	}
	// The job has its own copies of stdin, stdout and stderr: once it and
	// its children are gone, the executor must see end-of-file.
	for fd := 0; fd <= 2; fd++ {
		unix.Close(fd)
	}
	return int(pid)
}

func readFull(fd int, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := unix.Read(fd, b[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			return n, nil
		}
		n += m
	}
	return n, nil
}

// execChild runs in the forked child, where only this thread exists: it
// must not grow its stack or call into the Go runtime.
//
//go:nosplit
//go:norace
func execChild(argv, envp, empty, errPipe uintptr) {
	_, _, errno := syscall.RawSyscall6(unix.SYS_EXECVEAT, wire.FDModule, empty, argv, envp, unix.AT_EMPTY_PATH, 0)
	e := uint32(errno)
	syscall.RawSyscall(unix.SYS_WRITE, errPipe, uintptr(unsafe.Pointer(&e)), 4)
	syscall.RawSyscall(unix.SYS_EXIT_GROUP, 127, 0, 0)
}

// watchExecutor ends the sandbox when the executor's end of the control
// socket closes, which the kernel does when the node dies, however it
// dies: the executor sends nothing more once the job runs. This, not
// PR_SET_PDEATHSIG (which fires when the node's thread that forked the
// init ends, not the node), is what keeps a crashed node's jobs from
// running on.
func watchExecutor() {
	var b [1]byte
	_, _ = ctl.Read(b[:])
	os.Exit(wire.ExitSetup)
}

// reap waits as PID 1 of the job's namespace: it reaps every process
// that ends (orphans are its children), and when the job itself ends,
// reports how and exits, which ends the rest of the namespace.
func reap(job int) {
	for {
		var ws unix.WaitStatus
		var ru unix.Rusage
		pid, err := unix.Wait4(-1, &ws, 0, &ru)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			fail("wait for the job", err, "")
		}
		if pid != job {
			continue
		}
		x := &wire.Exit{WaitStatus: uint32(ws), UserNanos: unix.TimevalToNsec(ru.Utime), SysNanos: unix.TimevalToNsec(ru.Stime)}
		_ = writeAll(ctl, wire.Frame(wire.MsgExit, x.Encode()))
		os.Exit(0)
	}
}
