package wire

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Group is the node's errgroup: it tracks goroutines so that none outlives
// what they write to, and sees the errors of the services' loops. Stop
// ends the group's context and waits for every goroutine started with Go,
// GoCtx or Run. Once Stop has begun, they start nothing.
type Group struct {
	mu      sync.Mutex // orders Go's start before Stop's wait
	eg      *errgroup.Group
	stopped bool
	ctx     context.Context // the lifetime its goroutines are handed
	cancel  context.CancelFunc
}

// NewGroup returns a group and the context its goroutines should end with:
// it ends when Stop is called, a loop started with Run fails, or parent
// ends.
func NewGroup(parent context.Context) (*Group, context.Context) {
	ctx, cancel := context.WithCancel(parent)
	eg, ctx := errgroup.WithContext(ctx)
	return &Group{eg: eg, ctx: ctx, cancel: cancel}, ctx
}

// Go runs f in a tracked goroutine and reports whether it did: once Stop
// has begun it runs nothing. f should return when the group's context ends.
func (g *Group) Go(f func()) bool {
	return g.Run(func(context.Context) error { f(); return nil })
}

// GoCtx is Go for work started outside any context of its own (a job an
// API call submitted, a timer a callback armed): f gets the group's
// context.
func (g *Group) GoCtx(f func(ctx context.Context)) bool {
	return g.Run(func(ctx context.Context) error { f(ctx); return nil })
}

// Run runs a service's loop, f, in a tracked goroutine with the group's
// context. An error f returns before the group's context ended ends the
// context, so every other loop stops too, and Stop returns the first.
func (g *Group) Run(f func(ctx context.Context) error) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return false
	}
	g.eg.Go(func() error {
		if err := f(g.ctx); err != nil && g.ctx.Err() == nil {
			return err
		}
		return nil
	})
	return true
}

// Stop ends the group's context, waits for its goroutines and returns the
// first error of a loop started with Run.
func (g *Group) Stop() error {
	g.mu.Lock()
	g.stopped = true
	g.cancel()
	g.mu.Unlock()
	return g.eg.Wait()
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
