package wasm

import (
	iofs "io/fs"
	"slices"
	"strings"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"

	"github.com/hayek-market/hayek/exec"
)

// memFS is a file system a job sees, /in, /out or /tmp: a tree of
// directories and regular files held in memory. Nothing in it comes from,
// or reaches, the host's disk.
//
// Every piece of metadata a guest can observe is deterministic: modes are
// 0444/0555 for /in and 0644/0755 elsewhere whatever the guest asks for,
// inode numbers count up from 1 (the root) in name order for /in and in
// creation order elsewhere, directory listings are sorted by name, and
// times come from the job's fake clock (see jobClock): the epoch for /in,
// the clock's latest reading when a file is made, written, renamed or
// removed, or what the job set with utimes. Reading does not change the
// access time (as with noatime). So honest replicas see identical bytes
// whatever host they run on.
//
// Writable instances enforce a quota (see quota) on the bytes and on the
// entries (files and directories) alive at any moment: an entry counts
// until it is both removed and closed. The call that would exceed it
// stops the run.
//
// Only the goroutine running the guest uses a memFS, so it has no lock.
type memFS struct {
	experimentalsys.UnimplementedFS

	dev      uint64
	writable bool
	root     *inode
	nextIno  sys.Inode

	clock *jobClock // nil: every time is the epoch
	quota           // zero for /in, which never grows
}

type inode struct {
	ino      sys.Inode
	dir      bool
	data     []byte            // a file's contents
	children map[string]*inode // a directory's entries
	// parent is a directory's own parent (the root's is itself): ".."
	// resolves through it, and a rename checks it so that no directory
	// moves into itself.
	parent *inode
	linked bool // has a name in a directory (the root always does)
	opens  int

	atim, mtim, ctim int64 // Unix nanoseconds
}

const (
	devIn  = 1
	devOut = 2
	devTmp = 3
)

// newInputFS serves files read-only, in one directory. The data slices
// are shared, never copied and never written.
func newInputFS(files []exec.File) *memFS {
	f := &memFS{dev: devIn}
	f.root = f.newInode(true, nil)
	sorted := slices.Clone(files)
	slices.SortFunc(sorted, func(a, b exec.File) int { return strings.Compare(a.Name, b.Name) })
	for _, file := range sorted {
		n := f.newInode(false, f.root)
		n.data = file.Data
		f.root.children[file.Name] = n
	}
	return f
}

// newOutputFS is /out: an empty writable directory with a quota of
// maxBytes bytes in files and maxEntries files and directories.
func newOutputFS(run *runState, clock *jobClock, maxBytes int64, maxEntries int) *memFS {
	f := &memFS{dev: devOut, writable: true, clock: clock, quota: quota{run: run, maxBytes: maxBytes, maxEntries: maxEntries}}
	f.root = f.newInode(true, nil)
	return f
}

// newScratchFS is /tmp: an empty writable directory whose files share the
// job's memory limit with its linear memory, and are not outputs.
func newScratchFS(run *runState, clock *jobClock, memory *memoryLimiter) *memFS {
	f := &memFS{dev: devTmp, writable: true, clock: clock, quota: quota{run: run, maxBytes: int64(memory.limit), memory: memory}}
	f.root = f.newInode(true, nil)
	memory.scratch = f
	return f
}

func (f *memFS) newInode(dir bool, parent *inode) *inode {
	f.nextIno++
	now := f.clock.now()
	n := &inode{ino: f.nextIno, dir: dir, linked: true, atim: now, mtim: now, ctim: now}
	if dir {
		n.children = map[string]*inode{}
		n.parent = parent
		if parent == nil {
			n.parent = n
		}
	}
	return n
}

