package wire

import (
	"context"
	"sync"
	"time"
)

// Group tracks goroutines so that none outlives what they write to: Stop
// ends the group's context and waits for every goroutine started with Go.
// Once Stop has begun, Go starts nothing.
type Group struct {
	mu      sync.Mutex // orders Go's wg.Add before Stop's wg.Wait
	wg      sync.WaitGroup
	stopped bool
	ctx     context.Context // the lifetime GoCtx hands its goroutines
	cancel  context.CancelFunc
}

// NewGroup returns a group and the context its goroutines should end with:
// it ends when Stop is called (or parent ends).
func NewGroup(parent context.Context) (*Group, context.Context) {
	ctx, cancel := context.WithCancel(parent)
	return &Group{ctx: ctx, cancel: cancel}, ctx
}

// Go runs f in a tracked goroutine and reports whether it did: once Stop
// has begun it runs nothing. f should return when the group's context ends.
func (g *Group) Go(f func()) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return false
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		f()
	}()
	return true
}

// GoCtx is Go for work started outside any context of its own (a job an
// API call submitted, a timer a callback armed): f gets the group's
// context, which ends when Stop is called.
func (g *Group) GoCtx(f func(ctx context.Context)) bool {
	return g.Go(func() { f(g.ctx) })
}

// Stop ends the group's context and waits for its goroutines.
func (g *Group) Stop() {
	g.mu.Lock()
	g.stopped = true
	g.cancel()
	g.mu.Unlock()
	g.wg.Wait()
}

// Every calls f every d until ctx ends. The first call is after d.
func Every(ctx context.Context, d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}
