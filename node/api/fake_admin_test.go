package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/hayek-market/hayek/node/api"
)

// fakeAdmin is the fake's agents, approvals, ledger and reputation: just
// enough state to check what the server passes and returns.
type fakeAdmin struct {
	tokens  map[string]string // token → agent
	agents  map[string]*api.Agent
	callers []api.Caller // the caller of every Backend and Admin call, in order
	filter  api.LedgerFilter
	deep    bool
	settled api.Settle
	repPeer string
	// export writes these lines; with exportFail, it fails after
	// exportFailAt of them; before each line past the first it waits on
	// exportGate if set.
	export       []string
	exportFail   bool
	exportFailAt int
	exportGate   chan struct{}
}

var _ api.Admin = (*fake)(nil)

func newFakeAdmin() fakeAdmin {
	return fakeAdmin{
		tokens: map[string]string{},
		agents: map[string]*api.Agent{api.OperatorAgent: {Name: api.OperatorAgent, Funded: 1000, BudgetLeft: 1000}},
	}
}

// saw records the caller a call got in its context.
func (f *fake) saw(ctx context.Context) {
	f.mu.Lock()
	f.adm.callers = append(f.adm.callers, api.CallerFrom(ctx))
	f.mu.Unlock()
}

// lastCaller is the caller of the latest call.
func (f *fake) lastCaller() api.Caller {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.adm.callers) == 0 {
		return api.Caller{}
	}
	return f.adm.callers[len(f.adm.callers)-1]
}

// addAgent creates an agent with token "tok-<name>".
func (f *fake) addAgent(name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	tok := "tok-" + name
	f.adm.tokens[tok] = name
	f.adm.agents[name] = &api.Agent{Name: name, Funded: 100, BudgetLeft: 100}
	return tok
}

func (f *fake) Authenticate(ctx context.Context, token string) (api.Caller, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name, ok := f.adm.tokens[token]
	if !ok || f.adm.agents[name].Revoked {
		return api.Caller{}, api.Errorf(api.CodeUnauthorized, "unknown or revoked token")
	}
	return api.Caller{Agent: name}, nil
}

