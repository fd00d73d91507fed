package settlement

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/hayek-market/hayek/internal/canon"
)

// base is the state every rule case starts from:
//
//	alice: created, funded 1000; job j1 holds 300 of it, 100 paid to p1
//	bob:   funded 100
//	p2 owes us 50 (we ran job x1 for it)
func base(e *env) {
	tok := sha256.Sum256([]byte("alice-token"))
	e.must(e.append(KindGovernance, Governance{Action: ActionAgentCreate, Agent: "alice", TokenHash: tok[:], MaxJobPrice: 500}))
	e.must(e.fund("alice", 1000))
	e.must(e.fund("bob", 100))
	e.must(e.hold("j1", "alice", 300))
	e.must(e.append(KindReceipt, e.signedReceipt(receipt(self, "p1", "j1", 1, 100))))
	e.must(e.append(KindReceipt, e.signedReceipt(receipt("p2", self, "x1", 1, 50))))
}

func TestRules(t *testing.T) {
	type tcase struct {
		name  string
		op    func(e *env) error
		want  error
		check func(t *testing.T, e *env)
	}
	agent := func(t *testing.T, e *env, name string, budget, held, spent int64) {
		t.Helper()
		a, _ := e.l.Agent(name)
		if a.Budget != budget || a.Held != held || a.Spent != spent {
			t.Fatalf("agent %s: budget %d held %d spent %d, want %d %d %d", name, a.Budget, a.Held, a.Spent, budget, held, spent)
		}
	}
	hold := func(t *testing.T, e *env, job string, remaining int64, closed bool) {
		t.Helper()
		h, ok := e.l.Hold(job)
		if !ok || h.Remaining != remaining || h.Closed != closed {
			t.Fatalf("hold %s: %+v (found %t), want remaining %d closed %t", job, h, ok, remaining, closed)
		}
	}
	balance := func(t *testing.T, e *env, peer string, want int64) {
		t.Helper()
		if got := e.l.Balance(peer); got != want {
			t.Fatalf("balance with %s = %d, want %d", peer, got, want)
		}
	}
	// A receipt whose provider signature is made by p3 though it names p1.
	wrongCountersigner := func(e *env) SignedReceipt {
		sr, err := SignReceipt(e.keys.Signer(self), receipt(self, "p1", "j1", 2, 10))
		e.must(err)
		sr.ProviderHead = "bafyp3head"
		sig, err := e.keys.Signer("p3").Sign(signingBytes(domainCounter, counterBody(sr)))
		e.must(err)
		sr.ProviderSig = sig
		return sr
	}

	cases := []tcase{
		// fund
		{name: "fund", op: func(e *env) error { return e.fund("bob", 5) }, check: func(t *testing.T, e *env) { agent(t, e, "bob", 105, 0, 0) }},
		{name: "fund zero", op: func(e *env) error { return e.fund("bob", 0) }, want: ErrInvalid},
		{name: "fund negative", op: func(e *env) error { return e.fund("bob", -5) }, want: ErrInvalid},
		{name: "fund no agent", op: func(e *env) error { return e.fund("", 5) }, want: ErrInvalid},
		{name: "fund overflow", op: func(e *env) error { return e.fund("bob", math.MaxInt64) }, want: ErrOverflow},
		{name: "fund wrong body type", op: func(e *env) error { return e.append(KindFund, Hold{Job: "j", Agent: "bob", Amount: 1}) }, want: ErrInvalid},
		{name: "fund pointer body", op: func(e *env) error { return e.append(KindFund, &Fund{Agent: "bob", Amount: 1}) }},
		{name: "append a checkpoint", op: func(e *env) error { return e.append(KindCheckpoint, Checkpoint{}) }, want: ErrInvalid},
		{name: "unknown kind", op: func(e *env) error { return e.append("bribe", Fund{}) }, want: ErrInvalid},
		// hold
		{name: "hold whole budget", op: func(e *env) error { return e.hold("j2", "alice", 700) }, check: func(t *testing.T, e *env) {
			agent(t, e, "alice", 0, 900, 100)
			hold(t, e, "j2", 700, false)
			if open := e.l.OpenHolds(); len(open) != 2 || open[0].Job != "j1" || open[1].Job != "j2" {
				t.Fatalf("open holds %+v", open)
			}
		}},
		{name: "hold over budget", op: func(e *env) error { return e.hold("j2", "alice", 701) }, want: ErrBudgetExceeded,
			check: func(t *testing.T, e *env) { agent(t, e, "alice", 700, 200, 100) }},
		{name: "hold unknown agent", op: func(e *env) error { return e.hold("j2", "carol", 1) }, want: ErrBudgetExceeded},
		{name: "second open hold", op: func(e *env) error { return e.hold("j1", "alice", 10) }, want: ErrHoldExists},
		{name: "hold zero", op: func(e *env) error { return e.hold("j2", "alice", 0) }, want: ErrInvalid},
		{name: "hold for revoked agent", op: func(e *env) error {
			e.must(e.append(KindGovernance, Governance{Action: ActionAgentRevoke, Agent: "alice"}))
			return e.hold("j2", "alice", 10)
		}, want: ErrRevoked},
		{name: "hold again after release", op: func(e *env) error {
			e.must(e.release("j1", 200))
			return e.hold("j1", "alice", 50)
		}, check: func(t *testing.T, e *env) {
			h, _ := e.l.Hold("j1")
			if h.Amount != 350 || h.Remaining != 50 || h.Paid != 100 || h.Released != 200 || h.Closed {
				t.Fatalf("re-held: %+v", h)
			}
		}},
		{name: "hold again for another agent", op: func(e *env) error {
			e.must(e.release("j1", 200))
			return e.hold("j1", "bob", 50)
		}, want: ErrInvalid},
		// release
		{name: "release part", op: func(e *env) error { return e.release("j1", 50) }, check: func(t *testing.T, e *env) {
			hold(t, e, "j1", 150, false)
			agent(t, e, "alice", 750, 150, 100)
		}},
		{name: "release rest closes", op: func(e *env) error { return e.release("j1", 200) }, check: func(t *testing.T, e *env) {
			hold(t, e, "j1", 0, true)
			agent(t, e, "alice", 900, 0, 100)
		}},
		{name: "release over hold", op: func(e *env) error { return e.release("j1", 201) }, want: ErrOverHold},
		{name: "release unknown job", op: func(e *env) error { return e.release("nope", 1) }, want: ErrUnknownHold},
		{name: "release closed hold", op: func(e *env) error {
			e.must(e.release("j1", 200))
			return e.release("j1", 1)
		}, want: ErrHoldClosed},
		// receipts as requester
		{name: "replica receipt within hold", op: func(e *env) error {
			return e.append(KindReceipt, e.signedReceipt(receipt(self, "p3", "j1", 1, 200)))
		}, check: func(t *testing.T, e *env) {
			hold(t, e, "j1", 0, true)
			agent(t, e, "alice", 700, 0, 300)
			balance(t, e, "p1", -100)
			balance(t, e, "p3", -200)
			if h, _ := e.l.Hold("j1"); h.Receipts != 2 || h.Paid != 300 {
				t.Fatalf("hold after two receipts: %+v", h)
			}
		}},
		{name: "receipt over hold", op: func(e *env) error {
			return e.append(KindReceipt, e.signedReceipt(receipt(self, "p3", "j1", 1, 201)))
		}, want: ErrOverHold},
		{name: "receipt for unknown job", op: func(e *env) error {
			return e.append(KindReceipt, e.signedReceipt(receipt(self, "p1", "ghost", 1, 1)))
		}, want: ErrUnknownHold},
		{name: "receipt after hold closed", op: func(e *env) error {
			e.must(e.release("j1", 200))
			return e.append(KindReceipt, e.signedReceipt(receipt(self, "p3", "j1", 1, 1)))
		}, want: ErrHoldClosed},
		{name: "replayed receipt", op: func(e *env) error {
			sr := e.signedReceipt(receipt(self, "p3", "j1", 1, 10))
			e.must(e.append(KindReceipt, sr))
			return e.append(KindReceipt, sr)
		}, want: ErrDuplicate},
		{name: "receipt countersigned again with another head", op: func(e *env) error {
			sr := e.signedReceipt(receipt(self, "p3", "j1", 1, 10))
			e.must(e.append(KindReceipt, sr))
			again, err := Countersign(e.keys.Signer("p3"), SignedReceipt{Body: sr.Body, RequesterSig: sr.RequesterSig}, "bafyotherhead")
			e.must(err)
			return e.append(KindReceipt, again)
		}, want: ErrDuplicate},
		{name: "receipt forged requester signature", op: func(e *env) error {
			sr := e.signedReceipt(receipt(self, "p1", "j1", 2, 10))
			// Re-sign the body with p4's key: a valid signature, by the wrong peer.
			sig, err := e.keys.Signer("p4").Sign(signingBytes(domainReceipt, sr.Body))
			e.must(err)
			sr.RequesterSig = sig
			return e.append(KindReceipt, sr)
		}, want: ErrBadSignature},
		{name: "receipt countersigned by the wrong peer", op: func(e *env) error {
			return e.append(KindReceipt, wrongCountersigner(e))
		}, want: ErrBadSignature},
		{name: "receipt not countersigned", op: func(e *env) error {
			sr, err := SignReceipt(e.keys.Signer(self), receipt(self, "p1", "j1", 2, 10))
			e.must(err)
			return e.append(KindReceipt, sr)
		}, want: ErrBadSignature},
		{name: "receipt price raised after signing", op: func(e *env) error {
			sr := e.signedReceipt(receipt(self, "p1", "j1", 2, 10))
			sr.Body = canon.MustMarshal(receipt(self, "p1", "j1", 2, 150))
			return e.append(KindReceipt, sr)
		}, want: ErrBadSignature},
		{name: "receipt signed for another domain", op: func(e *env) error {
			sr := e.signedReceipt(receipt(self, "p1", "j1", 2, 10))
			sig, err := e.keys.Signer(self).Sign(signingBytes(domainSettle, sr.Body))
			e.must(err)
			sr.RequesterSig = sig
			return e.append(KindReceipt, sr)
		}, want: ErrBadSignature},
		{name: "receipt naming neither party as us", op: func(e *env) error {
			return e.append(KindReceipt, e.signedReceipt(receipt("p1", "p2", "j9", 1, 10)))
		}, want: ErrNotParty},
		{name: "receipt with zero price", op: func(e *env) error {
			r := receipt(self, "p1", "j1", 2, 0)
			body := canon.MustMarshal(r)
			return e.append(KindReceipt, SignedReceipt{Body: body, RequesterSig: []byte{1}, ProviderSig: []byte{1}})
		}, want: ErrInvalid},
		{name: "receipt body not canonical", op: func(e *env) error {
			sr := e.signedReceipt(receipt(self, "p1", "j1", 2, 10))
			sr.Body = append(bytes.Clone(sr.Body), 0x00)
			return e.append(KindReceipt, sr)
		}, want: ErrInvalid},
		// receipts as provider
		{name: "receipt as provider", op: func(e *env) error {
			return e.append(KindReceipt, e.signedReceipt(receipt("p2", self, "x2", 1, 25)))
		}, check: func(t *testing.T, e *env) {
			balance(t, e, "p2", 75)
			if tt := e.l.Totals(); tt.Earned != 75 || tt.Owed != 75 || tt.Owing != 100 {
				t.Fatalf("totals %+v", tt)
			}
		}},
		// settle
		{name: "settle as creditor", op: func(e *env) error {
			return e.append(KindSettle, e.signedSettle(self, Settle{Debtor: "p2", Creditor: self, Amount: 50, Reference: "r1"}))
		}, check: func(t *testing.T, e *env) { balance(t, e, "p2", 0) }},
		{name: "settle as debtor", op: func(e *env) error {
			return e.append(KindSettle, e.signedSettle("p1", Settle{Debtor: self, Creditor: "p1", Amount: 60}))
		}, check: func(t *testing.T, e *env) {
			balance(t, e, "p1", -40)
			if tt := e.l.Totals(); tt.SettledOut != 60 || tt.Owing != 40 {
				t.Fatalf("totals %+v", tt)
			}
		}},
		{name: "settle not signed by the creditor", op: func(e *env) error {
			// We owe p1 100; we sign a settlement claiming p1 was paid.
			return e.append(KindSettle, e.signedSettle(self, Settle{Debtor: self, Creditor: "p1", Amount: 100}))
		}, want: ErrBadSignature},
		{name: "settle more than owed to us", op: func(e *env) error {
			return e.append(KindSettle, e.signedSettle(self, Settle{Debtor: "p2", Creditor: self, Amount: 51}))
		}, want: ErrOverSettle},
		{name: "settle more than we owe", op: func(e *env) error {
			return e.append(KindSettle, e.signedSettle("p1", Settle{Debtor: self, Creditor: "p1", Amount: 101}))
		}, want: ErrOverSettle},
		{name: "settle with a peer owing nothing", op: func(e *env) error {
			return e.append(KindSettle, e.signedSettle(self, Settle{Debtor: "p3", Creditor: self, Amount: 1}))
		}, want: ErrOverSettle},
		{name: "replayed settle", op: func(e *env) error {
			ss := e.signedSettle(self, Settle{Debtor: "p2", Creditor: self, Amount: 10, Created: 1})
			e.must(e.append(KindSettle, ss))
			return e.append(KindSettle, ss)
		}, want: ErrDuplicate},
		{name: "settle between others", op: func(e *env) error {
			return e.append(KindSettle, e.signedSettle("p1", Settle{Debtor: "p2", Creditor: "p1", Amount: 1}))
		}, want: ErrNotParty},
		// governance
		{name: "agent created twice", op: func(e *env) error {
			return e.append(KindGovernance, Governance{Action: ActionAgentCreate, Agent: "alice"})
		}, want: ErrDuplicate},
		{name: "agent limits", op: func(e *env) error {
			return e.append(KindGovernance, Governance{Action: ActionAgentLimits, Agent: "alice", MaxJobPrice: 9, ApproveAbove: 8, RatePerHour: 7})
		}, check: func(t *testing.T, e *env) {
			a, _ := e.l.Agent("alice")
			if a.MaxJobPrice != 9 || a.ApproveAbove != 8 || a.RatePerHour != 7 || len(a.TokenHash) != 32 || !a.Created {
				t.Fatalf("limits not kept: %+v", a)
			}
		}},
		{name: "agent policy", op: func(e *env) error {
			return e.append(KindGovernance, Governance{Action: ActionAgentPolicy, Agent: "alice",
				Policy: &Policy{Deny: []string{"p2"}, MinReputationPermill: 500, Capabilities: []string{"runtime/wasm"}}})
		}, check: func(t *testing.T, e *env) {
			a, _ := e.l.Agent("alice")
			if a.Policy == nil || a.Policy.MinReputationPermill != 500 || a.Policy.Deny[0] != "p2" || a.MaxJobPrice != 500 {
				t.Fatalf("policy not kept beside the limits: %+v", a)
			}
		}},
		{name: "policy without a policy", op: func(e *env) error {
			return e.append(KindGovernance, Governance{Action: ActionAgentPolicy, Agent: "alice"})
		}, want: ErrInvalid},
		{name: "policy with a reputation above 1", op: func(e *env) error {
			return e.append(KindGovernance, Governance{Action: ActionAgentPolicy, Agent: "alice", Policy: &Policy{MinReputationPermill: 1001}})
		}, want: ErrInvalid},
		{name: "policy of a revoked agent", op: func(e *env) error {
			e.must(e.append(KindGovernance, Governance{Action: ActionAgentRevoke, Agent: "alice"}))
			return e.append(KindGovernance, Governance{Action: ActionAgentPolicy, Agent: "alice", Policy: &Policy{}})
		}, want: ErrRevoked},
		{name: "limits of an agent never created", op: func(e *env) error {
			return e.append(KindGovernance, Governance{Action: ActionAgentLimits, Agent: "bob"})
		}, want: ErrUnknownAgent},
		{name: "revoke twice", op: func(e *env) error {
			e.must(e.append(KindGovernance, Governance{Action: ActionAgentRevoke, Agent: "alice"}))
			return e.append(KindGovernance, Governance{Action: ActionAgentRevoke, Agent: "alice"})
		}, want: ErrRevoked},
		{name: "token hash of wrong length", op: func(e *env) error {
			return e.append(KindGovernance, Governance{Action: ActionAgentCreate, Agent: "carol", TokenHash: []byte("short")})
		}, want: ErrInvalid},
		{name: "negative limit", op: func(e *env) error {
			return e.append(KindGovernance, Governance{Action: ActionAgentCreate, Agent: "carol", MaxJobPrice: -1})
		}, want: ErrInvalid},
		{name: "unknown action", op: func(e *env) error {
			return e.append(KindGovernance, Governance{Action: "agent_promote", Agent: "alice"})
		}, want: ErrInvalid},
		{name: "job approval recorded", op: func(e *env) error {
			return e.append(KindGovernance, Governance{Action: ActionJobApprove, Job: "j1", Agent: "alice"})
		}},
		{name: "job approval without job", op: func(e *env) error {
			return e.append(KindGovernance, Governance{Action: ActionJobApprove})
		}, want: ErrInvalid},
		// outcome and attestation
		{name: "outcome", op: func(e *env) error {
			return e.append(KindOutcome, Outcome{Peer: "p1", Capability: "runtime/wasm", Outcome: "success", Job: "j1"})
		}},
		{name: "outcome unknown", op: func(e *env) error {
			return e.append(KindOutcome, Outcome{Peer: "p1", Outcome: "great"})
		}, want: ErrInvalid},
		{name: "outcome about ourselves", op: func(e *env) error {
			return e.append(KindOutcome, Outcome{Peer: self, Outcome: "success"})
		}, want: ErrInvalid},
		{name: "attestation", op: func(e *env) error {
			env, err := canon.Seal(e.keys.Signer(self), "attestation", Settle{Creditor: self})
			e.must(err)
			return e.append(KindAttestation, Attestation{Envelope: env.Encode()})
		}},
		{name: "attestation garbage", op: func(e *env) error {
			return e.append(KindAttestation, Attestation{Envelope: []byte{0xff}})
		}, want: ErrInvalid},
		// atomic groups
		{name: "append all or nothing", op: func(e *env) error {
			_, err := e.l.AppendAll(e.ctx,
				Draft{KindHold, Hold{Job: "j2", Agent: "alice", Amount: 100}},
				Draft{KindRelease, Release{Job: "j2", Amount: 101}})
			return err
		}, want: ErrOverHold, check: func(t *testing.T, e *env) {
			if _, ok := e.l.Hold("j2"); ok {
				t.Fatal("the hold of a failed group is visible")
			}
			agent(t, e, "alice", 700, 200, 100)
		}},
		{name: "append all", op: func(e *env) error {
			es, err := e.l.AppendAll(e.ctx,
				Draft{KindHold, Hold{Job: "j2", Agent: "alice", Amount: 100}},
				Draft{KindRelease, Release{Job: "j2", Amount: 100}})
			if err == nil && (len(es) != 2 || es[1].Seq != es[0].Seq+1 || es[1].Prev != es[0].CID()) {
				t.Fatalf("entries not consecutive: %+v", es)
			}
			return err
		}, check: func(t *testing.T, e *env) { hold(t, e, "j2", 0, true) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			base(e)
			seq0, head0 := e.l.Head()
			err := tc.op(e)
			wantErr(t, err, tc.want)
			if err != nil {
				if !strings.HasPrefix(err.Error(), "settlement: ") {
					t.Fatalf("error %q lacks the package prefix", err)
				}
				if seq, head := e.l.Head(); tc.want != nil && errors.Is(err, tc.want) && seq < seq0 || (seq == seq0 && head != head0) {
					t.Fatalf("head moved backwards or changed in place")
				}
			}
			if tc.check != nil {
				tc.check(t, e)
			}
			checkInvariants(t, e.l)
			// Whatever happened must survive a reopen with rebuilt
			// indexes and verify deeply.
			before := snapshotState(e.l)
			e.reopen(func(o *Options) { o.RebuildIndexes = true })
			if after := snapshotState(e.l); after != before {
				t.Fatalf("state after rebuild differs:\n%s\n%s", before, after)
			}
			if _, err := e.l.Verify(e.ctx, true); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A rejected append leaves no entry: the head stays put.
func TestRejectedAppendLeavesNothing(t *testing.T) {
	e := newEnv(t)
	base(e)
	seq, head := e.l.Head()
	wantErr(t, e.hold("j2", "alice", 5000), ErrBudgetExceeded)
	if s, h := e.l.Head(); s != seq || h != head {
		t.Fatalf("head moved from %d %s to %d %s", seq, head, s, h)
	}
}
