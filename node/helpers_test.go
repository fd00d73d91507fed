package node

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/api/apitest"
)

// waitFor polls cond until it holds or the deadline passes. Tests never
// sleep a fixed time: they wait for the condition they need.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testLogger logs to the test at warn and above, so failures come with
// the node's complaints.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

var devnetSeed = flag.Uint64("devnet.seed", 0, "seed of the test devnets' job IDs and tie-breaks (0: random, printed)")

// startDevnet starts n nodes and waits until they see each other. The
// nodes' randomness comes from a seed the test prints; -devnet.seed
// replays it.
func startDevnet(t *testing.T, n int, configure func(i int, c *Config)) *Devnet {
	t.Helper()
	seed := *devnetSeed
	if seed == 0 {
		seed = rand.Uint64() | 1
	}
	t.Logf("devnet seed %d (replay with -devnet.seed=%d)", seed, seed)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	d, err := StartDevnet(ctx, DevnetOptions{Nodes: n, Dir: apitest.SocketDir(t), Logger: testLogger(t), Configure: configure, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		d.Close(ctx)
	})
	if err := d.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	return d
}

// names maps peer IDs to node indexes for readable failures.
func names(d *Devnet) map[string]string {
	m := map[string]string{}
	for i, n := range d.Nodes {
		m[n.ID()] = fmt.Sprintf("node-%d", i)
	}
	return m
}

func wait(t *testing.T, c *api.Client, id string) api.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 45*time.Second)
	defer cancel()
	j, err := c.Wait(ctx, id)
	if err != nil {
		t.Fatalf("wait for %s: %v", id, err)
	}
	return j
}

// crash stops a node the way a kill -9 would look to its peers: no
// withdrawal, no draining, connections simply close.
func (n *Node) crash() {
	if n.closing.CompareAndSwap(false, true) {
		n.teardown()
		close(n.closed)
	}
}

func docCIDOf(v any) string { return canonDocCID(v) }