func (f *fake) CreateAgent(ctx context.Context, req api.AgentCreate) (api.AgentToken, error) {
	f.saw(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.adm.agents[req.Name]; ok {
		return api.AgentToken{}, api.Errorf(api.CodeBadRequest, "agent %q exists", req.Name)
	}
	tok := "tok-" + req.Name
	f.adm.tokens[tok] = req.Name
	f.adm.agents[req.Name] = &api.Agent{Name: req.Name, Funded: req.Budget, BudgetLeft: req.Budget,
		MaxJobPrice: req.MaxJobPrice, ApproveAbove: req.ApproveAbove, RatePerHour: req.RatePerHour}
	return api.AgentToken{Name: req.Name, Token: tok}, nil
}

func (f *fake) Agents(ctx context.Context) ([]api.Agent, error) {
	f.saw(ctx)
	return nil, nil // the server must answer []
}

func (f *fake) Agent(ctx context.Context, name string) (api.Agent, error) {
	f.saw(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.adm.agents[name]
	if !ok {
		return api.Agent{}, api.Errorf(api.CodeNotFound, "no agent %q", name)
	}
	return *a, nil
}

func (f *fake) FundAgent(ctx context.Context, name string, fu api.Fund) (api.Agent, error) {
	f.saw(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.adm.agents[name]
	if !ok {
		return api.Agent{}, api.Errorf(api.CodeNotFound, "no agent %q", name)
	}
	a.Funded += fu.Amount
	a.BudgetLeft += fu.Amount
	return *a, nil
}

func (f *fake) RevokeAgent(ctx context.Context, name string) (api.Agent, error) {
	f.saw(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.adm.agents[name]
	if !ok {
		return api.Agent{}, api.Errorf(api.CodeNotFound, "no agent %q", name)
	}
	a.Revoked = true
	return *a, nil
}

// awaitApproval puts job id in the approval state.
func (f *fake) awaitApproval(id string) {
	f.emit(id, api.Event{Type: "state", State: api.StateApproval})
}

func (f *fake) decide(ctx context.Context, id string, d api.Decision, to api.JobState) (api.Job, error) {
	f.saw(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.get(id)
	if err != nil {
		return api.Job{}, err
	}
	if j.job.State != api.StateApproval {
		return api.Job{}, api.Errorf(api.CodeNotApproval, "job %s is %s", id, j.job.State)
	}
	if to == api.StateFailed {
		j.job.Error = &api.JobError{Code: "rejected", Message: d.Reason}
	}
	f.emitLocked(j, api.Event{Type: "state", State: to, Message: d.Reason})
	return j.job, nil
}

func (f *fake) Approve(ctx context.Context, id string, d api.Decision) (api.Job, error) {
	return f.decide(ctx, id, d, api.StatePending)
}

func (f *fake) Reject(ctx context.Context, id string, d api.Decision) (api.Job, error) {
	return f.decide(ctx, id, d, api.StateFailed)
}

func (f *fake) Ledger(ctx context.Context, flt api.LedgerFilter) ([]api.LedgerEntry, error) {
	f.saw(ctx)
	f.mu.Lock()
	f.adm.filter = flt
	f.mu.Unlock()
	if flt.Kind == "checkpoint" {
		return nil, nil // the server must answer []
	}
	return []api.LedgerEntry{{Seq: flt.After + 1, CID: "bafyE", Time: time.Unix(1, 0).UTC(), Kind: "fund",
		Body: json.RawMessage(`{"agent":"alice","amount":5}`)}}, nil
}

func (f *fake) LedgerBalance(ctx context.Context) (api.Balance, error) {
	f.saw(ctx)
	return api.Balance{Head: "bafyH", Seq: 9, Funded: 10, Budgets: 7, Held: 1, Paid: 2}, nil
}

func (f *fake) VerifyLedger(ctx context.Context, deep bool) (api.VerifyReport, error) {
	f.saw(ctx)
	f.mu.Lock()
	f.adm.deep = deep
	f.mu.Unlock()
	return api.VerifyReport{OK: true, Entries: 9, Deep: deep}, nil
}

func (f *fake) ExportLedger(ctx context.Context, w io.Writer) error {
	f.saw(ctx)
	f.mu.Lock()
	lines, fail, failAt, gate := f.adm.export, f.adm.exportFail, f.adm.exportFailAt, f.adm.exportGate
	f.mu.Unlock()
	for i, l := range lines {
		if fail && i == failAt {
			return fmt.Errorf("disk on fire after %d lines", i)
		}
		if gate != nil && i > 0 {
			select {
			case <-gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if _, err := io.WriteString(w, l+"\n"); err != nil {
			return err
		}
	}
	if fail && failAt >= len(lines) {
		return fmt.Errorf("disk on fire after %d lines", len(lines))
	}
	return nil
}

func (f *fake) SettleDebt(ctx context.Context, s api.Settle) (api.LedgerEntry, error) {
	f.saw(ctx)
	f.mu.Lock()
	f.adm.settled = s
	f.mu.Unlock()
	return api.LedgerEntry{Seq: 10, Kind: "settle", Body: json.RawMessage(`{"peer":"` + s.Peer + `"}`)}, nil
}

func (f *fake) Reputation(ctx context.Context, peer string) ([]api.RepRow, error) {
	f.saw(ctx)
	f.mu.Lock()
	f.adm.repPeer = peer
	f.mu.Unlock()
	if peer == "" {
		return nil, nil
	}
	return []api.RepRow{{Peer: peer, Capability: "runtime/wasm", Alpha: 3, Beta: 1, Mean: 0.75, LowerBound: 0.3}}, nil
}

// backendOnly hides the fake's Admin methods: a node without agents,
// ledger or reputation.
type backendOnly struct{ api.Backend }
