package evidence

import (
	"time"

	"github.com/hayek-market/hayek/node/api"
)

// Rows is the book as the API shows it, after flushing what is pending:
// every (peer, capability) row, or only peer's when peer is not "". A
// suspect's rows say until when (catch.go): the suspicion is beside the
// posterior, never in it.
func (s *Service) Rows(peer string) []api.RepRow {
	s.FlushAll()
	var out []api.RepRow
	for _, r := range s.Book().Snapshot() {
		if peer != "" && r.Peer != peer {
			continue
		}
		out = append(out, api.RepRow{Peer: r.Peer, Capability: r.Capability, Alpha: r.Alpha, Beta: r.Beta, Mean: r.Mean,
			LowerBound: r.LowerBound, Evidence: r.Evidence, FirstHand: r.FirstHand, ThirdParty: r.ThirdParty,
			SuspectUntil: s.suspectUntil(r.Peer)})
	}
	return out
}

// suspectUntil is when peer's suspicion ends, nil if it is no suspect.
func (s *Service) suspectUntil(peer string) *time.Time {
	c := &s.catch
	c.mu.Lock()
	defer c.mu.Unlock()
	until, ok := c.suspects[peer]
	if !ok || !s.d.Now().Before(until) {
		return nil
	}
	u := until.UTC()
	return &u
}
