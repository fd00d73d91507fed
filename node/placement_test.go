package node

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/samples"
	"github.com/hayek-market/hayek/node/api"
)

// TestPlacement: a job's placement and its agent's policy decide who may
// be invited and awarded; what they forbid is refused before any hold or
// auction, naming the rule; policy changes are governance entries.
func TestPlacement(t *testing.T) {
	// node-1 is the cheapest provider: left to the market, it wins.
	d := startDevnet(t, 3, func(i int, c *Config) {
		c.Provider.Pricing.Base = 40
		if i == 1 {
			c.Provider.Pricing.Base = 10
			c.Provider.BidUnasked = true // it bids on calls that do not invite it
		}
	})
	ctx := t.Context()
	op := api.NewClient(d.Sockets[0])
	who := names(d)
	cheap, dear := d.Nodes[1].ID(), d.Nodes[2].ID()
	hello := api.BlobRef{Base64: b64(samples.Hello)}

	t.Run("a denied provider is never invited or awarded", func(t *testing.T) {
		job, err := op.Submit(ctx, api.SubmitRequest{Module: hello, MaxPrice: 500, Placement: &api.Placement{Deny: []string{cheap}}})
		if err != nil {
			t.Fatal(err)
		}
		job = wait(t, op, job.ID)
		if job.State != api.StateCompleted || job.Provider != dear {
			t.Fatalf("job ended %s on %s (%+v), want completed on node-2", job.State, who[job.Provider], job.Error)
		}
		for _, a := range job.Attempts {
			if slices.Contains(a.Invitees, cheap) {
				t.Errorf("attempt %d invited the denied node-1", a.Number)
			}
		}
		if job.Placement == nil || !slices.Equal(job.Placement.Deny, []string{cheap}) {
			t.Errorf("job shows placement %+v, want node-1 denied", job.Placement)
		}
	})

	t.Run("an allow list keeps the job on it", func(t *testing.T) {
		job, err := op.Submit(ctx, api.SubmitRequest{Module: hello, MaxPrice: 500, Placement: &api.Placement{Allow: []string{dear}}})
		if err != nil {
			t.Fatal(err)
		}
		job = wait(t, op, job.ID)
		if job.State != api.StateCompleted || job.Provider != dear || !slices.Equal(job.Attempts[0].Invitees, []string{dear}) {
			t.Fatalf("job ended %s on %s, invited %v; want only node-2", job.State, who[job.Provider], job.Attempts[0].Invitees)
		}
		for _, b := range job.Attempts[0].Bids {
			if b.Provider != dear {
				t.Errorf("a bid from %s, outside the allow list, reached the auction", who[b.Provider])
			}
		}
		waitFor(t, 10*time.Second, "node-1's unasked bid dropped for the placement", func() bool {
			st, err := op.Status(ctx)
			return err == nil && st.Dropped["bid/placement"] > 0
		})
	})

	t.Run("a local job runs on this node's own provider, though another is cheaper", func(t *testing.T) {
		self := d.Nodes[0].ID()
		job, err := op.Submit(ctx, api.SubmitRequest{Module: hello, Stdin: &api.BlobRef{Text: "here"}, MaxPrice: 500,
			Placement: &api.Placement{Local: true}})
		if err != nil {
			t.Fatal(err)
		}
		job = wait(t, op, job.ID)
		if job.State != api.StateCompleted || job.Provider != self {
			t.Fatalf("job ended %s on %s (%+v), want completed on node-0 itself", job.State, who[job.Provider], job.Error)
		}
		for _, a := range job.Attempts {
			if !slices.Equal(a.Invitees, []string{self}) {
				t.Errorf("attempt %d invited %v, want node-0 alone", a.Number, a.Invitees)
			}
		}
		res, err := op.Result(ctx, job.ID)
		if err != nil || res.Stdout.Text != "hello from hayek\nhere" {
			t.Fatalf("result %+v (%v)", res.Stdout, err)
		}
		if st := job.Settlement; st == nil || st.Paid != 0 || len(st.Receipts) != 0 || st.Released != st.Held {
			t.Errorf("settlement %+v: a local run pays nobody and releases its whole hold", st)
		}
	})

	t.Run("quotes follow the placement", func(t *testing.T) {
		q, err := op.Quote(ctx, api.SubmitRequest{Module: hello, MaxPrice: 500, Placement: &api.Placement{Deny: []string{cheap}}})
		if err != nil {
			t.Fatal(err)
		}
		if q.Reasons["placement"] != 1 || q.WouldBid != 1 {
			t.Errorf("quote with node-1 denied: %+v, want node-1 left out for its placement and node-2 bidding", q)
		}
		q, err = op.Quote(ctx, api.SubmitRequest{Module: hello, MaxPrice: 500, Placement: &api.Placement{Local: true}})
		if err != nil {
			t.Fatal(err)
		}
		if q.Found != 1 || q.WouldBid != 1 || len(q.Providers) != 1 || q.Providers[0].Provider != d.Nodes[0].ID() {
			t.Errorf("local quote: %+v, want node-0 alone, bidding", q)
		}
	})

	tok, err := op.CreateAgent(ctx, api.AgentCreate{Name: "bot", Budget: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	bot := api.NewClient(d.Sockets[0], api.WithToken(tok.Token))
	refused := func(t *testing.T, req api.SubmitRequest, rule string) {
		t.Helper()
		_, err := bot.Submit(ctx, req)
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Code != api.CodePolicy || len(ae.Fields) != 1 || ae.Fields[0].Field != rule {
			t.Fatalf("submit: %v, want %s naming %s", err, api.CodePolicy, rule)
		}
	}

	t.Run("the agent's policy refuses what it forbids, naming the rule", func(t *testing.T) {
		a, err := op.SetAgentPolicy(ctx, "bot", api.AgentPolicy{Capabilities: []string{"gpu/nvidia/h100"}, MaxPrice: 100, MaxInput: 4})
		if err != nil {
			t.Fatal(err)
		}
		if a.Policy == nil || a.Policy.MaxPrice != 100 {
			t.Fatalf("agent shows policy %+v", a.Policy)
		}
		refused(t, api.SubmitRequest{Module: hello, MaxPrice: 50}, "policy.capabilities")
		if _, err := op.SetAgentPolicy(ctx, "bot", api.AgentPolicy{MaxPrice: 100, MaxInput: 4}); err != nil {
			t.Fatal(err)
		}
		refused(t, api.SubmitRequest{Module: hello, MaxPrice: 500}, "policy.max_price")
		refused(t, api.SubmitRequest{Module: hello, MaxPrice: 50, Stdin: &api.BlobRef{Text: "too much"}}, "policy.max_input")
		refused(t, api.SubmitRequest{Module: hello, MaxPrice: 50, Verify: "replicate:2", Placement: &api.Placement{Local: true}}, "placement.local")
		if a, _ := bot.Agent(ctx, "me"); a.Held != 0 || a.BudgetLeft != 10_000 {
			t.Errorf("refused jobs held money: %+v", a)
		}
		es, err := op.Ledger(ctx, api.LedgerFilter{Kind: "governance"})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range es {
			if strings.Contains(string(e.Body), `"agent_policy"`) && strings.Contains(string(e.Body), `"bot"`) {
				n++
			}
		}
		if n != 2 {
			t.Errorf("%d agent_policy entries for bot in the ledger, want 2", n)
		}
	})

	t.Run("the agent's deny list joins the job's", func(t *testing.T) {
		if _, err := op.SetAgentPolicy(ctx, "bot", api.AgentPolicy{Placement: api.Placement{Deny: []string{cheap}}}); err != nil {
			t.Fatal(err)
		}
		refused(t, api.SubmitRequest{Module: hello, MaxPrice: 50, Placement: &api.Placement{Allow: []string{cheap}}}, "placement.deny")
		job, err := bot.Submit(ctx, api.SubmitRequest{Module: hello, MaxPrice: 500})
		if err != nil {
			t.Fatal(err)
		}
		if job = wait(t, bot, job.ID); job.State != api.StateCompleted || job.Provider != dear {
			t.Fatalf("job ended %s on %s, want completed on node-2", job.State, who[job.Provider])
		}
	})
}
