package privatefs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/cockroachdb/pebble/vfs"
)

// The modes the wrapper creates with.
const (
	DirMode  fs.FileMode = 0o700
	FileMode fs.FileMode = 0o600
)

// FS wraps a vfs.FS backed by the operating system's file system
// (vfs.Default or a wrapper of it), creating directories with DirMode
// and files with FileMode.
type FS struct{ vfs.FS }

var _ vfs.FS = FS{}

// Default is vfs.Default creating everything privately.
var Default vfs.FS = FS{vfs.Default}

// Wrap returns Default for the operating system's file system (nil or
// vfs.Default) and fsys itself otherwise: an in-memory FS has no modes
// that other users could read through.
func Wrap(fsys vfs.FS) vfs.FS {
	if fsys == nil || fsys == vfs.Default {
		return Default
	}
	return fsys
}

// Create creates name anew (removing a file there, as vfs.FS.Create does,
// so the result is a new inode) with FileMode.
func (p FS) Create(name string) (vfs.File, error) {
	for {
		err := createFile(name)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return p.FS.OpenReadWrite(name)
}

// OpenReadWrite opens name, creating it with FileMode if it does not
// exist.
func (p FS) OpenReadWrite(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	if err := createFile(name); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	return p.FS.OpenReadWrite(name, opts...)
}

// Lock locks name, creating it with FileMode if it does not exist.
func (p FS) Lock(name string) (io.Closer, error) {
	if err := createFile(name); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	return p.FS.Lock(name)
}

// MkdirAll creates dir and its missing parents with DirMode, whatever
// perm asks.
func (p FS) MkdirAll(dir string, _ os.FileMode) error { return MkdirAll(dir) }

// MkdirAll creates dir and every missing parent with DirMode, exactly
// (whatever the umask); directories that exist are left as they are.
func MkdirAll(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case err == nil && fi.IsDir():
		return nil
	case err == nil:
		return &fs.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := MkdirAll(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, DirMode); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil // made meanwhile by someone else
		}
		return err
	}
	return exactly(dir, DirMode|fs.ModeDir)
}

// createFile creates name empty with FileMode, exactly; fs.ErrExist if it
// exists.
func createFile(name string) error {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_CLOEXEC, FileMode)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err == nil && st.Mode().Perm() != FileMode {
		err = f.Chmod(FileMode) // a umask that took owner bits away
	}
	return errors.Join(err, f.Close())
}

// exactly chmods path to mode when the umask left it different.
func exactly(path string, mode fs.FileMode) error {
	st, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if st.Mode().Perm() != mode.Perm() {
		return os.Chmod(path, mode.Perm())
	}
	return nil
}
