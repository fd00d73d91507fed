package settlement

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// market is this node (self, on disk: its log is what gets damaged) doing
// business with p1 and p2 (in memory) the way nodes do: both parties append
// every receipt and settlement between them, each naming the heads of both.
type market struct {
	t     *testing.T
	me    *env
	peers map[string]*env
}

func newMarket(t *testing.T) *market {
	clk := newFakeClock()
	m := &market{t: t, me: diskEnv(t, self, clk), peers: map[string]*env{}}
	for _, p := range []string{"p1", "p2"} {
		m.peers[p] = newEnvAs(t, p, clk)
		m.peers[p].must(m.peers[p].fund("bot", 1_000_000))
	}
	return m
}

// pay: this node's agent alice pays provider p for job (hold: the hold to
// take first, 0 if the job already holds).
func (m *market) pay(p, job string, price, hold int64) {
	m.t.Helper()
	if hold > 0 {
		m.me.must(m.me.hold(job, "alice", hold))
	}
	r := receipt(self, p, job, 0, price)
	_, r.RequesterHead = m.me.l.Head()
	sr, err := SignReceipt(m.me.keys.Signer(self), r)
	m.me.must(err)
	_, ph := m.peers[p].l.Head()
	sr, err = Countersign(m.me.keys.Signer(p), sr, ph)
	m.me.must(err)
	m.peers[p].must(m.peers[p].append(KindReceipt, sr))
	m.me.must(m.me.append(KindReceipt, sr))
}

// earn: this node runs job for requester p.
func (m *market) earn(p, job string, price int64) {
	m.t.Helper()
	pe := m.peers[p]
	pe.must(pe.hold(job, "bot", price))
	r := receipt(p, self, job, 0, price)
	_, r.RequesterHead = pe.l.Head()
	sr, err := SignReceipt(pe.keys.Signer(p), r)
	pe.must(err)
	_, mh := m.me.l.Head()
	sr, err = Countersign(pe.keys.Signer(self), sr, mh)
	pe.must(err)
	m.me.must(m.me.append(KindReceipt, sr))
	pe.must(pe.append(KindReceipt, sr))
}

// settleWith: p, creditor, acknowledges that this node paid it amount.
func (m *market) settleWith(p string, amount int64) {
	m.t.Helper()
	ss := m.me.signedSettle(p, Settle{Debtor: self, Creditor: p, Amount: amount, Created: 1})
	m.peers[p].must(m.peers[p].append(KindSettle, ss))
	m.me.must(m.me.append(KindSettle, ss))
}

// run is the business before and after the last flush. It returns the
// acknowledged head.
func (m *market) run() (uint64, string) {
	e := m.me
	e.must(e.append(KindGovernance, Governance{Action: ActionAgentCreate, Agent: "alice"}))
	e.must(e.fund("alice", 10_000))
	m.pay("p1", "s1", 50, 50)
	m.earn("p2", "e1", 30)
	e.must(e.hold("carry", "alice", 500)) // survives; its receipt will not
	e.close()
	e.open() // the first session is flushed out of the log
	for i := range 6 {
		job := fmt.Sprintf("j%d", i)
		p := []string{"p1", "p2"}[i%2]
		m.pay(p, job, 60, 100)
		e.must(e.release(job, 40))
		e.must(e.append(KindOutcome, Outcome{Peer: p, Outcome: "success", Job: job}))
	}
	m.pay("p2", "carry", 200, 0)
	m.earn("p1", "e2", 80)
	m.settleWith("p1", 100)
	e.must(e.append(KindGovernance, Governance{Action: ActionAgentCreate, Agent: "bob"}))
	for i := range 10 {
		e.must(e.fund("alice", int64(i+1)))
	}
	return e.l.Head()
}

func (m *market) exports() []AuditInput {
	var in []AuditInput
	for _, p := range []string{"p1", "p2"} {
		in = append(in, AuditInput{Name: p + ".jsonl", R: bytes.NewReader(export(m.t, m.peers[p]))})
	}
	return in
}

