package requester

import "testing"

// The queue admits jobs while their slots fit the market's capacity, keeps
// the others in order with their positions shown, admits them as slots
// are given back or the capacity grows, and never strands a job larger
// than the whole capacity.
func TestQueueAdmitsInTurn(t *testing.T) {
	capacity := 2
	q := jobQueue{capacity: func() int { return capacity }}
	newJob := func(weight int) *job { return &job{weight: weight, admitted: make(chan struct{})} }
	admitted := func(j *job) bool {
		select {
		case <-j.admitted:
			return true
		default:
			return false
		}
	}
	a, b, c, d := newJob(1), newJob(1), newJob(2), newJob(1)
	if !q.enter(a) || !q.enter(b) {
		t.Fatal("two one-slot jobs must go at once with a capacity of two")
	}
	if q.enter(c) || q.enter(d) {
		t.Fatal("jobs beyond the capacity must wait")
	}
	if c.view.QueuePosition != 1 || d.view.QueuePosition != 2 || q.Queued() != 2 {
		t.Fatalf("positions %d and %d, %d queued; want 1, 2 and 2", c.view.QueuePosition, d.view.QueuePosition, q.Queued())
	}
	q.leave(a) // one slot free: c needs two, and d waits behind it
	if admitted(c) || admitted(d) {
		t.Fatal("a queued job went ahead of its turn or beyond the capacity")
	}
	capacity = 3 // offers arrived
	q.poke()
	if !admitted(c) || admitted(d) || c.view.QueuePosition != 0 || d.view.QueuePosition != 1 {
		t.Fatalf("after the capacity grew: c admitted %v (position %d), d admitted %v (position %d); want c in, d next",
			admitted(c), c.view.QueuePosition, admitted(d), d.view.QueuePosition)
	}
	q.leave(d) // cancelled while queued: it gives back nothing it never held
	q.leave(b)
	q.leave(c)
	if q.active != 0 || q.Queued() != 0 {
		t.Fatalf("%d slots still held, %d queued, after every job left", q.active, q.Queued())
	}
	huge := newJob(10)
	if !q.enter(huge) {
		t.Fatal("a job larger than the whole capacity must go when nothing else runs")
	}
}
