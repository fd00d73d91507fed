package audit

import (
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/node/internal/wire/wiretest"
	"github.com/hayek-market/hayek/settlement"
)

// A bundle built by hand, without a node: one auction of job j1 by the
// requester, two bids, a decline, an award at the second price, the
// winner's result and the countersigned receipt that pays it.

type parties struct {
	requester, winner, loser, decliner *wire.Signer
}

func newParties(t *testing.T) parties {
	t.Helper()
	var s [4]*wire.Signer
	for i := range s {
		_, s[i] = wiretest.Identity(t, byte(i+1))
	}
	return parties{requester: s[0], winner: s[1], loser: s[2], decliner: s[3]}
}

// seal signs m as kind and returns it as the bundle keeps it.
func seal(t *testing.T, s *wire.Signer, kind string, m canon.Message) api.SignedMessage {
	t.Helper()
	env, err := canon.Seal(s, kind, m)
	if err != nil {
		t.Fatal(err)
	}
	b := env.Encode()
	return api.SignedMessage{Kind: kind, CID: canon.DocCID(b).String(), Signer: s.ID(), At: time.UnixMilli(1000).UTC(), Envelope: b}
}

func bundle(t *testing.T, p parties) api.Audit {
	t.Helper()
	const job = "j1"
	r, w, l, d := p.requester.ID(), p.winner.ID(), p.loser.ID(), p.decliner.ID()
	call := seal(t, p.requester, market.KindCall, market.CallForBids{Job: job, Attempt: 1, Requester: r, Invitees: []string{w, l, d}, Created: 1})
	win := seal(t, p.winner, market.KindBid, market.Bid{Job: job, Attempt: 1, Call: call.CID, Provider: w, Requester: r, Price: 40, StartWithinMs: 10, Created: 2})
	lose := seal(t, p.loser, market.KindBid, market.Bid{Job: job, Attempt: 1, Call: call.CID, Provider: l, Requester: r, Price: 60, StartWithinMs: 10, Created: 2})
	decl := seal(t, p.decliner, market.KindDecline, market.Decline{Job: job, Attempt: 1, Call: call.CID, Provider: d, Requester: r, Reason: market.DeclineBusy, Created: 2})
	award := seal(t, p.requester, market.KindAward, market.Award{Job: job, Attempt: 1, Requester: r, Provider: w, Price: 60,
		WinningBid: win.Envelope, PriceBid: lose.Envelope, Ranking: market.Ranking{MaxPrice: 100, Rule: market.PriceSecond, WinnerScore: 40, RunnerUpScore: 60, Bids: 2}, Created: 3})
	out := market.Output{Name: "out", Blob: market.Blob{CID: canon.BlobCID([]byte("out")).String(), Size: 3}}
	result := seal(t, p.winner, market.KindResult, market.Result{Job: job, Attempt: 1, Award: award.CID, Provider: w, Requester: r,
		Status: market.StatusOK, Outputs: []market.Output{out}, Created: 4})
	sr, err := settlement.SignReceipt(p.requester, settlement.Receipt{Job: job, Attempt: 1, Requester: r, Provider: w, Price: 60, Result: result.CID, Created: 5})
	if err != nil {
		t.Fatal(err)
	}
	if sr, err = settlement.Countersign(p.winner, sr, ""); err != nil {
		t.Fatal(err)
	}
	entry := settlement.Entry{Seq: 7, Prev: "", Time: 5, Kind: settlement.KindReceipt, Body: canon.MustMarshal(sr)}
	exit := int32(0)
	return api.Audit{Format: api.AuditFormat, Node: r,
		Job: api.Job{ID: job, Provider: w, Price: 60},
		Auctions: []api.AuditAuction{{Attempt: 1, Call: call.CID, Invitees: []string{w, l, d}, Winners: []string{w}, Price: 60,
			Bids:     []api.AuditBid{{Provider: w, Price: 40, StartWithinMs: 10, Won: true, CID: win.CID}, {Provider: l, Price: 60, StartWithinMs: 10, CID: lose.CID}},
			Declines: []api.AuditDecline{{Provider: d, Reason: string(market.DeclineBusy), CID: decl.CID}}}},
		Execution:  &api.AuditExecution{Provider: w, ResultCID: result.CID, Status: string(market.StatusOK), ExitCode: &exit, Outputs: []api.Output{{Name: out.Name, CID: out.CID, Size: out.Size}}},
		Settlement: &api.Settlement{Held: 100, Paid: 60, Receipts: []string{canon.DocCID(canon.MustMarshal(sr)).String()}},
		Signed:     []api.SignedMessage{call, win, lose, decl, award, result},
		Entries:    []api.AuditEntry{{LedgerEntry: api.LedgerEntry{Seq: entry.Seq, CID: entry.CID(), Kind: string(entry.Kind)}, Raw: canon.MustMarshal(entry)}},
	}
}
