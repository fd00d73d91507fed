package node

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/settlement"
)

// TestSecondNodeOnAPortIsRefused: a node asked to listen on a TCP port
// another node holds fails with "address already in use" rather than
// sharing it (libp2p's TCP transport sets SO_REUSEPORT by default).
func TestSecondNodeOnAPortIsRefused(t *testing.T) {
	ctx := t.Context()
	// The first node takes a port of the kernel's choosing (nothing else
	// can take it between a pick and a bind); the second asks for that one.
	cfg := DevnetConfig()
	cfg.Network.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	first, err := New(ctx, Options{Home: homeDir(t), Config: cfg, Logger: testLogger(t), CompileCache: compileCache})
	if err != nil {
		t.Fatal(err)
	}
	port := tcpPort(t, first)
	cfg.Network.Listen = []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port)}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		first.Close(cctx)
	})
	second, err := New(ctx, Options{Home: homeDir(t), Config: cfg, Logger: testLogger(t), CompileCache: compileCache})
	if err == nil {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		second.Close(cctx)
		t.Fatalf("a second node started on port %d", port)
	}
	if !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("second node on port %d: %v; want address already in use", port, err)
	}
}

// TestPartialConfigIsRefusedNotReplaced: a config that sets some fields
// and not others is validated as given — refused naming what is missing
// — rather than silently swapped for the defaults.
func TestPartialConfigIsRefusedNotReplaced(t *testing.T) {
	var cfg Config
	cfg.Provider.Slots = 3
	_, err := New(t.Context(), Options{Home: homeDir(t), Config: cfg, Logger: testLogger(t)})
	if err == nil || !strings.Contains(err.Error(), "network.listen") {
		t.Fatalf("New with only provider.slots set: %v; want a config error naming network.listen", err)
	}
}

// TestNodeRefusesALedgerThatLostWrites: a node whose ledger's write-ahead
// log was cut short while it was stopped refuses to start, saying how
// many acknowledged entries are missing and how to recover.
func TestNodeRefusesALedgerThatLostWrites(t *testing.T) {
	ctx := t.Context()
	home := homeDir(t)
	cfg := DevnetConfig()
	n, err := New(ctx, Options{Home: home, Config: cfg, Logger: testLogger(t), CompileCache: compileCache})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if _, err := n.ledger.Append(ctx, settlement.KindFund, settlement.Fund{Agent: api.OperatorAgent, Amount: 1}); err != nil {
			t.Fatal(err)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	n.Close(cctx)
	cancel()
	logs, _ := filepath.Glob(filepath.Join(home, LedgerDir, "*.log"))
	if len(logs) == 0 {
		t.Fatal("no write-ahead log in the ledger")
	}
	for _, l := range logs {
		st, err := os.Stat(l)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(l, st.Size()/2); err != nil {
			t.Fatal(err)
		}
	}
	_, err = New(ctx, Options{Home: home, Config: cfg, Logger: testLogger(t), CompileCache: compileCache})
	if !settlement.IsLostWrites(err) || !strings.Contains(err.Error(), "hayek ledger recover") {
		t.Fatalf("restart on a ledger whose log was cut: %v; want lost writes naming hayek ledger recover", err)
	}
	t.Logf("refused: %v", err)
}

// tcpPort is the TCP port a node listens on.
func tcpPort(t *testing.T, n *Node) int {
	t.Helper()
	for _, a := range n.Host().Addrs() {
		if v, err := a.ValueForProtocol(ma.P_TCP); err == nil {
			if port, err := strconv.Atoi(v); err == nil {
				return port
			}
		}
	}
	t.Fatalf("the node listens on no TCP port: %v", n.Host().Addrs())
	return 0
}
