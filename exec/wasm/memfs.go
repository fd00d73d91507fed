package wasm

import (
	"io"
	iofs "io/fs"
	"slices"
	"strings"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"

	"github.com/hayek-market/hayek/exec"
)

// memFS is the file system a job sees at /in and at /out: one flat
// directory of regular files held in memory. Nothing in it comes from, or
// reaches, the host's disk.
//
// Every piece of metadata a guest can observe is fixed: times are zero
// (1970-01-01), modes are 0444/0555 for /in and 0644/0755 for /out whatever
// the guest asks for, inode numbers count up from 1 (the directory) in name
// order for /in and in creation order for /out, and directory listings are
// sorted by name. So honest replicas see identical bytes whatever host they
// run on.
//
// Writable instances enforce a quota on the bytes and files alive at any
// moment (a file counts until it is both unlinked and closed); the write
// that would exceed it stops the run with exec.StatusOutputLimit.
//
// Only the goroutine running the guest uses a memFS, so it has no lock.
type memFS struct {
	experimentalsys.UnimplementedFS

	dev      uint64
	writable bool
	root     *inode
	files    map[string]*inode
	nextIno  sys.Inode

	run       *runState
	maxBytes  int64
	maxFiles  int
	usedBytes int64
	liveFiles int
}

type inode struct {
	ino    sys.Inode
	dir    bool
	data   []byte
	linked bool
	opens  int
}

const (
	devIn  = 1
	devOut = 2
)

// newInputFS serves files read-only. The data slices are shared, never
// copied and never written.
func newInputFS(files []exec.File) *memFS {
	f := &memFS{dev: devIn, files: make(map[string]*inode, len(files))}
	f.root = f.newInode(true)
	sorted := slices.Clone(files)
	slices.SortFunc(sorted, func(a, b exec.File) int { return strings.Compare(a.Name, b.Name) })
	for _, file := range sorted {
		n := f.newInode(false)
		n.data = file.Data
		n.linked = true
		f.files[file.Name] = n
	}
	return f
}

// newOutputFS is an empty writable directory with a quota.
func newOutputFS(run *runState, maxBytes int64, maxFiles int) *memFS {
	f := &memFS{dev: devOut, writable: true, files: map[string]*inode{}, run: run, maxBytes: maxBytes, maxFiles: maxFiles}
	f.root = f.newInode(true)
	return f
}

func (f *memFS) newInode(dir bool) *inode {
	f.nextIno++
	return &inode{ino: f.nextIno, dir: dir}
}

