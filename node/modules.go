package node

import (
	"fmt"
	"strings"
	"sync"

	"github.com/hayek-market/hayek/exec/wasm"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
)

// checkedModules remembers the last maxCheckedModules modules that passed
// the wasm check, so a module submitted again is not parsed again.
type checkedModules struct {
	mu   sync.Mutex
	ok   map[string]struct{}
	ring []string // insertion order of ok, for eviction
	next int
}

const maxCheckedModules = 4096

func (c *checkedModules) has(cid string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.ok[cid]
	return ok
}

func (c *checkedModules) add(cid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.ok[cid]; ok {
		return
	}
	if c.ok == nil {
		c.ok, c.ring = map[string]struct{}{}, make([]string, maxCheckedModules)
	}
	if old := c.ring[c.next]; old != "" {
		delete(c.ok, old)
	}
	c.ring[c.next] = cid
	c.ok[cid] = struct{}{}
	c.next = (c.next + 1) % len(c.ring)
}

// checkModule refuses a wasm module that does not parse, once per module.
func (n *Node) checkModule(b market.Blob) error {
	if n.checked.has(b.CID) {
		return nil
	}
	data, err := n.blobs.Get(b.CID)
	if err != nil {
		return fmt.Errorf("node: read module: %w", err)
	}
	if err := wasm.CheckModule(data); err != nil {
		return api.Errorf(api.CodeInvalidModule, "%s", strings.TrimPrefix(err.Error(), "exec/wasm: bad module: "))
	}
	n.checked.add(b.CID)
	return nil
}
