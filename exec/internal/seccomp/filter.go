//go:build linux && (amd64 || arm64)

package seccomp

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The seccomp filter is a deny-list, the approach of Docker's and
// Podman's default profiles turned around: rather than listing the few
// hundred system calls programs need, it refuses those a sandboxed job has
// no business making and that have been the way out of containers —
// mounting, namespaces, tracing other processes, loading kernel code,
// BPF, io_uring, keyrings, the clock. They fail with EPERM (ENOSYS for
// clone3, so C libraries fall back to clone, whose flags the filter can
// read). Every other call is allowed; the namespaces, the dropped
// capabilities and Landlock confine what those can reach.
//
// The filter also refuses any other system-call ABI than the native one
// (x32 and 32-bit compat calls on amd64), a classic way around filters
// that look only at the number.

// cloneNamespaceFlags are the clone flags that make namespaces.
const cloneNamespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
	unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWTIME

// seccomp_data offsets (linux/seccomp.h).
const (
	offNr   = 0
	offArch = 4
	offArg0 = 16 // low 32 bits on little-endian machines
)

// Classic BPF opcodes (linux/filter.h).
const (
	bpfLdWAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	bpfJeqK   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	bpfJgeK   = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
	bpfJsetK  = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
	bpfRetK   = unix.BPF_RET | unix.BPF_K
)

const (
	retAllow = unix.SECCOMP_RET_ALLOW
	retKill  = unix.SECCOMP_RET_KILL_PROCESS
	retEPERM = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	retNoSys = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
)

// Filter returns the filter as it is installed: sock_filter structs in
// native byte order, for SECCOMP_SET_MODE_FILTER.
func Filter() []byte {
	var prog []unix.SockFilter
	add := func(code uint16, jt, jf uint8, k uint32) {
		prog = append(prog, unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: k})
	}
	// Wrong ABI: kill, as no honest program does it.
	add(bpfLdWAbs, 0, 0, offArch)
	add(bpfJeqK, 1, 0, seccompArch)
	add(bpfRetK, 0, 0, retKill)
	add(bpfLdWAbs, 0, 0, offNr)
	if x32SyscallBit != 0 {
		add(bpfJgeK, 0, 1, x32SyscallBit)
		add(bpfRetK, 0, 0, retKill)
	}
	for _, nr := range deniedSyscalls {
		add(bpfJeqK, 0, 1, uint32(nr))
		add(bpfRetK, 0, 0, retEPERM)
	}
	add(bpfJeqK, 0, 1, unix.SYS_CLONE3)
	add(bpfRetK, 0, 0, retNoSys)
	// clone: allowed unless it asks for a namespace.
	add(bpfJeqK, 0, 4, unix.SYS_CLONE)
	add(bpfLdWAbs, 0, 0, offArg0)
	add(bpfJsetK, 0, 1, cloneNamespaceFlags)
	add(bpfRetK, 0, 0, retEPERM)
	add(bpfRetK, 0, 0, retAllow)
	add(bpfRetK, 0, 0, retAllow)

	b := make([]byte, 0, len(prog)*8)
	for _, ins := range prog {
		b = binary.NativeEndian.AppendUint16(b, ins.Code)
		b = append(b, ins.Jt, ins.Jf)
		b = binary.NativeEndian.AppendUint32(b, ins.K)
	}
	if len(b) != len(prog)*int(unsafe.Sizeof(unix.SockFilter{})) {
		panic("seccomp: sock_filter is not 8 bytes")
	}
	return b
}

// deniedCommon are the refused calls every architecture has.
var deniedCommon = []uintptr{
	// File systems and mounts.
	unix.SYS_MOUNT, unix.SYS_UMOUNT2, unix.SYS_PIVOT_ROOT, unix.SYS_CHROOT,
	unix.SYS_OPEN_TREE, unix.SYS_MOVE_MOUNT, unix.SYS_FSOPEN, unix.SYS_FSCONFIG, unix.SYS_FSMOUNT,
	unix.SYS_FSPICK, unix.SYS_MOUNT_SETATTR, unix.SYS_NAME_TO_HANDLE_AT, unix.SYS_OPEN_BY_HANDLE_AT,
	unix.SYS_QUOTACTL, unix.SYS_QUOTACTL_FD, unix.SYS_SWAPON, unix.SYS_SWAPOFF, unix.SYS_ACCT,
	unix.SYS_FANOTIFY_INIT,
	// Namespaces.
	unix.SYS_UNSHARE, unix.SYS_SETNS,
	// Other processes' memory.
	unix.SYS_PTRACE, unix.SYS_PROCESS_VM_READV, unix.SYS_PROCESS_VM_WRITEV, unix.SYS_KCMP,
	unix.SYS_PIDFD_GETFD, unix.SYS_PROCESS_MADVISE,
	// Kernel code, tracing and large attack surfaces.
	unix.SYS_BPF, unix.SYS_PERF_EVENT_OPEN, unix.SYS_USERFAULTFD,
	unix.SYS_INIT_MODULE, unix.SYS_FINIT_MODULE, unix.SYS_DELETE_MODULE,
	unix.SYS_KEXEC_LOAD, unix.SYS_KEXEC_FILE_LOAD, unix.SYS_REBOOT,
	unix.SYS_IO_URING_SETUP, unix.SYS_IO_URING_ENTER, unix.SYS_IO_URING_REGISTER,
	unix.SYS_KEYCTL, unix.SYS_ADD_KEY, unix.SYS_REQUEST_KEY,
	unix.SYS_SYSLOG, unix.SYS_VHANGUP, unix.SYS_LOOKUP_DCOOKIE,
	unix.SYS_MBIND, unix.SYS_MIGRATE_PAGES, unix.SYS_MOVE_PAGES, unix.SYS_SET_MEMPOLICY,
	// The machine's clocks and identity.
	unix.SYS_SETTIMEOFDAY, unix.SYS_CLOCK_SETTIME, unix.SYS_CLOCK_ADJTIME, unix.SYS_ADJTIMEX,
	unix.SYS_SETHOSTNAME, unix.SYS_SETDOMAINNAME,
}
