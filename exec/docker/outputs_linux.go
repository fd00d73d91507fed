//go:build linux

package docker

import (
	"golang.org/x/sys/unix"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/exec/internal/outdir"
)

// collectOut collects what the job left in the run directory's /out (see
// exec/internal/outdir), opened without following a link.
func collectOut(root string, maxBytes int64, maxFiles int) ([]exec.File, error) {
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return outdir.Collect(fd, maxBytes, maxFiles)
}