// outputs returns the files left in the directory, sorted by name.
func (f *memFS) outputs() []exec.File {
	out := make([]exec.File, 0, len(f.files))
	for name, n := range f.files {
		out = append(out, exec.File{Name: name, Data: slices.Clip(n.data)})
	}
	slices.SortFunc(out, func(a, b exec.File) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// lookup resolves a path relative to the directory. It returns the
// inode, or nil and the name a new file would get.
//
// wazero cleans the path a guest passes, and for a preopen hands it over
// as is ("." for the directory itself, "b", "b/" when the guest demands a
// directory). But for a directory the guest opened itself (os.OpenRoot,
// openat through any descriptor that is not a preopen) wazero prefixes
// the name that directory was opened with: "/b" when it was opened as ".",
// "sub//b" when as "sub/". So leading and repeated slashes and "." names
// mean nothing here, and every path-taking method goes through splitPath.
func (f *memFS) lookup(path string) (n *inode, name string, errno experimentalsys.Errno) {
	names, wantDir, errno := splitPath(path)
	switch {
	case errno != 0:
		return nil, "", errno
	case len(names) == 0:
		return f.root, "", 0
	}
	n = f.files[names[0]]
	switch {
	case len(names) > 1 && n != nil:
		return nil, "", experimentalsys.ENOTDIR
	case len(names) > 1:
		// The directory is flat: there is nothing below it.
		return nil, "", experimentalsys.ENOENT
	case n != nil && wantDir:
		return nil, "", experimentalsys.ENOTDIR
	case n == nil && wantDir:
		return nil, "", experimentalsys.ENOENT
	}
	return n, names[0], 0
}

// maxNameLen is NAME_MAX: the longest name of one file or directory.
const maxNameLen = 255

// splitPath turns a path as wazero passes it into the names it walks
// through, and whether it ended in a slash (which demands a directory).
// ".." cannot come from wazero, which refuses paths that climb out of a
// preopen, but is resolved without leaving the file system all the same.
func splitPath(path string) (names []string, wantDir bool, errno experimentalsys.Errno) {
	wantDir = strings.HasSuffix(path, "/")
	for name := range strings.SplitSeq(path, "/") {
		switch {
		case name == "" || name == ".":
		case name == "..":
			if len(names) > 0 {
				names = names[:len(names)-1]
			}
		case len(name) > maxNameLen:
			return nil, false, experimentalsys.ENAMETOOLONG
		case strings.IndexByte(name, 0) >= 0:
			return nil, false, experimentalsys.EINVAL
		default:
			names = append(names, name)
		}
	}
	return names, wantDir, 0
}

func (f *memFS) stat(n *inode) sys.Stat_t {
	st := sys.Stat_t{Dev: f.dev, Ino: n.ino, Nlink: 1, Size: int64(len(n.data))}
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
	n, name, errno := f.lookup(path)
	if errno != 0 {
		return nil, errno
	}
	access := flag & (experimentalsys.O_RDWR | experimentalsys.O_WRONLY)
	write := access != experimentalsys.O_RDONLY
	switch {
	case n == f.root:
		if flag&experimentalsys.O_CREAT != 0 && flag&experimentalsys.O_EXCL != 0 {
			return nil, experimentalsys.EEXIST
		}
		if write || flag&experimentalsys.O_TRUNC != 0 {
			return nil, experimentalsys.EISDIR
		}
	case n != nil:
		if flag&experimentalsys.O_CREAT != 0 && flag&experimentalsys.O_EXCL != 0 {
			return nil, experimentalsys.EEXIST
		}
		if flag&experimentalsys.O_DIRECTORY != 0 {
			return nil, experimentalsys.ENOTDIR
		}
		if !f.writable && (write || flag&experimentalsys.O_TRUNC != 0) {
			return nil, experimentalsys.EROFS
		}
		if write && flag&experimentalsys.O_TRUNC != 0 {
			f.resize(n, 0)
		}
	default:
		if flag&experimentalsys.O_CREAT == 0 || flag&experimentalsys.O_DIRECTORY != 0 {
			return nil, experimentalsys.ENOENT
		}
		if !f.writable {
			return nil, experimentalsys.EROFS
		}
		if f.liveFiles+1 > f.maxFiles {
			f.run.exceed(exec.StatusOutputLimit,
				"job tried to create a file %q in /out beyond the limit of %d files; raise the job's output limit or write fewer files",
				name, f.maxFiles)
		}
		n = f.newInode(false)
		n.linked = true
		f.files[name] = n
		f.liveFiles++
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

func (f *memFS) Stat(path string) (sys.Stat_t, experimentalsys.Errno) {
	n, _, errno := f.lookup(path)
	if errno != 0 {
		return sys.Stat_t{}, errno
	}
	if n == nil {
		return sys.Stat_t{}, experimentalsys.ENOENT
	}
	return f.stat(n), 0
}

// Lstat is Stat: there are no symbolic links.
func (f *memFS) Lstat(path string) (sys.Stat_t, experimentalsys.Errno) { return f.Stat(path) }

func (f *memFS) Readlink(path string) (string, experimentalsys.Errno) {
	if _, errno := f.Stat(path); errno != 0 {
		return "", errno
	}
	return "", experimentalsys.EINVAL // exists, but is not a link
}

// Mkdir fails: /out is flat on purpose, like /in, so a job's outputs can be
// fed to the next job's inputs unchanged and are listed without a walk.
func (f *memFS) Mkdir(path string, _ iofs.FileMode) experimentalsys.Errno {
	n, _, errno := f.lookup(path)
	switch {
	case errno != 0:
		return errno
	case n != nil:
		return experimentalsys.EEXIST
	case !f.writable:
		return experimentalsys.EROFS
	}
	return experimentalsys.ENOTSUP
}

func (f *memFS) Unlink(path string) experimentalsys.Errno {
	n, name, errno := f.lookup(path)
	switch {
	case errno != 0:
		return errno
	case n == nil:
		return experimentalsys.ENOENT
	case !f.writable:
		return experimentalsys.EROFS
	case n == f.root:
		return experimentalsys.EISDIR
	}
	f.unlink(name, n)
	return 0
}

func (f *memFS) unlink(name string, n *inode) {
	delete(f.files, name)
	n.linked = false
	f.maybeFree(n)
}

func (f *memFS) Rename(from, to string) experimentalsys.Errno {
	src, fromName, errno := f.lookup(from)
	if errno != 0 {
		return errno
	}
	dst, toName, errno := f.lookup(to)
	switch {
	case errno != 0:
		return errno
	case src == nil:
		return experimentalsys.ENOENT
	case !f.writable:
		return experimentalsys.EROFS
	case src == f.root || dst == f.root:
		return experimentalsys.EINVAL
	case src == dst:
		return 0
	}
	if dst != nil {
		f.unlink(toName, dst)
	}
	delete(f.files, fromName)
	f.files[toName] = src
	return 0
}

func (f *memFS) Rmdir(path string) experimentalsys.Errno {
	n, _, errno := f.lookup(path)
	switch {
	case errno != 0:
		return errno
	case n == nil:
		return experimentalsys.ENOENT
	case n != f.root:
		return experimentalsys.ENOTDIR
	case !f.writable:
		return experimentalsys.EROFS
	}
	return experimentalsys.EINVAL // the mount point itself
}

func (f *memFS) readOnlyOr(errno experimentalsys.Errno) experimentalsys.Errno {
	if !f.writable {
		return experimentalsys.EROFS
	}
	return errno
}

// Metadata is fixed, and links would break the flat, regular-files-only
// model: these fail rather than pretend to succeed.
func (f *memFS) Chmod(string, iofs.FileMode) experimentalsys.Errno {
	return f.readOnlyOr(experimentalsys.ENOTSUP)
}
func (f *memFS) Utimens(string, int64, int64) experimentalsys.Errno {
	return f.readOnlyOr(experimentalsys.ENOTSUP)
}
func (f *memFS) Link(string, string) experimentalsys.Errno {
	return f.readOnlyOr(experimentalsys.ENOTSUP)
}
func (f *memFS) Symlink(string, string) experimentalsys.Errno {
	return f.readOnlyOr(experimentalsys.ENOTSUP)
}

// resize sets a file's length, charging growth to the quota before any
// memory is allocated, so a guest cannot make the host allocate more than
// OutputBytes by seeking far and writing one byte.
func (f *memFS) resize(n *inode, size int64) {
	old := int64(len(n.data))
	if grow := size - old; grow > 0 && grow > f.maxBytes-f.usedBytes {
		f.run.exceed(exec.StatusOutputLimit,
			"job tried to write more than the limit of %d bytes to /out; raise the job's output limit (--max-output) or write less",
			f.maxBytes)
	}
	switch {
	case size > int64(cap(n.data)):
		// Double to amortise copies, within what the quota still allows.
		room := f.maxBytes - f.usedBytes + old
		next := make([]byte, size, max(size, min(2*int64(cap(n.data)), room)))
		copy(next, n.data)
		n.data = next
	case size > old:
		n.data = n.data[:size]
		clear(n.data[old:]) // a previous truncation may have left bytes there
	default:
		n.data = n.data[:size]
	}
	f.usedBytes += size - old
}

func (f *memFS) maybeFree(n *inode) {
	if n.linked || n.opens > 0 || n.dir {
		return
	}
	f.usedBytes -= int64(len(n.data))
	f.liveFiles--
	n.data = nil
}

// memFile is an open file or directory of a memFS.
type memFile struct {
	experimentalsys.UnimplementedFile

	fs       *memFS
	node     *inode
	readable bool
	writable bool
	append   bool
	closed   bool
	off      int64

	dirents []experimentalsys.Dirent // listing being read; nil until read since open or rewind
}

func (m *memFile) Dev() (uint64, experimentalsys.Errno)    { return m.fs.dev, 0 }
func (m *memFile) Ino() (sys.Inode, experimentalsys.Errno) { return m.node.ino, 0 }
func (m *memFile) IsDir() (bool, experimentalsys.Errno)    { return m.node.dir, 0 }
func (m *memFile) IsAppend() bool                          { return m.append }
func (m *memFile) Sync() experimentalsys.Errno             { return m.check() }
func (m *memFile) Datasync() experimentalsys.Errno         { return m.check() }
func (m *memFile) Utimens(int64, int64) experimentalsys.Errno {
	return m.fs.readOnlyOr(experimentalsys.ENOTSUP)
}

func (m *memFile) check() experimentalsys.Errno {
	if m.closed {
		return experimentalsys.EBADF
	}
	return 0
}

func (m *memFile) SetAppend(enable bool) experimentalsys.Errno {
	if m.node.dir {
		return experimentalsys.EISDIR
	}
	m.append = enable
	return m.check()
}

func (m *memFile) Stat() (sys.Stat_t, experimentalsys.Errno) {
	if m.closed {
		return sys.Stat_t{}, experimentalsys.EBADF
	}
	return m.fs.stat(m.node), 0
}

func (m *memFile) readErrno() experimentalsys.Errno {
	switch {
	case m.closed:
		return experimentalsys.EBADF
	case m.node.dir:
		return experimentalsys.EISDIR
	case !m.readable:
		return experimentalsys.EBADF
	}
	return 0
}

func (m *memFile) Read(buf []byte) (int, experimentalsys.Errno) {
	n, errno := m.Pread(buf, m.off)
	m.off += int64(n)
	return n, errno
}

func (m *memFile) Pread(buf []byte, off int64) (int, experimentalsys.Errno) {
	if errno := m.readErrno(); errno != 0 {
		return 0, errno
	}
	if off < 0 {
		return 0, experimentalsys.EINVAL
	}
	if off >= int64(len(m.node.data)) {
		return 0, 0
	}
	return copy(buf, m.node.data[off:]), 0
}

// seekOffset is int64 under another name only so that go vet's check for
// io.Seeker's signature, which wazero's sys.File.Seek deliberately differs
// from (it returns an Errno), leaves this method alone.
type seekOffset = int64

func (m *memFile) Seek(offset seekOffset, whence int) (int64, experimentalsys.Errno) {
	if m.closed {
		return 0, experimentalsys.EBADF
	}
	if m.node.dir {
		// wazero only rewinds directories, to list them again.
		if offset != 0 || whence != io.SeekStart {
			return 0, experimentalsys.EINVAL
		}
		m.dirents = nil
		return 0, 0
	}
	var base int64
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		base = m.off
	case io.SeekEnd:
		base = int64(len(m.node.data))
	default:
		return 0, experimentalsys.EINVAL
	}
	if offset+base < 0 {
		return 0, experimentalsys.EINVAL
	}
	m.off = offset + base
	return m.off, 0
}

func (m *memFile) Readdir(n int) ([]experimentalsys.Dirent, experimentalsys.Errno) {
	if m.closed || !m.node.dir {
		return nil, experimentalsys.EBADF
	}
	if m.dirents == nil {
		m.dirents = make([]experimentalsys.Dirent, 0, len(m.fs.files))
		for name, node := range m.fs.files {
			m.dirents = append(m.dirents, experimentalsys.Dirent{Name: name, Ino: node.ino})
		}
		slices.SortFunc(m.dirents, func(a, b experimentalsys.Dirent) int { return strings.Compare(a.Name, b.Name) })
	}
	if n <= 0 || n > len(m.dirents) {
		n = len(m.dirents)
	}
	out := m.dirents[:n:n]
	m.dirents = m.dirents[n:]
	return out, 0
}

func (m *memFile) writeErrno() experimentalsys.Errno {
	switch {
	case m.closed || m.node.dir || !m.writable:
		return experimentalsys.EBADF
	}
	return 0
}

func (m *memFile) Write(buf []byte) (int, experimentalsys.Errno) {
	if errno := m.writeErrno(); errno != 0 {
		return 0, errno
	}
	if m.append {
		m.off = int64(len(m.node.data))
	}
	n, errno := m.Pwrite(buf, m.off)
	m.off += int64(n)
	return n, errno
}

func (m *memFile) Pwrite(buf []byte, off int64) (int, experimentalsys.Errno) {
	if errno := m.writeErrno(); errno != 0 {
		return 0, errno
	}
	if off < 0 {
		return 0, experimentalsys.EINVAL
	}
	// Compare before adding so an offset near MaxInt64 cannot overflow.
	if end := off + int64(len(buf)); off > m.fs.maxBytes || end > int64(len(m.node.data)) {
		m.fs.resize(m.node, max(end, off))
	}
	return copy(m.node.data[off:], buf), 0
}

func (m *memFile) Truncate(size int64) experimentalsys.Errno {
	switch {
	case m.closed:
		return experimentalsys.EBADF
	case m.node.dir:
		return experimentalsys.EISDIR
	case !m.writable:
		return experimentalsys.EBADF
	case size < 0:
		return experimentalsys.EINVAL
	}
	m.fs.resize(m.node, size)
	return 0
}

func (m *memFile) Close() experimentalsys.Errno {
	if m.closed {
		return 0
	}
	m.closed = true
	m.node.opens--
	m.fs.maybeFree(m.node)
	return 0
}
