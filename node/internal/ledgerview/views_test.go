package ledgerview

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/node/internal/wire/wiretest"
	"github.com/hayek-market/hayek/settlement"
)

// The views over a real ledger in a temporary directory: two agents, one
// funded, two jobs on hold (and the checkpoint the ledger signs).
func newViews(t *testing.T) (*Views, *settlement.Ledger) {
	t.Helper()
	ctx := t.Context()
	_, sg := wiretest.Identity(t, 1)
	l, err := settlement.Open(ctx, filepath.Join(t.TempDir(), "ledger"), settlement.Options{Signer: sg, Verifier: wire.NewVerifier(),
		Now: func() time.Time { return time.UnixMilli(1_700_000_000_000) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	g := func(name string) settlement.Draft {
		return settlement.Draft{Kind: settlement.KindGovernance, Body: settlement.Governance{Action: settlement.ActionAgentCreate, Agent: name}}
	}
	if _, err := l.AppendAll(ctx, g("bob"), g("alice"),
		settlement.Draft{Kind: settlement.KindFund, Body: settlement.Fund{Agent: "alice", Amount: 100}},
		settlement.Draft{Kind: settlement.KindHold, Body: settlement.Hold{Job: "j2", Agent: "alice", Amount: 30}},
		settlement.Draft{Kind: settlement.KindHold, Body: settlement.Hold{Job: "j1", Agent: "alice", Amount: 20}}); err != nil {
		t.Fatal(err)
	}
	v := New(Deps{Ledger: l, Agent: func(a settlement.Account) api.Agent { return api.Agent{Name: a.Name, BudgetLeft: a.Budget} },
		CreditLimit: func(string) int64 { return 7 }})
	return v, l
}

func TestEntries(t *testing.T) {
	v, l := newViews(t)
	ctx := t.Context()
	seq, _ := l.Head()
	all, err := v.Entries(ctx, api.LedgerFilter{})
	if err != nil || uint64(len(all)) != seq || seq < 5 {
		t.Fatalf("%d entries (%v), want %d", len(all), err, seq)
	}
	for i, e := range all {
		if e.Seq != uint64(i+1) || e.CID == "" || (i > 0 && e.Prev != all[i-1].CID) {
			t.Fatalf("entry %d: %+v, after %+v", i, e, all[max(i-1, 0)])
		}
	}
	holds, err := v.Entries(ctx, api.LedgerFilter{Kind: string(settlement.KindHold), Limit: 1})
	if err != nil || len(holds) != 1 || holds[0].Kind != string(settlement.KindHold) || !strings.Contains(string(holds[0].Body), `"j2"`) {
		t.Fatalf("the first hold: %+v, %v", holds, err)
	}
}

func TestBalance(t *testing.T) {
	v, l := newViews(t)
	b := v.Balance()
	if seq, head := l.Head(); b.Funded != 100 || b.Budgets != 50 || b.Held != 50 || b.Seq != seq || b.Head != head {
		t.Fatalf("totals %+v", b)
	}
	if len(b.Holds) != 2 || b.Holds[0].Job != "j1" || b.Holds[1].Job != "j2" {
		t.Fatalf("holds %+v, want j1 then j2", b.Holds)
	}
	var names []string
	for _, a := range b.Agents {
		names = append(names, a.Name)
	}
	if len(names) != 2 || !strings.Contains(strings.Join(names, ","), "alice") {
		t.Fatalf("agents %v", names)
	}
	if b.Peers == nil || len(b.Peers) != 0 {
		t.Fatalf("peers %+v, want an empty list", b.Peers)
	}
}

func TestVerifyAndExport(t *testing.T) {
	v, l := newViews(t)
	ctx := t.Context()
	rep, err := v.Verify(ctx, true)
	if seq, _ := l.Head(); err != nil || !rep.OK || uint64(rep.Entries) != seq || !rep.Deep || rep.BadSeq != 0 {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
	var buf bytes.Buffer
	if err := v.Export(ctx, &buf); err != nil || buf.Len() == 0 {
		t.Fatalf("export: %d bytes, %v", buf.Len(), err)
	}
}

// A receipt shows what it says, with the provider's head; a body that
// does not decode shows why.
func TestEntryReadable(t *testing.T) {
	_, r := wiretest.Identity(t, 1)
	_, p := wiretest.Identity(t, 2)
	sr, err := settlement.SignReceipt(r, settlement.Receipt{Job: "j1", Attempt: 1, Requester: r.ID(), Provider: p.ID(), Price: 60, Created: 5})
	if err != nil {
		t.Fatal(err)
	}
	if sr, err = settlement.Countersign(p, sr, "head-cid"); err != nil {
		t.Fatal(err)
	}
	e := Entry(settlement.Entry{Seq: 3, Kind: settlement.KindReceipt, Body: canon.MustMarshal(sr)})
	var body map[string]any
	if err := json.Unmarshal(e.Body, &body); err != nil {
		t.Fatal(err)
	}
	if body["price"] != float64(60) || body["provider_head"] != "head-cid" || body["job"] != "j1" {
		t.Fatalf("receipt body %s", e.Body)
	}
	bad := Entry(settlement.Entry{Seq: 4, Kind: settlement.KindReceipt, Body: []byte{0xff}})
	if !strings.Contains(string(bad.Body), `"error"`) {
		t.Fatalf("an undecodable body shows %s", bad.Body)
	}
}
