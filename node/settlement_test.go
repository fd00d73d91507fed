package node

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/internal/samples"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/settlement"
)

// byID finds a devnet node by peer ID.
func byID(d *Devnet, id string) *Node {
	for _, n := range d.Nodes {
		if n.ID() == id {
			return n
		}
	}
	return nil
}

func receiptCIDs(t *testing.T, n *Node, job string) []string {
	t.Helper()
	es, err := n.ledger.Entries(t.Context(), settlement.Filter{Kind: settlement.KindReceipt, Job: job})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		var sr settlement.SignedReceipt
		if err := canon.Unmarshal(e.Body, &sr); err != nil {
			t.Fatal(err)
		}
		out = append(out, docCIDOf(sr))
	}
	return out
}

// TestPaidJobLeavesMatchingReceipts: a completed job is paid with a receipt
// both parties signed and both ledgers hold, balances agree both ways, and
// both chains verify deeply.
func TestPaidJobLeavesMatchingReceipts(t *testing.T) {
	d := startDevnet(t, 5, nil)
	ctx := t.Context()
	req := d.Nodes[0]
	c := api.NewClient(d.Sockets[0])
	before := req.ledger.Totals()
	job, err := c.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)}, MaxPrice: 500})
	if err != nil {
		t.Fatal(err)
	}
	job = wait(t, c, job.ID)
	if job.State != api.StateCompleted || job.Settlement == nil {
		t.Fatalf("job ended %s with settlement %+v (%+v)", job.State, job.Settlement, job.Error)
	}
	st := job.Settlement
	if st.Paid != job.Price || len(st.Receipts) != 1 || st.Held != 500 || st.Released != 500-job.Price || st.Pending {
		t.Fatalf("settlement %+v for price %d: want paid = price, one receipt, the rest released", st, job.Price)
	}
	prov := byID(d, job.Provider)
	mine, theirs := receiptCIDs(t, req, job.ID), receiptCIDs(t, prov, job.ID)
	if len(mine) != 1 || len(theirs) != 1 || mine[0] != theirs[0] || mine[0] != st.Receipts[0] {
		t.Fatalf("receipts: requester %v, provider %v, job %v: want the same one receipt", mine, theirs, st.Receipts)
	}
	if got := req.ledger.Balance(prov.ID()); got != -job.Price {
		t.Errorf("requester's balance with the provider %d, want %d (it owes)", got, -job.Price)
	}
	if got := prov.ledger.Balance(req.ID()); got != job.Price {
		t.Errorf("provider's balance with the requester %d, want %d (it is owed)", got, job.Price)
	}
	after := req.ledger.Totals()
	if after.Paid-before.Paid != job.Price || after.Funded != after.BudgetsLeft+after.Held+after.Paid {
		t.Errorf("totals %+v: want paid up by %d and funded = budgets left + held + paid", after, job.Price)
	}
	for _, n := range []*Node{req, prov} {
		rep, err := n.ledger.Verify(ctx, true)
		if err != nil || rep.Receipts < 1 {
			t.Fatalf("deep verify of %s: %+v %v", wire.ShortID(n.ID()), rep, err)
		}
	}
	// The provider can settle the debt: both ledgers record it.
	ac := api.NewClient(d.Sockets[indexOf(d, prov)])
	if _, err := ac.Settle(ctx, api.Settle{Peer: req.ID(), Amount: job.Price, Reference: "paid by bank transfer"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the requester to record the settlement", func() bool { return req.ledger.Balance(prov.ID()) == 0 })
	if prov.ledger.Balance(req.ID()) != 0 {
		t.Errorf("provider still says it is owed %d after settling", prov.ledger.Balance(req.ID()))
	}
	if _, err := ac.Settle(ctx, api.Settle{Peer: req.ID(), Amount: 1}); !api.IsCode(err, api.CodeBadRequest) {
		t.Errorf("settling more than is owed: %v, want bad_request", err)
	}
	// Every node's export, audited against every other: the receipt and
	// the settlement are in both ledgers, over heads both chains hold.
	var ins []settlement.AuditInput
	for i, n := range d.Nodes {
		var b bytes.Buffer
		if err := n.ledger.Export(ctx, &b); err != nil {
			t.Fatal(err)
		}
		ins = append(ins, settlement.AuditInput{Name: fmt.Sprintf("node-%d", i), R: &b})
	}
	rep, err := settlement.Audit(ctx, wire.NewVerifier(), ins...)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Pairs {
		want := 0
		if (p.A == req.ID() && p.B == prov.ID()) || (p.B == req.ID() && p.A == prov.ID()) {
			want = 2
		}
		if len(p.Findings) != 0 || p.Shared != want || !p.Agree() {
			t.Errorf("audit of %s and %s: %d shared (want %d), balances %d %d, findings %+v", wire.ShortID(p.A), wire.ShortID(p.B), p.Shared, want, p.BalanceA, p.BalanceB, p.Findings)
		}
	}
}

func indexOf(d *Devnet, n *Node) int {
	for i, m := range d.Nodes {
		if m == n {
			return i
		}
	}
	return -1
}

// TestAgentBudgetsAndApproval: agents spend through tokens within their
// budget; a job above the approval threshold waits for the operator; an
// unanswered one is rejected at its deadline; revoking cancels.
func TestAgentBudgetsAndApproval(t *testing.T) {
	d := startDevnet(t, 4, nil)
	ctx := t.Context()
	op := api.NewClient(d.Sockets[0])
	tok, err := op.CreateAgent(ctx, api.AgentCreate{Name: "bot", Budget: 300, ApproveAbove: 150})
	if err != nil {
		t.Fatal(err)
	}
	bot := api.NewClient(d.Sockets[0], api.WithToken(tok.Token))
	me, err := bot.Me(ctx)
	if err != nil || me.BudgetLeft != 300 {
		t.Fatalf("agent's own view: %+v %v", me, err)
	}
	// Over budget: refused before any auction.
	_, err = bot.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)}, MaxPrice: 400})
	if !api.IsCode(err, api.CodeBudgetExceeded) {
		t.Fatalf("over-budget job: %v, want budget_exceeded", err)
	}
	// Under the threshold: runs at once.
	job, err := bot.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)}, MaxPrice: 100})
	if err != nil {
		t.Fatal(err)
	}
	if job = wait(t, bot, job.ID); job.State != api.StateCompleted || job.Agent != "bot" {
		t.Fatalf("job ended %s for %q", job.State, job.Agent)
	}
	// Above the threshold: waits, runs only once approved.
	gated, err := bot.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)}, MaxPrice: 160})
	if err != nil {
		t.Fatal(err)
	}
	if gated.State != api.StateApproval {
		t.Fatalf("gated job is %s, want approval", gated.State)
	}
	if _, err := bot.Approve(ctx, gated.ID, api.Decision{}); !api.IsCode(err, api.CodeForbidden) {
		t.Fatalf("an agent approving its own job: %v, want forbidden", err)
	}
	if j, _ := bot.Job(ctx, gated.ID); j.State != api.StateApproval || len(j.Attempts) != 0 {
		t.Fatalf("before approval: %s with %d auctions, want approval and none", j.State, len(j.Attempts))
	}
	if _, err := op.Approve(ctx, gated.ID, api.Decision{Reason: "looks fine"}); err != nil {
		t.Fatal(err)
	}
	if j := wait(t, bot, gated.ID); j.State != api.StateCompleted {
		t.Fatalf("approved job ended %s (%+v)", j.State, j.Error)
	}
	// Rejected: fails, nothing spent, the hold released.
	before, _ := bot.Me(ctx)
	rej, err := bot.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)}, MaxPrice: 160})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.Reject(ctx, rej.ID, api.Decision{Reason: "too dear"}); err != nil {
		t.Fatal(err)
	}
	if j := wait(t, bot, rej.ID); j.State != api.StateFailed || j.Error == nil || !strings.Contains(j.Error.Message, "too dear") {
		t.Fatalf("rejected job: %s %+v", j.State, j.Error)
	}
	if after, _ := bot.Me(ctx); after.BudgetLeft != before.BudgetLeft || after.Held != 0 {
		t.Fatalf("after a rejection: budget %d → %d, held %d; want unchanged and nothing held", before.BudgetLeft, after.BudgetLeft, after.Held)
	}
	// Unanswered: rejected at its deadline (default deny).
	exp, err := bot.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)}, MaxPrice: 160,
		Timeout: 100e6, Deadline: 300e6})
	if err != nil {
		t.Fatal(err)
	}
	if j := wait(t, bot, exp.ID); j.State != api.StateFailed || j.Error == nil || j.Error.Code != "expired" ||
		!strings.HasPrefix(j.Error.Message, "expired: no decision within") {
		t.Fatalf("unanswered job: %s %+v, want expired at its deadline", j.State, j.Error)
	}
	// Agents see only their own jobs; governance is recorded.
	other, err := op.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)}, MaxPrice: 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bot.Job(ctx, other.ID); !api.IsCode(err, api.CodeNotFound) {
		t.Fatalf("an agent reading the operator's job: %v, want not_found", err)
	}
	gov, err := op.Ledger(ctx, api.LedgerFilter{Kind: "governance"})
	if err != nil || len(gov) < 4 {
		t.Fatalf("governance entries: %d %v (want create, approve, reject, expire)", len(gov), err)
	}
	// Revoked: the token stops working; a waiting job is cancelled.
	waiting, err := bot.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)}, MaxPrice: 160})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.RevokeAgent(ctx, "bot"); err != nil {
		t.Fatal(err)
	}
	if _, err := bot.Me(ctx); !api.IsCode(err, api.CodeUnauthorized) {
		t.Fatalf("revoked token: %v, want unauthorized", err)
	}
	if j, _ := op.Job(ctx, waiting.ID); j.State != api.StateCancelled {
		t.Fatalf("revoked agent's waiting job is %s, want cancelled", j.State)
	}
	if a, _ := op.Agent(ctx, "bot"); a.Held != 0 {
		t.Fatalf("revoked agent still holds %d", a.Held)
	}
	wg := d.Nodes[0]
	if _, err := wg.ledger.Verify(ctx, true); err != nil {
		t.Fatalf("ledger after all that: %v", err)
	}
	var ae *api.Error
	_ = errors.As(err, &ae)
}
