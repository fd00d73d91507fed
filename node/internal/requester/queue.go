package requester

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
)

// jobQueue admits this node's own jobs to the market no faster than the
// market can absorb them. A job counts as many slots as it needs runs at
// once (replicate:K counts K); jobs beyond the market's capacity — the
// slots of the providers this node knows, capped by
// requester.max_active — wait here, first in first out, in state queued
// with their position shown, rather than flooding providers with calls
// they must decline or awards they must refuse. A queued job still fails
// at its deadline, and can be cancelled.
type jobQueue struct {
	capacity func() int // the market's capacity now

	mu      sync.Mutex
	active  int    // slots held by running jobs
	waiting []*job // oldest first
}

// enter admits j at once (true) or queues it (false); a queued job's
// admitted channel closes when its turn comes. A job larger than the
// whole capacity is admitted when nothing else runs, so it is never
// stuck.
func (q *jobQueue) enter(j *job) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.waiting) == 0 && q.fits(j.weight) {
		q.active += j.weight
		return true
	}
	q.waiting = append(q.waiting, j)
	q.publishLocked()
	return false
}

func (q *jobQueue) fits(w int) bool { return q.active == 0 || q.active+w <= q.capacity() }

// leave takes j out of the queue, or gives back the slots it held once
// admitted, and admits the jobs whose turn has come.
func (q *jobQueue) leave(j *job) {
	q.mu.Lock()
	defer q.mu.Unlock()
	queued := false
	for i, w := range q.waiting {
		if w == j {
			q.waiting = append(q.waiting[:i], q.waiting[i+1:]...)
			queued = true
			break
		}
	}
	if !queued {
		q.active -= j.weight
	}
	q.publishLocked()
	q.admitLocked()
}

// poke admits waiting jobs after the capacity grew (offers arrived).
func (q *jobQueue) poke() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.admitLocked()
}

func (q *jobQueue) admitLocked() {
	n := 0
	for n < len(q.waiting) && q.fits(q.waiting[n].weight) {
		w := q.waiting[n]
		q.active += w.weight
		w.mu.Lock()
		w.view.QueuePosition = 0
		w.mu.Unlock()
		close(w.admitted)
		n++
	}
	if n > 0 {
		q.waiting = append(q.waiting[:0], q.waiting[n:]...)
		q.publishLocked()
	}
}

// publishLocked shows every waiting job its position (1 is next).
func (q *jobQueue) publishLocked() {
	for i, j := range q.waiting {
		j.mu.Lock()
		j.view.QueuePosition = i + 1
		j.mu.Unlock()
	}
}

// Queued is the number of jobs waiting for the market.
func (q *jobQueue) Queued() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.waiting)
}

// weight is how many provider slots a job holds at once.
func weight(spec market.JobSpec) int {
	v, err := market.ParseVerify(spec.Verify)
	if err != nil || v.K < 1 {
		return 1
	}
	return v.K
}

// waitTurn blocks a queued job until it is admitted, cancelled, past its
// deadline, or the node stops. It reports whether the job may go to
// auction; otherwise the machine has reached a terminal state and the job
// must finish.
func (r *Service) waitTurn(ctx context.Context, j *job) bool {
	r.setQueued(j)
	deadline := time.NewTimer(max(j.machine.Deadline().Sub(r.d.Now()), 0))
	defer deadline.Stop()
	for {
		select {
		case <-j.admitted:
			return true
		case f := <-j.in:
			f(r.d.Now())
		case <-deadline.C:
			j.machine.Tick(r.d.Now())
		case <-ctx.Done():
			j.machine.Cancel(r.d.Now(), "the node shut down")
		}
		if j.machine.State().Terminal() {
			return false
		}
	}
}

func (r *Service) setQueued(j *job) {
	j.mu.Lock()
	pos := j.view.QueuePosition
	j.view.State = api.StateQueued
	j.mu.Unlock()
	r.appendEvent(j, api.Event{Time: r.d.Now(), Job: j.id, Type: "state", State: api.StateQueued,
		Message: fmt.Sprintf("queued at position %d: this node's jobs already use what the market can take", pos)})
}
