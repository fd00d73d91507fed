package process

import (
	"bytes"
	"container/list"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// badModuleError is a module the sandbox cannot run: a Result with
// StatusBadModule, not an executor failure.
type badModuleError struct{ reason string }

func (e *badModuleError) Error() string { return e.reason }

func badModule(format string, args ...any) error {
	return &badModuleError{fmt.Sprintf(format, args...)}
}

// hostMachine is the ELF machine this executor runs.
var hostMachine = map[string]elf.Machine{
	"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "riscv64": elf.EM_RISCV,
	"ppc64le": elf.EM_PPC64, "s390x": elf.EM_S390, "loong64": elf.EM_LOONGARCH,
}[runtime.GOARCH]

// checkExecutable refuses what execveat would refuse or what could not run
// in a root holding no libraries, with a reason a requester can act on.
func checkExecutable(data []byte) error {
	if len(data) == 0 {
		return badModule("the module is empty")
	}
	if bytes.HasPrefix(data, []byte("#!")) {
		line, _, _ := bytes.Cut(data[:min(len(data), 128)], []byte("\n"))
		return badModule("the module is a script (%q) and the sandbox has no interpreter; submit a static executable, or run a provider's program with the script as an input", line)
	}
	if !bytes.HasPrefix(data, []byte(elf.ELFMAG)) {
		return badModule("not an ELF executable (it starts with %q); the process sandbox runs static Linux executables", data[:min(len(data), 8)])
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return badModule("not a valid ELF file: %v", err)
	}
	if f.Class != elf.ELFCLASS64 || f.Machine != hostMachine {
		return badModule("built for %s (%s), but this provider runs linux/%s; build with GOOS=linux GOARCH=%s or the equivalent", f.Machine, f.Class, runtime.GOARCH, runtime.GOARCH)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return badModule("ELF type %s is not an executable", f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			interp, _ := readInterp(p)
			return badModule("dynamically linked (it needs %s), and the sandbox has no shared libraries; link it statically (Go: CGO_ENABLED=0; C: -static)", interp)
		}
	}
	if f.Entry == 0 {
		return badModule("the ELF file has no entry point (a shared library?)")
	}
	return nil
}

func readInterp(p *elf.Prog) (string, error) {
	b := make([]byte, min(p.Filesz, 4096))
	if _, err := p.ReadAt(b, 0); err != nil {
		return "", err
	}
	return string(bytes.TrimRight(b, "\x00")), nil
}

// memfd flags: MFD_EXEC (Linux 6.3) says outright that the file is to be
// executed, which a host with vm.memfd_noexec=1 requires.
const mfdExec = 0x10

// sealedMemfd returns a read-only, sealed in-memory file holding data: the
// form executables take here, so no job's file ever touches the host's
// disk, and nothing, not even the node, can change one after the check.
func sealedMemfd(name string, data []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|mfdExec)
	if errors.Is(err, unix.EINVAL) { // a kernel before MFD_EXEC
		fd, err = unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), name)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, fmt.Errorf("write memfd: %w", err)
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_SEAL|unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE); err != nil {
		f.Close()
		return nil, fmt.Errorf("seal memfd: %w", err)
	}
	return f, nil
}

// module is one executable ready to run.
type module struct {
	key    string
	file   *os.File
	size   int64
	refs   int
	pinned bool          // a provider program: never evicted
	elem   *list.Element // in lru while unreferenced and not pinned
}

// moduleCache keeps checked executables in sealed memfds by CID, and
// remembers refused ones, so a module that runs again starts warm.
type moduleCache struct {
	maxModules int
	maxBytes   int64

	mu     sync.Mutex
	byKey  map[string]*module
	lru    *list.List // of *module with refs == 0, least recent at the front
	bytes  int64      // of unpinned modules
	bad    map[string]string
	closed bool
}

func newModuleCache(maxModules int, maxBytes int64) *moduleCache {
	return &moduleCache{maxModules: maxModules, maxBytes: maxBytes,
		byKey: map[string]*module{}, lru: list.New(), bad: map[string]string{}}
}

// errNoModule is a job naming a CID the cache does not hold, without bytes.
var errNoModule = errors.New("no module bytes, and its ModuleCID is neither cached nor one of the provider's programs; pass Job.Module")

// acquire returns the module for key, loading data when it is not cached.
// An error wrapping *badModuleError means the module cannot run.
func (c *moduleCache) acquire(key string, data []byte, pin bool) (*module, error) {
	c.mu.Lock()
	if m := c.byKey[key]; m != nil {
		c.take(m)
		c.mu.Unlock()
		return m, nil
	}
	if reason, ok := c.bad[key]; ok {
		c.mu.Unlock()
		return nil, &badModuleError{reason}
	}
	c.mu.Unlock()
	if len(data) == 0 {
		return nil, errNoModule
	}
	if err := checkExecutable(data); err != nil {
		c.mu.Lock()
		c.bad[key] = err.Error()
		c.mu.Unlock()
		return nil, err
	}
	f, err := sealedMemfd("hayek-job", data)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		f.Close()
		return nil, errClosedCache
	}
	if m := c.byKey[key]; m != nil { // loaded concurrently: keep the first
		f.Close()
		c.take(m)
		return m, nil
	}
	m := &module{key: key, file: f, size: int64(len(data)), refs: 1, pinned: pin}
	c.byKey[key] = m
	if !pin {
		c.bytes += m.size
	}
	c.evict()
	return m, nil
}

var errClosedCache = errors.New("module cache closed")

func (c *moduleCache) take(m *module) {
	if m.elem != nil {
		c.lru.Remove(m.elem)
		m.elem = nil
	}
	m.refs++
}

// release ends one use of m.
func (c *moduleCache) release(m *module) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m.refs--
	if m.refs > 0 || m.pinned {
		return
	}
	if c.closed || c.byKey[m.key] != m {
		m.file.Close()
		return
	}
	m.elem = c.lru.PushBack(m)
	c.evict()
}

// evict drops unreferenced modules, least recently used first, until the
// bounds hold. Modules in use stay, so the bounds can be exceeded while
// many distinct modules run at once.
func (c *moduleCache) evict() {
	for e := c.lru.Front(); e != nil && (len(c.byKey) > c.maxModules || c.bytes > c.maxBytes); {
		next := e.Next()
		m := e.Value.(*module)
		c.lru.Remove(e)
		m.elem = nil
		delete(c.byKey, m.key)
		c.bytes -= m.size
		m.file.Close()
		e = next
	}
}

func (c *moduleCache) warm(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byKey[key] != nil
}

// close frees every module not in use; those in use are freed by their
// release.
func (c *moduleCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for k, m := range c.byKey {
		delete(c.byKey, k)
		if m.refs == 0 {
			m.file.Close()
		} else {
			m.pinned = false
		}
	}
	c.lru.Init()
}
