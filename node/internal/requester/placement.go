package requester

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
)

// Placement is where a job may run: the job's own placement merged with
// its agent's policy by the node, which has already refused what either
// forbids. Empty lists mean no rule.
type Placement struct {
	Local bool     // only this node's own provider: no discovery, the job stays here
	Allow []string // only these providers may be invited or awarded
	Deny  []string // never these
}

// Why says why provider p may not run the job, "" when it may.
func (pl Placement) Why(p string) string {
	switch {
	case slices.Contains(pl.Deny, p):
		return "on the deny list"
	case len(pl.Allow) > 0 && !slices.Contains(pl.Allow, p):
		return "not on the allow list"
	}
	return ""
}

// permits reports whether provider p may be invited, bid and be awarded.
func (pl Placement) permits(p string) bool {
	if slices.Contains(pl.Deny, p) {
		return false
	}
	return len(pl.Allow) == 0 || slices.Contains(pl.Allow, p)
}

func (pl Placement) empty() bool { return !pl.Local && len(pl.Allow) == 0 && len(pl.Deny) == 0 }

// key is the placement's part of the idempotency digest: the same key with
// another placement is another job.
func (pl Placement) key() string {
	if pl.empty() {
		return ""
	}
	a, d := slices.Clone(pl.Allow), slices.Clone(pl.Deny)
	slices.Sort(a)
	slices.Sort(d)
	k := "|allow=" + strings.Join(a, ",") + "|deny=" + strings.Join(d, ",")
	if pl.Local {
		k += "|local"
	}
	return k
}

// view is the placement as the API shows it, nil when there is none.
func (pl Placement) view(minRep float64) *api.Placement {
	if pl.empty() && minRep == 0 {
		return nil
	}
	return &api.Placement{Local: pl.Local, Allow: slices.Clone(pl.Allow), Deny: slices.Clone(pl.Deny), MinReputation: minRep}
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

// placeJob gives j its placement: denied providers are excluded from its
// auctions, and a local job's machine may award this node itself.
func (r *Service) placeJob(j *job, pl Placement, now time.Time) {
	if pl.Local {
		pl.Allow = []string{r.self} // unasked bidders too: nobody else may win it
	}
	j.place = pl
	if pl.Local {
		cfg := r.cfg
		cfg.AllowSelf = true
		j.machine = market.NewJob(j.id, j.spec, cfg, r.d.Signer, j.rep, newJobRand(r.d.Rand()), now)
	}
	for _, p := range pl.Deny {
		j.machine.Exclude(p, "on the job's deny list")
	}
	j.view.Placement = pl.view(j.spec.MinReputation)
}

// candidates are the providers j may invite: this node's own offer for a
// local job, else what discovery finds that its placement permits.
func (r *Service) candidates(ctx context.Context, j *job, caps []market.Capability) ([]market.Candidate, error) {
	if j.place.Local {
		c, ok := r.d.Own()
		if !ok {
			return nil, fmt.Errorf("requester: this node sells nothing now, and the job may run only here")
		}
		j.saw([]market.Candidate{c})
		return []market.Candidate{c}, nil
	}
	cands, err := r.d.Candidates(ctx, caps)
	j.saw(cands)
	return j.place.filter(cands), err
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
