package node

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// misbehaviour makes a provider cheat as its config's [misbehave] section
// says — for tests and research only. A node with any of it on announces
// it at start and in its status.
type misbehaviour struct {
	cfg MisbehaveConfig
	mu  sync.Mutex
	rng *rand.Rand
}

func newMisbehaviour(cfg MisbehaveConfig, seed uint64) *misbehaviour {
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
