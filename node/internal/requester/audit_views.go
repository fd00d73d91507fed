package requester

import (
	"fmt"
	"slices"
	"time"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
)

// The parts of a job's audit read from its record alone: its auctions,
// its accepted run, its timeline.

// auctions pairs each attempt of the job's view with the CIDs of its
// signed messages and explains its outcome.
func auctions(rec auditRecord) []api.AuditAuction {
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
func execution(rec auditRecord) *api.AuditExecution {
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
