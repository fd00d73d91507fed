package evidence

import (
	"time"

	"github.com/hayek-market/hayek/node/internal/wire"
)

// Suspects survive a restart of the node: otherwise a provider caught
// elsewhere would only have to wait for this node to restart to have its
// results sampled again like anyone's. They are saved to
// Config.SuspectsFile when they changed, at most every AttestEvery/2 (the
// service's periodic loop) and when Run ends, and read back by New with
// the expired dropped.

// loadSuspects reads the suspects saved before the last restart. A file
// that cannot be read is reported and the node starts with none rather
// than refusing to start: suspicion only adds checks, so losing it costs
// checks, never money, and refusing would keep the node down over a
// cache.
func (s *Service) loadSuspects() {
	path := s.d.SuspectsFile
	if path == "" || !s.sharing() {
		return
	}
	m, err := wire.LoadUntil(path, s.d.Now(), maxSuspects)
	if err != nil {
		s.d.Log.Warn("cannot read the suspects of shared catches; starting with none (remove the file to silence this; it is rewritten on the next catch)",
			"file", path, "err", err)
	}
	// No suspicion lasts longer than a window from now, whatever the
	// file says: a clock that went back, or a shorter catch_window.
	last := s.d.Now().Add(s.d.CatchWindow)
	for p, t := range m {
		if t.After(last) {
			m[p] = last
		}
	}
	c := &s.catch
	c.mu.Lock()
	defer c.mu.Unlock()
	c.suspects = m
}

// saveSuspects writes the suspects if they changed since last saved, or
// always when final (Run ends: suspicions that expired meanwhile are
// dropped from the file too).
func (s *Service) saveSuspects(final bool) {
	path := s.d.SuspectsFile
	if path == "" || !s.sharing() {
		return
	}
	c := &s.catch
	c.mu.Lock()
	if !c.dirty && !final {
		c.mu.Unlock()
		return
	}
	m := make(map[string]time.Time, len(c.suspects))
	now := s.d.Now()
	for p, t := range c.suspects {
		if now.Before(t) {
			m[p] = t
		}
	}
	c.dirty = false
	c.mu.Unlock()
	if err := wire.SaveUntil(path, m); err != nil {
		s.d.Log.Warn("cannot save the suspects of shared catches; a restart would forget them", "file", path, "err", err)
		c.mu.Lock()
		c.dirty = true // try again next tick
		c.mu.Unlock()
	}
}
