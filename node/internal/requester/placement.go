package requester

import (
	"context"
	"slices"
	"strings"

	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
)

// Placement is where a job may run: the job's own placement merged with
// its agent's policy by the node, which has already refused what either
// forbids. Empty lists mean no rule.
type Placement struct {
	Allow []string // only these providers may be invited or awarded
	Deny  []string // never these
}

// permits reports whether provider p may be invited, bid and be awarded.
func (pl Placement) permits(p string) bool {
	if slices.Contains(pl.Deny, p) {
		return false
	}
	return len(pl.Allow) == 0 || slices.Contains(pl.Allow, p)
}

func (pl Placement) empty() bool { return len(pl.Allow) == 0 && len(pl.Deny) == 0 }

// key is the placement's part of the idempotency digest: the same key with
// another placement is another job.
func (pl Placement) key() string {
	if pl.empty() {
		return ""
	}
	a, d := slices.Clone(pl.Allow), slices.Clone(pl.Deny)
	slices.Sort(a)
	slices.Sort(d)
	return "|allow=" + strings.Join(a, ",") + "|deny=" + strings.Join(d, ",")
}

// view is the placement as the API shows it, nil when there is none.
func (pl Placement) view(minRep float64) *api.Placement {
	if pl.empty() && minRep == 0 {
		return nil
	}
	return &api.Placement{Allow: slices.Clone(pl.Allow), Deny: slices.Clone(pl.Deny), MinReputation: minRep}
}

// filter drops the candidates the placement does not permit, so they are
// never invited.
func (pl Placement) filter(cands []market.Candidate) []market.Candidate {
	if pl.empty() {
		return cands
	}
	out := cands[:0:0]
	for _, c := range cands {
		if pl.permits(c.Peer) {
			out = append(out, c)
		}
	}
	return out
}

// SubmitPlaced is Submit for a job with a placement: only the providers it
// permits are invited, and bids from others (unasked bidders) are dropped.
func (r *Service) SubmitPlaced(ctx context.Context, spec market.JobSpec, pl Placement, idemKey, agent string) (api.Job, bool, error) {
	j, created, err := r.submitPlaced(ctx, spec, pl, idemKey, agent)
	if err != nil {
		return api.Job{}, false, err
	}
	return j.snapshot(), created, nil
}
