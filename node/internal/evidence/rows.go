package evidence

import "github.com/hayek-market/hayek/node/api"

// Rows is the book as the API shows it, after flushing what is pending:
// every (peer, capability) row, or only peer's when peer is not "".
func (s *Service) Rows(peer string) []api.RepRow {
	s.FlushAll()
	var out []api.RepRow
	for _, r := range s.Book().Snapshot() {
		if peer != "" && r.Peer != peer {
			continue
		}
		out = append(out, api.RepRow{Peer: r.Peer, Capability: r.Capability, Alpha: r.Alpha, Beta: r.Beta, Mean: r.Mean,
			LowerBound: r.LowerBound, Evidence: r.Evidence, FirstHand: r.FirstHand, ThirdParty: r.ThirdParty})
	}
	return out
}
