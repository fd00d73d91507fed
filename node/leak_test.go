package node

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestStartCloseLeavesNothingRunning starts and closes a node 50 times:
// every goroutine a node starts must have ended when Close returns (or
// soon after, for libp2p's own), so nothing outlives the stores it writes
// to. The first start is outside the count: libp2p starts a few
// process-wide goroutines once, on first use.
func TestStartCloseLeavesNothingRunning(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 50 nodes")
	}
	cycle := func() {
		t.Helper()
		n, err := New(t.Context(), Options{Home: homeDir(t), Config: DevnetConfig(), Logger: testLogger(t), CompileCache: compileCache})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	cycle()
	before := goleak.IgnoreCurrent()
	for range 50 {
		cycle()
	}
	goleak.VerifyNone(t, before)
}
