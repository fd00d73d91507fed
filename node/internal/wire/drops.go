package wire

import (
	"errors"
	"maps"
	"sync"

	"github.com/hayek-market/hayek/internal/canon"
)

// Drops counts peer messages dropped, by reason ("bid/bad_signature",
// "call/stale", ...), so operators and tests can see misbehaviour without a
// log line per message. The zero value is not usable: use NewDrops.
type Drops struct {
	mu sync.Mutex
	n  map[string]int64
}

// NewDrops returns empty counters.
func NewDrops() *Drops { return &Drops{n: map[string]int64{}} }

// Add counts one message dropped for reason.
func (d *Drops) Add(reason string) {
	d.mu.Lock()
	d.n[reason]++
	d.mu.Unlock()
}

// Snapshot returns a copy of the counters.
func (d *Drops) Snapshot() map[string]int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.n)
}

// dropReason names the drop of a message of kind what that failed to open:
// a forged or foreign signature, or anything else malformed.
func dropReason(what string, err error) string {
	if errors.Is(err, canon.ErrBadSignature) {
		return what + "/bad_signature"
	}
	return what + "/malformed"
}
