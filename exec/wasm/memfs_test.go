package wasm

import (
	"fmt"
	"io"
	iofs "io/fs"
	"strings"
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/hayek-market/hayek/exec"
)

const (
	rdonly = experimentalsys.O_RDONLY
	create = experimentalsys.O_RDWR | experimentalsys.O_CREAT
)

// exceeds runs f and returns the limit it hit, or nil.
func exceeds(f func()) (le *limitError) {
	defer func() {
		if r := recover(); r != nil {
			le = r.(*limitError)
		}
	}()
	f()
	return nil
}

func mustOpen(t *testing.T, fs *memFS, path string, flag experimentalsys.Oflag) experimentalsys.File {
	t.Helper()
	f, errno := fs.OpenFile(path, flag, 0)
	if errno != 0 {
		t.Fatalf("OpenFile(%q, %v): %v", path, flag, errno)
	}
	return f
}

func TestInputFSIsReadOnly(t *testing.T) {
	data := []byte("input")
	fs := newInputFS([]exec.File{{Name: "b", Data: data}, {Name: "a", Data: []byte("x")}})

	for _, tc := range []struct {
		path string
		flag experimentalsys.Oflag
		want experimentalsys.Errno
	}{
		{"b", experimentalsys.O_WRONLY, experimentalsys.EROFS},
		{"b", experimentalsys.O_RDWR, experimentalsys.EROFS},
		{"b", experimentalsys.O_RDONLY | experimentalsys.O_TRUNC, experimentalsys.EROFS},
		{"new", create, experimentalsys.EROFS},
		{"new", rdonly, experimentalsys.ENOENT},
		{".", experimentalsys.O_WRONLY, experimentalsys.EISDIR},
		{"b/", rdonly, experimentalsys.ENOTDIR},
		{"b/c", rdonly, experimentalsys.ENOTDIR},
		{"x/c", rdonly, experimentalsys.ENOENT},
	} {
		if _, errno := fs.OpenFile(tc.path, tc.flag, 0); errno != tc.want {
			t.Errorf("OpenFile(%q, %v) = %v, want %v", tc.path, tc.flag, errno, tc.want)
		}
	}
	for name, errno := range map[string]experimentalsys.Errno{
		"Unlink":  fs.Unlink("b"),
		"Rename":  fs.Rename("b", "c"),
		"Mkdir":   fs.Mkdir("d", 0o755),
		"Chmod":   fs.Chmod("b", 0o777),
		"Utimens": fs.Utimens("b", 1, 1),
	} {
		if errno != experimentalsys.EROFS {
			t.Errorf("%s = %v, want EROFS", name, errno)
		}
	}

	f := mustOpen(t, fs, "b", rdonly)
	if _, errno := f.Write([]byte("x")); errno != experimentalsys.EBADF {
		t.Errorf("Write on a read-only file = %v, want EBADF", errno)
	}
	if errno := f.Truncate(0); errno != experimentalsys.EBADF {
		t.Errorf("Truncate on a read-only file = %v, want EBADF", errno)
	}
	buf := make([]byte, 10)
	n, _ := f.Read(buf)
	if string(buf[:n]) != "input" || string(data) != "input" {
		t.Errorf("read %q, data now %q", buf[:n], data)
	}

	st, _ := fs.Stat("b")
	if st.Mode != 0o444 || st.Size != 5 || st.Mtim != fakeEpoch || st.Atim != fakeEpoch || st.Ctim != fakeEpoch || st.Ino != 3 {
		t.Errorf("stat b = %+v: want fixed metadata (mode 0444, times at the fake clock's epoch, ino by name order)", st)
	}
	root, _ := fs.Stat(".")
	if root.Mode != iofs.ModeDir|0o555 || root.Ino != 1 {
		t.Errorf("stat . = %+v", root)
	}
}

