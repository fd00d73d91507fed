//go:build linux

package seccomp

import "golang.org/x/sys/unix"

const (
	seccompArch   = unix.AUDIT_ARCH_X86_64
	x32SyscallBit = 0x40000000 // __X32_SYSCALL_BIT: x32 calls carry it in their number
)

var deniedSyscalls = append(deniedCommon,
	unix.SYS_IOPL, unix.SYS_IOPERM, unix.SYS_MODIFY_LDT, unix.SYS_USELIB, unix.SYS_USTAT, unix.SYS_SYSFS,
	unix.SYS__SYSCTL, unix.SYS_CREATE_MODULE, unix.SYS_GET_KERNEL_SYMS, unix.SYS_QUERY_MODULE,
	unix.SYS_NFSSERVCTL, unix.SYS_GETPMSG, unix.SYS_PUTPMSG, unix.SYS_AFS_SYSCALL, unix.SYS_TUXCALL,
	unix.SYS_SECURITY, unix.SYS_VSERVER,
)
