package receipts

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/api/apitest"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/node/internal/wire/wiretest"
	"github.com/hayek-market/hayek/reputation"
	"github.com/hayek-market/hayek/settlement"
)

var epoch = time.UnixMilli(1_767_225_600_000)

// rep records what it is told.
type rep struct {
	mu       sync.Mutex
	recorded []string
	attested []string
}

func (r *rep) Record(peer, capability string, o reputation.Outcome, _ string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recorded = append(r.recorded, peer+" "+capability+" "+string(o))
}

func (r *rep) Attest(_ context.Context, subject, capability string, o reputation.Outcome, _ string, _ []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attested = append(r.attested, subject+" "+capability+" "+string(o))
}

// peer is one side: a receipts service over a real ledger on a mocknet host.
type peer struct {
	svc    *Service
	ledger *settlement.Ledger
	drops  *wire.Drops
	rep    *rep
	signer *wire.Signer
}

// newPair is a creditor (the provider of a paid run) and its debtor (the
// requester), each serving /hayek/receipt/1.0.0; the debtor owes 10.
func newPair(t *testing.T, countersign func(context.Context, settlement.SignedReceipt) (settlement.SignedReceipt, error)) (creditor, debtor *peer) {
	t.Helper()
	_, hs, sgs := wiretest.Peers(t, 1, 2)
	tasks, life := wire.NewGroup(t.Context())
	t.Cleanup(func() { tasks.Stop() })
	vf := wire.NewVerifier()
	var ps []*peer
	for i, h := range hs {
		l, err := settlement.Open(t.Context(), filepath.Join(t.TempDir(), "ledger"), settlement.Options{
			Signer: sgs[i], Verifier: vf, Now: func() time.Time { return epoch }})
		if err != nil {
			t.Fatal(err)
		}
		p := &peer{ledger: l, drops: wire.NewDrops(), rep: &rep{}, signer: sgs[i]}
		p.svc = New(Deps{Host: h, Signer: sgs[i], Verifier: vf, Drops: p.drops, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return epoch },
			Tasks: tasks, Ledger: l, Rep: p.rep, Countersign: countersign,
			OperatorOnly: func(ctx context.Context) error {
				if api.CallerFrom(ctx).Agent != api.OperatorAgent {
					return api.Errorf(api.CodeForbidden, "operator only")
				}
				return nil
			},
			LedgerError: func(err error, what, _ string) error { return errors.New(what + ": " + err.Error()) },
			Entry:       func(e settlement.Entry) api.LedgerEntry { return api.LedgerEntry{Seq: e.Seq, Kind: string(e.Kind)} },
		})
		h.SetStreamHandler(wire.ProtoReceipt, p.svc.Handler(life))
		ps = append(ps, p)
	}
	// Tasks stop before the ledgers close (cleanups run last first).
	t.Cleanup(func() { tasks.Stop(); ps[0].ledger.Close(); ps[1].ledger.Close() })
	creditor, debtor = ps[0], ps[1]
	ctx := t.Context()
	if _, err := debtor.ledger.AppendAll(ctx,
		settlement.Draft{Kind: settlement.KindGovernance, Body: settlement.Governance{Action: settlement.ActionAgentCreate, Agent: "a"}},
		settlement.Draft{Kind: settlement.KindFund, Body: settlement.Fund{Agent: "a", Amount: 100}},
		settlement.Draft{Kind: settlement.KindHold, Body: settlement.Hold{Job: "j", Agent: "a", Amount: 50}}); err != nil {
		t.Fatal(err)
	}
	sr, err := settlement.SignReceipt(debtor.signer, settlement.Receipt{Job: "j", Requester: debtor.signer.ID(), Provider: creditor.signer.ID(),
		Capability: "runtime/wasm", Price: 10, Result: "bafyresult", Outcome: "success", RequesterHead: "bafyhead", Created: epoch.UnixMilli()})
	if err != nil {
		t.Fatal(err)
	}
	if sr, err = settlement.Countersign(creditor.signer, sr, canon.DocCID([]byte("head")).String()); err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if _, err := p.ledger.Append(ctx, settlement.KindReceipt, sr); err != nil {
			t.Fatal(err)
		}
	}
	return creditor, debtor
}

func operator(ctx context.Context) context.Context {
	return api.WithCaller(ctx, api.Caller{Agent: api.OperatorAgent})
}