func TestOutputFSDirectories(t *testing.T) {
	fs := newOutputFS(&runState{}, nil, 1<<20, 10)
	for _, dir := range []string{"sub", "sub/deeper", "empty", "other/"} {
		if errno := fs.Mkdir(dir, 0o755); errno != 0 {
			t.Fatalf("Mkdir(%q) = %v", dir, errno)
		}
	}
	for _, name := range []string{"sub/deeper/f", "sub/a", "b", "sub/deeper/../c"} {
		f := mustOpen(t, fs, name, create)
		f.Write([]byte(name))
		f.Close()
	}
	// Sorted by path, not by walk order: "sub-x" would sort before "sub/".
	if got := fmt.Sprint(names(fs.outputs())); got != "[b sub/a sub/c sub/deeper/f]" {
		t.Errorf("outputs = %s", got)
	}

	dir := mustOpen(t, fs, "sub", rdonly)
	ents, _ := dir.Readdir(0)
	if got := fmt.Sprint(ents); got != "[{7 a ----------} {9 c ----------} {3 deeper d---------}]" {
		t.Errorf("Readdir(sub) = %s", got)
	}
	dir.Close()

	for _, tc := range []struct {
		name string
		got  experimentalsys.Errno
		want experimentalsys.Errno
	}{
		{"Mkdir existing", fs.Mkdir("sub", 0), experimentalsys.EEXIST},
		{"Mkdir under a file", fs.Mkdir("b/x", 0), experimentalsys.ENOTDIR},
		{"Mkdir under nothing", fs.Mkdir("none/x", 0), experimentalsys.ENOENT},
		{"Rmdir not empty", fs.Rmdir("sub"), experimentalsys.ENOTEMPTY},
		{"Rmdir a file", fs.Rmdir("b"), experimentalsys.ENOTDIR},
		{"Rmdir the root", fs.Rmdir("."), experimentalsys.EINVAL},
		{"Rmdir dot", fs.Rmdir("empty/."), experimentalsys.EINVAL},
		{"Unlink a directory", fs.Unlink("empty"), experimentalsys.EISDIR},
		{"Unlink with a slash", fs.Unlink("b/"), experimentalsys.ENOTDIR},
		{"Rename into itself", fs.Rename("sub", "sub/deeper/sub"), experimentalsys.EINVAL},
		{"Rename over a non-empty directory", fs.Rename("empty", "sub"), experimentalsys.ENOTEMPTY},
		{"Rename a file over a directory", fs.Rename("b", "empty"), experimentalsys.EISDIR},
		{"Rename a directory over a file", fs.Rename("empty", "b"), experimentalsys.ENOTDIR},
		{"Rename a file to a directory name", fs.Rename("b", "b2/"), experimentalsys.ENOTDIR},
		{"Rename the root", fs.Rename(".", "x"), experimentalsys.EINVAL},
		{"Create with a slash", openErrno(fs, "new/", create), experimentalsys.EISDIR},
		{"Open a file as a directory", openErrno(fs, "b", rdonly|experimentalsys.O_DIRECTORY), experimentalsys.ENOTDIR},
		{"Write to a directory", openErrno(fs, "sub", experimentalsys.O_WRONLY), experimentalsys.EISDIR},
		{"Create over a directory", openErrno(fs, "sub", rdonly|experimentalsys.O_CREAT), experimentalsys.EISDIR},
		{"Symlink", fs.Symlink("/etc/passwd", "link"), experimentalsys.ENOTSUP},
		{"Symlink over a name", fs.Symlink("x", "b"), experimentalsys.EEXIST},
		{"Symlink ending in a slash", fs.Symlink("x", "link/"), experimentalsys.ENOENT},
		{"Link", fs.Link("b", "b2"), experimentalsys.ENOTSUP},
		{"Link to nothing", fs.Link("none", "b2"), experimentalsys.ENOENT},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}

	// A directory moves with everything in it, and over an empty one.
	if errno := fs.Rename("sub", "other"); errno != 0 {
		t.Fatalf("Rename(sub, other) = %v", errno)
	}
	if errno := fs.Rename("other/deeper", "moved"); errno != 0 {
		t.Fatalf("Rename(other/deeper, moved) = %v", errno)
	}
	if st, errno := fs.Stat("moved/.."); errno != 0 || st.Ino != 1 {
		t.Errorf("moved/.. = ino %d %v, want the root", st.Ino, errno)
	}
	if errno := fs.Rmdir("empty"); errno != 0 {
		t.Errorf("Rmdir(empty) = %v", errno)
	}
	if got := fmt.Sprint(names(fs.outputs())); got != "[b moved/f other/a other/c]" {
		t.Errorf("outputs after renames = %s", got)
	}
	// 4 files and 2 directories are left.
	if fs.liveEntries != 6 || fs.usedBytes != int64(len("sub/deeper/f")+len("sub/a")+len("b")+len("sub/deeper/../c")) {
		t.Errorf("accounting: %d entries, %d bytes", fs.liveEntries, fs.usedBytes)
	}
}

