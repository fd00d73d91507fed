package wasm

import (
	"fmt"

	"github.com/tetratelabs/wazero/experimental"

	"github.com/hayek-market/hayek/exec"
)

const pageSize = 64 << 10

// limitError is how a run is stopped the moment it exceeds its memory or
// /out quota. It is raised as a panic from inside the host call that went
// over (a memory.grow or a file write), which is the same way wazero's own
// proc_exit unwinds the guest: the guest stops at that exact instruction, so
// every replica stops at the same point with the same stdout, instead of
// running on for a scheduler-dependent moment as it would if the limit only
// cancelled a context.
type limitError struct {
	status exec.Status
	detail string
}

func (e *limitError) Error() string { return e.detail }

// runState is what the limit enforcers of one run share. Only the goroutine
// running the guest touches it, so it needs no lock.
type runState struct {
	exceeded *limitError
}

// exceed records the first limit hit and stops the guest. It does not return.
func (s *runState) exceed(status exec.Status, format string, args ...any) {
	if s.exceeded == nil {
		s.exceeded = &limitError{status: status, detail: fmt.Sprintf(format, args...)}
	}
	panic(s.exceeded)
}

// capture keeps the first limit bytes written to it and counts, but drops,
// the rest: a guest flooding stdout costs the host nothing beyond limit. The
// guest is told every write succeeded so its behaviour does not depend on
// the cap (replicas with different caps still compute the same outputs).
type capture struct {
	limit     int64
	buf       []byte
	truncated bool
}

func (c *capture) Write(p []byte) (int, error) {
	n := len(p)
	if room := c.limit - int64(len(c.buf)); int64(n) > room {
		c.truncated = true
		p = p[:max(room, 0)]
	}
	c.buf = append(c.buf, p...)
	return n, nil
}

// memoryLimiter is the experimental.MemoryAllocator of one run: it backs the
// guest's linear memory with an ordinary Go slice and refuses to let it grow
// past the job's limit. wazero's own limit (RuntimeConfig.WithMemoryLimitPages)
// is per runtime, and a runtime per limit would split the compiled-module
// cache; an allocator per run gives every job its own limit on one runtime.
//
// Files in /tmp count against the same limit (see quota): the scratch
// file system charges its bytes against what linear memory leaves, and
// growth checks what /tmp holds.
type memoryLimiter struct {
	run     *runState
	limit   uint64 // bytes, a whole number of pages
	size    uint64 // linear memory now
	peak    uint64 // linear memory at most
	scratch *memFS // /tmp, once mounted
}

func (m *memoryLimiter) Allocate(capacity, max uint64) experimental.LinearMemory {
	return &linearMemory{limiter: m}
}

type linearMemory struct {
	limiter *memoryLimiter
	buf     []byte
	mapped  []byte // the whole reservation, when backed by mmap
	started bool
}

func (l *linearMemory) Reallocate(size uint64) []byte {
	m := l.limiter
	var held uint64 // by files in /tmp
	if m.scratch != nil {
		held = uint64(m.scratch.usedBytes)
	}
	if size > m.limit || held > m.limit-size {
		switch {
		case !l.started:
			m.run.exceed(exec.StatusMemoryLimit,
				"module needs %d KiB of memory before it starts, more than the job's limit of %d KiB; raise the job's memory limit",
				size>>10, m.limit>>10)
		case held > 0:
			m.run.exceed(exec.StatusMemoryLimit,
				"module tried to grow its memory to %d KiB while its files in /tmp hold %d KiB, beyond the job's limit of %d KiB, which both count against; raise the job's memory limit, or make it use less memory or /tmp",
				size>>10, held>>10, m.limit>>10)
		}
		m.run.exceed(exec.StatusMemoryLimit,
			"module tried to grow its memory to %d KiB, beyond the job's limit of %d KiB; raise the job's memory limit or make it use less",
			size>>10, m.limit>>10)
	}
	if !l.started {
		l.started = true
		// Reserve the whole limit as anonymous memory outside the Go heap:
		// the kernel hands out zeroed pages only as the guest touches them,
		// growth never copies, and a Go-built guest that starts with tens
		// of MiB does not make the host's garbage collector sweat.
		l.mapped = mapMemory(m.limit)
	}
	m.size = size
	m.peak = max(m.peak, size)
	if l.mapped != nil {
		l.buf = l.mapped[:size]
		return l.buf
	}
	if size > uint64(cap(l.buf)) {
		// Without mmap: double to amortise the copies, but never reserve
		// beyond the limit. The tail beyond len is fresh zeroed memory,
		// as growth requires.
		next := make([]byte, size, max(size, min(2*uint64(cap(l.buf)), m.limit)))
		copy(next, l.buf)
		l.buf = next
	} else {
		l.buf = l.buf[:size]
	}
	return l.buf
}

func (l *linearMemory) Free() {
	if l.mapped != nil {
		unmapMemory(l.mapped)
		l.mapped = nil
	}
	l.buf = nil
}
