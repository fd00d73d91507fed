package node

import (
	"strings"
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/samples"
	"github.com/hayek-market/hayek/node/api"
)

// TestQuote asks a devnet of a buyer and two providers (bases 10 and 30)
// what a job would cost: both would bid, at their own prices; below every
// price, the funnel says price; a quote writes nothing to any ledger and
// books nothing, so the job submitted next runs as it would have. Once
// that job is paid for, the cheaper provider's signed answer is a decline:
// its credit limit.
func TestQuote(t *testing.T) {
	d := startDevnet(t, 3, func(i int, c *Config) {
		c.Provider.Sell = i > 0
		c.Provider.Pricing.Base = 10 + 20*int64(i-1)
		if i == 1 {
			// node-1 lets node-0 owe it one job's price, not two.
			c.Settlement.CreditLimit, c.Settlement.CreditMax = 50, 50
		}
	})
	ctx := t.Context()
	c := api.NewClient(d.Sockets[0])
	who := names(d)
	heads := func() []uint64 {
		var out []uint64
		for _, n := range d.Nodes {
			seq, _ := n.ledger.Head()
			out = append(out, seq)
		}
		return out
	}
	before := heads()
	spec := api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)}, Stdin: &api.BlobRef{Text: "quote"}, MaxPrice: 500}

	start := time.Now()
	q, err := c.Quote(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("quote in %v: %+v", time.Since(start), q)
	if q.Found != 2 || q.Fit != 2 || q.Eligible != 2 || q.Asked != 2 || q.Reachable != 2 || q.WouldBid != 2 || len(q.Reasons) != 0 {
		t.Fatalf("funnel %d/%d/%d/%d/%d/%d, reasons %v", q.Found, q.Fit, q.Eligible, q.Asked, q.Reachable, q.WouldBid, q.Reasons)
	}
	prices := map[string]int64{}
	for _, p := range q.Providers {
		if p.Stage != api.StageBid || p.StartWithinMs <= 0 || !p.ExpiresAt.After(q.QuotedAt) {
			t.Fatalf("provider %s: %+v", who[p.Provider], p)
		}
		prices[who[p.Provider]] = p.Price
	}
	if len(prices) != 2 || prices["node-1"] >= prices["node-2"] || q.Price == nil ||
		q.Price.Min != prices["node-1"] || q.Price.Max != prices["node-2"] {
		t.Fatalf("prices %v, range %+v", prices, q.Price)
	}
	if q.StartWithinMs == nil || q.ExpectedStartMs < q.StartWithinMs.Min || !q.ValidUntil.After(q.QuotedAt) {
		t.Fatalf("start %+v expected %d, valid until %v (quoted %v)", q.StartWithinMs, q.ExpectedStartMs, q.ValidUntil, q.QuotedAt)
	}

	cheap := spec
	cheap.MaxPrice = prices["node-1"] - 1
	q, err = c.Quote(ctx, cheap)
	if err != nil {
		t.Fatal(err)
	}
	if q.Found != 2 || q.WouldBid != 0 || q.Reasons["price_floor"] != 2 || q.Price != nil {
		t.Fatalf("below every price: %+v", q)
	}
	for _, p := range q.Providers {
		if p.Reason != "price_floor" || !strings.Contains(p.Detail, "max price") {
			t.Fatalf("provider %s: %+v", who[p.Provider], p)
		}
	}

	if after := heads(); !equalSeqs(before, after) {
		t.Fatalf("quotes wrote to the ledgers: heads %v -> %v", before, after)
	}
	for i, n := range d.Nodes {
		for k, v := range n.Drops() {
			if strings.HasPrefix(k, "quote") {
				t.Errorf("node-%d dropped %d %s", i, v, k)
			}
		}
	}
	job, err := c.Submit(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if job = wait(t, c, job.ID); job.State != api.StateCompleted || who[job.Provider] != "node-1" {
		t.Fatalf("job after quotes: %s on %s (%+v)", job.State, who[job.Provider], job.Error)
	}

	// node-0 owes node-1 for that job now: node-1's signed answer says it
	// would pass its credit limit, and node-2 would still bid.
	q, err = c.Quote(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if q.WouldBid != 1 || q.Reachable != 2 || q.Reasons["requester_limit"] != 1 {
		t.Fatalf("after a paid job: %+v", q)
	}
	for _, p := range q.Providers {
		if who[p.Provider] == "node-1" && (p.Stage != api.StageDeclined || !strings.Contains(p.Detail, "credit limit")) {
			t.Fatalf("node-1 after a paid job: %+v", p)
		}
	}
}

func equalSeqs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
