//go:build linux

package docker

import (
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// watchStatus reports when the shim has written its status in dir: the
// job's processes are then all dead, which the engine would say only
// after it has torn the container down. The returned channel is closed
// then; stop releases the watch.
func watchStatus(dir string) (written <-chan struct{}, stop func(), err error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, nil, err
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO); err != nil {
		unix.Close(fd)
		return nil, nil, err
	}
	f := os.NewFile(uintptr(fd), "inotify") // pollable: Close ends a Read
	ch := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			// A status already there (the job was quick) counts too.
			if _, err := os.Stat(filepath.Join(dir, "status")); err == nil {
				close(ch)
				return
			}
			n, err := f.Read(buf)
			if err != nil {
				return
			}
			for off := 0; off+unix.SizeofInotifyEvent <= n; {
				ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
				name := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
				off += unix.SizeofInotifyEvent + int(ev.Len)
				if i := indexNUL(name); string(name[:i]) == "status" {
					close(ch)
					return
				}
			}
		}
	}()
	return ch, func() { f.Close(); <-done }, nil
}

func indexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return len(b)
}
