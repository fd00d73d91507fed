package settlement

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble/vfs"
)

// The ledger names agents, budgets and token hashes: nobody but the node's
// own user may read it, whatever the umask. Pebble's default file system
// creates files 0666 and leaves the rest to the umask, so on disk the
// ledger uses privateFS, which creates directories 0700 and files 0600
// from the start (never a wider file narrowed afterwards), and Open
// narrows what an older build left wider (tightenModes).
const (
	dirMode  fs.FileMode = 0o700
	fileMode fs.FileMode = 0o600
)

// privateFS is vfs.Default creating everything for the owner only.
type privateFS struct{ vfs.FS }

var _ vfs.FS = privateFS{}

// diskFS is the FS Open uses for fs: privateFS around the OS file system,
// fs itself otherwise (an in-memory FS in tests has no modes to protect).
func diskFS(fs vfs.FS) vfs.FS {
	if fs == nil || fs == vfs.Default {
		return privateFS{vfs.Default}
	}
	return fs
}

// createPrivate creates name empty with fileMode, replacing a file that is
// there (as vfs.FS.Create does, so that the new file is a new inode).
func createPrivate(name string) error {
	for {
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
		if err == nil {
			return f.Close()
		}
		if !errors.Is(err, fs.ErrExist) {
			return err
		}
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
}

// ensurePrivate creates name with fileMode if it does not exist, and
// narrows it to fileMode if it does with a wider mode.
func ensurePrivate(name string) error {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return err
	}
	return errors.Join(narrow(f), f.Close())
}

func narrow(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Mode().Perm()&^fileMode != 0 {
		return f.Chmod(fileMode)
	}
	return nil
}

func (p privateFS) Create(name string) (vfs.File, error) {
	if err := createPrivate(name); err != nil {
		return nil, err
	}
	return p.FS.OpenReadWrite(name)
}

func (p privateFS) OpenReadWrite(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	if err := ensurePrivate(name); err != nil {
		return nil, err
	}
	return p.FS.OpenReadWrite(name, opts...)
}

func (p privateFS) ReuseForWrite(oldname, newname string) (vfs.File, error) {
	// The recycled file keeps its mode: narrow it first if an older build
	// left it wide.
	if err := os.Chmod(oldname, fileMode); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return p.FS.ReuseForWrite(oldname, newname)
}

func (p privateFS) Lock(name string) (io.Closer, error) {
	if err := ensurePrivate(name); err != nil {
		return nil, err
	}
	return p.FS.Lock(name)
}

func (p privateFS) MkdirAll(dir string, _ os.FileMode) error {
	return p.FS.MkdirAll(dir, dirMode)
}

// tightenModes narrows the ledger directory to dirMode and every file in it
// to fileMode: a ledger written by an older build (0755 and 0644) is made
// private the first time this one opens it.
func tightenModes(fsys vfs.FS, dir string) error {
	if _, ok := fsys.(privateFS); !ok {
		return nil
	}
	fix := func(path string, want fs.FileMode) error {
		st, err := os.Lstat(path)
		if err != nil {
			return err
		}
		if st.Mode()&fs.ModeSymlink != 0 || st.Mode().Perm()&^want == 0 {
			return nil
		}
		return os.Chmod(path, st.Mode().Perm()&want)
	}
	if err := fix(dir, dirMode); err != nil {
		return fmt.Errorf("settlement: make the ledger directory %s private: %w", dir, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("settlement: make the ledger in %s private: %w", dir, err)
	}
	for _, e := range ents {
		want := fileMode
		if e.IsDir() {
			want = dirMode
		}
		if err := fix(filepath.Join(dir, e.Name()), want); err != nil {
			return fmt.Errorf("settlement: make %s private: %w (run: chmod -R go-rwx %s)", e.Name(), err, dir)
		}
	}
	return nil
}
