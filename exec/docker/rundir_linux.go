//go:build linux

package docker

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/hayek-market/hayek/exec"
)

// runDir is the host side of one box: the job's inputs (bound read-only
// at /in), and a writable part holding /out, the shim's spec and its
// status. The
// writable part is a tmpfs of the output limits' size where the node may
// mount one (as root), so a job cannot fill the host's disk through
// /out; elsewhere it is a plain directory and the limits are checked
// only when the job has ended.
type runDir struct {
	dir, in, rw, out, ctl string
	mounted               bool
}

const pageSize = 4096

func roundUp(n, to int64) int64 { return (n + to - 1) / to * to }

func (e *Executor) newRunDir(lim exec.Limits) (*runDir, error) {
	var b [8]byte
	if _, err := randRead(b[:]); err != nil {
		return nil, err
	}
	dir := filepath.Join(e.dir, "run-"+hex.EncodeToString(b[:]))
	rd := &runDir{dir: dir, in: filepath.Join(dir, "in"), rw: filepath.Join(dir, "rw")}
	rd.out, rd.ctl = filepath.Join(rd.rw, "out"), filepath.Join(rd.rw, "ctl")
	if err := rd.make(lim); err != nil {
		rd.remove()
		return nil, fmt.Errorf("exec/docker: prepare a run directory: %w", err)
	}
	return rd, nil
}

func (rd *runDir) make(lim exec.Limits) error {
	for _, d := range []string{rd.dir, rd.in, rd.rw} {
		if err := mkdirMode(d, 0o755); err != nil {
			return err
		}
	}
	// The kernel counts a tmpfs in whole pages: room for a partial page
	// per file, and a page or two for the status. The limits are checked
	// exactly on what the job left; one inode more than the file limit
	// tells a job that went over from one at the limit.
	size := roundUp(lim.OutputBytes, pageSize) + int64(lim.OutputFiles+4)*pageSize
	inodes := int64(lim.OutputFiles) + 8
	err := unix.Mount("tmpfs", rd.rw, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC,
		fmt.Sprintf("size=%d,nr_inodes=%d,mode=0755", size, inodes))
	switch {
	case err == nil:
		rd.mounted = true
	case errors.Is(err, unix.EPERM):
		// Not root: a plain directory.
	default:
		return fmt.Errorf("mount a tmpfs for /out: %w", err)
	}
	for _, d := range []string{rd.out, rd.ctl} {
		if err := os.Mkdir(d, 0o777); err != nil {
			return err
		}
		if err := os.Chmod(d, 0o777); err != nil { // past the umask: the job's user writes here
			return err
		}
	}
	return nil
}

// writeJob puts the job's inputs where the container sees them at /in
// (bound read-only there), and its argv and environment where the shim
// reads them.
func (rd *runDir) writeJob(inputs []exec.File, spec []byte) error {
	for _, f := range inputs {
		if err := writeFileMode(filepath.Join(rd.in, f.Name), f.Data, 0o444); err != nil {
			return err
		}
	}
	return writeFileMode(filepath.Join(rd.ctl, "spec"), spec, 0o444)
}

func (rd *runDir) remove() {
	if rd.mounted {
		unix.Unmount(rd.rw, unix.MNT_DETACH)
	}
	os.RemoveAll(rd.dir)
}

// mkdirMode and writeFileMode create with exactly mode, whatever the
// process's umask: the job's user, not the node's, reads what they make.
func mkdirMode(path string, mode os.FileMode) error {
	if err := os.Mkdir(path, mode); err != nil {
		return err
	}
	return os.Chmod(path, mode)
}

func writeFileMode(path string, data []byte, mode os.FileMode) error {
	if err := os.WriteFile(path, data, mode); err != nil {
		return err
	}
	return os.Chmod(path, mode)
}
