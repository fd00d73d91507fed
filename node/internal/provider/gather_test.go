package provider

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/node/internal/wire/wiretest"
)

// TestGatherStopsAtFirstFailure: fetches run at most wire.FetchParallel
// at once, and the first that fails cancels the others, whose errors are
// not the one reported.
func TestGatherStopsAtFirstFailure(t *testing.T) {
	blob := func(s string) market.Blob {
		return market.Blob{CID: canon.BlobCID([]byte(s)).String(), Size: int64(len(s))}
	}
	bad := blob("bad")
	var inputs []market.Input
	for _, s := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		inputs = append(inputs, market.Input{Name: s, Blob: blob(s)})
	}
	// The failing fetch is among the first started, so that all the
	// others (blocked until cancelled) never fill the limit for good.
	inputs[wire.FetchParallel-2].Blob = bad
	var inFlight, most, cancelled atomic.Int32
	_, sg := wiretest.Identity(t, 5)
	p := New(Deps{Signer: sg, Log: slog.New(slog.DiscardHandler), Now: time.Now, Blobs: fakeBlobs{},
		Fetch: func(ctx context.Context, _, _ string, b market.Blob) ([]byte, error) {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			if b.CID == bad.CID {
				return nil, errors.New("refused")
			}
			<-ctx.Done() // the others wait until the failure cancels them
			cancelled.Add(1)
			return nil, ctx.Err()
		}})
	run := &provRun{award: market.Award{Job: "j", Requester: "r", Run: market.RunSpec{Module: blob("module"), Inputs: inputs}}}
	_, err := p.gather(t.Context(), run)
	if err == nil || err.Error() != "fetch "+bad.CID+": refused" {
		t.Fatalf("gather = %v, want the refused fetch", err)
	}
	if most.Load() > wire.FetchParallel {
		t.Fatalf("%d fetches at once, limit %d", most.Load(), wire.FetchParallel)
	}
	if got, want := cancelled.Load(), int32(len(inputs)); got != want {
		t.Fatalf("%d fetches cancelled, want every other one (%d)", got, want)
	}
	if inFlight.Load() != 0 {
		t.Fatalf("%d fetches still running after gather returned", inFlight.Load())
	}
}
