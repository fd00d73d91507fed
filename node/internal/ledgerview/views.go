package ledgerview

import (
	"context"
	"io"
	"sort"

	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/settlement"
)

// Ledger is what the views read of the node's ledger.
type Ledger interface {
	Entries(ctx context.Context, f settlement.Filter) ([]settlement.Entry, error)
	Head() (seq uint64, cid string)
	Totals() settlement.Totals
	Agents() []settlement.Account
	Balances() map[string]int64
	OpenHolds() []settlement.HoldState
	Verify(ctx context.Context, deep bool) (settlement.Report, error)
	Export(ctx context.Context, w io.Writer) error
}

// Deps are what the views need.
type Deps struct {
	Ledger Ledger
	// Agent is how the API shows an agent's account (the agents service).
	Agent func(settlement.Account) api.Agent
	// CreditLimit is the credit this node gives a peer (the evidence
	// service).
	CreditLimit func(peer string) int64
}

// Views reads the ledger for the API. It keeps no state but its Deps.
type Views struct{ d Deps }

// New returns the views over d.Ledger.
func New(d Deps) *Views { return &Views{d: d} }

// defaultLimit is how many entries a listing without a limit shows.
const defaultLimit = 100

// Entries lists the entries f selects, oldest first.
func (v *Views) Entries(ctx context.Context, f api.LedgerFilter) ([]api.LedgerEntry, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	es, err := v.d.Ledger.Entries(ctx, settlement.Filter{Kind: settlement.Kind(f.Kind), Job: f.Job, Peer: f.Peer, After: f.After, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]api.LedgerEntry, 0, len(es))
	for _, e := range es {
		out = append(out, Entry(e))
	}
	return out, nil
}

// Balance is the ledger's totals, agents, peers (sorted by ID) and open
// holds (sorted by job).
func (v *Views) Balance() api.Balance {
	l := v.d.Ledger
	t := l.Totals()
	seq, head := l.Head()
	b := api.Balance{Head: head, Seq: seq, Funded: t.Funded, Budgets: t.BudgetsLeft, Held: t.Held, Paid: t.Paid, Earned: t.Earned,
		Agents: []api.Agent{}, Holds: []api.HoldInfo{}, Peers: []api.PeerBalance{}}
	for _, a := range l.Agents() {
		b.Agents = append(b.Agents, v.d.Agent(a))
	}
	for p, bal := range l.Balances() {
		b.Peers = append(b.Peers, api.PeerBalance{Peer: p, Balance: bal, CreditLimit: v.d.CreditLimit(p)})
	}
	sort.Slice(b.Peers, func(i, j int) bool { return b.Peers[i].Peer < b.Peers[j].Peer })
	for _, h := range l.OpenHolds() {
		b.Holds = append(b.Holds, api.HoldInfo{Job: h.Job, Agent: h.Agent, Amount: h.Amount, Remaining: h.Remaining})
	}
	sort.Slice(b.Holds, func(i, j int) bool { return b.Holds[i].Job < b.Holds[j].Job })
	return b
}

// Verify checks the ledger. Corruption is a report (OK false, with the bad
// entry's sequence where known), not an error: the error is for a
// verification that could not run.
func (v *Views) Verify(ctx context.Context, deep bool) (api.VerifyReport, error) {
	rep, err := v.d.Ledger.Verify(ctx, deep)
	out := api.VerifyReport{OK: err == nil, Entries: rep.Entries, Checkpoints: rep.Checkpoints, Receipts: rep.Receipts,
		Settles: rep.Settles, Deep: deep, Seconds: rep.Duration.Seconds(), Node: rep.Node, Head: rep.Head, Seq: rep.Seq,
		Unsealed: rep.Unsealed, Lost: Losses(rep.Lost)}
	if err != nil {
		out.Error = err.Error()
		if seq, ok := settlement.CorruptSeq(err); ok {
			out.BadSeq = seq
		} else if !settlement.IsCorruption(err) {
			return out, err
		}
	}
	return out, nil
}

// Export writes the ledger's export to w.
func (v *Views) Export(ctx context.Context, w io.Writer) error { return v.d.Ledger.Export(ctx, w) }

// Losses is how the API shows the losses a ledger declared.
func Losses(ls []settlement.LostRange) []api.LedgerLoss {
	var out []api.LedgerLoss
	for _, l := range ls {
		out = append(out, api.LedgerLoss{Seq: l.Seq, Reason: l.Reason, Kept: l.Kept, Want: l.Want, Missing: l.Missing(),
			Reapplied: l.Reapplied, Covered: l.Covered})
	}
	return out
}
