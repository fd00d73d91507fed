//go:build linux

package seccomp

import "golang.org/x/sys/unix"

const (
	seccompArch   = unix.AUDIT_ARCH_AARCH64
	x32SyscallBit = 0 // no second ABI on arm64's numbers
)

var deniedSyscalls = deniedCommon
