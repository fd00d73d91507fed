//go:build linux

package main

import (
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// File-system rights by the Landlock ABI version that introduced them.
const (
	fsABI1 = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE | unix.LANDLOCK_ACCESS_FS_READ_FILE |
		unix.LANDLOCK_ACCESS_FS_READ_DIR | unix.LANDLOCK_ACCESS_FS_REMOVE_DIR | unix.LANDLOCK_ACCESS_FS_REMOVE_FILE |
		unix.LANDLOCK_ACCESS_FS_MAKE_CHAR | unix.LANDLOCK_ACCESS_FS_MAKE_DIR | unix.LANDLOCK_ACCESS_FS_MAKE_REG |
		unix.LANDLOCK_ACCESS_FS_MAKE_SOCK | unix.LANDLOCK_ACCESS_FS_MAKE_FIFO | unix.LANDLOCK_ACCESS_FS_MAKE_BLOCK |
		unix.LANDLOCK_ACCESS_FS_MAKE_SYM
	fsABI2 = fsABI1 | unix.LANDLOCK_ACCESS_FS_REFER
	fsABI3 = fsABI2 | unix.LANDLOCK_ACCESS_FS_TRUNCATE
	fsABI5 = fsABI3 | unix.LANDLOCK_ACCESS_FS_IOCTL_DEV

	fileRights = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE | unix.LANDLOCK_ACCESS_FS_READ_FILE |
		unix.LANDLOCK_ACCESS_FS_TRUNCATE | unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
	readRights = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_READ_DIR
	// What a job may do below /out and /tmp: everything but device nodes.
	writeRights = fsABI5 &^ (unix.LANDLOCK_ACCESS_FS_MAKE_CHAR | unix.LANDLOCK_ACCESS_FS_MAKE_BLOCK | unix.LANDLOCK_ACCESS_FS_IOCTL_DEV)
)

// landlock restricts this thread, and so the job it becomes, to /in
// (read), /out and /tmp (read and write), the devices (read and write) and
// /proc (read); denies every TCP bind and connect (ABI 4), and connecting
// to abstract Unix sockets or signalling processes outside the sandbox
// (ABI 6). It is a second wall behind the mount namespace: should the job
// ever reach a host path, Landlock still refuses it. It returns the ABI
// version applied, or 0 and why not.
func landlock(proc bool) (int, string) {
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 {
		switch errno {
		case unix.ENOSYS:
			return 0, "the kernel was built without Landlock (CONFIG_SECURITY_LANDLOCK)"
		case unix.EOPNOTSUPP:
			return 0, "Landlock is not enabled at boot (add landlock to the lsm= kernel parameter)"
		}
		return 0, "landlock_create_ruleset: " + errno.Error()
	}
	abi := int(v)
	var handled uint64
	switch {
	case abi >= 5:
		handled = fsABI5
	case abi >= 3:
		handled = fsABI3
	case abi == 2:
		handled = fsABI2
	default:
		handled = fsABI1
	}
	attr := unix.LandlockRulesetAttr{Access_fs: handled}
	size := unsafe.Sizeof(attr.Access_fs)
	if abi >= 4 {
		attr.Access_net = unix.LANDLOCK_ACCESS_NET_BIND_TCP | unix.LANDLOCK_ACCESS_NET_CONNECT_TCP
		size = unsafe.Offsetof(attr.Scoped)
	}
	if abi >= 6 {
		attr.Scoped = unix.LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | unix.LANDLOCK_SCOPE_SIGNAL
		size = unsafe.Sizeof(attr)
	}
	fd, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), size, 0)
	if errno != 0 {
		fail("landlock_create_ruleset", errno, "ABI "+strconv.Itoa(abi))
	}
	defer unix.Close(int(fd))

	rules := []struct {
		path   string
		rights uint64
	}{
		{"/in", readRights},
		{"/out", writeRights},
		{"/tmp", writeRights},
	}
	for _, d := range devices {
		rules = append(rules, struct {
			path   string
			rights uint64
		}{"/dev/" + d, unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE})
	}
	for _, d := range gpuNodes {
		rules = append(rules, struct {
			path   string
			rights uint64
		}{"/dev/" + d, unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE | unix.LANDLOCK_ACCESS_FS_IOCTL_DEV})
	}
	if proc {
		rules = append(rules, struct {
			path   string
			rights uint64
		}{"/proc", unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_READ_DIR})
	}
	for _, r := range rules {
		pfd, err := unix.Open(r.path, unix.O_PATH|unix.O_CLOEXEC, 0)
		check("landlock: open "+r.path, err)
		var st unix.Stat_t
		check("landlock: stat "+r.path, unix.Fstat(pfd, &st))
		rights := r.rights & handled
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			rights &= fileRights
		}
		beneath := unix.LandlockPathBeneathAttr{Allowed_access: rights, Parent_fd: int32(pfd)}
		_, _, errno := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, fd, unix.LANDLOCK_RULE_PATH_BENEATH, uintptr(unsafe.Pointer(&beneath)), 0, 0, 0)
		unix.Close(pfd)
		if errno != 0 {
			fail("landlock_add_rule "+r.path, errno, "")
		}
	}
	// Needs no_new_privs, set by the caller.
	if _, _, errno := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, fd, 0, 0); errno != 0 {
		fail("landlock_restrict_self", errno, "")
	}
	return abi, ""
}
