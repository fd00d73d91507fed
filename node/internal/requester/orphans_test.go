package requester

import (
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/node/internal/wire/wiretest"
	"github.com/hayek-market/hayek/settlement"
)

// The holds a previous run left open go back to their agents; closed
// ones are left alone, and a second call finds nothing to release.
func TestReleaseOrphans(t *testing.T) {
	ctx := t.Context()
	_, sg := wiretest.Identity(t, 1)
	l, err := settlement.Open(ctx, filepath.Join(t.TempDir(), "ledger"), settlement.Options{Signer: sg, Verifier: wire.NewVerifier()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if _, err := l.AppendAll(ctx,
		settlement.Draft{Kind: settlement.KindGovernance, Body: settlement.Governance{Action: settlement.ActionAgentCreate, Agent: "a"}},
		settlement.Draft{Kind: settlement.KindFund, Body: settlement.Fund{Agent: "a", Amount: 100}},
		settlement.Draft{Kind: settlement.KindHold, Body: settlement.Hold{Job: "lost", Agent: "a", Amount: 30}},
		settlement.Draft{Kind: settlement.KindHold, Body: settlement.Hold{Job: "done", Agent: "a", Amount: 20}},
		settlement.Draft{Kind: settlement.KindRelease, Body: settlement.Release{Job: "done", Amount: 20, Reason: "test"}}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for range 2 {
		if err := ReleaseOrphans(ctx, l, log); err != nil {
			t.Fatal(err)
		}
	}
	if a, _ := l.Agent("a"); a.Budget != 100 || a.Held != 0 {
		t.Fatalf("agent after the release: %+v, want its 100 back and nothing held", a)
	}
	for _, h := range l.OpenHolds() {
		if h.Remaining > 0 {
			t.Fatalf("hold %+v still open", h)
		}
	}
}
