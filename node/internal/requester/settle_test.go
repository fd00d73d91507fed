package requester

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/node/internal/wire/wiretest"
	"github.com/hayek-market/hayek/reputation"
	"github.com/hayek-market/hayek/settlement"
)

// The requester's settlement, tested without a node: a real ledger, and
// a fake provider on a mocknet that countersigns (or refuses) receipts.

// fakeRep records the evidence it is given and ranks everyone the same.
type fakeRep struct {
	market.NeutralReputation
	market.MajorityDecider
	mu       sync.Mutex
	recorded map[string][]reputation.Outcome // peer → outcomes
}

func (f *fakeRep) Record(peer, _ string, o reputation.Outcome, _ string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recorded[peer] = append(f.recorded[peer], o)
}

func (f *fakeRep) BookStanding(string, string, float64) reputation.Standing {
	return reputation.Standing{Eligible: true, Newcomer: true, LowerBound: 0.05}
}

func (f *fakeRep) DirectReliability(string, string) float64 { return 0.9 }

func (f *fakeRep) Attest(context.Context, string, string, reputation.Outcome, string, []byte) {}

func (f *fakeRep) outcomes(peer string) []reputation.Outcome {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]reputation.Outcome(nil), f.recorded[peer]...)
}

type noBlobs struct{}

func (noBlobs) Has(string) bool               { return false }
func (noBlobs) Get(string) ([]byte, error)    { return nil, io.EOF }
func (noBlobs) PutKnown(string, []byte) error { return nil }

// settleRig is a requester on a mocknet with a real, funded ledger, and
// one provider peer whose receipt handler the test sets.
type settleRig struct {
	r      *Service
	ledger *settlement.Ledger
	rep    *fakeRep
	prov   host.Host
	psg    *wire.Signer
}

func newSettleRig(t *testing.T, change ...func(*Deps)) *settleRig {
	t.Helper()
	ctx := t.Context()
	mn, hs, sgs := wiretest.Peers(t, 1, 2)
	rh, ph, rsg, psg := hs[0], hs[1], sgs[0], sgs[1]
	if err := mn.ConnectAllButSelf(); err != nil {
		t.Fatal(err)
	}
	vf := wire.NewVerifier()
	l, err := settlement.Open(ctx, filepath.Join(t.TempDir(), "ledger"), settlement.Options{Signer: rsg, Verifier: vf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if _, err := l.AppendAll(ctx,
		settlement.Draft{Kind: settlement.KindGovernance, Body: settlement.Governance{Action: settlement.ActionAgentCreate, Agent: api.OperatorAgent}},
		settlement.Draft{Kind: settlement.KindFund, Body: settlement.Fund{Agent: api.OperatorAgent, Amount: 1000}}); err != nil {
		t.Fatal(err)
	}
	tasks, _ := wire.NewGroup(ctx)
	rep := &fakeRep{recorded: map[string][]reputation.Outcome{}}
	d := Deps{Host: rh, Signer: rsg, Verifier: vf, Drops: wire.NewDrops(),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now, Rand: func() uint64 { return 7 },
		Tasks: tasks, Ledger: l, Rep: rep, Blobs: noBlobs{},
		Capacity: func() int { return 1 },
		Closing:  func() bool { return false },
		EntryView: func(e settlement.Entry) api.LedgerEntry {
			return api.LedgerEntry{Seq: e.Seq, CID: e.CID(), Kind: string(e.Kind)}
		},
		AgentPolicy: func(*settlement.Policy) *api.AgentPolicy { return nil },
		Config: Config{Job: market.DefaultJobConfig(rsg.ID()), MaxActive: 1, Freshness: 30 * time.Second,
			ReceiptTimeout: 2 * time.Second, Dir: filepath.Join(t.TempDir(), "jobs")},
	}
	for _, c := range change {
		c(&d)
	}
	r, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tasks.Stop()
		r.Close()
	})
	return &settleRig{r: r, ledger: l, rep: rep, prov: ph, psg: psg}
}

// countersign is a provider that countersigns every receipt.
func (g *settleRig) countersign(sr settlement.SignedReceipt) wire.ReceiptMsg {
	out, err := settlement.Countersign(g.psg, sr, "")
	if err != nil {
		return wire.ReceiptMsg{Error: err.Error()}
	}
	return wire.ReceiptMsg{Kind: "receipt", Receipt: &out}
}

