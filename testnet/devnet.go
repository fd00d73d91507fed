package testnet

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/hayek-market/hayek/node"
)

// runDevnet runs a scenario without Docker: N complete nodes in this
// process on loopback (hayek devnet), the first two requesters. Load,
// collection, check and report are the same as on containers, since they
// only use the nodes' sockets; container faults (the scenario's steps),
// misbehaviour and extra node groups need containers and are refused.
func runDevnet(ctx context.Context, o RunOptions, mix []MixEntry, sc *Scenario) (*RunResult, error) {
	if len(sc.Steps) > 0 || len(sc.Nodes) > 0 || len(sc.Misbehave) > 0 {
		return nil, fmt.Errorf("testnet: scenario %s injects container faults, misbehaviour or extra nodes, which need Docker; without it run a scenario without them (baseline)", sc.Name)
	}
	res := &RunResult{NetDir: filepath.Join(o.Out, "net")}
	if _, err := os.Stat(filepath.Join(res.NetDir, StateFile)); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrExists, res.NetDir)
	}
	homes := filepath.Join(res.NetDir, homesDir)
	if err := os.MkdirAll(homes, 0o700); err != nil {
		return nil, fmt.Errorf("testnet: %w", err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d, err := node.StartDevnet(ctx, node.DevnetOptions{Nodes: o.Devnet, Dir: homes, Logger: log})
	if err != nil {
		return res, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		d.Close(cctx)
		res.Down = true
	}()
	t := &Testnet{Name: "devnet", Project: "devnet", Image: "(in process)", Mix: mix, Dir: res.NetDir}
	for i, n := range d.Nodes {
		t.Nodes = append(t.Nodes, &Node{Name: fmt.Sprintf("node-%d", i), Group: "node", Index: i, PeerID: n.ID(),
			Requester: i < min(2, o.Devnet-1), Sell: true, Bootstrap: i == 0, LogLevel: "warn"})
	}
	if t.Expect, err = sc.expectations([]NodeGroup{{Name: "node"}}, mix); err != nil {
		return res, err
	}
	if err := t.save(); err != nil {
		return res, err
	}
	r := &Runner{T: t, Log: o.Log, NoDocker: true}
	if len(t.Nodes) > 1 {
		t.Nodes[1].Agents, t.Nodes[1].AgentBudget = 2, 1_000_000 // one requester submits through agents
	}
	r.logf("run: scenario %s on a devnet of %d nodes in this process (no Docker)", sc.Name, o.Devnet)
	if err := r.stages(ctx, o, sc); err != nil {
		return res, err
	}
	var err2 error
	res.Check, res.Report, err2 = r.checkAndReport(ctx, o.Out)
	return res, err2
}
