package evidence

import (
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/node/internal/wire/wiretest"
	"github.com/hayek-market/hayek/reputation"
	"github.com/hayek-market/hayek/settlement"
)

func testSigner(t *testing.T, b byte) *wire.Signer {
	t.Helper()
	_, sg := wiretest.Identity(t, b)
	return sg
}

// First-hand outcomes written to a real ledger come back into the book
// when the service is rebuilt from it, as on a restart.
func TestRebuildRestoresFirstHandEvidence(t *testing.T) {
	ctx := t.Context()
	sg, peer := testSigner(t, 1), testSigner(t, 2).ID()
	vf := wire.NewVerifier()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	l, err := settlement.Open(ctx, filepath.Join(t.TempDir(), "ledger"), settlement.Options{Signer: sg, Verifier: vf, Now: time.Now, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i, job := range []string{"j1", "j2", "j3"} {
		if _, err := l.Append(ctx, settlement.KindOutcome, settlement.Outcome{Peer: peer, Capability: "runtime/wasm",
			Outcome: string(reputation.Success), Job: job, Receipt: ""}); err != nil {
			t.Fatalf("append outcome %d: %v", i, err)
		}
	}
	deps := Deps{Signer: sg, Verifier: vf, Ledger: l, Drops: wire.NewDrops(), Log: log, Now: time.Now,
		Config: Config{HalfLife: 24 * time.Hour, AttestEvery: time.Minute, Freshness: time.Minute, Epsilon: 0.01,
			CreditLimit: 100, CreditMax: 1000}}
	fresh, err := New(deps)
	if err != nil {
		t.Fatal(err)
	}
	before := fresh.Book().Posterior(peer, "runtime/wasm").Mean()
	rebuilt, err := New(deps)
	if err != nil {
		t.Fatal(err)
	}
	if err := rebuilt.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	if after := rebuilt.Book().Posterior(peer, "runtime/wasm").Mean(); after <= before {
		t.Fatalf("posterior mean after rebuild %.3f, want above the prior's %.3f", after, before)
	}
}
