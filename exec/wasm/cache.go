package wasm

import (
	"container/list"
	"context"
	"errors"
	"sync"

	"github.com/tetratelabs/wazero"
)

// compiled is a module ready to instantiate, shared by the runs that hold a
// reference to it. It is closed once it has left the cache and the last run
// using it has released it.
type compiled struct {
	cid    string
	module wazero.CompiledModule
	size   int64 // length of the module binary: the weight against MaxCachedBytes

	refs    int
	evicted bool
	elem    *list.Element
}

// compileCall is one compilation in progress that any number of runs of the
// same CID wait for: concurrent first runs compile once.
type compileCall struct {
	done     chan struct{}
	waiters  int // runs still waiting; each gets a reference when it ends
	finished bool
	result   *compiled
	err      error
}

// moduleCache keeps compiled modules by CID, least recently used first out,
// within a count and a byte budget.
type moduleCache struct {
	maxEntries int
	maxBytes   int64
	compile    func(ctx context.Context, module []byte) (wazero.CompiledModule, error)
	// spawn runs a compilation in the background, accounted for by the
	// executor so that Close waits for it.
	spawn func(func())

	mu       sync.Mutex
	entries  map[string]*compiled
	lru      *list.List // front = most recently used
	bytes    int64
	inflight map[string]*compileCall
	// bad remembers modules that failed with ErrBadModule, so a module
	// submitted again and again is refused without compiling it again.
	// Bounded by maxEntries; which entry goes first does not matter.
	bad   map[string]error
	stats Stats
}

func newModuleCache(maxEntries int, maxBytes int64,
	compile func(context.Context, []byte) (wazero.CompiledModule, error), spawn func(func())) *moduleCache {
	return &moduleCache{
		maxEntries: maxEntries,
		maxBytes:   maxBytes,
		compile:    compile,
		spawn:      spawn,
		entries:    map[string]*compiled{},
		lru:        list.New(),
		inflight:   map[string]*compileCall{},
		bad:        map[string]error{},
	}
}

// warm reports whether cid is compiled and in memory.
func (c *moduleCache) warm(cid string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.entries[cid]
	return ok
}

// acquire returns the compiled module for cid, compiling module if needed,
// with a reference the caller must release. A compilation outlives a
// caller that stops waiting (its ctx ended): the next run finds it cached.
func (c *moduleCache) acquire(ctx context.Context, cid string, module []byte) (*compiled, error) {
	c.mu.Lock()
	if e, ok := c.entries[cid]; ok {
		e.refs++
		c.lru.MoveToFront(e.elem)
		c.stats.Hits++
		c.mu.Unlock()
		return e, nil
	}
	if err, ok := c.bad[cid]; ok {
		c.stats.Hits++
		c.mu.Unlock()
		return nil, err
	}
	call, ok := c.inflight[cid]
	if !ok {
		if len(module) == 0 {
			c.mu.Unlock()
			return nil, errModuleMissing
		}
		call = &compileCall{done: make(chan struct{})}
		c.inflight[cid] = call
		c.stats.Compiles++
		// Detached from ctx on purpose: other runs may be waiting for this
		// compilation, and its result is worth keeping even if the run that
		// started it has gone.
		bg := context.WithoutCancel(ctx)
		c.spawn(func() { c.finish(cid, call, module, bg) })
	} else {
		c.stats.Hits++
	}
	call.waiters++
	c.mu.Unlock()

	select {
	case <-call.done:
		return call.result, call.err
	case <-ctx.Done():
		c.mu.Lock()
		finished := call.finished
		if !finished {
			call.waiters--
		}
		c.mu.Unlock()
		if finished && call.result != nil {
			c.release(ctx, call.result) // the reference finish handed us
		}
		return nil, ctx.Err()
	}
}

func (c *moduleCache) finish(cid string, call *compileCall, module []byte, ctx context.Context) {
	cm, err := c.compile(ctx, module)

	var toClose []*compiled
	c.mu.Lock()
	delete(c.inflight, cid)
	call.finished = true
	call.err = err
	if err == nil {
		e := &compiled{cid: cid, module: cm, size: int64(len(module)), refs: call.waiters}
		call.result = e
		e.elem = c.lru.PushFront(e)
		c.entries[cid] = e
		c.bytes += e.size
		toClose = c.evictLocked()
	} else if errors.Is(err, ErrBadModule) {
		if len(c.bad) >= c.maxEntries {
			for k := range c.bad {
				delete(c.bad, k)
				break
			}
		}
		c.bad[cid] = err
	}
	c.mu.Unlock()
	close(call.done)
	closeAll(ctx, toClose)
}

// evictLocked drops least recently used entries until the cache fits its
// budget. Entries still in use are closed when released.
func (c *moduleCache) evictLocked() (toClose []*compiled) {
	for c.lru.Len() > 0 && (c.lru.Len() > c.maxEntries || c.bytes > c.maxBytes) {
		e := c.lru.Remove(c.lru.Back()).(*compiled)
		delete(c.entries, e.cid)
		c.bytes -= e.size
		e.evicted = true
		c.stats.Evictions++
		if e.refs == 0 {
			toClose = append(toClose, e)
		}
	}
	return toClose
}

func (c *moduleCache) release(ctx context.Context, e *compiled) {
	c.mu.Lock()
	e.refs--
	closeNow := e.evicted && e.refs == 0
	c.mu.Unlock()
	if closeNow {
		// No run uses it and the cache has dropped it: free the code.
		_ = e.module.Close(ctx)
	}
}

// closeAll evicts everything. The executor calls it once no run or
// compilation is left.
func (c *moduleCache) closeAll(ctx context.Context) {
	c.mu.Lock()
	var toClose []*compiled
	for c.lru.Len() > 0 {
		e := c.lru.Remove(c.lru.Back()).(*compiled)
		delete(c.entries, e.cid)
		c.bytes -= e.size
		e.evicted = true
		toClose = append(toClose, e)
	}
	c.mu.Unlock()
	closeAll(ctx, toClose)
}

func closeAll(ctx context.Context, es []*compiled) {
	for _, e := range es {
		_ = e.module.Close(ctx)
	}
}

func (c *moduleCache) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.CachedModules = c.lru.Len()
	s.CachedBytes = c.bytes
	return s
}
