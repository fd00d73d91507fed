package agents

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/settlement"
)

// Agents are programs that spend through this node. Each has a name, a
// bearer token (stored only as its sha256, in a governance entry), a
// budget (fund entries) and limits; every decision about them is a
// governance entry, so the registry is derived from the ledger.

var agentName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

var tokenEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// admission serialises the admission of each agent's jobs: its rate, its
// budget (the hold) and its approval threshold are one decision, so that
// parallel submissions cannot all pass a check that only one of them
// should. Different agents are admitted in parallel.
type admission struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

func (a *admission) lock(agent string) (unlock func()) {
	a.mu.Lock()
	if a.locks == nil {
		a.locks = map[string]*sync.Mutex{}
	}
	l, ok := a.locks[agent]
	if !ok {
		l = &sync.Mutex{}
		a.locks[agent] = l
	}
	a.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// agentRates counts each agent's submissions of the last hour, for
// rate_per_hour. It lives in memory: after a restart the count starts over.
type agentRates struct {
	mu   sync.Mutex
	seen map[string][]time.Time
}

func (a *agentRates) recent(agent string, now time.Time) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.trim(agent, now))
}

func (a *agentRates) trim(agent string, now time.Time) []time.Time {
	ts := a.seen[agent]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) > time.Hour {
		i++
	}
	ts = ts[i:]
	a.seen[agent] = ts
	return ts
}

// take records a submission if the agent is under its rate.
func (a *agentRates) take(agent string, limit int64, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	ts := a.trim(agent, now)
	if limit > 0 && int64(len(ts)) >= limit {
		return false
	}
	a.seen[agent] = append(ts, now)
	return true
}

// OperatorOnly refuses a call made by any caller but the operator.
func OperatorOnly(ctx context.Context) error {
	if c := api.CallerFrom(ctx); !c.Operator {
		return api.Errorf(api.CodeForbidden, "agent %s may not do this: it is the operator's (use the operator socket)", c.Agent)
	}
	return nil
}

// Authenticate implements api.Admin.
func (s *Service) Authenticate(ctx context.Context, token string) (api.Caller, error) {
	sum := sha256.Sum256([]byte(token))
	for _, a := range s.d.Ledger.Agents() {
		if len(a.TokenHash) == len(sum) && subtle.ConstantTimeCompare(a.TokenHash, sum[:]) == 1 {
			if a.Revoked {
				return api.Caller{}, api.Errorf(api.CodeUnauthorized, "the token of agent %s was revoked", a.Name)
			}
			return api.Caller{Agent: a.Name}, nil
		}
	}
	return api.Caller{}, api.Errorf(api.CodeUnauthorized, "unknown token; the operator creates one with: hayek agent create NAME --budget N")
}

// CreateAgent implements api.Admin.
func (s *Service) CreateAgent(ctx context.Context, req api.AgentCreate) (api.AgentToken, error) {
	if err := OperatorOnly(ctx); err != nil {
		return api.AgentToken{}, err
	}
	if !agentName.MatchString(req.Name) || req.Name == api.OperatorAgent || req.Name == "me" {
		return api.AgentToken{}, api.Errorf(api.CodeBadRequest,
			"agent name %q: use 1 to 32 of a-z 0-9 _ -, starting with a letter or digit (not %q or \"me\")", req.Name, api.OperatorAgent)
	}
	if req.Budget < 0 || req.MaxJobPrice < 0 || req.ApproveAbove < 0 || req.RatePerHour < 0 {
		return api.AgentToken{}, api.Errorf(api.CodeBadRequest, "budget and limits must be ≥ 0")
	}
	if _, ok := s.d.Ledger.Agent(req.Name); ok {
		return api.AgentToken{}, api.Errorf(api.CodeExists, "agent %s exists; fund it with hayek agent fund %s N", req.Name, req.Name)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return api.AgentToken{}, err
	}
	token := "hk_" + tokenEncoding.EncodeToString(raw[:])
	sum := sha256.Sum256([]byte(token))
	drafts := []settlement.Draft{{Kind: settlement.KindGovernance, Body: settlement.Governance{
		Action: "agent_create", Agent: req.Name, TokenHash: sum[:], MaxJobPrice: req.MaxJobPrice,
		ApproveAbove: req.ApproveAbove, RatePerHour: req.RatePerHour}}}
	if req.Budget > 0 {
		drafts = append(drafts, settlement.Draft{Kind: settlement.KindFund, Body: settlement.Fund{Agent: req.Name, Amount: req.Budget, Note: "initial budget"}})
	}
	if _, err := s.d.Ledger.AppendAll(ctx, drafts...); err != nil {
		return api.AgentToken{}, LedgerError(err, "create agent "+req.Name, "budget")
	}
	return api.AgentToken{Name: req.Name, Token: token}, nil
}

func (s *Service) View(a settlement.Account) api.Agent {
	return api.Agent{Name: a.Name, Funded: a.Funded, BudgetLeft: a.Budget, Held: a.Held, Spent: a.Spent,
		MaxJobPrice: a.MaxJobPrice, ApproveAbove: a.ApproveAbove, RatePerHour: a.RatePerHour,
		JobsLastHour: s.rates.recent(a.Name, s.d.Now()), Revoked: a.Revoked, Policy: APIPolicy(a.Policy)}
}

// Agents implements api.Admin.
func (s *Service) Agents(ctx context.Context) ([]api.Agent, error) {
	if err := OperatorOnly(ctx); err != nil {
		return nil, err
	}
	var out []api.Agent
	for _, a := range s.d.Ledger.Agents() {
		out = append(out, s.View(a))
	}
	return out, nil
}

