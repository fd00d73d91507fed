package node

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/samples"
	"github.com/hayek-market/hayek/node/api"
)

// TestIdleNetworkKeepsItsOffers: a devnet left idle for several offer
// lifetimes runs the next job at once. Cached offers have all expired, so
// the requester must look again (DHT, then connected peers) rather than
// answer no_providers; background refresh keeps connected providers'
// offers from expiring at all.
func TestIdleNetworkKeepsItsOffers(t *testing.T) {
	// The nodes' clock runs at real speed, so timers measured on it (bid
	// windows, deadlines) pass as usual, and jumps ahead when the test
	// says the network has been idle.
	start, base := time.Now(), time.Now()
	var jumped atomic.Int64
	now := func() time.Time { return base.Add(time.Since(start) + time.Duration(jumped.Load())) }
	d := startDevnetWith(t, DevnetOptions{Nodes: 3, Now: now, Configure: func(i int, c *Config) {
		c.Offers.TTL.Set("10m")
	}})
	ctx := t.Context()
	c := api.NewClient(d.Sockets[0])
	submit := func(what string) {
		t.Helper()
		j, err := c.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)}, MaxPrice: 500})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if j = wait(t, c, j.ID); j.State != api.StateCompleted {
			t.Fatalf("%s: job ended %s: %+v", what, j.State, j.Error)
		}
	}
	submit("first job")

	// Idle for five lifetimes: every cached offer has expired.
	jumped.Add(int64(50 * time.Minute))
	offers, err := c.Offers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range offers {
		if !o.Self && o.ExpiresAt.After(now()) {
			t.Fatalf("offer of %s still valid after five lifetimes: the test did not age it", o.Provider)
		}
	}
	submit("the job after five idle lifetimes")

	// Background refresh: past half their life, connected providers'
	// offers are fetched again, so they never expire while idle.
	jumped.Add(int64(6 * time.Minute))
	d.Nodes[0].disc.Refresh(ctx)
	offers, err = c.Offers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fresh := 0
	for _, o := range offers {
		if !o.Self && o.ExpiresAt.Sub(now()) > 5*time.Minute {
			fresh++
		}
	}
	if fresh != 2 {
		t.Fatalf("after a background refresh %d of 2 peers' offers are fresh: %+v", fresh, offers)
	}
}
