//go:build linux

package docker

import (
	"context"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/exec/gpu"
)

// take returns the warm box of image when there is one that fits the
// limits, or nil. A box whose shim died while it waited is discarded.
func (e *Executor) take(image string, lim exec.Limits, devices []gpu.Device) *box {
	if len(devices) > 0 {
		return nil // device requests are fixed when a container is created
	}
	e.mu.Lock()
	b := e.warm[image]
	// The box's CPU quota can be lowered for the run, not lifted (an
	// update cannot set "none").
	if b == nil || lim.MemoryBytes > b.memory || (b.nanoCPUs > 0 && (nanoCPUs(lim) == 0 || nanoCPUs(lim) > b.nanoCPUs)) {
		e.mu.Unlock()
		return nil
	}
	delete(e.warm, image)
	e.mu.Unlock()
	if !b.alive() {
		b.discard(e)
		return nil
	}
	return b
}

// refill starts a warm box of img in the background, with the default
// limits, unless one is there or on its way or the executor keeps none.
// The least recently started image's box goes when more than
// Config.WarmImages are warm.
func (e *Executor) refill(img *image) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed || e.cfg.WarmImages == 0 || e.warm[img.id] != nil || e.filling[img.id] {
		return
	}
	e.filling[img.id] = true
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), e.cfg.SetupTimeout)
		defer cancel()
		go func() { // Close stops a refill half-way
			select {
			case <-e.closing:
				cancel()
			case <-ctx.Done():
			}
		}()
		b, err := e.startBox(ctx, img, e.limits(exec.Limits{}), nil, "(warm)")
		e.mu.Lock()
		delete(e.filling, img.id)
		e.settled.Broadcast()
		if err != nil || e.closed {
			e.mu.Unlock()
			if err == nil {
				b.discard(e)
			}
			return // the next run starts its own box; it will say what fails
		}
		e.warm[img.id] = b
		e.warmOrder = append(e.warmOrder, img.id)
		var evict []*box
		for len(e.warm) > e.cfg.WarmImages && len(e.warmOrder) > 0 {
			old := e.warmOrder[0]
			e.warmOrder = e.warmOrder[1:]
			if ob := e.warm[old]; ob != nil && old != img.id {
				delete(e.warm, old)
				evict = append(evict, ob)
			}
		}
		e.mu.Unlock()
		for _, ob := range evict {
			ob.discard(e)
		}
	}()
}

// drain discards the warm boxes once no refill runs.
func (e *Executor) drain() {
	e.bg.Wait()
	e.mu.Lock()
	boxes := e.warm
	e.warm = map[string]*box{}
	e.mu.Unlock()
	for _, b := range boxes {
		b.discard(e)
	}
}

// waitFills waits until no refill is on its way and no teardown, so
// that what they make is either warm or gone.
func (e *Executor) waitFills() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for len(e.filling) > 0 || e.tearing > 0 {
		e.settled.Wait()
	}
}

// teardown discards a box in the background.
func (e *Executor) teardown(b *box) {
	e.mu.Lock()
	e.tearing++
	e.bg.Add(1)
	e.mu.Unlock()
	go func() {
		defer e.bg.Done()
		b.discard(e)
		e.mu.Lock()
		e.tearing--
		e.settled.Broadcast()
		e.mu.Unlock()
	}()
}

// warmIDs lists the containers and run directories of warm boxes: the
// executor's own, not leaks.
func (e *Executor) warmIDs() (containers, dirs map[string]bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	containers, dirs = map[string]bool{}, map[string]bool{}
	for _, b := range e.warm {
		containers[b.id] = true
		dirs[b.rd.dir] = true
	}
	return containers, dirs
}