// Nesting is bounded by the entry quota alone, and outputs are collected
// without recursion.
func TestOutputFSDeepTree(t *testing.T) {
	const depth = 2000
	fs := newOutputFS(&runState{}, nil, 1<<20, depth+1)
	path := ""
	for range depth {
		path += "d/"
		if errno := fs.Mkdir(path, 0); errno != 0 {
			t.Fatalf("Mkdir at depth %d: %v", len(path)/2, errno)
		}
	}
	mustOpen(t, fs, path+"f", create).Close()
	if out := fs.outputs(); len(out) != 1 || out[0].Name != path+"f" {
		t.Errorf("outputs = %d files, want the one at depth %d", len(out), depth)
	}
}

func openErrno(fs *memFS, path string, flag experimentalsys.Oflag) experimentalsys.Errno {
	f, errno := fs.OpenFile(path, flag, 0)
	if f != nil {
		f.Close()
	}
	return errno
}

func names(files []exec.File) []string {
	s := make([]string, len(files))
	for i, f := range files {
		s[i] = f.Name
	}
	return s
}

// Times come from the job's clock: its latest reading when something
// changes, never advancing it, and whatever the job sets.
func TestOutputFSTimes(t *testing.T) {
	clock := &jobClock{}
	fs := newOutputFS(&runState{}, clock, 1<<20, 10)
	times := func(path string) string {
		st, errno := fs.Stat(path)
		if errno != 0 {
			t.Fatalf("Stat(%q) = %v", path, errno)
		}
		ms := func(ns int64) int64 { return (ns - fakeEpoch) / 1e6 }
		return fmt.Sprintf("%d/%d/%d", ms(st.Atim), ms(st.Mtim), ms(st.Ctim))
	}
	f := mustOpen(t, fs, "f", create) // before the job read the clock: the epoch
	fs.Mkdir("d", 0)
	clock.walltime() // epoch
	clock.walltime() // 1 ms
	f.Write([]byte("x"))
	f.Write(nil) // writing nothing changes nothing
	clock.walltime()
	mustOpen(t, fs, "d/g", create).Close()
	if got := times("f") + " " + times("d") + " " + times("."); got != "0/1/1 0/2/2 0/0/0" {
		t.Errorf("atim/mtim/ctim in ms of f, d, root = %s, want 0/1/1 0/2/2 0/0/0", got)
	}
	if times("f") != times("f") || clock.last != fakeEpoch+2e6 {
		t.Error("looking at times moved the clock")
	}

	clock.walltime()
	f.Utimens(fakeEpoch+10e6, experimentalsys.UTIME_OMIT)
	if got := times("f"); got != "10/1/3" {
		t.Errorf("after setting atim only: %s, want 10/1/3", got)
	}
	fs.Utimens("f", experimentalsys.UTIME_OMIT, fakeEpoch-5e6)
	fs.Rename("f", "d/f")
	if got := times("d/f") + " " + times("d") + " " + times("."); got != "10/-5/3 0/3/3 0/3/3" {
		t.Errorf("after a rename: f, d, root = %s, want 10/-5/3 0/3/3 0/3/3", got)
	}
	f.Close()
}

// wazero prefixes the name of a directory the guest opened itself to the
// path: "/b" when it was opened as ".", "sub//b" when as "sub/". Every
// spelling of one path names one file.
func TestPathSpellings(t *testing.T) {
	fs := newOutputFS(&runState{}, nil, 1<<20, 10)
	mustOpen(t, fs, "/b", create).Close()
	for _, path := range []string{"b", "/b", "./b", "//b", "/./b"} {
		st, errno := fs.Stat(path)
		if errno != 0 || st.Ino != 2 {
			t.Errorf("Stat(%q) = ino %d, %v; want the file b", path, st.Ino, errno)
		}
	}
	for _, path := range []string{"", ".", "/", "//", "./"} {
		if st, errno := fs.Stat(path); errno != 0 || st.Ino != 1 {
			t.Errorf("Stat(%q) = ino %d, %v; want the directory", path, st.Ino, errno)
		}
	}
	if errno := fs.Rename("/b", "//c"); errno != 0 {
		t.Errorf("Rename(/b, //c) = %v", errno)
	}
	if errno := fs.Unlink("/c"); errno != 0 {
		t.Errorf("Unlink(/c) = %v", errno)
	}
	if _, errno := fs.OpenFile(strings.Repeat("n", 256), create, 0); errno != experimentalsys.ENAMETOOLONG {
		t.Errorf("a 256-byte name = %v, want ENAMETOOLONG", errno)
	}
}

