package node

import (
	"maps"
	"sync"
)

// dropCounter counts peer messages dropped, by reason ("bid/bad_signature",
// "call/stale", ...), so operators and tests can see misbehaviour without a
// log line per message.
type dropCounter struct {
	mu sync.Mutex
	n  map[string]int64
}

func newDropCounter() *dropCounter { return &dropCounter{n: map[string]int64{}} }

func (d *dropCounter) add(reason string) {
	d.mu.Lock()
	d.n[reason]++
	d.mu.Unlock()
}

func (d *dropCounter) snapshot() map[string]int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.n)
}

// Drops returns the dropped-message counters.
func (n *Node) Drops() map[string]int64 { return n.drops.snapshot() }
