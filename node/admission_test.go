package node

import (
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hayek-market/hayek/internal/samples"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/api/apitest"
)

// TestAdmissionIsOneDecision: parallel submissions by one agent cannot all
// pass a rate or budget check only some of them should; prices whose hold
// would overflow are refused as invalid (422) naming max_price, never
// wrapped into a small hold that skips approval.
func TestAdmissionIsOneDecision(t *testing.T) {
	d := startDevnet(t, 1, nil)
	ctx := t.Context()
	op := api.NewClient(d.Sockets[0])
	hello := api.BlobRef{Base64: b64(samples.Hello)}

	t.Run("rate", func(t *testing.T) {
		tok, err := op.CreateAgent(ctx, api.AgentCreate{Name: "burst", Budget: 1 << 40, RatePerHour: 5})
		if err != nil {
			t.Fatal(err)
		}
		bot := api.NewClient(d.Sockets[0], api.WithToken(tok.Token))
		var ok, limited atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < 200; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := bot.Submit(ctx, api.SubmitRequest{Module: hello, MaxPrice: 10})
				switch {
				case err == nil:
					ok.Add(1)
				case api.IsCode(err, api.CodeOverLimit):
					limited.Add(1)
				default:
					t.Errorf("submission: %v", err)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 5 || limited.Load() != 195 {
			t.Fatalf("rate 5/hour, 200 parallel submissions: %d accepted, %d refused; want 5 and 195", ok.Load(), limited.Load())
		}
	})

	t.Run("budget", func(t *testing.T) {
		// Jobs above the approval threshold wait with their hold placed,
		// so the holds of accepted jobs add up.
		tok, err := op.CreateAgent(ctx, api.AgentCreate{Name: "spender", Budget: 1000, ApproveAbove: 100})
		if err != nil {
			t.Fatal(err)
		}
		bot := api.NewClient(d.Sockets[0], api.WithToken(tok.Token))
		var ok atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := bot.Submit(ctx, api.SubmitRequest{Module: hello, MaxPrice: 300}); err == nil {
					ok.Add(1)
				} else if !api.IsCode(err, api.CodeBudgetExceeded) {
					t.Errorf("submission: %v", err)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 3 {
			t.Fatalf("budget 1000, 50 parallel jobs holding 300: %d accepted, want 3", ok.Load())
		}
	})

	t.Run("overflow", func(t *testing.T) {
		tok, err := op.CreateAgent(ctx, api.AgentCreate{Name: "wrapper", Budget: 100, ApproveAbove: 50})
		if err != nil {
			t.Fatal(err)
		}
		bot := api.NewClient(d.Sockets[0], api.WithToken(tok.Token))
		for _, tc := range []struct {
			price  int64
			verify string
		}{
			{2049638230412172402, "replicate:6"}, // × 9 runs wraps to 2
			{2305843009213693951, "replicate:3"},
			{math.MaxInt64, "none"},
			{market.MaxPriceCap + 1, "none"},
		} {
			_, err := bot.Submit(ctx, api.SubmitRequest{Module: hello, MaxPrice: tc.price, Verify: tc.verify})
			var ae *api.Error
			if !errors.As(err, &ae) || ae.Code != api.CodeInvalidSpec || len(ae.Fields) == 0 || ae.Fields[0].Field != "max_price" {
				t.Errorf("max_price %d with %s: %v; want invalid_spec naming max_price", tc.price, tc.verify, err)
			}
		}
		if a, _ := op.Agent(ctx, "wrapper"); a.Held != 0 || a.BudgetLeft != 100 {
			t.Fatalf("after refused submissions: held %d, left %d; want 0 and 100", a.Held, a.BudgetLeft)
		}
	})
}

// TestMoneyOverflowIsAFieldError: funding an agent past what the ledger can
// hold is a 422 naming the field and the largest amount that fits, never
// a 500, and nothing changes.
func TestMoneyOverflowIsAFieldError(t *testing.T) {
	d := startDevnet(t, 1, nil)
	ctx := t.Context()
	op := api.NewClient(d.Sockets[0])
	if _, err := op.CreateAgent(ctx, api.AgentCreate{Name: "rich", Budget: 1}); err != nil {
		t.Fatal(err)
	}
	_, err := op.FundAgent(ctx, "rich", api.Fund{Amount: math.MaxInt64})
	var ae *api.Error
	if !errors.As(err, &ae) || ae.HTTPStatus() != 422 || ae.Code != api.CodeOutOfRange || len(ae.Fields) != 1 || ae.Fields[0].Field != "amount" {
		t.Fatalf("fund MaxInt64: %v; want 422 out_of_range naming amount", err)
	}
	if a, _ := op.Agent(ctx, "rich"); a.Funded != 1 {
		t.Fatalf("after the refused fund the agent has %d funded, want 1", a.Funded)
	}
	_, err = op.CreateAgent(ctx, api.AgentCreate{Name: "richer", Budget: math.MaxInt64})
	if !errors.As(err, &ae) || ae.Code != api.CodeOutOfRange || ae.Fields[0].Field != "budget" {
		t.Fatalf("create with budget MaxInt64: %v; want out_of_range naming budget", err)
	}
}

// TestBadRequestsGetClearErrors runs the API's table of bad requests
// against a real node: each gets its 4xx status, code and field, never a
// 500.
func TestBadRequestsGetClearErrors(t *testing.T) {
	d := startDevnet(t, 1, nil)
	apitest.CheckBadRequests(t, d.Sockets[0])
}