func TestOutputFSFiles(t *testing.T) {
	fs := newOutputFS(&runState{}, nil, 1<<20, 10)
	for _, name := range []string{"c", "a", "b"} {
		f := mustOpen(t, fs, name, create)
		f.Write([]byte(name + name))
		f.Close()
	}
	if _, errno := fs.OpenFile("a", create|experimentalsys.O_EXCL, 0); errno != experimentalsys.EEXIST {
		t.Errorf("O_EXCL on an existing file = %v", errno)
	}

	// Listing is sorted by name, whatever the creation order.
	dir := mustOpen(t, fs, ".", rdonly)
	var names []string
	for {
		ents, errno := dir.Readdir(2)
		if errno != 0 {
			t.Fatal(errno)
		}
		for _, e := range ents {
			names = append(names, e.Name)
		}
		if len(ents) < 2 {
			break
		}
	}
	if got := fmt.Sprint(names); got != "[a b c]" {
		t.Errorf("Readdir = %s, want [a b c]", got)
	}
	// Rewind sees new entries.
	mustOpen(t, fs, "d", create).Close()
	dir.Seek(0, io.SeekStart)
	if ents, _ := dir.Readdir(0); len(ents) != 4 {
		t.Errorf("after rewind: %d entries, want 4", len(ents))
	}

	// Rename replaces, unlink removes.
	if errno := fs.Rename("a", "b"); errno != 0 {
		t.Fatal(errno)
	}
	if errno := fs.Unlink("c"); errno != 0 {
		t.Fatal(errno)
	}
	out := fs.outputs()
	if len(out) != 2 || out[0].Name != "b" || string(out[0].Data) != "aa" || out[1].Name != "d" {
		t.Errorf("outputs = %+v", out)
	}
	if fs.usedBytes != 2 || fs.liveEntries != 2 {
		t.Errorf("accounting: %d bytes in %d files, want 2 in 2", fs.usedBytes, fs.liveEntries)
	}

	// Append, seek, pwrite past the end (zero-filled), truncate.
	f := mustOpen(t, fs, "d", create|experimentalsys.O_APPEND)
	f.Write([]byte("12"))
	f.Seek(0, io.SeekStart)
	f.Write([]byte("34")) // append ignores the seek
	f.Pwrite([]byte("z"), 6)
	if got := string(fs.root.children["d"].data); got != "1234\x00\x00z" {
		t.Errorf("d = %q", got)
	}
	f.Truncate(2)
	f.Truncate(4) // regrowing shows zeros, not the old bytes
	f.Close()
	if got := string(fs.root.children["d"].data); got != "12\x00\x00" || fs.usedBytes != 2+4 {
		t.Errorf("d = %q, %d bytes used", got, fs.usedBytes)
	}
}

