//go:build unix

package homecheck

import (
	"io/fs"
	"os"
	"syscall"
)

// privateUmask makes every file the process creates from now on private.
func privateUmask() error {
	syscall.Umask(0o077)
	return nil
}

// fileOwner is the uid that owns fi's file, where the OS says.
func fileOwner(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

// fileID is the device and inode of the file at path, where the OS says.
func fileID(path string) ([2]uint64, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return [2]uint64{}, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return [2]uint64{}, false
	}
	return [2]uint64{uint64(st.Dev), st.Ino}, true
}
