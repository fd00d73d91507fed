//go:build linux

// Package outdir collects what a job left in its /out directory, for the
// executors that give a job a real directory (exec/process, exec/docker):
// regular files named by their path below /out, within the job's limits,
// read through descriptors only so that nothing the job left there can
// make the collector follow a link, block or read outside it.
package outdir

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hayek-market/hayek/exec"
)

// OverLimit is /out holding more than the job's limits allow.
type OverLimit struct{ Detail string }

func (e *OverLimit) Error() string { return e.Detail }

// Collect reads the regular files under the directory open as rootFD (it
// takes the descriptor and closes it), named by their path below it and
// sorted by name. Every entry, directories and links too, counts against
// maxFiles; more than maxFiles entries or maxBytes bytes is an *OverLimit.
// It reaches everything through descriptors of directories it opened
// itself and never follows a link, so what a job leaves in /out (links to
// host paths, FIFOs, a tree a million deep) cannot make it read anything
// else or block. The job's processes must all be gone, so nothing changes
// under it.
func Collect(rootFD int, maxBytes int64, maxFiles int) ([]exec.File, error) {
	type dir struct {
		fd   int
		path string
	}
	stack := []dir{{rootFD, ""}}
	defer func() {
		for _, d := range stack {
			unix.Close(d.fd)
		}
	}()
	var (
		files   []exec.File
		entries int
		total   int64
	)
	for len(stack) > 0 {
		d := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		names, err := readDirNames(d.fd)
		if err != nil {
			unix.Close(d.fd)
			return nil, fmt.Errorf("read /out/%s: %w", d.path, err)
		}
		for _, name := range names {
			entries++
			if entries > maxFiles {
				unix.Close(d.fd)
				return nil, &OverLimit{fmt.Sprintf("the job left more than %d files and directories in /out; raise the job's output file limit", maxFiles)}
			}
			path := name
			if d.path != "" {
				path = d.path + "/" + name
			}
			fd, err := unix.Openat(d.fd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
			if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENXIO) {
				continue // a symbolic link or a socket: no output
			}
			if err != nil {
				unix.Close(d.fd)
				return nil, fmt.Errorf("open /out/%s: %w", path, err)
			}
			var st unix.Stat_t
			if err := unix.Fstat(fd, &st); err != nil {
				unix.Close(fd)
				unix.Close(d.fd)
				return nil, err
			}
			switch st.Mode & unix.S_IFMT {
			case unix.S_IFDIR:
				stack = append(stack, dir{fd, path})
				continue
			case unix.S_IFREG:
			default:
				unix.Close(fd) // FIFO, device: no output
				continue
			}
			total += st.Size
			if total > maxBytes {
				unix.Close(fd)
				unix.Close(d.fd)
				return nil, &OverLimit{fmt.Sprintf("the job left more than %d bytes in /out; raise the job's output byte limit", maxBytes)}
			}
			f := os.NewFile(uintptr(fd), path)
			data := make([]byte, st.Size)
			_, err = io.ReadFull(f, data)
			f.Close()
			if err != nil {
				unix.Close(d.fd)
				return nil, fmt.Errorf("read /out/%s: %w", path, err)
			}
			files = append(files, exec.File{Name: path, Data: data})
		}
		unix.Close(d.fd)
	}
	stack = nil
	slices.SortFunc(files, func(a, b exec.File) int { return strings.Compare(a.Name, b.Name) })
	return files, nil
}

// readDirNames lists a directory through its descriptor without closing
// it.
func readDirNames(fd int) ([]string, error) {
	if _, err := unix.Seek(fd, 0, io.SeekStart); err != nil {
		return nil, err
	}
	var names []string
	buf := make([]byte, 8192)
	for {
		n, err := unix.Getdents(fd, buf)
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}
