package node

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/agents"
	"github.com/hayek-market/hayek/node/internal/requester"
	"github.com/hayek-market/hayek/settlement"
)

// Audit implements api.Auditor: the job's record, assembled from what the
// requester kept (its view, events, the signed messages, what discovery
// found) and the ledger (the job's entries, and the agent's governance
// entries up to the job). An agent may audit only its own jobs.
func (n *Node) Audit(ctx context.Context, id string) (api.Audit, error) {
	rec, err := n.requester.Record(ctx, id)
	if err != nil {
		return api.Audit{}, err
	}
	a := api.Audit{Format: api.AuditFormat, Node: n.ID(), MadeAt: n.now().UTC(), Job: rec.Job,
		Discovery: rec.Offers, Signed: rec.Signed, Verification: rec.Job.Verification, Settlement: rec.Job.Settlement}
	if a.Discovery == nil {
		a.Discovery = []api.OfferSeen{}
	}
	if a.Signed == nil {
		a.Signed = []api.SignedMessage{}
	}
	jobEntries, err := n.ledger.Entries(ctx, settlement.Filter{Job: id})
	if err != nil {
		return api.Audit{}, fmt.Errorf("node: the ledger entries of %s: %w", id, err)
	}
	a.Intent, err = n.intent(ctx, rec, jobEntries)
	if err != nil {
		return api.Audit{}, err
	}
	a.Auctions = auctions(rec)
	a.Execution = execution(rec)
	seen := map[uint64]bool{}
	for _, es := range [][]settlement.Entry{n.governanceBefore(ctx, rec.Job.Agent, jobEntries), jobEntries} {
		for _, e := range es {
			if !seen[e.Seq] {
				seen[e.Seq] = true
				a.Entries = append(a.Entries, api.AuditEntry{LedgerEntry: entryView(e), Raw: canon.MustMarshal(e)})
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
func (n *Node) governanceBefore(ctx context.Context, agent string, job []settlement.Entry) []settlement.Entry {
	if agent == "" || len(job) == 0 {
		return nil
	}
	es, err := n.ledger.Entries(ctx, settlement.Filter{Kind: settlement.KindGovernance, Agent: agent})
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

func (n *Node) intent(ctx context.Context, rec requester.Record, jobEntries []settlement.Entry) (api.AuditIntent, error) {
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
	for _, e := range n.governanceBefore(ctx, rec.Job.Agent, jobEntries) {
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
		in.Policy = agents.APIPolicy(acc.Policy)
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

// auctions pairs each attempt of the job's view with the CIDs of its
// signed messages and explains its outcome.
func auctions(rec requester.Record) []api.AuditAuction {
	type key struct {
		attempt uint32
		peer    string
	}
	calls := map[uint32]string{}
	answers := map[key]string{}
	awards := map[uint32][]string{}
	for _, s := range rec.Signed {
		env, err := canon.DecodeEnvelope(s.Envelope)
		if err != nil {
			continue
		}
		switch env.Kind {
		case market.KindCall:
			var c market.CallForBids
			if canon.Unmarshal(env.Body, &c) == nil {
				calls[c.Attempt] = s.CID
			}
		case market.KindBid:
			var b market.Bid
			if canon.Unmarshal(env.Body, &b) == nil {
				answers[key{b.Attempt, b.Provider}] = s.CID
			}
		case market.KindDecline:
			var d market.Decline
			if canon.Unmarshal(env.Body, &d) == nil {
				answers[key{d.Attempt, d.Provider}] = s.CID
			}
		case market.KindAward:
			var a market.Award
			if canon.Unmarshal(env.Body, &a) == nil {
				awards[a.Attempt] = append(awards[a.Attempt], s.CID)
			}
		}
	}
	var vot int64
	if rec.Spec != nil {
		vot = rec.Spec.ValueOfTime
	}
	out := []api.AuditAuction{}
	for _, at := range rec.Job.Attempts {
		au := api.AuditAuction{Attempt: at.Number, Call: calls[at.Number], Invitees: at.Invitees, Silent: at.Silent,
			Winners: at.Winners, Price: at.Price, Awards: awards[at.Number], Fault: at.Fault,
			Bids: []api.AuditBid{}, Declines: []api.AuditDecline{}}
		if len(au.Winners) == 0 && at.Winner != "" {
			au.Winners = []string{at.Winner}
		}
		won := map[string]bool{}
		for _, w := range au.Winners {
			won[w] = true
		}
		var best int64
		for _, b := range at.Bids {
			score, _ := market.Score(b.Price, b.StartWithinMs, vot)
			au.Bids = append(au.Bids, api.AuditBid{Provider: b.Provider, Price: b.Price, StartWithinMs: b.StartWithinMs,
				Score: score, Won: won[b.Provider], CID: answers[key{at.Number, b.Provider}]})
			if won[b.Provider] {
				best = score
			}
		}
		for _, d := range at.Declines {
			au.Declines = append(au.Declines, api.AuditDecline{Provider: d.Provider, Reason: d.Reason, Detail: d.Detail,
				CID: answers[key{at.Number, d.Provider}]})
		}
		if len(au.Winners) > 0 {
			au.Why = fmt.Sprintf("the best eligible score, %d (price + value of time %d × committed start), of %d bids", best, vot, len(at.Bids))
			if at.PriceBasis != "" {
				au.Why += "; paid " + at.PriceBasis
			}
		}
		out = append(out, au)
	}
	return out
}

// execution is the accepted run, with the provider's signed result.
func execution(rec requester.Record) *api.AuditExecution {
	j := rec.Job
	if j.Provider == "" || j.Status == "" {
		return nil
	}
	ex := &api.AuditExecution{Provider: j.Provider, Module: j.Module, Outputs: j.Outputs, Status: j.Status,
		ExitCode: j.ExitCode, Usage: j.Usage, Inputs: []api.Blob{}}
	if s := rec.Spec; s != nil {
		if s.Stdin != nil {
			ex.Inputs = append(ex.Inputs, api.Blob{CID: s.Stdin.CID, Size: s.Stdin.Size})
		}
		for _, in := range s.Inputs {
			ex.Inputs = append(ex.Inputs, api.Blob{CID: in.CID, Size: in.Size})
		}
	}
	for _, s := range rec.Signed {
		if s.Kind == market.KindResult && s.Signer == j.Provider {
			ex.ResultCID = s.CID
		}
	}
	return ex
}

// timeline is the job's events and ledger entries in time order, one
// readable line each.
func timeline(evs []api.Event, entries []api.AuditEntry) []string {
	type line struct {
		t time.Time
		s string
	}
	var ls []line
	for _, e := range evs {
		s := e.Type
		if e.Provider != "" {
			s += " " + e.Provider
		}
		if e.Price != 0 {
			s += fmt.Sprintf(" price %d", e.Price)
		}
		if e.Reason != "" {
			s += " (" + e.Reason + ")"
		}
		if e.Message != "" {
			s += ": " + e.Message
		}
		ls = append(ls, line{e.Time, s})
	}
	for _, e := range entries {
		ls = append(ls, line{e.Time, fmt.Sprintf("ledger %d %s %s %s", e.Seq, e.Kind, e.CID, string(e.Body))})
	}
	// Stable: events and entries of the same millisecond keep their order.
	slices.SortStableFunc(ls, func(a, b line) int { return a.t.Compare(b.t) })
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.t.UTC().Format("15:04:05.000") + " " + l.s
	}
	return out
}
