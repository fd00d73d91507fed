package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/node"
	"github.com/hayek-market/hayek/settlement"
)

// ledgerOf opens a settlement ledger for a fresh libp2p identity.
func ledgerOf(t *testing.T) (*settlement.Ledger, canon.Signer) {
	t.Helper()
	key, err := node.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	s, err := node.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	l, err := settlement.Open(t.Context(), t.TempDir(), settlement.Options{Signer: s, Verifier: node.NewVerifier()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, s
}

// auditFixture writes the exports of a requester and a provider that did
// three paid jobs; with drop, the provider never recorded the second
// receipt it countersigned.
func auditFixture(t *testing.T, drop bool) (req, prov string) {
	t.Helper()
	ctx := t.Context()
	rl, rs := ledgerOf(t)
	pl, ps := ledgerOf(t)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(rl.Append(ctx, settlement.KindFund, settlement.Fund{Agent: "operator", Amount: 1000}))
	for i, job := range []string{"j1", "j2", "j3"} {
		must(rl.Append(ctx, settlement.KindHold, settlement.Hold{Job: job, Agent: "operator", Amount: 100}))
		_, rh := rl.Head()
		sr, err := settlement.SignReceipt(rs, settlement.Receipt{Job: job, Attempt: 1, Requester: rs.ID(), Provider: ps.ID(),
			Capability: "runtime/wasm", Price: 40, Result: "bafyresult", Outcome: "success", RequesterHead: rh, Created: 1})
		must(nil, err)
		_, ph := pl.Head()
		sr, err = settlement.Countersign(ps, sr, ph)
		must(nil, err)
		if !drop || i != 1 {
			must(pl.Append(ctx, settlement.KindReceipt, sr))
		}
		must(rl.Append(ctx, settlement.KindReceipt, sr))
	}
	dir := t.TempDir()
	for _, x := range []struct {
		l    *settlement.Ledger
		path *string
		name string
	}{{rl, &req, "req.jsonl"}, {pl, &prov, "prov.jsonl"}} {
		var b bytes.Buffer
		if err := x.l.Export(ctx, &b); err != nil {
			t.Fatal(err)
		}
		*x.path = filepath.Join(dir, x.name)
		if err := os.WriteFile(*x.path, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return req, prov
}

func TestLedgerAudit(t *testing.T) {
	noNode := filepath.Join(t.TempDir(), "no-node.sock") // offline: nothing listens
	req, prov := auditFixture(t, false)
	r := hayek(t, noNode, "", "ledger", "audit", req, prov)
	r.want(t, 0)
	r.stdoutHas(t, "2 ledgers verify", "req.jsonl", "prov.jsonl", "PAIR", "-120", "+120", "yes", "no faults among 1 pairs")

	req, prov = auditFixture(t, true)
	r = hayek(t, noNode, "", "ledger", "audit", req, prov)
	r.want(t, ExitFailed, "1 faults found")
	r.stdoutHas(t, "missing: ", "at fault", "job j2", "no\n")
	r = hayek(t, noNode, "", "ledger", "audit", req, prov, "--json")
	r.want(t, ExitFailed)
	var out auditOut
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	if out.Faults != 1 || len(out.Pairs) != 1 || out.Pairs[0].Agree || len(out.Pairs[0].Findings) != 1 {
		t.Fatalf("--json: %+v", out)
	}
	if f := out.Pairs[0].Findings[0]; f.Kind != "missing" || f.Job != "j2" || f.Amount != 40 || f.Holder == f.Subject {
		t.Fatalf("finding %+v", f)
	}

	hayek(t, noNode, "", "ledger", "audit", req).want(t, ExitUsage, "at least two exports")
	hayek(t, noNode, "", "ledger", "audit", req, req).want(t, ExitUsage, "one export per node")
	hayek(t, noNode, "", "ledger", "audit", req, filepath.Join(t.TempDir(), "nope.jsonl")).want(t, ExitUsage, "no such file")
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte("{\"seq\":1}\n"), 0o600)
	hayek(t, noNode, "", "ledger", "audit", req, bad).want(t, ExitFailed, "bad.jsonl does not verify")
}