// outputs returns the regular files left in the tree, named by their
// slash-separated path from the root and sorted by it. Directories are
// not outputs: an empty one leaves no trace. The walk keeps its own stack:
// a job may nest directories as deep as its entry quota allows.
func (f *memFS) outputs() []exec.File {
	type dir struct {
		node   *inode
		prefix string
	}
	out := []exec.File{}
	for stack := []dir{{f.root, ""}}; len(stack) > 0; {
		d := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for name, n := range d.node.children {
			if n.dir {
				stack = append(stack, dir{n, d.prefix + name + "/"})
			} else {
				out = append(out, exec.File{Name: d.prefix + name, Data: slices.Clip(n.data)})
			}
		}
	}
	slices.SortFunc(out, func(a, b exec.File) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// maxNameLen is NAME_MAX: the longest name of one file or directory.
const maxNameLen = 255

// entry is where a path leads: the directory holding its last name, that
// name, and the inode under it, nil if there is none yet.
type entry struct {
	parent *inode // nil when the path names a directory by itself ("", ".", ".."): there is no name to remove or replace
	name   string
	node   *inode
	// wantDir is set by a trailing slash: the path must be a directory.
	wantDir bool
}

// resolve walks a path from the root.
//
// wazero cleans the path a guest passes, and for a preopen hands it over
// as is ("." for the directory itself, "b", "b/" when the guest demands a
// directory). But for a directory the guest opened itself (os.OpenRoot,
// openat through any descriptor that is not a preopen) wazero prefixes
// the name that directory was opened with: "/b" when it was opened as ".",
// "sub//b" when as "sub/". So empty names and "." mean nothing here, and
// every path-taking method goes through resolve. ".." cannot come from
// wazero, which refuses paths that climb out of a preopen, but resolves
// to the parent all the same (the root's parent is the root).
func (f *memFS) resolve(path string) (entry, experimentalsys.Errno) {
	e := entry{node: f.root}
	for name := range strings.SplitSeq(path, "/") {
		if name == "" {
			continue
		}
		switch {
		case e.node == nil:
			return entry{}, experimentalsys.ENOENT
		case !e.node.dir:
			return entry{}, experimentalsys.ENOTDIR
		}
		dir := e.node
		switch {
		case name == ".":
			e = entry{node: dir}
		case name == "..":
			e = entry{node: dir.parent}
		case len(name) > maxNameLen:
			return entry{}, experimentalsys.ENAMETOOLONG
		case strings.IndexByte(name, 0) >= 0:
			return entry{}, experimentalsys.EINVAL
		default:
			e = entry{parent: dir, name: name, node: dir.children[name]}
		}
	}
	e.wantDir = strings.HasSuffix(path, "/")
	if e.wantDir && e.node != nil && !e.node.dir {
		return entry{}, experimentalsys.ENOTDIR
	}
	return e, 0
}

// modified stamps a change to n's contents (a directory's: its entries).
func (f *memFS) modified(n *inode) {
	n.mtim = f.clock.now()
	n.ctim = n.mtim
}

// changed stamps a change to n's metadata alone.
func (f *memFS) changed(n *inode) {
	n.ctim = f.clock.now()
}

func (f *memFS) stat(n *inode) sys.Stat_t {
	st := sys.Stat_t{Dev: f.dev, Ino: n.ino, Nlink: 1, Size: int64(len(n.data)), Atim: n.atim, Mtim: n.mtim, Ctim: n.ctim}
	switch {
	case n.dir && f.writable:
		st.Mode, st.Nlink = iofs.ModeDir|0o755, 2
	case n.dir:
		st.Mode, st.Nlink = iofs.ModeDir|0o555, 2
	case f.writable:
		st.Mode = 0o644
	default:
		st.Mode = 0o444
	}
	return st
}

func (f *memFS) OpenFile(path string, flag experimentalsys.Oflag, _ iofs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	e, errno := f.resolve(path)
	if errno != 0 {
		return nil, errno
	}
	access := flag & (experimentalsys.O_RDWR | experimentalsys.O_WRONLY)
	write := access != experimentalsys.O_RDONLY
	create := flag&experimentalsys.O_CREAT != 0
	trunc := flag&experimentalsys.O_TRUNC != 0
	n := e.node
	switch {
	case n == nil:
		switch {
		case !create || flag&experimentalsys.O_DIRECTORY != 0:
			return nil, experimentalsys.ENOENT
		case e.wantDir:
			return nil, experimentalsys.EISDIR // open("new/", O_CREAT)
		case !f.writable:
			return nil, experimentalsys.EROFS
		}
		n = f.create(e, false)
	case create && flag&experimentalsys.O_EXCL != 0:
		return nil, experimentalsys.EEXIST
	case n.dir:
		if write || trunc || create {
			return nil, experimentalsys.EISDIR // Linux refuses O_CREAT on a directory too
		}
	case flag&experimentalsys.O_DIRECTORY != 0:
		return nil, experimentalsys.ENOTDIR
	case !f.writable && (write || trunc):
		return nil, experimentalsys.EROFS
	case write && trunc:
		f.resize(n, 0)
		f.modified(n) // POSIX: even when it was empty already
	}
	n.opens++
	return &memFile{
		fs:       f,
		node:     n,
		readable: access != experimentalsys.O_WRONLY,
		writable: write,
		append:   flag&experimentalsys.O_APPEND != 0,
	}, 0
}

// create adds a file or directory under e's name, charging it to the
// quota first.
func (f *memFS) create(e entry, dir bool) *inode {
	f.chargeEntry(e.name)
	n := f.newInode(dir, e.parent)
	e.parent.children[e.name] = n
	f.modified(e.parent)
	return n
}

func (f *memFS) Stat(path string) (sys.Stat_t, experimentalsys.Errno) {
	e, errno := f.resolve(path)
	switch {
	case errno != 0:
		return sys.Stat_t{}, errno
	case e.node == nil:
		return sys.Stat_t{}, experimentalsys.ENOENT
	}
	return f.stat(e.node), 0
}

// Lstat is Stat: there are no symbolic links.
func (f *memFS) Lstat(path string) (sys.Stat_t, experimentalsys.Errno) { return f.Stat(path) }

func (f *memFS) Readlink(path string) (string, experimentalsys.Errno) {
	if _, errno := f.Stat(path); errno != 0 {
		return "", errno
	}
	return "", experimentalsys.EINVAL // exists, but is not a link
}

func (f *memFS) Mkdir(path string, _ iofs.FileMode) experimentalsys.Errno {
	e, errno := f.resolve(path)
	switch {
	case errno != 0:
		return errno
	case e.node != nil:
		return experimentalsys.EEXIST
	case !f.writable:
		return experimentalsys.EROFS
	}
	f.create(e, true)
	return 0
}

func (f *memFS) Unlink(path string) experimentalsys.Errno {
	e, errno := f.resolve(path)
	switch {
	case errno != 0:
		return errno
	case e.node == nil:
		return experimentalsys.ENOENT
	case !f.writable:
		return experimentalsys.EROFS
	case e.node.dir:
		return experimentalsys.EISDIR
	}
	f.remove(e)
	return 0
}

func (f *memFS) Rmdir(path string) experimentalsys.Errno {
	e, errno := f.resolve(path)
	switch {
	case errno != 0:
		return errno
	case e.node == nil:
		return experimentalsys.ENOENT
	case !e.node.dir:
		return experimentalsys.ENOTDIR
	case !f.writable:
		return experimentalsys.EROFS
	case e.parent == nil:
		return experimentalsys.EINVAL // the mount point, or "sub/."
	case len(e.node.children) > 0:
		return experimentalsys.ENOTEMPTY
	}
	f.remove(e)
	return 0
}

// remove takes e's name away; the inode lives on while it is open.
func (f *memFS) remove(e entry) {
	delete(e.parent.children, e.name)
	f.modified(e.parent)
	e.node.linked = false
	f.changed(e.node)
	f.maybeFree(e.node)
}

func (f *memFS) Rename(from, to string) experimentalsys.Errno {
	src, errno := f.resolve(from)
	if errno != 0 {
		return errno
	}
	dst, errno := f.resolve(to)
	if errno != 0 {
		return errno
	}
	n := src.node
	switch {
	case n == nil:
		return experimentalsys.ENOENT
	case !f.writable:
		return experimentalsys.EROFS
	case src.parent == nil || dst.parent == nil:
		return experimentalsys.EINVAL // the mount point, "." or ".."
	case dst.wantDir && !n.dir:
		return experimentalsys.ENOTDIR
	case n == dst.node:
		return 0 // POSIX: renaming a file to itself does nothing
	case dst.node != nil && n.dir && !dst.node.dir:
		return experimentalsys.ENOTDIR
	case dst.node != nil && !n.dir && dst.node.dir:
		return experimentalsys.EISDIR
	case dst.node != nil && len(dst.node.children) > 0:
		return experimentalsys.ENOTEMPTY
	case n.dir && f.within(dst.parent, n):
		return experimentalsys.EINVAL // into itself
	}
	if dst.node != nil {
		f.remove(dst)
	}
	delete(src.parent.children, src.name)
	dst.parent.children[dst.name] = n
	if n.dir {
		n.parent = dst.parent
	}
	f.modified(src.parent)
	f.modified(dst.parent)
	f.changed(n)
	return 0
}

// within reports whether dir is ancestor or dir itself.
func (f *memFS) within(dir, ancestor *inode) bool {
	for ; dir != f.root; dir = dir.parent {
		if dir == ancestor {
			return true
		}
	}
	return ancestor == f.root
}

func (f *memFS) readOnlyOr(errno experimentalsys.Errno) experimentalsys.Errno {
	if !f.writable {
		return experimentalsys.EROFS
	}
	return errno
}

func (f *memFS) Utimens(path string, atim, mtim int64) experimentalsys.Errno {
	e, errno := f.resolve(path)
	switch {
	case errno != 0:
		return errno
	case e.node == nil:
		return experimentalsys.ENOENT
	}
	return f.utimens(e.node, atim, mtim)
}

// utimens sets the times a job asked for. wazero has already turned
// UTIME_NOW into a reading of the job's clock, so they are deterministic.
func (f *memFS) utimens(n *inode, atim, mtim int64) experimentalsys.Errno {
	if !f.writable {
		return experimentalsys.EROFS
	}
	if atim != experimentalsys.UTIME_OMIT {
		n.atim = atim
	}
	if mtim != experimentalsys.UTIME_OMIT {
		n.mtim = mtim
	}
	f.changed(n)
	return 0
}

// Modes are fixed, and links would let one file be two outputs or point
// outside the tree: these fail rather than pretend to succeed. Links fail
// with ENOTSUP only where they could otherwise have been made, so a
// program probing paths gets the errno any file system would give.
func (f *memFS) Chmod(string, iofs.FileMode) experimentalsys.Errno {
	return f.readOnlyOr(experimentalsys.ENOTSUP)
}

func (f *memFS) Link(oldPath, newPath string) experimentalsys.Errno {
	src, errno := f.resolve(oldPath)
	switch {
	case errno != 0:
		return errno
	case src.node == nil:
		return experimentalsys.ENOENT
	}
	return f.linkTarget(newPath)
}

// Symlink's oldPath is the link's text, not a path in this file system.
func (f *memFS) Symlink(_, linkName string) experimentalsys.Errno {
	return f.linkTarget(linkName)
}

// linkTarget is why a link named path cannot be made.
func (f *memFS) linkTarget(path string) experimentalsys.Errno {
	e, errno := f.resolve(path)
	switch {
	case errno != 0:
		return errno
	case e.node != nil:
		return experimentalsys.EEXIST
	case e.wantDir:
		return experimentalsys.ENOENT // a link is not a directory
	}
	return f.readOnlyOr(experimentalsys.ENOTSUP)
}
