package privatefs

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
)

// TestPebbleOnPrivateFS runs a real pebble database on the wrapper under a
// umask of 0, so that only the wrapper can make its files private: it
// writes, flushes tables, compacts, closes and reopens (pebble then
// writes new OPTIONS and MANIFEST files and recycles its log), and every
// directory is 0700 and every file 0600 from the database's parent down.
func TestPebbleOnPrivateFS(t *testing.T) {
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })
	top := filepath.Join(t.TempDir(), "home")
	dir := filepath.Join(top, "nested", "db")
	open := func() *pebble.DB {
		db, err := pebble.Open(dir, &pebble.Options{FS: Default})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	db := open()
	for round := range 3 {
		for i := range 500 {
			k := fmt.Appendf(nil, "k%03d-%d", i, round)
			if err := db.Set(k, k, pebble.Sync); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Compact([]byte("k"), []byte("l"), true); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open()
	if err := db.Set([]byte("after"), nil, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	files := 0
	err := filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := FileMode
		if d.IsDir() {
			want = DirMode
		} else {
			files++
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %04o, want %04o", path, fi.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 5 {
		t.Fatalf("only %d files: did pebble write its tables, log, manifest, options and lock?", files)
	}
}

// TestWrap: only the operating system's file system is wrapped.
func TestWrap(t *testing.T) {
	if Wrap(nil) != Default || Wrap(vfs.Default) != Default {
		t.Error("the OS file system is not wrapped")
	}
	mem := vfs.NewMem()
	if Wrap(mem) != vfs.FS(mem) {
		t.Error("an in-memory file system was wrapped")
	}
}

// TestCreateReplacesAndKeepsPrivate: Create over an existing wide file
// makes a new private inode, as vfs.FS.Create promises a new inode.
func TestCreateReplacesAndKeepsPrivate(t *testing.T) {
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })
	name := filepath.Join(t.TempDir(), "f")
	wide, err := vfs.Default.Create(name) // 0666 under umask 0
	if err != nil {
		t.Fatal(err)
	}
	wide.Close()
	f, err := Default.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Mode().Perm() != FileMode {
		t.Fatalf("created over a wide file: %v %v", st.Mode(), err)
	}
}
