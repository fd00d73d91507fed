package node

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"
)

// TestBootstrapRetries: a node whose only bootstrap peer is down at start
// says it is isolated, and joins that peer within seconds of its coming
// up — not after the minutes a connection manager's trim would take.
func TestBootstrapRetries(t *testing.T) {
	ctx := t.Context()
	// The bootstrap peer's port, fixed so it comes back where it was.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
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
	waitFor(t, 10*time.Second, "the node to reach its bootstrap peer once it is up", func() bool {
		st, err := n.Status(ctx)
		return err == nil && !st.Isolated && st.Peers > 0
	})
}
