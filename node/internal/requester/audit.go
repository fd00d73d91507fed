package requester

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/settlement"
)

// Audit is the job's audit bundle (api.Auditor), assembled from what this
// service kept (the job's view, events, the signed messages, what
// discovery found) and the ledger (the job's entries, and the agent's
// governance entries up to the job). An agent may audit only its own jobs.
func (r *Service) Audit(ctx context.Context, id string) (api.Audit, error) {
	rec, err := r.recordOf(ctx, id)
	if err != nil {
		return api.Audit{}, err
	}
	a := api.Audit{Format: api.AuditFormat, Node: r.self, MadeAt: r.d.Now().UTC(), Job: rec.Job,
		Discovery: rec.Offers, Signed: rec.Signed, Verification: rec.Job.Verification, Settlement: rec.Job.Settlement}
	if a.Discovery == nil {
		a.Discovery = []api.OfferSeen{}
	}
	if a.Signed == nil {
		a.Signed = []api.SignedMessage{}
	}
	jobEntries, err := r.d.Ledger.Entries(ctx, settlement.Filter{Job: id})
	if err != nil {
		return api.Audit{}, fmt.Errorf("requester: the ledger entries of %s: %w", id, err)
	}
	a.Intent, err = r.intent(ctx, rec, jobEntries)
	if err != nil {
		return api.Audit{}, err
	}
	a.Auctions = auctions(rec)
	a.Execution = execution(rec)
	seen := map[uint64]bool{}
	for _, es := range [][]settlement.Entry{r.governanceBefore(ctx, rec.Job.Agent, jobEntries), jobEntries} {
		for _, e := range es {
			if !seen[e.Seq] {
				seen[e.Seq] = true
				a.Entries = append(a.Entries, api.AuditEntry{LedgerEntry: r.d.EntryView(e), Raw: canon.MustMarshal(e)})
			}
		}
	}
	if a.Entries == nil {
		a.Entries = []api.AuditEntry{}
	}
	a.Timeline = timeline(rec.Events, a.Entries)
	return a, nil
}

// governanceBefore is the agent's governance entries before the job's
// first entry (its hold): the limits and policy it was admitted under.
func (r *Service) governanceBefore(ctx context.Context, agent string, job []settlement.Entry) []settlement.Entry {
	if agent == "" || len(job) == 0 {
		return nil
	}
	es, err := r.d.Ledger.Entries(ctx, settlement.Filter{Kind: settlement.KindGovernance, Agent: agent})
	if err != nil {
		return nil
	}
	var out []settlement.Entry
	for _, e := range es {
		if e.Seq < job[0].Seq {
			out = append(out, e)
		}
	}
	return out
}

func (r *Service) intent(ctx context.Context, rec auditRecord, jobEntries []settlement.Entry) (api.AuditIntent, error) {
	in := api.AuditIntent{Agent: rec.Job.Agent, Placement: rec.Job.Placement, Governance: []string{}}
	if rec.Spec != nil {
		b, err := json.Marshal(rec.Spec)
		if err != nil {
			return in, err
		}
		in.Spec, in.SpecCID = b, rec.Spec.Digest()
	}
	var acc settlement.Account
	var limitsCID, policyCID string
	for _, e := range r.governanceBefore(ctx, rec.Job.Agent, jobEntries) {
		body, err := e.Decode()
		g, ok := body.(settlement.Governance)
		if err != nil || !ok {
			continue
		}
		switch g.Action {
		case settlement.ActionAgentCreate, settlement.ActionAgentLimits:
			acc.MaxJobPrice, acc.ApproveAbove, acc.RatePerHour, limitsCID = g.MaxJobPrice, g.ApproveAbove, g.RatePerHour, e.CID()
		case settlement.ActionAgentPolicy:
			acc.Policy, policyCID = g.Policy, e.CID()
		}
	}
	if limitsCID != "" {
		in.Limits = &api.Agent{Name: rec.Job.Agent, MaxJobPrice: acc.MaxJobPrice, ApproveAbove: acc.ApproveAbove, RatePerHour: acc.RatePerHour}
		in.Governance = append(in.Governance, limitsCID)
	}
	if policyCID != "" {
		in.Policy = r.d.AgentPolicy(acc.Policy)
		in.Governance = append(in.Governance, policyCID)
	}
	in.Approval = "no approval needed"
	if acc.ApproveAbove > 0 && rec.Job.Settlement != nil {
		in.Approval = fmt.Sprintf("no approval needed: max cost %d is within the approval threshold %d", rec.Job.Settlement.Held, acc.ApproveAbove)
	}
	for _, e := range jobEntries {
		body, err := e.Decode()
		if g, ok := body.(settlement.Governance); err == nil && ok {
			at := time.UnixMilli(e.Time).UTC().Format(time.RFC3339)
			switch g.Action {
			case settlement.ActionJobApprove:
				in.Approval = withDetail("approved by the operator at "+at, g.Detail)
			case settlement.ActionJobReject:
				in.Approval = withDetail("rejected by the operator at "+at, g.Detail)
			case settlement.ActionJobExpire:
				in.Approval = "nobody approved it by " + at
			default:
				continue
			}
			in.Governance = append(in.Governance, e.CID())
		}
	}
	return in, nil
}

func withDetail(s, d string) string {
	if d == "" {
		return s
	}
	return s + ": " + d
}