// TestRecoverFromCounterparties: the log damaged each way, Open refuses;
// Recover with the counterparties' exports re-appends every receipt and
// settlement they hold with this node, marks the loss in a signed lost
// entry, releases the hold left open; then the ledger opens, verifies
// deeply showing the lost range, agrees with each counterparty on the
// balance between them, and audits without a fault.
func TestRecoverFromCounterparties(t *testing.T) {
	for _, d := range walDamage {
		t.Run(d.name, func(t *testing.T) {
			m := newMarket(t)
			want, _ := m.run()
			e := m.me
			e.close()
			d.damage(t, walFile(t, e.dir))
			_, err := Open(e.ctx, e.dir, e.opts)
			if !IsLostWrites(err) {
				t.Fatalf("open: %v", err)
			}

			rep, err := Recover(e.ctx, e.dir, e.opts, RecoverOptions{Exports: m.exports(), ReleaseOpenHolds: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("kept %d of %d; re-appended %d, skipped %d, present %d, released %d, covered %d; head %d",
				rep.Found.Have, want, len(rep.Reapplied), len(rep.Skipped), rep.Present, rep.Released, rep.Covered, rep.Seq)
			if rep.Found.Want != want || rep.Lost.Seq != rep.Found.Have+1 || rep.Lost.Kind != KindLost || len(rep.Skipped) != 0 || len(rep.Reapplied) == 0 {
				t.Fatalf("report %+v", rep)
			}
			for _, it := range rep.Reapplied {
				if it.Seq <= rep.Lost.Seq || it.Peer == "" {
					t.Fatalf("re-applied item %+v", it)
				}
			}

			e.open()
			vr, err := e.l.Verify(e.ctx, true)
			if err != nil {
				t.Fatal(err)
			}
			if len(vr.Lost) != 1 || vr.Lost[0].Seq != rep.Lost.Seq || vr.Lost[0].Kept != rep.Found.Have || vr.Lost[0].Want != want ||
				vr.Lost[0].Reapplied != len(rep.Reapplied) || vr.Lost[0].Missing() != want-rep.Found.Have || vr.Lost[0].Covered != rep.Covered {
				t.Fatalf("verify shows %+v, want the range %d..%d", vr.Lost, rep.Found.Have+1, want)
			}
			checkInvariants(t, e.l)
			for p, pe := range m.peers {
				if mine, theirs := e.l.Balance(p), pe.l.Balance(self); mine != -theirs {
					t.Errorf("balance with %s is %d, %s's with this node %d", p, mine, p, theirs)
				}
			}
			if open := e.l.OpenHolds(); len(open) != 0 {
				t.Errorf("holds left open: %+v", open)
			}
			if a, _ := e.l.Agent(RecoveredAgent); a.Spent != a.Funded || a.Funded > rep.Covered || a.Budget != 0 || a.Held != 0 {
				t.Errorf("%s: %+v (covered %d)", RecoveredAgent, a, rep.Covered)
			}

			// The history reads honestly to the counterparties: no fault.
			mine := export(t, e)
			for p, pe := range m.peers {
				ar, err := Audit(e.ctx, testKeyring(), AuditInput{Name: "mine", R: bytes.NewReader(mine)}, AuditInput{Name: p, R: bytes.NewReader(export(t, pe))})
				if err != nil {
					t.Fatal(err)
				}
				if ar.Faults() != 0 || !ar.Pairs[0].Agree() {
					t.Errorf("audit with %s: %d faults:\n%s", p, ar.Faults(), kinds(ar.Pairs[0]))
				}
			}

			// And the node goes on appending.
			e.must(e.fund("alice", 1))
			e.close()
			e.open()
		})
	}
}

// TestRecoverWithoutExports: with nothing to rebuild from, Recover still
// records the loss and lets the ledger open.
func TestRecoverWithoutExports(t *testing.T) {
	m := newMarket(t)
	want, wantHead := m.run()
	e := m.me
	e.close()
	e.must(os.Remove(walFile(t, e.dir)))
	rep, err := Recover(e.ctx, e.dir, e.opts, RecoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Reapplied) != 0 || rep.Released != 0 {
		t.Fatalf("report %+v", rep)
	}
	lost, err := rep.Lost.Decode()
	e.must(err)
	if l := lost.(Lost); l.Reason != LostBehind || l.Want != want || l.WantHead != wantHead || l.Kept != rep.Found.Have || len(l.Sig) == 0 {
		t.Fatalf("lost entry %+v", l)
	}
	e.open()
	vr, err := e.l.Verify(e.ctx, true)
	if err != nil || len(vr.Lost) != 1 || vr.Lost[0].Missing() != want-rep.Found.Have {
		t.Fatalf("verify %+v: %v", vr.Lost, err)
	}
	if h := e.l.OpenHolds(); len(h) != 1 || h[0].Job != "carry" {
		t.Fatalf("open holds %+v: without ReleaseOpenHolds they stay (the node releases them on start)", h)
	}
	// The counterparties' receipts from the lost range are missing here,
	// but the loss was declared: the audit says so and blames no one.
	ar, err := Audit(e.ctx, testKeyring(), AuditInput{Name: "mine", R: bytes.NewReader(export(t, e))},
		AuditInput{Name: "p1", R: bytes.NewReader(export(t, m.peers["p1"]))})
	e.must(err)
	lostFindings := 0
	for _, f := range ar.Pairs[0].Findings {
		if f.Kind == FindingLost && f.Subject == self && strings.Contains(f.Detail, "declared entries") {
			lostFindings++
		}
	}
	if ar.Faults() != 0 || lostFindings == 0 {
		t.Fatalf("audit after a recovery without exports: %d faults, %d lost findings:\n%s", ar.Faults(), lostFindings, kinds(ar.Pairs[0]))
	}
	// Recovering again finds nothing to do.
	e.close()
	if _, err := Recover(e.ctx, e.dir, e.opts, RecoverOptions{}); !errors.Is(err, ErrNothingLost) {
		t.Fatalf("second recovery: %v", err)
	}
}

// TestRecoverHeadFileMissing: a deleted head file is recovered like a loss
// of unknown size.
func TestRecoverHeadFileMissing(t *testing.T) {
	m := newMarket(t)
	m.run()
	e := m.me
	e.close()
	e.must(os.Remove(filepath.Join(e.dir, headFileName)))
	rep, err := Recover(e.ctx, e.dir, e.opts, RecoverOptions{Exports: m.exports()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Found.Reason != LostHeadMissing || len(rep.Reapplied) != 0 || rep.Present == 0 {
		t.Fatalf("report %+v: every item is present, nothing to re-append", rep)
	}
	e.open()
	if vr, err := e.l.Verify(e.ctx, false); err != nil || len(vr.Lost) != 1 || vr.Lost[0].Reason != LostHeadMissing || vr.Lost[0].Missing() != 0 {
		t.Fatalf("verify %+v: %v", vr.Lost, err)
	}
}

// TestFailedRecoveryKeepsTheEvidence: a recovery whose writes never reach
// the disk (a crash during it, on a strict in-memory file system) leaves
// the head file as it was, so Open still refuses with the same loss; a bad
// export makes Recover refuse before writing anything.
func TestFailedRecoveryKeepsTheEvidence(t *testing.T) {
	e := newEnv(t)
	mem := e.fs
	lossScenario(e)
	want, _ := e.l.Head()
	e.close()
	// Lose the log: the entries since the first session go with it.
	var logs []string
	names, err := mem.List(e.dir)
	e.must(err)
	for _, n := range names {
		if strings.HasSuffix(n, ".log") {
			logs = append(logs, n)
		}
	}
	if len(logs) == 0 {
		t.Fatal("no log")
	}
	e.must(mem.Remove(mem.PathJoin(e.dir, logs[len(logs)-1])))
	mustLose := func(what string) {
		t.Helper()
		_, err := Open(e.ctx, e.dir, e.opts)
		var le *LostWritesError
		if !errors.As(err, &le) || le.Want != want {
			t.Fatalf("%s: open: %v, want the loss of entries up to %d", what, err, want)
		}
	}
	mustLose("after the loss")

	bad := AuditInput{Name: "garbage.jsonl", R: strings.NewReader("{\"seq\":1}\n")}
	if _, err := Recover(e.ctx, e.dir, e.opts, RecoverOptions{Exports: []AuditInput{bad}}); err == nil || !strings.Contains(err.Error(), "garbage.jsonl") {
		t.Fatalf("recover from a bad export: %v", err)
	}
	mustLose("after a refused recovery")

	mem.SetIgnoreSyncs(true)
	_, _ = Recover(e.ctx, e.dir, e.opts, RecoverOptions{})
	mem.ResetToSyncedState()
	mem.SetIgnoreSyncs(false)
	mustLose("after a recovery that crashed")

	if _, err := Recover(e.ctx, e.dir, e.opts, RecoverOptions{}); err != nil {
		t.Fatal(err)
	}
	e.open()
}
