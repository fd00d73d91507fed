package node

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/internal/samples"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/api/apitest"
)

// waitFor is apitest.WaitFor: one poll-until-deadline for every test.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	apitest.WaitFor(t, within, what, cond)
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
	return startDevnetWith(t, DevnetOptions{Nodes: n, Configure: configure})
}

// startDevnetWith starts a devnet with options beyond a node count and a
// config hook (o.Dir, Logger, Seed and CompileCache are the test's).
func startDevnetWith(t *testing.T, o DevnetOptions) *Devnet {
	t.Helper()
	seed := *devnetSeed
	if seed == 0 {
		seed = rand.Uint64() | 1
	}
	t.Logf("devnet seed %d (replay with -devnet.seed=%d)", seed, seed)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	configure := o.Configure
	o.Dir, o.Logger, o.Seed, o.CompileCache = apitest.SocketDir(t), testLogger(t), seed, compileCache
	o.Configure = func(i int, c *Config) {
		patient(c)
		if configure != nil {
			configure(i, c)
		}
	}
	d, err := StartDevnet(ctx, o)
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

// wait waits for a job to end. The node fails every job by its deadline,
// so the wait is bounded by the job's own deadline plus the settlement
// after it, not by a guess of how fast this machine is.
func wait(t *testing.T, c *api.Client, id string) api.Job {
	t.Helper()
	j, err := c.Job(t.Context(), id)
	if err != nil {
		t.Fatalf("job %s: %v", id, err)
	}
	ctx, cancel := context.WithDeadline(t.Context(), j.Deadline.Add(settleMargin))
	defer cancel()
	for !j.State.Terminal() {
		if j, err = c.Wait(ctx, id); err != nil {
			t.Fatalf("wait for %s (deadline %s): %v", id, j.Deadline.Format(time.TimeOnly), err)
		}
	}
	return j
}

// submitWait submits req through c and waits for the job to end.
func submitWait(t *testing.T, c *api.Client, req api.SubmitRequest) api.Job {
	t.Helper()
	job, err := c.Submit(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	return wait(t, c, job.ID)
}

// settleMargin is how long after its deadline a job may take to end: its
// receipts are exchanged (Settlement.ReceiptTimeout) before it turns
// terminal.
const settleMargin = time.Minute

// patient gives test devnets timers fit for a machine whose cores are
// busy with other work (the race detector, parallel packages): an auction
// closes as soon as every invitee answers, so a long bid window costs only
// when an invitee is silent, and result grace is only spent by a late
// provider.
func patient(c *Config) {
	// Providers sharing two busy cores cannot start a job within 50 ms;
	// a promise they cannot keep is missed-start evidence against honest
	// providers, which then fail replica credibility.
	c.Provider.StartBase.Set("2s")
	c.Requester.BidWindow.Set("5s")
	c.Requester.AckTimeout.Set("20s")
	c.Requester.ResultGrace.Set("60s")
}

// compileCache holds the sample modules compiled once for the whole test
// binary (TestMain), so no job's deadline pays for compiling them.
var compileCache string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		// Kept between runs like Go's build cache, so only the first run
		// on a machine compiles the samples.
		dir := DefaultCompileCache()
		if dir == "" {
			var err error
			if dir, err = os.MkdirTemp("", "hayek-compile-cache-"); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			defer os.RemoveAll(dir)
		}
		if err := WarmCompileCache(context.Background(), dir, samples.Hello, samples.Toolbox); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		compileCache = dir
		return m.Run()
	}())
}

// crash stops a node the way a kill -9 would look to its peers: no
// withdrawal, no draining, connections simply close.
func (n *Node) crash() {
	if n.closing.CompareAndSwap(false, true) {
		n.teardown()
		close(n.closed)
	}
}

func docCIDOf(v any) string { return canon.DocCID(canon.MustMarshal(v)).String() }

// homeDir is a fresh node home for a test: a path inside the test's temp
// directory that New creates private (t.TempDir itself is 0755, which the
// node rightly refuses as a home).
func homeDir(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "home")
}
