package node

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBootstrapRetries: a node whose only bootstrap peer is down at start
// says it is isolated, and joins that peer within seconds of its coming
// up — not after the minutes a connection manager's trim would take.
func TestBootstrapRetries(t *testing.T) {
	ctx := t.Context()
	// The bootstrap peer's port, fixed so it comes back where it was: one
	// below the kernel's ephemeral range, so that no connection another
	// process opens while the peer is down takes it.
	port := fixedPort(t)
	bootHome := homeDir(t)
	bootCfg := DevnetConfig()
	bootCfg.Network.Listen = []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port)}
	start := func() *Node {
		n, err := New(ctx, Options{Home: bootHome, Config: bootCfg, Logger: testLogger(t), CompileCache: compileCache})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	boot := start()
	addr := boot.Addrs()[0]
	closeNode := func(n *Node) {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.Close(cctx)
	}
	closeNode(boot)

	cfg := DevnetConfig()
	cfg.Network.Bootstrap = []string{addr}
	n, err := New(ctx, Options{Home: homeDir(t), Config: cfg, Logger: testLogger(t), CompileCache: compileCache})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeNode(n) })
	st, err := n.Status(ctx)
	if err != nil || !st.Isolated || st.Peers != 0 {
		t.Fatalf("status with the bootstrap peer down: isolated=%v peers=%d (%v); want isolated", st.Isolated, st.Peers, err)
	}

	boot = start()
	t.Cleanup(func() { closeNode(boot) })
	// Seconds in fact (the retry backs off from 1 s); the bound leaves room
	// for a busy machine and is still well short of a connection
	// manager's minutes.
	waitFor(t, 60*time.Second, "the node to reach its bootstrap peer once it is up", func() bool {
		st, err := n.Status(ctx)
		return err == nil && !st.Isolated && st.Peers > 0
	})
}

// fixedPort is a free loopback TCP port below the kernel's ephemeral port
// range, for a test that must bind the same port twice: a port from ":0"
// is ephemeral, and between the two binds any outgoing connection on the
// machine (another test binary's, say) may be given it.
func fixedPort(t *testing.T) int {
	t.Helper()
	lo := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil {
				lo = v
			}
		}
	}
	const min = 10000
	if lo <= min+100 {
		t.Skipf("the ephemeral port range starts at %d: no fixed port below it to use", lo)
	}
	seed := uint64(time.Now().UnixNano()) ^ uint64(os.Getpid())<<32
	rng := rand.New(rand.NewPCG(seed, 0))
	for range 100 {
		port := min + rng.IntN(lo-min)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // taken: try another
		}
		l.Close()
		return port
	}
	t.Fatalf("no free loopback port below %d after 100 tries (seed %d)", lo, seed)
	return 0
}
