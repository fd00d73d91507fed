package requester

import (
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
)

// AwardForTest registers a job of the operator that never starts, its
// award held by winner, so that a white-box test can play that winner
// (node's TestWinnerCannotFillTheDisk). Nothing else calls it.
func (r *Service) AwardForTest(id string, spec market.JobSpec, winner string) {
	j := r.newJob(id, spec, spec.Digest(), "", api.OperatorAgent, spec.MaxPrice, r.d.Now())
	j.winners = map[string]bool{winner: true}
	close(j.started) // so that Shutdown does not wait for a goroutine it never had
	r.mu.Lock()
	r.jobs[id] = j
	r.mu.Unlock()
}
