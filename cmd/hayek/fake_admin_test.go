package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hayek-market/hayek/node/api"
)

// fakeAdmin is the fake node's agents, ledger and reputation. The fakeNode
// mutex guards it.
type fakeAdmin struct {
	tokens      map[string]string // token → agent
	agents      map[string]*fakeAgent
	entries     []api.LedgerEntry
	export      string // what ExportLedger writes
	verify      api.VerifyReport
	settled     []api.Settle
	rep         []api.RepRow
	misbehaving []string
	balanceOff  int64 // added to Funded, to break the invariant
}

type fakeAgent struct {
	api.Agent
	limits api.AgentCreate
}

var _ api.Admin = (*fakeNode)(nil)

func newFakeAdmin() fakeAdmin {
	return fakeAdmin{
		tokens: map[string]string{},
		agents: map[string]*fakeAgent{api.OperatorAgent: {Agent: api.Agent{Name: api.OperatorAgent, Funded: 1_000_000, BudgetLeft: 1_000_000}}},
		verify: api.VerifyReport{OK: true, Entries: 12, Checkpoints: 3, Head: "bafyheadHHHH", Seq: 12},
	}
}

// charge holds a job's max price against its agent, as the node does, and
// says whether the job must wait for approval.
func (a *fakeAdmin) charge(agent string, req api.SubmitRequest) (approval bool, err error) {
	ag, ok := a.agents[agent]
	if !ok {
		return false, api.Errorf(api.CodeUnauthorized, "no agent %q", agent)
	}
	cost := req.MaxPrice
	if k, ok := strings.CutPrefix(req.Verify, "replicate:"); ok {
		var n int64
		fmt.Sscan(k, &n)
		cost *= n
	}
	if ag.limits.MaxJobPrice > 0 && req.MaxPrice > ag.limits.MaxJobPrice {
		return false, api.Errorf(api.CodeOverLimit, "max price %d is above agent %s's max job price %d", req.MaxPrice, agent, ag.limits.MaxJobPrice)
	}
	if cost > ag.BudgetLeft {
		return false, api.Errorf(api.CodeBudgetExceeded, "the job may cost %d; agent %s has %d left", cost, agent, ag.BudgetLeft)
	}
	ag.BudgetLeft -= cost
	ag.Held += cost
	return ag.limits.ApproveAbove > 0 && cost > ag.limits.ApproveAbove, nil
}

// addAgent creates an agent and returns its token.
func (f *fakeNode) addAgent(req api.AgentCreate) string {
	tok, err := f.CreateAgent(context.Background(), req)
	if err != nil {
		panic(err)
	}
	return tok.Token
}

func (f *fakeNode) Authenticate(ctx context.Context, token string) (api.Caller, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name, ok := f.adm.tokens[token]
	if !ok || f.adm.agents[name].Revoked {
		return api.Caller{}, api.Errorf(api.CodeUnauthorized, "unknown or revoked token")
	}
	return api.Caller{Agent: name}, nil
}

func (f *fakeNode) CreateAgent(ctx context.Context, req api.AgentCreate) (api.AgentToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.adm.agents[req.Name]; ok {
		return api.AgentToken{}, api.Errorf(api.CodeIdempotencyUsed, "agent %s exists already; fund it with hayek agent fund %s N", req.Name, req.Name)
	}
	tok := "hk_" + req.Name + "_secret"
	f.adm.tokens[tok] = req.Name
	f.adm.agents[req.Name] = &fakeAgent{limits: req, Agent: api.Agent{Name: req.Name, Funded: req.Budget, BudgetLeft: req.Budget,
		MaxJobPrice: req.MaxJobPrice, ApproveAbove: req.ApproveAbove, RatePerHour: req.RatePerHour}}
	f.appendLocked("governance", fmt.Sprintf(`{"action":"agent_create","agent":%q,"token_hash":"c2VjcmV0","detail":""}`, req.Name))
	return api.AgentToken{Name: req.Name, Token: tok}, nil
}

func (f *fakeNode) appendLocked(kind, body string) {
	n := uint64(len(f.adm.entries) + 1)
	f.adm.entries = append(f.adm.entries, api.LedgerEntry{Seq: n, CID: fmt.Sprintf("bafyentry%d", n),
		Time: time.Date(2026, 3, 1, 12, 0, int(n), 0, time.UTC), Kind: kind, Body: json.RawMessage(body)})
}

