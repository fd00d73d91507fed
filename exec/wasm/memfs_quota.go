package wasm

import (
	"github.com/hayek-market/hayek/exec"
)

// quota is what a writable memFS may hold at any moment.
//
// /out holds at most maxBytes bytes in files and maxEntries files and
// directories; beyond them the run stops with exec.StatusOutputLimit.
//
// /tmp (memory set) shares the job's memory limit with its linear memory:
// its bytes plus scratchEntryBytes per file or directory, plus the linear
// memory's current size, stay within the limit, whichever of the two
// grows; beyond it the run stops with exec.StatusMemoryLimit. maxBytes is
// the whole limit, which no file can outgrow.
type quota struct {
	run        *runState
	maxBytes   int64
	maxEntries int
	memory     *memoryLimiter

	usedBytes   int64
	liveEntries int
}

// scratchEntryBytes is what a file or directory in /tmp costs against the
// memory limit beyond its contents: more than the host spends on it (the
// inode, its name, a map slot), so that a job making millions of empty
// files runs into its memory limit long before it hurts the host.
const scratchEntryBytes = 1 << 10

// room is how many more bytes the file system may hold.
func (q *quota) room() int64 {
	if q.memory != nil {
		return int64(q.memory.limit) - int64(q.memory.size) - q.usedBytes
	}
	return q.maxBytes - q.usedBytes
}

// chargeEntry counts a new file or directory, or stops the run.
func (q *quota) chargeEntry(name string) {
	switch {
	case q.memory != nil && scratchEntryBytes > q.room():
		q.overMemory(scratchEntryBytes)
	case q.memory != nil:
		q.usedBytes += scratchEntryBytes
	case q.liveEntries+1 > q.maxEntries:
		q.run.exceed(exec.StatusOutputLimit,
			"job tried to create %q in /out beyond the limit of %d files and directories; raise the job's output limit or write fewer files",
			name, q.maxEntries)
	}
	q.liveEntries++
}

func (q *quota) overMemory(more int64) {
	m := q.memory
	q.run.exceed(exec.StatusMemoryLimit,
		"job tried to hold %d KiB in /tmp beside %d KiB of memory, beyond the job's memory limit of %d KiB, which files in /tmp count against; raise the job's memory limit or write less to /tmp",
		(q.usedBytes+more)>>10, m.size>>10, m.limit>>10)
}

// resize sets a file's length, charging growth to the quota before any
// memory is allocated, so a guest cannot make the host allocate more than
// its quota by seeking far and writing one byte.
func (f *memFS) resize(n *inode, size int64) {
	old := int64(len(n.data))
	if grow := size - old; grow > 0 && grow > f.room() {
		if f.memory != nil {
			f.overMemory(grow)
		}
		f.run.exceed(exec.StatusOutputLimit,
			"job tried to write more than the limit of %d bytes to /out; raise the job's output limit (--max-output) or write less",
			f.maxBytes)
	}
	switch {
	case size > int64(cap(n.data)):
		// Double to amortise copies, within what the quota still allows.
		room := f.room() + old
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
	if size != old {
		f.modified(n)
	}
}

// maybeFree releases an entry's share of the quota once it has neither a
// name nor an open descriptor.
func (f *memFS) maybeFree(n *inode) {
	if n.linked || n.opens > 0 {
		return
	}
	f.usedBytes -= int64(len(n.data))
	if f.memory != nil {
		f.usedBytes -= scratchEntryBytes
	}
	f.liveEntries--
	n.data = nil
}
