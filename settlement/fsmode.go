package settlement

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble/vfs"

	"github.com/hayek-market/hayek/internal/privatefs"
)

// The ledger names agents, budgets and token hashes: nobody but the node's
// own user may read it, whatever the umask. Pebble's default file system
// creates files 0666 and leaves the rest to the umask, so on disk the
// ledger uses internal/privatefs, which creates directories 0700 and files 0600
// from the start (never a wider file narrowed afterwards), and Open
// narrows what an older build left wider (tightenModes).
const (
	dirMode  = privatefs.DirMode
	fileMode = privatefs.FileMode
)

// diskFS is the FS Open uses for fs: privatefs around the OS file system,
// fs itself otherwise (an in-memory FS in tests has no modes to protect).
func diskFS(fs vfs.FS) vfs.FS { return privatefs.Wrap(fs) }

// tightenModes narrows the ledger directory to dirMode and every file in it
// to fileMode: a ledger written by an older build (0755 and 0644) is made
// private the first time this one opens it.
func tightenModes(fsys vfs.FS, dir string) error {
	if _, ok := fsys.(privatefs.FS); !ok {
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
