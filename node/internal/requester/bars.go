package requester

import (
	"log/slog"
	"time"

	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/reputation"
)

// The subnet guard's bars survive a restart of the node: otherwise a
// cheat's operator would only have to wait for this node to restart to
// win here again under fresh identities from the same addresses. Each
// caught subnet is kept with the end of its quarantine in
// Config.BarsFile, written whole when a catch changes it (catches are
// rare, and the service has no periodic loop to defer the write to) and
// on Close, and read back by New with the expired dropped.

// maxBars bounds the subnets remembered as caught: in memory, on disk.
const maxBars = 4096

// persist keeps the bars in file from now on, loading those saved before
// a restart. A file that cannot be read is reported and the node starts
// with no bars rather than refusing to start: a bar only keeps newcomers
// out, and refusing would keep the node down over it.
func (p *probation) persist(file string, log *slog.Logger) {
	if file == "" {
		return
	}
	bars, err := wire.LoadUntil(file, p.now(), maxBars)
	if err != nil {
		log.Warn("cannot read the subnets barred to newcomers; starting with none (remove the file to silence this; it is rewritten on the next catch)",
			"file", file, "err", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.file, p.log = file, log
	last := p.now().Add(quarantine) // no bar outlasts a quarantine from now, whatever the file says (a clock gone back)
	for s, until := range bars {
		if until.After(last) {
			until = last
		}
		p.bars[s] = until
	}
	p.rebuildGuard()
}

// bar records a catch in subnet at now, within maxBars; p.mu is held.
func (p *probation) bar(subnet string, now time.Time) {
	if subnet == "" {
		return
	}
	if _, ok := p.bars[subnet]; !ok && len(p.bars) >= maxBars {
		// Full: forget the expired, else the bars that end first, and
		// the guard with them.
		wire.TrimUntil(p.bars, now, maxBars-1)
		p.rebuildGuard()
	}
	p.bars[subnet] = now.Add(quarantine)
	p.guard.Caught(subnet, now)
}

// rebuildGuard makes the guard the bars' own; p.mu is held.
func (p *probation) rebuildGuard() {
	p.guard = reputation.NewSubnetGuard(quarantine)
	for s, until := range p.bars {
		p.guard.Caught(s, until.Add(-quarantine))
	}
}

// save writes the bars to the file, if any. Saves are serialised, each
// with the bars as they are when it runs, so the last written is the
// newest.
func (p *probation) save() {
	p.saveMu.Lock()
	defer p.saveMu.Unlock()
	p.mu.Lock()
	file, now := p.file, p.now()
	m := make(map[string]time.Time, len(p.bars))
	for s, until := range p.bars {
		if now.Before(until) {
			m[s] = until
		}
	}
	p.mu.Unlock()
	if file == "" {
		return
	}
	if err := wire.SaveUntil(file, m); err != nil {
		p.log.Warn("cannot save the subnets barred to newcomers; a restart would forget them", "file", file, "err", err)
	}
}