// The creditor's settlement is in both ledgers, and the debtor earns
// standing as a requester with the creditor.
func TestSettleDebtReachesTheDebtor(t *testing.T) {
	creditor, debtor := newPair(t, nil)
	ctx := operator(t.Context())
	e, err := creditor.svc.SettleDebt(ctx, api.Settle{Peer: debtor.signer.ID(), Amount: 4, Reference: "wire 42"})
	if err != nil {
		t.Fatal(err)
	}
	if e.Kind != string(settlement.KindSettle) {
		t.Fatalf("the entry returned is a %s, want the settlement", e.Kind)
	}
	if got := creditor.ledger.Balance(debtor.signer.ID()); got != 6 {
		t.Fatalf("the debtor owes %d after settling 4 of 10, want 6", got)
	}
	apitest.WaitFor(t, 5*time.Second, "the debtor to record the settlement", func() bool {
		return debtor.ledger.Balance(creditor.signer.ID()) == -6
	})
	want := debtor.signer.ID() + " " + reputation.CapRequester + " " + string(reputation.Settled)
	if len(creditor.rep.recorded) != 1 || creditor.rep.recorded[0] != want || len(creditor.rep.attested) != 1 || creditor.rep.attested[0] != want {
		t.Fatalf("recorded %v, attested %v: want %q once each", creditor.rep.recorded, creditor.rep.attested, want)
	}
}

// What the creditor may not settle is refused before anything is signed.
func TestSettleDebtRefusals(t *testing.T) {
	creditor, debtor := newPair(t, nil)
	ctx := operator(t.Context())
	before, _ := creditor.ledger.Head()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		s    api.Settle
		want string
	}{
		{"not the operator", api.WithCaller(t.Context(), api.Caller{Agent: "a"}), api.Settle{Peer: debtor.signer.ID(), Amount: 1}, "operator only"},
		{"nothing", ctx, api.Settle{Peer: debtor.signer.ID()}, "amount must be > 0"},
		{"not a peer", ctx, api.Settle{Peer: "nobody", Amount: 1}, ""},
		{"more than owed", ctx, api.Settle{Peer: debtor.signer.ID(), Amount: 11}, "owes this node 10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := creditor.svc.SettleDebt(tc.ctx, tc.s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a refusal saying %q", err, tc.want)
			}
		})
	}
	if seq, _ := creditor.ledger.Head(); seq != before {
		t.Fatalf("the creditor's ledger went from %d to %d entries on refusals", before, seq)
	}
}

// The receiving side: receipts go to the countersigner, a settlement
// naming another debtor is refused and counted.
func TestHandlerCountersignsAndRefuses(t *testing.T) {
	asked := 0
	creditor, debtor := newPair(t, func(_ context.Context, sr settlement.SignedReceipt) (settlement.SignedReceipt, error) {
		asked++
		sr.ProviderSig = []byte("countersigned")
		return sr, nil
	})
	ctx := t.Context()
	host := debtor.svc.d.Host
	reply, err := wire.SendReceipt(ctx, host, creditor.signer.ID(), wire.ReceiptMsg{Kind: "receipt", Receipt: &settlement.SignedReceipt{}})
	if err != nil || reply.Error != "" || reply.Receipt == nil || string(reply.Receipt.ProviderSig) != "countersigned" || asked != 1 {
		t.Fatalf("receipt: reply %+v, %v, countersigner asked %d times", reply, err, asked)
	}
	// A settlement the creditor signed naming a third peer as debtor,
	// sent to the debtor: not a party.
	_, third := wiretest.Identity(t, 3)
	ss, err := settlement.SignSettle(creditor.signer, settlement.Settle{Debtor: third.ID(), Creditor: creditor.signer.ID(), Amount: 1, Created: epoch.UnixMilli()})
	if err != nil {
		t.Fatal(err)
	}
	reply, err = wire.SendReceipt(ctx, creditor.svc.d.Host, debtor.signer.ID(), wire.ReceiptMsg{Kind: "settle", Settle: &ss})
	if err != nil || !strings.Contains(reply.Error, "as debtor") || debtor.drops.Snapshot()["settle/not_party"] != 1 {
		t.Fatalf("settlement to the wrong debtor: reply %+v, %v, drops %v", reply, err, debtor.drops.Snapshot())
	}
	reply, err = wire.SendReceipt(ctx, creditor.svc.d.Host, debtor.signer.ID(), wire.ReceiptMsg{Kind: "what"})
	if err != nil || reply.Error == "" || debtor.drops.Snapshot()["receipt/malformed"] != 1 {
		t.Fatalf("neither: reply %+v, %v, drops %v", reply, err, debtor.drops.Snapshot())
	}
}
