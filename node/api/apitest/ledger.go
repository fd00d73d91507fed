package apitest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hayek-market/hayek/node/api"
)

// appendLocked adds an entry to the ledger; f.mu is held.
func (f *Node) appendLocked(kind, body string) {
	n := uint64(len(f.entries) + 1)
	f.entries = append(f.entries, api.LedgerEntry{Seq: n, CID: fmt.Sprintf("bafyentry%d", n),
		Time: time.Date(2026, 3, 1, 12, 0, int(n), 0, time.UTC), Kind: kind, Body: json.RawMessage(body)})
}

// Ledger keeps an entry for a job or peer filter when the ID stands, quoted,
// in the entry's body.
func (f *Node) Ledger(ctx context.Context, flt api.LedgerFilter) ([]api.LedgerEntry, error) {
	f.saw(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filter = flt
	if f.canned {
		if flt.Kind == "checkpoint" {
			return nil, nil
		}
		return []api.LedgerEntry{{Seq: flt.After + 1, CID: "bafyE", Time: time.Unix(1, 0).UTC(), Kind: "fund",
			Body: json.RawMessage(`{"agent":"alice","amount":5}`)}}, nil
	}
	var out []api.LedgerEntry
	for _, e := range f.entries {
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

// LastLedgerFilter is the filter of the latest Ledger call.
func (f *Node) LastLedgerFilter() api.LedgerFilter {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.filter
}

// LedgerBalance adds up the agents' accounts and the open holds; the
// balances with peers are fixed: this node owes providerOne 120 and
// requester owes it 70.
func (f *Node) LedgerBalance(ctx context.Context) (api.Balance, error) {
	f.saw(ctx)
	if f.canned {
		return api.Balance{Head: "bafyH", Seq: 9, Funded: 10, Budgets: 7, Held: 1, Paid: 2}, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	b := api.Balance{Head: ledgerHead, Seq: uint64(len(f.entries)), Earned: 70,
		Peers: []api.PeerBalance{
			{Peer: providerOne, Balance: -120, CreditLimit: 10000},
			{Peer: requester, Balance: 70, CreditLimit: 5000},
		}}
	for _, name := range slices.Sorted(maps.Keys(f.agents)) {
		a := f.agents[name]
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
	b.Funded += f.balanceOff
	return b, nil
}

// BreakBalance makes LedgerBalance report by more funded than the accounts
// hold, breaking the ledger's invariant.
func (f *Node) BreakBalance(by int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.balanceOff = by
}

// VerifyLedger answers with the report SetVerifyReport set (by default a
// ledger that verifies), checking 2 receipts when deep.
func (f *Node) VerifyLedger(ctx context.Context, deep bool) (api.VerifyReport, error) {
	f.saw(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deep = deep
	r := f.verify
	r.Deep = deep
	if deep {
		r.Receipts = 2
	}
	return r, nil
}

// SetVerifyReport sets what VerifyLedger reports.
func (f *Node) SetVerifyReport(r api.VerifyReport) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.verify = r
}

// LastVerifyDeep is the deep flag of the latest VerifyLedger call.
func (f *Node) LastVerifyDeep() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.deep
}

// ExportLedger writes the lines SetExport set, each ending in a newline.
func (f *Node) ExportLedger(ctx context.Context, w io.Writer) error {
	f.saw(ctx)
	f.mu.Lock()
	lines, failAt, gate := f.export, f.exportFailAt, f.exportGate
	f.mu.Unlock()
	for i, l := range lines {
		if i == failAt {
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
	if failAt >= len(lines) {
		return fmt.Errorf("disk on fire after %d lines", len(lines))
	}
	return nil
}

// SetExport sets the lines ExportLedger writes.
func (f *Node) SetExport(lines ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.export = lines
}

// FailExportAfter makes ExportLedger fail after writing n lines, or all of
// them if there are fewer.
func (f *Node) FailExportAfter(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.exportFailAt = n
}

// GateExport makes ExportLedger wait for gate before each line but the
// first, so a test can see the first arrive before the rest exist.
func (f *Node) GateExport(gate <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.exportGate = gate
}

// SettleDebt records the settlement as a ledger entry. The debt it settles
// is requester's, 70: more is refused, whoever the peer.
func (f *Node) SettleDebt(ctx context.Context, s api.Settle) (api.LedgerEntry, error) {
	f.saw(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	if s.Amount > 70 {
		return api.LedgerEntry{}, api.Errorf(api.CodeBadRequest, "settlement of %d exceeds the debt of 70", s.Amount)
	}
	f.settled = append(f.settled, s)
	f.appendLocked("settle", fmt.Sprintf(`{"settle":{"debtor":%q,"creditor":"12D3KooWSelf","amount":%d,"reference":%q},"sig":"c2ln"}`, s.Peer, s.Amount, s.Reference))
	return f.entries[len(f.entries)-1], nil
}

// Settled are the settlements SettleDebt recorded, in order.
func (f *Node) Settled() []api.Settle {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.Settle(nil), f.settled...)
}

// Reputation answers with the rows SetReputation set, those of peer alone
// if peer is not empty.
func (f *Node) Reputation(ctx context.Context, peer string) ([]api.RepRow, error) {
	f.saw(ctx)
	if f.canned {
		if peer == "" {
			return nil, nil
		}
		return []api.RepRow{{Peer: peer, Capability: "runtime/wasm", Alpha: 3, Beta: 1, Mean: 0.75, LowerBound: 0.3}}, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []api.RepRow
	for _, r := range f.rep {
		if peer == "" || r.Peer == peer {
			out = append(out, r)
		}
	}
	return out, nil
}

// SetReputation sets the rows Reputation answers with.
func (f *Node) SetReputation(rows ...api.RepRow) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rep = rows
}
