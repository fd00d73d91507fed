package agents

import (
	"testing"
	"time"

	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
)

// Admission: an agent's caps, its budget and its approval threshold, each
// decided against the ledger, and the hold of an admitted job's max cost.
func TestAdmit(t *testing.T) {
	r := newRig(t)
	ctx := t.Context()
	r.agent(t, api.AgentCreate{Name: "capped", Budget: 1000, MaxJobPrice: 100, ApproveAbove: 150})
	r.agent(t, api.AgentCreate{Name: "poor", Budget: 50})
	r.agent(t, api.AgentCreate{Name: "gone", Budget: 1000})
	if _, err := r.s.RevokeAgent(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	replicated := spec(100, "replicate:2")
	runs, err := replicated.MaxCost()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, agent string
		spec        market.JobSpec
		hold        int64
		approval    bool
		code        string
	}{
		{name: "within the caps", agent: "capped", spec: spec(100, ""), hold: 100},
		{name: "above the max job price", agent: "capped", spec: spec(101, ""), code: api.CodeOverLimit},
		{name: "replicas raise the hold above the approval threshold", agent: "capped", spec: replicated, hold: runs, approval: true},
		{name: "over the budget", agent: "poor", spec: spec(60, ""), code: api.CodeBudgetExceeded},
		{name: "the budget exactly", agent: "poor", spec: spec(50, ""), hold: 50},
		{name: "revoked", agent: "gone", spec: spec(10, ""), code: api.CodeUnauthorized},
		{name: "unknown", agent: "nobody", spec: spec(10, ""), code: api.CodeUnauthorized},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := "job-" + c.name
			hold, approval, err := r.s.Admit(ctx, id, c.agent, c.spec, r.now)
			if got := code(err); got != c.code {
				t.Fatalf("error code %q (%v), want %q", got, err, c.code)
			}
			h, held := r.ledger.Hold(id)
			if c.code != "" {
				if held {
					t.Fatalf("a refused job holds %+v", h)
				}
				return
			}
			if hold != c.hold || approval != c.approval {
				t.Fatalf("hold %d approval %v, want %d %v", hold, approval, c.hold, c.approval)
			}
			if !held || h.Amount != c.hold || h.Agent != c.agent {
				t.Fatalf("the ledger holds %+v (%v), want %d for %s", h, held, c.hold, c.agent)
			}
		})
	}
}

// The rate cap counts admitted jobs of the last hour only: refusals do
// not use it up, and an hour later the agent may submit again.
func TestAdmitRate(t *testing.T) {
	r := newRig(t)
	ctx := t.Context()
	r.agent(t, api.AgentCreate{Name: "paced", Budget: 1000, RatePerHour: 2, MaxJobPrice: 100})
	admit := func(id string, price int64) string {
		_, _, err := r.s.Admit(ctx, id, "paced", spec(price, ""), r.now)
		return code(err)
	}
	if got := admit("a", 10); got != "" {
		t.Fatalf("first job: %s", got)
	}
	if got := admit("refused", 1000); got != api.CodeOverLimit {
		t.Fatalf("a job above the max job price: %q", got)
	}
	if got := admit("b", 10); got != "" {
		t.Fatalf("second job (the refused one must not count): %s", got)
	}
	if got := admit("c", 10); got != api.CodeOverLimit {
		t.Fatalf("third job within the hour: %q, want %s", got, api.CodeOverLimit)
	}
	if a, _ := r.s.Agent(ctx, "paced"); a.JobsLastHour != 2 {
		t.Fatalf("jobs last hour %d, want 2", a.JobsLastHour)
	}
	r.now = r.now.Add(time.Hour + time.Millisecond)
	if got := admit("d", 10); got != "" {
		t.Fatalf("an hour later: %s", got)
	}
}

// Agents' calls: only the operator manages agents; a token authenticates
// its agent until it is revoked, and revoking cancels the agent's jobs.
func TestAgentCalls(t *testing.T) {
	r := newRig(t)
	ctx := t.Context()
	tok := r.agent(t, api.AgentCreate{Name: "bot", Budget: 10})
	as := asAgent(ctx, "bot")
	for name, err := range map[string]error{
		"create": func() error { _, err := r.s.CreateAgent(as, api.AgentCreate{Name: "other"}); return err }(),
		"fund":   func() error { _, err := r.s.FundAgent(as, "bot", api.Fund{Amount: 5}); return err }(),
		"policy": func() error { _, err := r.s.SetAgentPolicy(as, "bot", api.AgentPolicy{MaxPrice: 1}); return err }(),
		"list":   func() error { _, err := r.s.Agents(as); return err }(),
		"other":  func() error { _, err := r.s.Agent(as, api.OperatorAgent); return err }(),
	} {
		if got := code(err); got != api.CodeForbidden {
			t.Errorf("an agent's %s: %q, want %s", name, got, api.CodeForbidden)
		}
	}
	if me, err := r.s.Agent(as, "me"); err != nil || me.Name != "bot" || me.BudgetLeft != 10 {
		t.Fatalf("an agent's own account: %+v, %v", me, err)
	}
	if _, err := r.s.CreateAgent(ctx, api.AgentCreate{Name: "bot"}); code(err) != api.CodeExists {
		t.Fatalf("a second bot: %v", err)
	}
	if c, err := r.s.Authenticate(ctx, tok); err != nil || c.Agent != "bot" {
		t.Fatalf("the token authenticates %+v, %v", c, err)
	}
	if _, err := r.s.Authenticate(ctx, tok+"x"); code(err) != api.CodeUnauthorized {
		t.Fatalf("a wrong token: %v", err)
	}
	if _, err := r.s.RevokeAgent(ctx, "bot"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.s.Authenticate(ctx, tok); code(err) != api.CodeUnauthorized {
		t.Fatalf("a revoked token: %v", err)
	}
	if len(r.revoked) != 1 || r.revoked[0] != "bot" {
		t.Fatalf("revoking cancelled the jobs of %v", r.revoked)
	}
	if _, err := r.s.RevokeAgent(ctx, api.OperatorAgent); code(err) != api.CodeBadRequest {
		t.Fatalf("revoking the operator: %v", err)
	}
}