func (f *fakeNode) Agents(ctx context.Context) ([]api.Agent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []api.Agent
	for _, a := range f.adm.agents {
		out = append(out, a.Agent)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *fakeNode) Agent(ctx context.Context, name string) (api.Agent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.adm.agents[name]
	if !ok {
		return api.Agent{}, api.Errorf(api.CodeNotFound, "no agent %q", name)
	}
	return a.Agent, nil
}

func (f *fakeNode) FundAgent(ctx context.Context, name string, fu api.Fund) (api.Agent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.adm.agents[name]
	if !ok {
		return api.Agent{}, api.Errorf(api.CodeNotFound, "no agent %q", name)
	}
	a.Funded += fu.Amount
	a.BudgetLeft += fu.Amount
	f.appendLocked("fund", fmt.Sprintf(`{"agent":%q,"amount":%d,"note":%q}`, name, fu.Amount, fu.Note))
	return a.Agent, nil
}

func (f *fakeNode) RevokeAgent(ctx context.Context, name string) (api.Agent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.adm.agents[name]
	if !ok {
		return api.Agent{}, api.Errorf(api.CodeNotFound, "no agent %q", name)
	}
	a.Revoked = true
	return a.Agent, nil
}

func (f *fakeNode) decide(id string, d api.Decision, approve bool) (api.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.get(id)
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
	if j.start != nil {
		j.start()
		j.start = nil
	}
	return j.job, nil
}

func (f *fakeNode) Approve(ctx context.Context, id string, d api.Decision) (api.Job, error) {
	return f.decide(id, d, true)
}

func (f *fakeNode) Reject(ctx context.Context, id string, d api.Decision) (api.Job, error) {
	return f.decide(id, d, false)
}

func (f *fakeNode) Ledger(ctx context.Context, flt api.LedgerFilter) ([]api.LedgerEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []api.LedgerEntry
	for _, e := range f.adm.entries {
		b := string(e.Body)
		if e.Seq <= flt.After || flt.Kind != "" && e.Kind != flt.Kind ||
			flt.Job != "" && !strings.Contains(b, `"`+flt.Job+`"`) || flt.Peer != "" && !strings.Contains(b, `"`+flt.Peer+`"`) {
			continue
		}
		if len(out) == flt.Limit {
			break
		}
		out = append(out, e)
	}
	return out, nil
}

func (f *fakeNode) LedgerBalance(ctx context.Context) (api.Balance, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := api.Balance{Head: "bafyheadHHHH", Seq: uint64(len(f.adm.entries)), Earned: 70,
		Peers: []api.PeerBalance{
			{Peer: "12D3KooWProviderOneAAAAAAAAAAAAAAAAAAAAAAAA11111111", Balance: -120, CreditLimit: 10000},
			{Peer: "12D3KooWRequesterZZZZZZZZZZZZZZZZZZZZZZZZZZZZ99999999", Balance: 70, CreditLimit: 5000},
		}}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range f.adm.agents {
			if !yield(n) {
				return
			}
		}
	}) {
		a := f.adm.agents[name]
		b.Funded += a.Funded
		b.Budgets += a.BudgetLeft
		b.Held += a.Held
		b.Paid += a.Spent
		b.Agents = append(b.Agents, a.Agent)
	}
	for _, id := range f.order {
		if j := f.jobs[id]; !j.job.State.Terminal() {
			b.Holds = append(b.Holds, api.HoldInfo{Job: id, Agent: j.job.Agent, Amount: j.job.MaxPrice, Remaining: j.job.MaxPrice})
		}
	}
	b.Funded += f.adm.balanceOff
	return b, nil
}

func (f *fakeNode) VerifyLedger(ctx context.Context, deep bool) (api.VerifyReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.adm.verify
	r.Deep = deep
	if deep {
		r.Receipts = 2
	}
	return r, nil
}

func (f *fakeNode) ExportLedger(ctx context.Context, w io.Writer) error {
	f.mu.Lock()
	export := f.adm.export
	f.mu.Unlock()
	_, err := io.WriteString(w, export)
	return err
}

func (f *fakeNode) SettleDebt(ctx context.Context, s api.Settle) (api.LedgerEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s.Amount > 70 {
		return api.LedgerEntry{}, api.Errorf(api.CodeBadRequest, "settlement of %d exceeds the debt of 70", s.Amount)
	}
	f.adm.settled = append(f.adm.settled, s)
	f.appendLocked("settle", fmt.Sprintf(`{"settle":{"debtor":%q,"creditor":"12D3KooWSelf","amount":%d,"reference":%q},"sig":"c2ln"}`, s.Peer, s.Amount, s.Reference))
	return f.adm.entries[len(f.adm.entries)-1], nil
}

func (f *fakeNode) Reputation(ctx context.Context, peer string) ([]api.RepRow, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []api.RepRow
	for _, r := range f.adm.rep {
		if peer == "" || r.Peer == peer {
			out = append(out, r)
		}
	}
	return out, nil
}
