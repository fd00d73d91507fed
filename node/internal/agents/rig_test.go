package agents

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/node/internal/wire/wiretest"
	"github.com/hayek-market/hayek/settlement"
)

// The agents service tested without a node: a real ledger in a temporary
// directory, a clock the test moves, and this node's own offer faked.

type rig struct {
	s       *Service
	ledger  *settlement.Ledger
	now     time.Time
	self    string
	own     *market.Candidate // nil: this node sells nothing
	revoked []string          // agents whose jobs CancelAgentJobs was asked to cancel
}

func newRig(t *testing.T) *rig {
	t.Helper()
	_, sg := wiretest.Identity(t, 1)
	r := &rig{now: time.UnixMilli(1_700_000_000_000), self: sg.ID()}
	l, err := settlement.Open(t.Context(), filepath.Join(t.TempDir(), "ledger"), settlement.Options{
		Signer: sg, Verifier: wire.NewVerifier(), Now: func() time.Time { return r.now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	r.ledger = l
	r.s = New(Deps{Ledger: l, Now: func() time.Time { return r.now }, Self: r.self,
		Own: func() (market.Candidate, bool) {
			if r.own == nil {
				return market.Candidate{}, false
			}
			return *r.own, true
		},
		SpecError:       func(err error) error { return err },
		CancelAgentJobs: func(_ context.Context, agent, _ string) { r.revoked = append(r.revoked, agent) },
	})
	return r
}

// agent creates an agent as the operator and returns its token.
func (r *rig) agent(t *testing.T, req api.AgentCreate) string {
	t.Helper()
	tok, err := r.s.CreateAgent(t.Context(), req)
	if err != nil {
		t.Fatalf("create %s: %v", req.Name, err)
	}
	return tok.Token
}

// asAgent is ctx as a request of agent name on the agent socket.
func asAgent(ctx context.Context, name string) context.Context {
	return api.WithCaller(ctx, api.Caller{Agent: name})
}

// spec is a valid job spec at max price p verified as v.
func spec(p int64, v string) market.JobSpec {
	return market.JobSpec{Runtime: market.RuntimeWasm, Module: market.Blob{CID: canon.BlobCID([]byte("module")).String(), Size: 6},
		MaxPrice: p, Verify: v}
}

// code is err's API error code, or "" for none.
func code(err error) string {
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	if err != nil {
		return "not an api.Error: " + err.Error()
	}
	return ""
}

// peer is the peer ID of seeded identity b.
func peer(t *testing.T, b byte) string {
	t.Helper()
	_, sg := wiretest.Identity(t, b)
	return sg.ID()
}
