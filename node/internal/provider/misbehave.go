package provider

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// Misbehave is how a provider cheats, for tests and research only: the
// node config's [misbehave] section.
type Misbehave struct {
	WrongOutputRate float64       // results with corrupted stdout
	DropRate        float64       // accepted awards never answered
	Slowness        time.Duration // extra delay before each run
	FalseStart      bool          // commit to a start it cannot hold
}

// misbehaviour makes a provider cheat as its config's [misbehave] section
// says — for tests and research only. A node with any of it on announces
// it at start and in its status.
type misbehaviour struct {
	cfg Misbehave
	mu  sync.Mutex
	rng *rand.Rand
}

func newMisbehaviour(cfg Misbehave, seed uint64) *misbehaviour {
	return &misbehaviour{cfg: cfg, rng: rand.New(rand.NewPCG(seed, seed^0xbad))}
}

func (m *misbehaviour) draw(p float64) bool {
	if p <= 0 {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rng.Float64() < p
}

// drop: accept the award and never answer.
func (m *misbehaviour) drop() bool { return m.draw(m.cfg.DropRate) }

// corrupt: deliver a wrong result.
func (m *misbehaviour) corrupt() bool { return m.draw(m.cfg.WrongOutputRate) }

// slow: wait before running.
func (m *misbehaviour) slow(ctx context.Context) error {
	if m.cfg.Slowness <= 0 {
		return nil
	}
	t := time.NewTimer(time.Duration(m.cfg.Slowness))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