// answerReceipts has the provider answer every receipt with answer's reply.
func (g *settleRig) answerReceipts(answer func(sr settlement.SignedReceipt) wire.ReceiptMsg) {
	g.prov.SetStreamHandler(wire.ProtoReceipt, func(st network.Stream) {
		defer st.Close()
		b, err := wire.ReadFrame(bufio.NewReader(st), wire.MaxReceiptFrame)
		if err != nil {
			st.Reset()
			return
		}
		var m wire.ReceiptMsg
		if err := canon.Unmarshal(b, &m); err != nil || m.Receipt == nil {
			st.Reset()
			return
		}
		wire.WriteFrame(st, canon.MustMarshal(answer(*m.Receipt)))
	})
}

// completed is a job of the operator holding 100, held on the ledger, and
// its outcome: one run by the rig's provider, paid price.
func (g *settleRig) completed(t *testing.T, price int64) (*job, *market.Outcome) {
	t.Helper()
	spec := market.JobSpec{Module: market.Blob{CID: canon.BlobCID([]byte("module")).String(), Size: 6}, MaxPrice: 100}
	spec.Defaults()
	if _, err := g.ledger.Append(t.Context(), settlement.KindHold, settlement.Hold{Job: "j1", Agent: api.OperatorAgent, Amount: 100}); err != nil {
		t.Fatal(err)
	}
	j := g.r.newJob("j1", spec, spec.Digest(), "", api.OperatorAgent, 100, time.Now())
	res := market.Result{Job: "j1", Attempt: 1, Provider: g.psg.ID(), Requester: g.r.self, Status: market.StatusOK, StartHeld: true,
		Created: time.Now().UnixMilli()}
	env, err := canon.Seal(g.psg, market.KindResult, res)
	if err != nil {
		t.Fatal(err)
	}
	return j, &market.Outcome{State: market.StateCompleted, Provider: g.psg.ID(), Price: price,
		Paid: []market.ReplicaResult{{Provider: g.psg.ID(), Attempt: 1, Price: price, Result: res, Env: env.Encode()}}}
}

// A paid run settles in the requester's ledger: the countersigned receipt,
// the provider owed its price, the rest of the hold back to the agent, and
// a success on the provider's record.
func TestSettlePaysACountersignedRun(t *testing.T) {
	g := newSettleRig(t)
	g.answerReceipts(g.countersign)
	j, o := g.completed(t, 40)
	g.r.settle(t.Context(), j, o)

	st := j.snapshot().Settlement
	if st.Error != "" || st.Paid != 40 || st.Released != 60 || len(st.Receipts) != 1 {
		t.Fatalf("settlement %+v: want 40 paid on one receipt, 60 released", st)
	}
	if got := g.ledger.Balance(g.psg.ID()); got != -40 {
		t.Errorf("balance with the provider %d, want -40 (this node owes it)", got)
	}
	if h, ok := g.ledger.Hold("j1"); !ok || !h.Closed {
		t.Errorf("hold %+v %v: want it closed", h, ok)
	}
	if a, _ := g.ledger.Agent(api.OperatorAgent); a.Budget != 960 || a.Held != 0 {
		t.Errorf("agent budget %d held %d, want 960 and 0", a.Budget, a.Held)
	}
	if got := g.rep.outcomes(g.psg.ID()); len(got) != 1 || got[0] != reputation.Success {
		t.Errorf("evidence %v, want one success", got)
	}
}

// A provider that refuses to countersign is not paid: the whole hold goes
// back to the agent, the settlement says why, and the refusal counts
// against the provider.
func TestSettleRefusedReceiptPaysNothing(t *testing.T) {
	g := newSettleRig(t)
	g.answerReceipts(func(settlement.SignedReceipt) wire.ReceiptMsg { return wire.ReceiptMsg{Error: "no"} })
	j, o := g.completed(t, 40)
	g.r.settle(t.Context(), j, o)

	st := j.snapshot().Settlement
	if st.Error == "" || st.Paid != 0 || st.Released != 100 || len(st.Receipts) != 0 {
		t.Fatalf("settlement %+v: want nothing paid, 100 released, an error", st)
	}
	if got := g.ledger.Balance(g.psg.ID()); got != 0 {
		t.Errorf("balance with the provider %d, want 0", got)
	}
	if a, _ := g.ledger.Agent(api.OperatorAgent); a.Budget != 1000 || a.Held != 0 {
		t.Errorf("agent budget %d held %d, want 1000 and 0", a.Budget, a.Held)
	}
	if got := g.rep.outcomes(g.psg.ID()); len(got) != 1 || got[0] != reputation.Failure {
		t.Errorf("evidence %v, want one failure", got)
	}
}
