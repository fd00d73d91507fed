package apitest

import (
	"cmp"
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/hayek-market/hayek/node/api"
)

// agent is an account and the request that created it.
type agent struct {
	api.Agent
	req api.AgentCreate
}

// charge holds a job's max cost (max price × replicas) against its agent,
// as the node does, and says whether the job must wait for approval. f.mu
// is held.
func (f *Node) charge(name string, req api.SubmitRequest) (approval bool, err error) {
	a, ok := f.agents[name]
	if !ok {
		return false, api.Errorf(api.CodeUnauthorized, "no agent %q", name)
	}
	cost := req.MaxPrice
	if k, ok := strings.CutPrefix(req.Verify, "replicate:"); ok {
		var n int64
		fmt.Sscan(k, &n)
		cost *= n
	}
	if a.req.MaxJobPrice > 0 && req.MaxPrice > a.req.MaxJobPrice {
		return false, api.Errorf(api.CodeOverLimit, "max price %d is above agent %s's max job price %d", req.MaxPrice, name, a.req.MaxJobPrice)
	}
	if cost > a.BudgetLeft {
		return false, api.Errorf(api.CodeBudgetExceeded, "the job may cost %d; agent %s has %d left", cost, name, a.BudgetLeft)
	}
	a.BudgetLeft -= cost
	a.Held += cost
	return a.req.ApproveAbove > 0 && cost > a.req.ApproveAbove, nil
}

// AddAgent creates an agent, as CreateAgent does but without a caller, and
// returns its token.
func (f *Node) AddAgent(req api.AgentCreate) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	tok, err := f.createAgentLocked(req)
	if err != nil {
		panic(fmt.Sprintf("apitest: AddAgent: %v", err))
	}
	return tok.Token
}

// AgentRequest is the request that created agent name; zero for the
// operator and for agents that do not exist.
func (f *Node) AgentRequest(name string) api.AgentCreate {
	f.mu.Lock()
	defer f.mu.Unlock()
	if a, ok := f.agents[name]; ok {
		return a.req
	}
	return api.AgentCreate{}
}

func (f *Node) Authenticate(ctx context.Context, token string) (api.Caller, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name, ok := f.tokens[token]
	if !ok || f.agents[name].Revoked {
		return api.Caller{}, api.Errorf(api.CodeUnauthorized, "unknown or revoked token")
	}
	return api.Caller{Agent: name}, nil
}

func (f *Node) CreateAgent(ctx context.Context, req api.AgentCreate) (api.AgentToken, error) {
	f.saw(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.createAgentLocked(req)
}

func (f *Node) createAgentLocked(req api.AgentCreate) (api.AgentToken, error) {
	if _, ok := f.agents[req.Name]; ok {
		return api.AgentToken{}, api.Errorf(api.CodeExists, "agent %s exists already; fund it with hayek agent fund %s N", req.Name, req.Name)
	}
	tok := fmt.Sprintf(f.tokenFormat, req.Name)
	f.tokens[tok] = req.Name
	f.agents[req.Name] = &agent{req: req, Agent: api.Agent{Name: req.Name, Funded: req.Budget, BudgetLeft: req.Budget,
		MaxJobPrice: req.MaxJobPrice, ApproveAbove: req.ApproveAbove, RatePerHour: req.RatePerHour}}
	f.appendLocked("governance", fmt.Sprintf(`{"action":"agent_create","agent":%q,"token_hash":"c2VjcmV0","detail":""}`, req.Name))
	return api.AgentToken{Name: req.Name, Token: tok}, nil
}

func (f *Node) Agents(ctx context.Context) ([]api.Agent, error) {
	f.saw(ctx)
	if f.canned {
		return nil, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []api.Agent
	for _, a := range f.agents {
		out = append(out, a.Agent)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *Node) Agent(ctx context.Context, name string) (api.Agent, error) {
	return f.changeAgent(ctx, name, nil)
}

func (f *Node) FundAgent(ctx context.Context, name string, fu api.Fund) (api.Agent, error) {
	return f.changeAgent(ctx, name, func(a *agent) {
		a.Funded += fu.Amount
		a.BudgetLeft += fu.Amount
		f.appendLocked("fund", fmt.Sprintf(`{"agent":%q,"amount":%d,"note":%q}`, name, fu.Amount, fu.Note))
	})
}

func (f *Node) RevokeAgent(ctx context.Context, name string) (api.Agent, error) {
	return f.changeAgent(ctx, name, func(a *agent) { a.Revoked = true })
}

// changeAgent applies change, if any, to agent name and returns the agent.
func (f *Node) changeAgent(ctx context.Context, name string, change func(*agent)) (api.Agent, error) {
	f.saw(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.agents[name]
	if !ok {
		return api.Agent{}, api.Errorf(api.CodeNotFound, "no agent %q", name)
	}
	if change != nil {
		change(a)
	}
	return a.Agent, nil
}

func (f *Node) Approve(ctx context.Context, id string, d api.Decision) (api.Job, error) {
	return f.decide(ctx, id, d, true)
}

func (f *Node) Reject(ctx context.Context, id string, d api.Decision) (api.Job, error) {
	return f.decide(ctx, id, d, false)
}

func (f *Node) decide(ctx context.Context, id string, d api.Decision, approve bool) (api.Job, error) {
	f.saw(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.find(id)
	if err != nil {
		return api.Job{}, err
	}
	if j.job.State != api.StateApproval {
		return api.Job{}, api.Errorf(api.CodeNotApproval, "job %s is %s, not waiting for approval", id, j.job.State)
	}
	if !approve {
		j.job.Error = &api.JobError{Code: "rejected", Message: cmp.Or(d.Reason, "rejected by the operator")}
		f.emitLocked(j, api.Event{Type: "state", State: api.StateFailed, Reason: "rejected", Message: j.job.Error.Message})
		return j.job, nil
	}
	f.emitLocked(j, api.Event{Type: "state", State: api.StatePending, Message: "approved"})
	j.begin()
	return j.job, nil
}
