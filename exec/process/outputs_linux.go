package process

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/exec/internal/outdir"
)

const pageSize = 4096

func roundUp(n, to int64) int64 { return (n + to - 1) / to * to }

// outSize is the tmpfs behind /out. The kernel counts its size in whole
// pages, so it leaves room for a partial page per file; Limits are then
// checked exactly on what the job left. One more inode than the limit
// (besides the root) lets a job that goes one over be told apart from one
// that stays at the limit.
func outSize(l exec.Limits) (bytes, inodes int64) {
	return roundUp(l.OutputBytes, pageSize) + int64(l.OutputFiles+1)*pageSize, int64(l.OutputFiles) + 2
}

// full reports whether the tmpfs behind fd has no free blocks or inodes
// left: the job ran into its size.
func full(f *os.File) (bool, error) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return false, fmt.Errorf("statfs: %w", err)
	}
	return st.Bfree == 0 || st.Ffree == 0, nil
}

// collectOut collects what the job left in the /out tmpfs open as root
// (see exec/internal/outdir).
func collectOut(root *os.File, maxBytes int64, maxFiles int) ([]exec.File, error) {
	fd, err := unix.Dup(int(root.Fd()))
	if err != nil {
		return nil, err
	}
	return outdir.Collect(fd, maxBytes, maxFiles)
}
