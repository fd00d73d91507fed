package settlement

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestLedgerFilesArePrivate opens a ledger on disk, appends, closes, and
// walks the directory: the directory must be 0700 and every file 0600,
// whatever the umask (set permissive here, so that only the ledger's own
// modes can make the test pass).
func TestLedgerFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })
	dir := filepath.Join(t.TempDir(), "ledger")
	keys := testKeyring()
	o := Options{Signer: keys.Signer(self), Verifier: keys, Now: newFakeClock().Now}
	l, err := Open(t.Context(), dir, o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if _, err := l.Append(t.Context(), KindFund, Fund{Agent: "alice", Amount: int64(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopen and close once more: pebble writes new OPTIONS and MANIFEST
	// files and recycles its log on the way.
	if l, err = Open(t.Context(), dir, o); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	checkPrivate(t, dir)
}

// TestOlderLedgerMadePrivate: a ledger an older build left 0755/0644 is
// narrowed when this build opens it.
func TestOlderLedgerMadePrivate(t *testing.T) {
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })
	dir := filepath.Join(t.TempDir(), "ledger")
	keys := testKeyring()
	o := Options{Signer: keys.Signer(self), Verifier: keys, Now: newFakeClock().Now}
	l, err := Open(t.Context(), dir, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(t.Context(), KindFund, Fund{Agent: "alice", Amount: 5}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// What an older build left behind.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if err := os.Chmod(filepath.Join(dir, e.Name()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if l, err = Open(t.Context(), dir, o); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	checkPrivate(t, dir)
}

func checkPrivate(t *testing.T, dir string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		st, err := os.Lstat(path)
		if err != nil {
			return err
		}
		want := fileMode
		if d.IsDir() {
			want = dirMode
		}
		if got := st.Mode().Perm(); got != want {
			t.Errorf("%s: mode %04o, want %04o", path, got, want)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 4 {
		t.Fatalf("walked only %d paths in %s", n, dir)
	}
	t.Logf("%d paths in %s, all private", n, dir)
}
