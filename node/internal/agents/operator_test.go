package agents

import (
	"testing"

	"github.com/hayek-market/hayek/node/api"
)

// The operator's account is made, funded, once: a second opening of the
// ledger leaves it as it is.
func TestEnsureOperator(t *testing.T) {
	r := newRig(t)
	ctx := t.Context()
	for range 2 {
		if err := EnsureOperator(ctx, r.ledger, 70); err != nil {
			t.Fatal(err)
		}
	}
	a, ok := r.ledger.Agent(api.OperatorAgent)
	if !ok || a.Budget != 70 {
		t.Fatalf("the operator's account %+v (%v), want one funded with 70 once", a, ok)
	}
}
