package audit

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/wire"
)

// A genuine bundle verifies, and every fact it states is proven by the
// signature of whoever it is about; what only the node says is listed as
// unproven.
func TestVerifyGenuine(t *testing.T) {
	p := newParties(t)
	rep := Verify(wire.NewVerifier(), bundle(t, p))
	if !rep.OK {
		t.Fatalf("a genuine bundle fails: %v", rep.Failures)
	}
	r, w, l, d := p.requester.ID(), p.winner.ID(), p.loser.ID(), p.decliner.ID()
	for _, f := range []struct{ by, fact string }{
		{r, "invited 3 providers"}, {w, "bid 40"}, {l, "bid 60"}, {d, "declined attempt 1: busy"},
		{r, "awarded to " + w + " at price 60"}, {w, "ran attempt 1"}, {r + " + " + w, "countersigned"},
	} {
		if !slices.ContainsFunc(rep.Proven, func(x api.AuditFact) bool { return x.By == f.by && strings.Contains(x.Fact, f.fact) }) {
			t.Errorf("no fact %q proven by %s in %+v", f.fact, f.by, rep.Proven)
		}
	}
	if len(rep.Unproven) == 0 {
		t.Error("nothing is only the node's word: the intent should be")
	}
}

// A tampered bundle fails, and the report names what failed.
func TestVerifyTampered(t *testing.T) {
	p := newParties(t)
	genuine := bundle(t, p)
	signed := func(a *api.Audit, kind, signer string) int {
		return slices.IndexFunc(a.Signed, func(s api.SignedMessage) bool { return s.Kind == kind && (signer == "" || s.Signer == signer) })
	}
	flip := func(a *api.Audit, i int, recompute bool) {
		env := slices.Clone(a.Signed[i].Envelope)
		env[len(env)-1] ^= 1 // the signature is the envelope's last field
		a.Signed[i].Envelope = env
		if recompute {
			a.Signed[i].CID = canon.DocCID(env).String()
		}
	}
	for _, c := range []struct {
		name, want string
		change     func(a *api.Audit)
	}{
		{"another format", "format", func(a *api.Audit) { a.Format = "hayek-audit/0" }},
		{"a changed price", "signed award says", func(a *api.Audit) { a.Auctions[0].Price++ }},
		{"a changed job price", "no signed award says so", func(a *api.Audit) { a.Job.Price++ }},
		{"a changed bid", "its signed bid says", func(a *api.Audit) { a.Auctions[0].Bids[1].Price-- }},
		{"a changed decline", "its signed decline says", func(a *api.Audit) { a.Auctions[0].Declines[0].Reason = string(market.DeclinePrice) }},
		{"an extra invitee", "the bundle lists invitees", func(a *api.Audit) { a.Auctions[0].Invitees = append(a.Auctions[0].Invitees, "x") }},
		{"a removed bid envelope", "has no signed bid", func(a *api.Audit) {
			a.Signed = slices.Delete(a.Signed, signed(a, market.KindBid, p.loser.ID()), signed(a, market.KindBid, p.loser.ID())+1)
		}},
		{"a removed bid, row and envelope", "the bundle lists 1", func(a *api.Audit) {
			a.Auctions[0].Bids = a.Auctions[0].Bids[:1]
			a.Signed = slices.Delete(a.Signed, signed(a, market.KindBid, p.loser.ID()), signed(a, market.KindBid, p.loser.ID())+1)
		}},
		{"a removed decline envelope", "has no signed decline", func(a *api.Audit) {
			a.Signed = slices.Delete(a.Signed, signed(a, market.KindDecline, ""), signed(a, market.KindDecline, "")+1)
		}},
		{"a removed award", "has no signed award", func(a *api.Audit) {
			a.Signed = slices.Delete(a.Signed, signed(a, market.KindAward, ""), signed(a, market.KindAward, "")+1)
		}},
		{"a removed call", "no signed call for bids", func(a *api.Audit) {
			a.Signed = slices.Delete(a.Signed, signed(a, market.KindCall, ""), signed(a, market.KindCall, "")+1)
		}},
		{"a mislabelled signer", "the bundle says", func(a *api.Audit) { a.Signed[signed(a, market.KindBid, p.loser.ID())].Signer = p.winner.ID() }},
		{"another node's bundle", "names requester", func(a *api.Audit) { a.Node = p.loser.ID() }},
		{"another job's bundle", "not j2", func(a *api.Audit) { a.Job.ID = "j2" }},
		{"a changed output", "in the signed result", func(a *api.Audit) { a.Execution.Outputs[0].CID = "bafkqaaa" }},
		{"a changed status", "signed status", func(a *api.Audit) { a.Execution.Status = string(market.StatusExit) }},
		{"another result named", "the bundle names result", func(a *api.Audit) { a.Execution.ResultCID = a.Signed[0].CID }},
		{"a removed result", "no signed result", func(a *api.Audit) {
			a.Signed = slices.Delete(a.Signed, signed(a, market.KindResult, ""), signed(a, market.KindResult, "")+1)
		}},
		{"a removed receipt", "has no countersigned receipt", func(a *api.Audit) { a.Entries = nil }},
		{"a changed payment", "its receipts add up to", func(a *api.Audit) { a.Settlement.Paid++ }},
		{"a ledger entry under another CID", "its encoding is entry", func(a *api.Audit) { a.Entries[0].CID = a.Signed[0].CID }},
		{"a ledger entry that does not decode", "cannot decode", func(a *api.Audit) { a.Entries[0].Raw = []byte{0xff} }},
		{"a flipped byte in a signature", "bad signature", func(a *api.Audit) { flip(a, signed(a, market.KindResult, ""), true) }},
		{"a flipped byte without a new CID", "hash to", func(a *api.Audit) { flip(a, 0, false) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := cloneAudit(t, genuine)
			c.change(&a)
			rep := Verify(wire.NewVerifier(), a)
			if rep.OK || !slices.ContainsFunc(rep.Failures, func(f string) bool { return strings.Contains(f, c.want) }) {
				t.Fatalf("ok %t, failures %v; want one naming %q", rep.OK, rep.Failures, c.want)
			}
		})
	}
}

// cloneAudit deep-copies a bundle the way a file would: through JSON.
func cloneAudit(t *testing.T, a api.Audit) api.Audit {
	t.Helper()
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var out api.Audit
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
