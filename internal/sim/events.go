package sim

import (
	"container/heap"
	"time"
)

// event is something that happens at a virtual time; seq orders events
// at the same time by when they were scheduled, so runs are reproducible.
type event struct {
	at  time.Time
	seq uint64
	fn  func()
}

type eventHeap []event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// clock is the simulation's virtual time and its agenda.
type clock struct {
	now time.Time
	seq uint64
	q   eventHeap
}

// at schedules fn at t (never before now).
func (c *clock) at(t time.Time, fn func()) {
	if t.Before(c.now) {
		t = c.now
	}
	c.seq++
	heap.Push(&c.q, event{at: t, seq: c.seq, fn: fn})
}

func (c *clock) after(d time.Duration, fn func()) { c.at(c.now.Add(d), fn) }

// step runs the next event; false when none is left.
func (c *clock) step() bool {
	if len(c.q) == 0 {
		return false
	}
	e := heap.Pop(&c.q).(event)
	c.now = e.at
	e.fn()
	return true
}
