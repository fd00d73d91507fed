package process

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cgroup v2 has no devices files: a cgroup's device access is decided by
// an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE attached to it, as
// runc and systemd do. deviceProgram writes one that lets a job read and
// write the character devices of allow and nothing else (no mknod, no
// block device): the v2 form of v1's "deny a" plus one "c M:m rw" each.

// eBPF opcodes (linux/bpf.h, linux/bpf_common.h).
const (
	ebpfLdxW    = unix.BPF_LDX | unix.BPF_MEM | unix.BPF_W // dst = *(u32 *)(src + off)
	ebpfMovX    = 0x07 | unix.BPF_MOV | unix.BPF_X         // BPF_ALU64: dst = src
	ebpfMovK    = 0x07 | unix.BPF_MOV | unix.BPF_K         // dst = imm
	ebpfAndK    = 0x07 | unix.BPF_AND | unix.BPF_K         // dst &= imm
	ebpfRshK    = 0x07 | unix.BPF_RSH | unix.BPF_K         // dst >>= imm
	ebpfJneK    = unix.BPF_JMP | 0x50 | unix.BPF_K         // if dst != imm goto +off
	ebpfExit    = unix.BPF_JMP | 0x90                      // return r0
	devcgChar   = 2                                        // BPF_DEVCG_DEV_CHAR
	devcgMknod  = 1                                        // BPF_DEVCG_ACC_MKNOD
	devProgName = "hayek_devices"
)

type ebpfInsn struct {
	op       uint8
	dst, src uint8
	off      int16
	imm      int32
}

// deviceProgram is the program's instructions, encoded. Its context is
// struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; },
// access_type being (access << 16) | type.
func deviceProgram(allow []devNode) []byte {
	prog := []ebpfInsn{
		{op: ebpfLdxW, dst: 2, src: 1, off: 0}, // r2 = access_type
		{op: ebpfMovX, dst: 3, src: 2},         // r3 = r2 & 0xffff: the type
		{op: ebpfAndK, dst: 3, imm: 0xffff},
		{op: ebpfRshK, dst: 2, imm: 16},        // r2 = the access asked
		{op: ebpfLdxW, dst: 4, src: 1, off: 4}, // r4 = major
		{op: ebpfLdxW, dst: 5, src: 1, off: 8}, // r5 = minor
	}
	for _, d := range allow {
		// Eight instructions; a mismatch jumps to the next device's.
		prog = append(prog,
			ebpfInsn{op: ebpfJneK, dst: 3, off: 7, imm: devcgChar},
			ebpfInsn{op: ebpfJneK, dst: 4, off: 6, imm: int32(d.major)},
			ebpfInsn{op: ebpfJneK, dst: 5, off: 5, imm: int32(d.minor)},
			ebpfInsn{op: ebpfMovX, dst: 6, src: 2},
			ebpfInsn{op: ebpfAndK, dst: 6, imm: devcgMknod},
			ebpfInsn{op: ebpfJneK, dst: 6, off: 2, imm: 0},
			ebpfInsn{op: ebpfMovK, dst: 0, imm: 1}, // allow
			ebpfInsn{op: ebpfExit},
		)
	}
	prog = append(prog, ebpfInsn{op: ebpfMovK, dst: 0, imm: 0}, ebpfInsn{op: ebpfExit}) // deny
	b := make([]byte, 0, 8*len(prog))
	for _, in := range prog {
		b = append(b, in.op, in.dst|in.src<<4)
		b = binary.NativeEndian.AppendUint16(b, uint16(in.off))
		b = binary.NativeEndian.AppendUint32(b, uint32(in.imm))
	}
	return b
}

// loadDeviceProgram loads the program for allow and returns its
// descriptor.
func loadDeviceProgram(allow []devNode) (int, error) {
	insns := deviceProgram(allow)
	license := []byte("Apache-2.0\x00")
	logBuf := make([]byte, 16<<10)
	attr := struct {
		progType, insnCnt  uint32
		insns, license     uint64
		logLevel, logSize  uint32
		logBuf             uint64
		kernVersion, flags uint32
		name               [16]byte
	}{
		progType: unix.BPF_PROG_TYPE_CGROUP_DEVICE, insnCnt: uint32(len(insns) / 8),
		insns: uint64(uintptr(unsafe.Pointer(&insns[0]))), license: uint64(uintptr(unsafe.Pointer(&license[0]))),
		logLevel: 1, logSize: uint32(len(logBuf)), logBuf: uint64(uintptr(unsafe.Pointer(&logBuf[0]))),
	}
	copy(attr.name[:], devProgName)
	fd, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(insns)
	runtime.KeepAlive(license)
	runtime.KeepAlive(logBuf)
	if errno != 0 {
		if n := indexNUL(logBuf); n > 0 {
			return -1, fmt.Errorf("load the cgroup device program: %w: %s", errno, logBuf[:n])
		}
		return -1, fmt.Errorf("load the cgroup device program: %w", errno)
	}
	return int(fd), nil
}

func indexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return len(b)
}

// attachDeviceFilter attaches a program allowing only allow to the v2
// cgroup in dir. The cgroup keeps the program while it exists.
func attachDeviceFilter(dir string, allow []devNode) error {
	prog, err := loadDeviceProgram(allow)
	if err != nil {
		return err
	}
	defer unix.Close(prog)
	cg, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(cg)
	attr := struct{ targetFD, attachFD, attachType, flags, replaceFD uint32 }{
		targetFD: uint32(cg), attachFD: uint32(prog), attachType: unix.BPF_CGROUP_DEVICE,
	}
	if _, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_ATTACH, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr)); errno != 0 {
		return fmt.Errorf("attach the device program to %s: %w", dir, errno)
	}
	return nil
}

// canFilterDevices reports whether this process may load cgroup device
// programs (CAP_BPF and CAP_NET_ADMIN, or CAP_SYS_ADMIN), and why not.
func canFilterDevices() error {
	fd, err := loadDeviceProgram(nil)
	if err != nil {
		return err
	}
	unix.Close(fd)
	return nil
}
