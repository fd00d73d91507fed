package main

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

// System-call numbers the syscall package does not name (amd64).
const (
	sysSetns        = 308
	sysBPF          = 321
	sysUserfaultfd  = 323
	sysIOURingSetup = 425
)

// escapes are the privileged operations containers have been broken out
// with, or that would let a job act on the host: new namespaces, mounts,
// chroot, tracing, kernel interfaces with a history of holes (io_uring,
// BPF, userfaultfd, keyrings, perf), device nodes, identity changes. Each
// one that succeeds is undone at once, or acts only on this process or a
// child it made for the purpose, so that running this unconfined (as root
// on a host, by mistake) changes nothing outside it.
var escapes = []struct {
	name string
	try  func() error
}{
	{"mount tmpfs", func() error {
		dir, err := os.MkdirTemp("", "escape-")
		if err != nil {
			return err
		}
		defer os.Remove(dir)
		if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=4k"); err != nil {
			return err
		}
		return syscall.Unmount(dir, syscall.MNT_DETACH)
	}},
	{"remount /in read-write", func() error { return syscall.Mount("", "/in", "", syscall.MS_REMOUNT|syscall.MS_BIND, "") }},
	{"mknod a device", func() error {
		name := fmt.Sprintf("%s/escape-null-%d", os.TempDir(), os.Getpid())
		if err := syscall.Mknod(name, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
			return err
		}
		return os.Remove(name)
	}},
	{"sethostname", func() error {
		name, err := os.Hostname()
		if err != nil {
			return err
		}
		return syscall.Sethostname([]byte(name)) // the same name: a no-op if allowed
	}},
	{"ptrace a child", ptraceChild},
	{"io_uring_setup", func() error { return fdSyscall(sysIOURingSetup, 1, uintptr(unsafe.Pointer(new([120]byte)))) }},
	{"bpf map", func() error {
		attr := [48]byte{0: 2 /* BPF_MAP_TYPE_ARRAY */, 4: 4, 8: 4, 12: 1} // type, key size, value size, entries
		return fdSyscall(sysBPF, 0 /* BPF_MAP_CREATE */, uintptr(unsafe.Pointer(&attr)), uintptr(len(attr)))
	}},
	{"userfaultfd", func() error { return fdSyscall(sysUserfaultfd, 0) }},
	{"keyctl", func() error {
		_, _, errno := syscall.RawSyscall(syscall.SYS_KEYCTL, 0 /* KEYCTL_GET_KEYRING_ID */, ^uintptr(2) /* session keyring, -3 */, 1)
		return errnoErr(errno)
	}},
	{"perf_event_open", func() error {
		attr := [128]byte{0: 1 /* PERF_TYPE_SOFTWARE */, 4: 128} // type, size; config 0: cpu clock
		return fdSyscall(syscall.SYS_PERF_EVENT_OPEN, uintptr(unsafe.Pointer(&attr)), 0, ^uintptr(0), ^uintptr(0), 0)
	}},
	{"clone into a user namespace", cloneUserNamespace},
	{"setns", func() error {
		f, err := os.Open("/proc/self/ns/net")
		if err != nil {
			return err
		}
		defer f.Close()
		_, _, errno := syscall.RawSyscall(sysSetns, f.Fd(), 0, 0) // our own: a no-op if allowed
		return errnoErr(errno)
	}},
	// Only this process from here on.
	{"setuid 1000", func() error { return syscall.Setuid(1000) }},
	{"unshare user namespace", func() error { return syscall.Unshare(syscall.CLONE_NEWUSER) }},
	{"unshare mount namespace", func() error { return syscall.Unshare(syscall.CLONE_NEWNS) }},
	{"unshare network namespace", func() error { return syscall.Unshare(syscall.CLONE_NEWNET) }},
	{"chroot", func() error { return syscall.Chroot(os.TempDir()) }},
}

// ptraceChild forks a child that sleeps, tries to attach to it, and kills
// it.
func ptraceChild() error {
	syscall.ForkLock.Lock()
	pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if pid == 0 && errno == 0 {
		sleepForever()
	}
	syscall.ForkLock.Unlock()
	if errno != 0 {
		return errno
	}
	defer func() {
		syscall.Kill(int(pid), syscall.SIGKILL)
		var ws syscall.WaitStatus
		syscall.Wait4(int(pid), &ws, 0, nil)
	}()
	return syscall.PtraceAttach(int(pid))
}

func errnoErr(errno syscall.Errno) error {
	if errno != 0 {
		return errno
	}
	return nil
}

// fdSyscall makes a system call that returns a descriptor, closing it.
func fdSyscall(nr uintptr, args ...uintptr) error {
	var a [6]uintptr
	copy(a[:], args)
	fd, _, errno := syscall.Syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5])
	if errno != 0 {
		return errno
	}
	syscall.Close(int(fd))
	return nil
}

// cloneUserNamespace forks a child into a new user namespace; the child
// exits at once.
func cloneUserNamespace() error {
	syscall.ForkLock.Lock()
	pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD|syscall.CLONE_NEWUSER), 0, 0, 0, 0, 0)
	if pid == 0 && errno == 0 {
		exitNow()
	}
	syscall.ForkLock.Unlock()
	if errno != 0 {
		return errno
	}
	var ws syscall.WaitStatus
	_, err := syscall.Wait4(int(pid), &ws, 0, nil)
	return err
}

//go:nosplit
//go:norace
func exitNow() {
	syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
}

// cmdEscape tries each escape and prints "NAME: denied (ERROR)" or
// "NAME: ALLOWED". It exits 0 either way: the test reads the lines.
func cmdEscape(args []string) error {
	for _, e := range escapes {
		if err := e.try(); err != nil {
			fmt.Printf("%s: denied (%v)\n", e.name, err)
		} else {
			fmt.Printf("%s: ALLOWED\n", e.name)
		}
	}
	return nil
}
