package node

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/internal/samples"
	"github.com/hayek-market/hayek/node/api"
)

// TestAudit: a finished devnet job's audit bundle verifies offline, proving
// its bids, award, result and receipt by their signers; a tampered bundle
// does not, and the report names what failed.
func TestAudit(t *testing.T) {
	d := startDevnet(t, 3, func(i int, c *Config) { c.Provider.Pricing.Base = 10 + 10*int64(i) })
	ctx := t.Context()
	c := api.NewClient(d.Sockets[0])
	job, err := c.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)},
		Stdin: &api.BlobRef{Text: "audit"}, MaxPrice: 500})
	if err != nil {
		t.Fatal(err)
	}
	if job = wait(t, c, job.ID); job.State != api.StateCompleted {
		t.Fatalf("job ended %s (%+v)", job.State, job.Error)
	}
	waitFor(t, settleMargin, "the receipt", func() bool {
		j, err := c.Job(ctx, job.ID)
		return err == nil && j.Settlement != nil && len(j.Settlement.Receipts) == 1 && !j.Settlement.Pending
	})
	a, err := c.Audit(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Execution == nil || a.Execution.Provider != job.Provider || a.Execution.ResultCID == "" || len(a.Auctions) != 1 ||
		len(a.Auctions[0].Bids) != 2 || a.Intent.Agent != api.OperatorAgent || a.Intent.SpecCID == "" || len(a.Timeline) == 0 {
		t.Fatalf("bundle misses facts: execution %+v, auctions %+v, intent %+v", a.Execution, a.Auctions, a.Intent)
	}
	rep := VerifyAudit(a)
	if !rep.OK {
		t.Fatalf("a genuine bundle fails: %v", rep.Failures)
	}
	provenBy := func(rep api.AuditReport, by, fact string) bool {
		return slices.ContainsFunc(rep.Proven, func(f api.AuditFact) bool { return strings.Contains(f.By, by) && strings.Contains(f.Fact, fact) })
	}
	for _, f := range []struct{ by, fact string }{
		{job.Provider, "bid"}, {d.Nodes[0].ID(), "awarded to " + job.Provider}, {job.Provider, "ran attempt 1"},
		{d.Nodes[0].ID() + " + " + job.Provider, "countersigned"},
	} {
		if !provenBy(rep, f.by, f.fact) {
			t.Errorf("no fact %q proven by %s in %+v", f.fact, f.by, rep.Proven)
		}
	}
	if len(rep.Unproven) == 0 {
		t.Error("nothing is only the node's word: the intent should be")
	}

	t.Run("replicas and their votes", func(t *testing.T) {
		job, err := c.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)}, MaxPrice: 500, Verify: "replicate:2"})
		if err != nil {
			t.Fatal(err)
		}
		if job = wait(t, c, job.ID); job.State != api.StateCompleted {
			t.Fatalf("job ended %s (%+v)", job.State, job.Error)
		}
		a, err := c.Audit(ctx, job.ID)
		if err != nil {
			t.Fatal(err)
		}
		rep := VerifyAudit(a)
		if !rep.OK {
			t.Fatalf("replicated job's bundle fails: %v", rep.Failures)
		}
		for _, p := range job.Verification.Replicas {
			if !provenBy(rep, p, "agrees with the accepted one") {
				t.Errorf("replica %s's vote is not proven: %+v", p, rep.Proven)
			}
		}
	})

	tamper := func(name, want string, change func(a *api.Audit)) {
		t.Run(name, func(t *testing.T) {
			b := cloneAudit(t, a)
			change(&b)
			rep := VerifyAudit(b)
			if rep.OK || !slices.ContainsFunc(rep.Failures, func(f string) bool { return strings.Contains(f, want) }) {
				t.Fatalf("tampered bundle: ok %t, failures %v; want one naming %q", rep.OK, rep.Failures, want)
			}
		})
	}
	tamper("a changed price", "signed award says", func(b *api.Audit) { b.Auctions[0].Price++ })
	tamper("a changed bid", "its signed bid says", func(b *api.Audit) { b.Auctions[0].Bids[1].Price-- })
	tamper("a removed bid", "has no signed bid", func(b *api.Audit) {
		b.Signed = slices.DeleteFunc(b.Signed, func(s api.SignedMessage) bool { return s.Kind == "bid" && s.Signer != job.Provider })
	})
	tamper("a removed bid, row and envelope", "the bundle lists 1", func(b *api.Audit) {
		loser := ""
		for _, bid := range b.Auctions[0].Bids {
			if !bid.Won {
				loser = bid.Provider
			}
		}
		b.Auctions[0].Bids = slices.DeleteFunc(b.Auctions[0].Bids, func(x api.AuditBid) bool { return x.Provider == loser })
		b.Signed = slices.DeleteFunc(b.Signed, func(s api.SignedMessage) bool { return s.Kind == "bid" && s.Signer == loser })
	})
	tamper("a removed receipt", "has no countersigned receipt", func(b *api.Audit) {
		b.Entries = slices.DeleteFunc(b.Entries, func(e api.AuditEntry) bool { return e.Kind == "receipt" })
	})
	tamper("a changed payment", "its receipts add up to", func(b *api.Audit) { b.Settlement.Paid++ })
	tamper("a flipped byte in a signature", "bad signature", func(b *api.Audit) {
		for i, s := range b.Signed {
			if s.Kind == "result" {
				env := slices.Clone(s.Envelope)
				env[len(env)-1] ^= 1 // the signature is the envelope's last field
				b.Signed[i].Envelope = env
				b.Signed[i].CID = canon.DocCID(env).String()
			}
		}
	})
	tamper("a flipped byte without a new CID", "hash to", func(b *api.Audit) {
		env := slices.Clone(b.Signed[0].Envelope)
		env[len(env)-1] ^= 1
		b.Signed[0].Envelope = env
	})

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