// Agent implements api.Admin; "me" names the caller.
func (s *Service) Agent(ctx context.Context, name string) (api.Agent, error) {
	c := api.CallerFrom(ctx)
	if name == "me" {
		name = c.Agent
	}
	if !c.Operator && name != c.Agent {
		return api.Agent{}, api.Errorf(api.CodeForbidden, "agent %s may read only its own account (GET /v1/agents/me)", c.Agent)
	}
	a, ok := s.d.Ledger.Agent(name)
	if !ok {
		return api.Agent{}, api.Errorf(api.CodeNotFound, "no agent %s (hayek agent list shows them)", name)
	}
	return s.View(a), nil
}

// FundAgent implements api.Admin.
func (s *Service) FundAgent(ctx context.Context, name string, f api.Fund) (api.Agent, error) {
	if err := OperatorOnly(ctx); err != nil {
		return api.Agent{}, err
	}
	if f.Amount <= 0 {
		return api.Agent{}, api.Errorf(api.CodeBadRequest, "amount must be > 0")
	}
	if _, ok := s.d.Ledger.Agent(name); !ok {
		return api.Agent{}, api.Errorf(api.CodeNotFound, "no agent %s; create it with hayek agent create %s --budget N", name, name)
	}
	if _, err := s.d.Ledger.Append(ctx, settlement.KindFund, settlement.Fund{Agent: name, Amount: f.Amount, Note: f.Note}); err != nil {
		return api.Agent{}, LedgerError(err, "fund "+name, "amount")
	}
	return s.Agent(ctx, name)
}

// RevokeAgent implements api.Admin: the token stops working, the agent's
// unfinished jobs are cancelled and their holds released.
func (s *Service) RevokeAgent(ctx context.Context, name string) (api.Agent, error) {
	if err := OperatorOnly(ctx); err != nil {
		return api.Agent{}, err
	}
	if name == api.OperatorAgent {
		return api.Agent{}, api.Errorf(api.CodeBadRequest, "the operator cannot be revoked")
	}
	a, ok := s.d.Ledger.Agent(name)
	if !ok {
		return api.Agent{}, api.Errorf(api.CodeNotFound, "no agent %s", name)
	}
	if !a.Revoked {
		if _, err := s.d.Ledger.Append(ctx, settlement.KindGovernance, settlement.Governance{Action: "agent_revoke", Agent: name}); err != nil {
			return api.Agent{}, fmt.Errorf("node: revoke %s: %w", name, err)
		}
	}
	s.d.CancelAgentJobs(ctx, name, "the agent's token was revoked")
	return s.Agent(ctx, name)
}

// Admit checks the agent's limits and holds the job's max cost as one
// decision per agent. Only an accepted job uses up the agent's rate.
func (s *Service) Admit(ctx context.Context, id, agent string, spec market.JobSpec, now time.Time) (hold int64, approval bool, err error) {
	defer s.admission.lock(agent)()
	if hold, approval, err = s.admit(agent, spec); err != nil {
		return 0, false, err
	}
	if err := s.holdFor(ctx, id, agent, hold); err != nil {
		return 0, false, err
	}
	s.rates.take(agent, 0, now)
	return hold, approval, nil
}

// admit checks an agent's limits for a new job and returns the amount to
// hold and whether the job must wait for the operator's approval.
func (s *Service) admit(agent string, spec market.JobSpec) (hold int64, approval bool, err error) {
	a, ok := s.d.Ledger.Agent(agent)
	if !ok {
		return 0, false, api.Errorf(api.CodeUnauthorized, "no agent %s", agent)
	}
	if a.Revoked {
		return 0, false, api.Errorf(api.CodeUnauthorized, "agent %s is revoked", agent)
	}
	if a.MaxJobPrice > 0 && spec.MaxPrice > a.MaxJobPrice {
		return 0, false, api.Errorf(api.CodeOverLimit, "max price %d is above agent %s's max job price %d", spec.MaxPrice, agent, a.MaxJobPrice)
	}
	// max price × the runs verification may need, checked: a spec that
	// validated always fits, and anything else is refused, never wrapped.
	hold, err = spec.MaxCost()
	if err != nil {
		return 0, false, s.d.SpecError(err)
	}
	if a.RatePerHour > 0 && int64(s.rates.recent(agent, s.d.Now())) >= a.RatePerHour {
		return 0, false, api.Errorf(api.CodeOverLimit, "agent %s may submit %d jobs an hour and has; try again later", agent, a.RatePerHour)
	}
	return hold, a.ApproveAbove > 0 && hold > a.ApproveAbove, nil
}

// holdFor puts a job's max cost on hold against its agent's budget.
func (s *Service) holdFor(ctx context.Context, job, agent string, amount int64) error {
	_, err := s.d.Ledger.Append(ctx, settlement.KindHold, settlement.Hold{Job: job, Agent: agent, Amount: amount})
	switch {
	case errors.Is(err, settlement.ErrBudgetExceeded):
		acct, _ := s.d.Ledger.Agent(agent)
		return &api.Error{Code: api.CodeBudgetExceeded, Message: fmt.Sprintf(
			"agent %s has %d left and this job may cost up to %d (max price × runs allowed); lower --max-price or fund it: hayek agent fund %s N",
			agent, acct.Budget, amount, agent)}
	case errors.Is(err, settlement.ErrRevoked):
		return api.Errorf(api.CodeUnauthorized, "agent %s is revoked", agent)
	case err != nil:
		return LedgerError(err, "hold for job "+job, "max_price")
	}
	return nil
}
