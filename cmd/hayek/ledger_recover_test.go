package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/hayek-market/hayek/node"
	"github.com/hayek-market/hayek/settlement"
)

// lostHome is a node home whose ledger lost its log after three paid jobs
// with a counterparty; it returns the home and the counterparty's export.
func lostHome(t *testing.T) (home, theirs string) {
	t.Helper()
	ctx := t.Context()
	home = t.TempDir()
	key, _, err := node.LoadOrCreateIdentity(home)
	if err != nil {
		t.Fatal(err)
	}
	me, err := node.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(home, node.LedgerDir)
	opts := settlement.Options{Signer: me, Verifier: node.NewVerifier()}
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	l, err := settlement.Open(ctx, dir, opts)
	must(nil, err)
	must(l.Append(ctx, settlement.KindFund, settlement.Fund{Agent: "operator", Amount: 1000}))
	must(nil, l.Close())
	l, err = settlement.Open(ctx, dir, opts) // the fund is flushed out of the log
	must(nil, err)
	pl, ps := ledgerOf(t)
	for _, job := range []string{"j1", "j2", "j3"} {
		must(l.Append(ctx, settlement.KindHold, settlement.Hold{Job: job, Agent: "operator", Amount: 100}))
		_, rh := l.Head()
		sr, err := settlement.SignReceipt(me, settlement.Receipt{Job: job, Attempt: 1, Requester: me.ID(), Provider: ps.ID(),
			Capability: "runtime/wasm", Price: 40, Result: "bafyresult", Outcome: "success", RequesterHead: rh, Created: 1})
		must(nil, err)
		_, ph := pl.Head()
		sr, err = settlement.Countersign(ps, sr, ph)
		must(nil, err)
		must(pl.Append(ctx, settlement.KindReceipt, sr))
		must(l.Append(ctx, settlement.KindReceipt, sr))
	}
	must(nil, l.Close())
	var b bytes.Buffer
	must(nil, pl.Export(ctx, &b))
	theirs = filepath.Join(t.TempDir(), "theirs.jsonl")
	must(nil, os.WriteFile(theirs, b.Bytes(), 0o600))

	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, p := range logs {
		must(nil, os.Remove(p))
	}
	if _, err := settlement.Open(ctx, dir, opts); !settlement.IsLostWrites(err) {
		t.Fatalf("open after the log was deleted: %v", err)
	}
	return home, theirs
}

func TestLedgerRecover(t *testing.T) {
	noNode := filepath.Join(t.TempDir(), "no-node.sock") // offline: nothing listens
	home, theirs := lostHome(t)

	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte("{\"seq\":1}\n"), 0o600)
	hayek(t, noNode, "", "--home", home, "ledger", "recover", "--from", bad).want(t, ExitFailed, "bad.jsonl does not verify", "Try: ")
	hayek(t, noNode, "", "--home", home, "ledger", "recover", "--from", filepath.Join(t.TempDir(), "nope.jsonl")).want(t, ExitUsage, "no such file")
	hayek(t, noNode, "", "--home", t.TempDir(), "ledger", "recover").want(t, ExitFailed, "identity")

	r := hayek(t, noNode, "", "--home", home, "ledger", "recover", "--from", theirs)
	r.want(t, 0)
	r.stdoutHas(t, "acknowledged entries", "records the loss, signed by", "re-appended from counterparties' exports (3;",
		"receipt", "j1", "j3", "40", "120 was funded to cover payments whose holds were lost", "Try: hayek serve")
	hayek(t, noNode, "", "--home", home, "ledger", "recover", "--from", theirs).want(t, 0, "lost nothing")

	// The ledger opens, and its export shows the loss.
	key, err := node.LoadIdentity(filepath.Join(home, node.IdentityFile))
	if err != nil {
		t.Fatal(err)
	}
	me, _ := node.NewSigner(key)
	l, err := settlement.Open(t.Context(), filepath.Join(home, node.LedgerDir), settlement.Options{Signer: me, Verifier: node.NewVerifier()})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := l.Export(t.Context(), &b); err != nil {
		t.Fatal(err)
	}
	l.Close()
	mine := filepath.Join(t.TempDir(), "mine.jsonl")
	os.WriteFile(mine, b.Bytes(), 0o600)
	r = hayek(t, noNode, "", "ledger", "verify", "--file", mine, "--deep")
	r.want(t, 0)
	r.stdoutHas(t, "records a loss: entries", "3 receipts and settlements re-appended")
	r = hayek(t, noNode, "", "ledger", "verify", "--file", mine, "--json")
	var rep struct {
		Lost []struct {
			Seq, Kept, Want, Missing uint64
			Reapplied                int
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || len(rep.Lost) != 1 || rep.Lost[0].Reapplied != 3 || rep.Lost[0].Missing == 0 {
		t.Fatalf("verify --json: %v %s", err, r.stdout)
	}
	r = hayek(t, noNode, "", "ledger", "audit", mine, theirs)
	r.want(t, 0)
	r.stdoutHas(t, "lost: ", "lost entries (declared)", "no faults")
}