func TestOutputFSQuota(t *testing.T) {
	t.Run("bytes", func(t *testing.T) {
		fs := newOutputFS(&runState{}, nil, 100, 10)
		f := mustOpen(t, fs, "a", create)
		if le := exceeds(func() { f.Write(make([]byte, 100)) }); le != nil {
			t.Fatalf("writing exactly the quota: %v", le)
		}
		le := exceeds(func() { f.Write([]byte{1}) })
		if le == nil || le.status != exec.StatusOutputLimit {
			t.Fatalf("one byte over: %v", le)
		}
	})
	t.Run("seek far", func(t *testing.T) {
		fs := newOutputFS(&runState{}, nil, 100, 10)
		f := mustOpen(t, fs, "a", create)
		// Must be refused before anything is allocated.
		if le := exceeds(func() { f.Pwrite([]byte{1}, 1<<62) }); le == nil {
			t.Fatal("pwrite at 4 EiB accepted")
		}
		if le := exceeds(func() { f.Truncate(1 << 40) }); le == nil {
			t.Fatal("truncate to 1 TiB accepted")
		}
	})
	t.Run("unlinked but open still counts", func(t *testing.T) {
		fs := newOutputFS(&runState{}, nil, 100, 2)
		f := mustOpen(t, fs, "a", create)
		f.Write(make([]byte, 60))
		fs.Unlink("a")
		g := mustOpen(t, fs, "b", create)
		if le := exceeds(func() { g.Write(make([]byte, 60)) }); le == nil {
			t.Fatal("quota ignored an unlinked file that is still open")
		}
		f.Close()
		if fs.usedBytes != 0 || fs.liveEntries != 1 {
			t.Errorf("after close: %d bytes, %d files", fs.usedBytes, fs.liveEntries)
		}
	})
	t.Run("files", func(t *testing.T) {
		fs := newOutputFS(&runState{}, nil, 100, 2)
		mustOpen(t, fs, "a", create).Close()
		mustOpen(t, fs, "b", create).Close()
		if le := exceeds(func() { fs.OpenFile("c", create, 0) }); le == nil {
			t.Fatal("third file accepted with a limit of 2")
		}
		fs.Unlink("a")
		if le := exceeds(func() { mustOpen(t, fs, "c", create).Close() }); le != nil {
			t.Fatalf("file after an unlink: %v", le)
		}
	})
	t.Run("directories count as files", func(t *testing.T) {
		fs := newOutputFS(&runState{}, nil, 100, 2)
		fs.Mkdir("a", 0)
		mustOpen(t, fs, "a/f", create).Close()
		if le := exceeds(func() { fs.Mkdir("b", 0) }); le == nil || le.status != exec.StatusOutputLimit {
			t.Fatalf("third entry (a directory) with a limit of 2: %v", le)
		}
		fs.Unlink("a/f")
		d := mustOpen(t, fs, "a", rdonly)
		fs.Rmdir("a")
		if le := exceeds(func() { fs.Mkdir("b", 0) }); le != nil {
			t.Fatalf("mkdir with one entry left: %v", le)
		}
		if le := exceeds(func() { fs.Mkdir("c", 0) }); le == nil {
			t.Fatal("a removed directory still open must count")
		}
		d.Close()
		if fs.liveEntries != 1 {
			t.Errorf("after close: %d entries, want 1", fs.liveEntries)
		}
	})
	t.Run("first limit wins", func(t *testing.T) {
		run := &runState{}
		fs := newOutputFS(run, nil, 1, 1)
		f := mustOpen(t, fs, "a", create)
		exceeds(func() { f.Write([]byte("xx")) })
		exceeds(func() { fs.OpenFile("b", create, 0) })
		if run.exceeded == nil || run.exceeded.status != exec.StatusOutputLimit || !strings.Contains(run.exceeded.detail, "bytes") {
			t.Errorf("recorded %+v, want the byte limit", run.exceeded)
		}
	})
}

// /tmp and linear memory share the job's memory limit, whichever grows.
func TestScratchFSSharesTheMemoryLimit(t *testing.T) {
	run := &runState{}
	over := func(f func()) *limitError {
		run.exceeded = nil
		return exceeds(f)
	}
	mem := &memoryLimiter{run: run, limit: 1 << 20}
	linear := mem.Allocate(0, 0)
	defer linear.Free()
	linear.Reallocate(256 << 10)
	fs := newScratchFS(run, nil, mem)

	f := mustOpen(t, fs, "a", create) // costs scratchEntryBytes
	if le := over(func() { f.Write(make([]byte, (1<<20)-(256<<10)-scratchEntryBytes)) }); le != nil {
		t.Fatalf("filling exactly what memory leaves: %v", le)
	}
	if le := over(func() { f.Write([]byte{1}) }); le == nil || le.status != exec.StatusMemoryLimit || !strings.Contains(le.detail, "/tmp") {
		t.Fatalf("one byte more: %v, want memory_limit naming /tmp", le)
	}
	if le := over(func() { linear.Reallocate(512 << 10) }); le == nil || le.status != exec.StatusMemoryLimit || !strings.Contains(le.detail, "/tmp") {
		t.Fatalf("memory growth while /tmp holds the rest: %v, want memory_limit naming /tmp", le)
	}
	f.Close()
	fs.Unlink("a")
	if fs.usedBytes != 0 {
		t.Fatalf("%d bytes still charged after unlink and close", fs.usedBytes)
	}
	if le := over(func() { linear.Reallocate(512 << 10) }); le != nil {
		t.Fatalf("memory growth after /tmp was emptied: %v", le)
	}

	// Empty directories are not free: half a MiB left holds 512 of them.
	made := 0
	le := over(func() {
		for ; ; made++ {
			fs.Mkdir(fmt.Sprint(made), 0)
		}
	})
	if le == nil || le.status != exec.StatusMemoryLimit || made != (512<<10)/scratchEntryBytes {
		t.Errorf("made %d directories before %v, want %d and memory_limit", made, le, (512<<10)/scratchEntryBytes)
	}
	if len(fs.outputs()) != 0 {
		t.Error("directories are not outputs")
	}
}
