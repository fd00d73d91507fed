package agents

import (
	"context"
	"fmt"

	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/settlement"
)

// EnsureOperator gives the node's operator an account the first time the
// ledger is opened, funded with budget when it is above zero
// (settlement.operator_budget); a ledger that has one is left as it is.
func EnsureOperator(ctx context.Context, l *settlement.Ledger, budget int64) error {
	if _, ok := l.Agent(api.OperatorAgent); ok {
		return nil
	}
	drafts := []settlement.Draft{{Kind: settlement.KindGovernance, Body: settlement.Governance{
		Action: "agent_create", Agent: api.OperatorAgent, Detail: "the node's operator"}}}
	if budget > 0 {
		drafts = append(drafts, settlement.Draft{Kind: settlement.KindFund, Body: settlement.Fund{
			Agent: api.OperatorAgent, Amount: budget, Note: "settlement.operator_budget at first start"}})
	}
	if _, err := l.AppendAll(ctx, drafts...); err != nil {
		return fmt.Errorf("fund the operator: %w", err)
	}
	return nil
}
