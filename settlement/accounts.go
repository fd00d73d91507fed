package settlement

// Account is an agent's money and limits as the chain leaves them.
// Funded = Budget + Held + Spent always.
type Account struct {
	Name   string `cbor:"name" json:"name"`
	Budget int64  `cbor:"budget" json:"budget"` // left to put on holds
	Held   int64  `cbor:"held" json:"held"`     // on the agent's open holds
	Spent  int64  `cbor:"spent" json:"spent"`   // paid out on receipts
	Funded int64  `cbor:"funded" json:"funded"` // ever funded
	// From governance entries:
	Created      bool    `cbor:"created" json:"created"` // an agent_create was recorded
	Revoked      bool    `cbor:"revoked" json:"revoked"`
	TokenHash    []byte  `cbor:"token_hash" json:"token_hash"`
	MaxJobPrice  int64   `cbor:"max_job_price" json:"max_job_price"`       // 0: no cap beyond the budget
	ApproveAbove int64   `cbor:"approve_above" json:"approve_above"`       // 0: never ask
	RatePerHour  int64   `cbor:"rate_per_hour" json:"rate_per_hour"`       // 0: unlimited
	Policy       *Policy `cbor:"policy,omitempty" json:"policy,omitempty"` // from the latest agent_policy
}

// HoldState is a job's budget hold. Amount = Remaining + Paid + Released.
type HoldState struct {
	Job       string `cbor:"job" json:"job"`
	Agent     string `cbor:"agent" json:"agent"`
	Amount    int64  `cbor:"amount" json:"amount"` // held in all (a job held again after its hold closed adds to it)
	Remaining int64  `cbor:"remaining" json:"remaining"`
	Paid      int64  `cbor:"paid" json:"paid"`         // moved to providers by receipts
	Released  int64  `cbor:"released" json:"released"` // returned to the agent's budget
	Receipts  uint64 `cbor:"receipts" json:"receipts"`
	Closed    bool   `cbor:"closed" json:"closed"` // Remaining reached 0
	Seq       uint64 `cbor:"seq" json:"seq"`       // the latest hold entry for the job
}

// Totals sums the ledger's money. Two invariants hold after every entry:
//
//	Funded = BudgetsLeft + Held + Paid                       (agents' money)
//	Owed - Owing = Earned - Paid - SettledIn + SettledOut    (bilateral balances)
type Totals struct {
	Funded      int64 `cbor:"funded" json:"funded"`             // put into agents' budgets
	BudgetsLeft int64 `cbor:"budgets_left" json:"budgets_left"` // not held or spent
	Held        int64 `cbor:"held" json:"held"`                 // on open holds
	Paid        int64 `cbor:"paid" json:"paid"`                 // out of our agents, by receipts as requester
	Earned      int64 `cbor:"earned" json:"earned"`             // by receipts as provider
	Owed        int64 `cbor:"owed" json:"owed"`                 // peers owe us (sum of positive balances)
	Owing       int64 `cbor:"owing" json:"owing"`               // we owe peers (sum of negative balances, as a positive number)
	SettledIn   int64 `cbor:"settled_in" json:"settled_in"`     // settlements where we were the creditor
	SettledOut  int64 `cbor:"settled_out" json:"settled_out"`   // settlements where we were the debtor
}

// check tests both invariants, in exact arithmetic (every total is ≥ 0, and
// the balance one is rearranged so that no side subtracts): a sum that
// would wrap can never pass for one that matches.
func (t Totals) check() error {
	if !eq128([]int64{t.Funded}, []int64{t.BudgetsLeft, t.Held, t.Paid}) {
		return invariantf("funded %d ≠ budgets left %d + held %d + paid %d", t.Funded, t.BudgetsLeft, t.Held, t.Paid)
	}
	if !eq128([]int64{t.Owed, t.Paid, t.SettledIn}, []int64{t.Owing, t.Earned, t.SettledOut}) {
		return invariantf("owed %d - owing %d ≠ earned %d - paid %d - settled in %d + settled out %d",
			t.Owed, t.Owing, t.Earned, t.Paid, t.SettledIn, t.SettledOut)
	}
	return nil
}
