//go:build linux

package main

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hayek-market/hayek/exec/internal/seccomp"
)

// The shim stacks a second seccomp filter on the engine's profile before
// it starts the job: the deny-list exec/process installs too
// (exec/internal/seccomp). The engine's
// default profile of Docker 20.10 still allows ptrace, io_uring and
// more that this refuses; filters stack, so the stricter answer wins.
// It also refuses any other system-call ABI than the native one.

// installSeccomp installs the filter on every thread of the shim, so the
// job it forks inherits it whichever thread forks.
func installSeccomp() error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	b := seccomp.Filter()
	prog := unix.SockFprog{Len: uint16(len(b) / 8), Filter: (*unix.SockFilter)(unsafe.Pointer(&b[0]))}
	if _, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog))); errno != 0 {
		return fmt.Errorf("install the seccomp filter: %w", errno)
	}
	return nil
}
