package requester

import (
	"context"
	"slices"
	"time"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
)

// A job keeps every signed message it sent or accepted — calls, bids,
// declines, awards, results — and what discovery found, so that its audit
// can show the signatures themselves rather than this node's account of
// them. They are stored with the finished job.

// keep records a signed message of j. It takes j.mu.
func (j *job) keep(kind, signer string, env []byte, at time.Time) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.keepLocked(kind, signer, env, at)
}

func (j *job) keepLocked(kind, signer string, env []byte, at time.Time) {
	const maxKept = 4096 // bounds a job's record whatever its auctions did
	if len(j.signed) >= maxKept {
		return
	}
	j.signed = append(j.signed, api.SignedMessage{Kind: kind, CID: canon.DocCID(env).String(), Signer: signer,
		At: at.UTC(), Envelope: slices.Clone(env)})
}

// keep records a signed message of the job id, if it is still known.
func (r *Service) keep(id, kind, signer string, env []byte, at time.Time) {
	if j := r.job(id); j != nil {
		j.keep(kind, signer, env, at)
	}
}

// saw records what discovery found for j, and whether its placement
// permits each.
func (j *job) saw(cands []market.Candidate) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, c := range cands {
		if len(j.offers) >= 1024 {
			return
		}
		j.offers = append(j.offers, api.OfferSeen{Provider: c.Peer, Seq: c.Offer.Seq, Withdrawn: c.Offer.Withdrawn, Permitted: j.place.permits(c.Peer)})
	}
}

// auditRecord is what the requester knows of a job, for its audit.
type auditRecord struct {
	Job    api.Job
	Spec   *market.JobSpec // nil for jobs stored before specs were kept
	Events []api.Event
	Signed []api.SignedMessage
	Offers []api.OfferSeen
}

// recordOf returns the job's record, for the caller's own jobs only (as
// Job).
func (r *Service) recordOf(ctx context.Context, id string) (auditRecord, error) {
	j, err := r.jobOrErr(ctx, id)
	if err != nil {
		return auditRecord{}, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	rec := auditRecord{Job: cloneJob(j.view), Events: slices.Clone(j.events), Signed: slices.Clone(j.signed), Offers: slices.Clone(j.offers)}
	if j.spec.Module.CID != "" {
		spec := j.spec
		rec.Spec = &spec
	}
	return rec, nil
}

// signedEnv is the envelope of kind with CID c that j kept, nil if none.
func (j *job) signedEnv(kind, c string) []byte {
	if c == "" {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, m := range j.signed {
		if m.Kind == kind && m.CID == c {
			return m.Envelope
		}
	}
	return nil
}
