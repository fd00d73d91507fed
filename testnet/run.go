package testnet

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/hayek-market/hayek/internal/units"
)

// RunOptions are hayek testnet run's.
type RunOptions struct {
	Manifest string // path
	Scenario string // name or file
	Out      string // directory: the testnet goes in Out/net, results in Out
	Log      io.Writer
	UID, GID int
	// KeepUp leaves the net up even when the check passes.
	KeepUp bool
	// Devnet, when > 0, runs the scenario on that many nodes in this
	// process (hayek devnet) instead of containers: no Docker needed, no
	// container faults. Manifest, if given, supplies only the job mix.
	Devnet int
}

// RunResult is how a run ended.
type RunResult struct {
	Check  *CheckResult
	Report *Report
	NetDir string
	Down   bool // the net was taken down
}

// Run chains the stages: setup, up, wait, load with the scenario's steps,
// restore, collect, check, report, and down when the check passed. A
// failed run leaves the net up for inspection.
func Run(ctx context.Context, o RunOptions) (*RunResult, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	sc, err := LoadScenario(o.Scenario)
	if err != nil {
		return nil, err
	}
	if o.Devnet > 0 {
		mix := ciMix
		if o.Manifest != "" {
			m, err := LoadManifest(o.Manifest)
			if err != nil {
				return nil, err
			}
			mix = m.Mix
		}
		return runDevnet(ctx, o, mix, sc)
	}
	m, err := LoadManifest(o.Manifest)
	if err != nil {
		return nil, err
	}
	if err := sc.Apply(m); err != nil {
		return nil, err
	}
	if err := DockerAvailable(ctx); err != nil {
		return nil, err
	}
	res := &RunResult{NetDir: filepath.Join(o.Out, "net")}
	if _, err := Setup(m, res.NetDir, o.UID, o.GID); err != nil {
		return res, err
	}
	r, err := NewRunner(res.NetDir, o.Log)
	if err != nil {
		return res, err
	}
	r.logf("run: scenario %s (%s) on %s, %d nodes", sc.Name, sc.Description, m.Name, len(r.T.Nodes))
	if err := stage(ctx, 5*time.Minute, r.Up); err != nil {
		return res, err
	}
	if err := r.stages(ctx, o, sc); err != nil {
		return res, err
	}
	if res.Check, res.Report, err = r.checkAndReport(ctx, o.Out); err != nil {
		return res, err
	}
	if res.Check.OK && !o.KeepUp {
		if err := stage(ctx, 3*time.Minute, func(ctx context.Context) error { return r.Down(ctx, false) }); err != nil {
			return res, err
		}
		res.Down = true
	}
	return res, nil
}

// ciMix is the job mix of a devnet run without a manifest: ci.toml's.
var ciMix = []MixEntry{
	{Name: "hello", Module: "hello", Stdin: "testnet", Weight: 3, MaxPrice: 1000, Timeout: units.Duration(5 * time.Second)},
	{Name: "primes", Module: "toolbox", Args: []string{"primes", "200000"}, Weight: 1, MaxPrice: 1000, Timeout: units.Duration(20 * time.Second)},
}

func stage(ctx context.Context, d time.Duration, f func(context.Context) error) error {
	sctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return f(sctx)
}

// stages waits for the offers, drives the scenario and brings every node
// back.
func (r *Runner) stages(ctx context.Context, o RunOptions, sc *Scenario) error {
	if err := stage(ctx, 3*time.Minute, func(ctx context.Context) error { return r.WaitOffers(ctx, -1, false) }); err != nil {
		return err
	}
	if sc.WarmUp == WarmProviders {
		if err := stage(ctx, 10*time.Minute, r.WarmUpProviders); err != nil {
			return err
		}
	}
	start := time.Now()
	if err := stage(ctx, 15*time.Minute, func(ctx context.Context) error { return r.drive(ctx, sc) }); err != nil {
		return err
	}
	r.logf("run: load and faults done in %.1fs", time.Since(start).Seconds())
	if r.NoDocker {
		return nil
	}
	return stage(ctx, 3*time.Minute, r.Restore)
}

// checkAndReport collects, checks and reports into out.
func (r *Runner) checkAndReport(ctx context.Context, out string) (*CheckResult, *Report, error) {
	if err := stage(ctx, 5*time.Minute, func(ctx context.Context) error { return r.Collect(ctx, out) }); err != nil {
		return nil, nil, err
	}
	chk, err := Check(ctx, out)
	if err != nil {
		return nil, nil, err
	}
	if err := writeJSON(filepath.Join(out, "check.json"), chk); err != nil {
		return chk, nil, err
	}
	rep, err := WriteReport(out)
	return chk, rep, err
}

// drive runs the load, the scenario's steps and the reputation sampler
// together, until the load has ended and every step was taken.
func (r *Runner) drive(ctx context.Context, sc *Scenario) error {
	var p progress
	g, gctx := errgroup.WithContext(ctx)
	loadDone := make(chan struct{})
	g.Go(func() error {
		defer close(loadDone)
		_, err := r.Load(gctx, LoadOptions{Jobs: sc.Jobs, Rate: sc.Rate, Wait: true,
			Submitted: func(n int) { p.submitted.Store(int64(n)) },
			Progress:  func(n int) { p.ended.Store(int64(n)) }})
		return err
	})
	g.Go(func() error { return r.runSteps(gctx, sc.Steps, sc.Jobs, &p) })
	g.Go(func() error { r.sampleReputation(gctx, loadDone); return nil })
	return g.Wait()
}

// RepSample is what one requester believed of its providers at a time.
type RepSample struct {
	Time     time.Time          `json:"time"`
	Node     string             `json:"node"`
	Mean     map[string]float64 `json:"mean"`     // by provider peer ID
	Evidence map[string]float64 `json:"evidence"` // by provider peer ID
}

// sampleReputation records, every two seconds until done closes, each
// requester's reputation rows (a sampling period, not a wait).
func (r *Runner) sampleReputation(ctx context.Context, done <-chan struct{}) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	f, err := os.OpenFile(filepath.Join(r.T.Dir, repLog), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		r.logf("reputation: %v", err)
		return
	}
	defer f.Close()
	for {
		for _, n := range r.T.Nodes {
			if !n.Requester {
				continue
			}
			rows, err := r.Client(n).Reputation(ctx, "")
			if err != nil {
				continue
			}
			s := RepSample{Time: time.Now().UTC(), Node: n.Name, Mean: map[string]float64{}, Evidence: map[string]float64{}}
			for _, row := range rows {
				s.Mean[row.Peer] = row.Mean
				s.Evidence[row.Peer] = row.Evidence
			}
			b, _ := json.Marshal(s)
			f.Write(append(b, '\n'))
		}
		select {
		case <-ctx.Done():
			return
		case <-done:
			return
		case <-t.C:
		}
	}
}

// DownHint is how to take a run's net down.
func (res *RunResult) DownHint() string {
	return fmt.Sprintf("the net is still up for inspection; take it down with: hayek testnet down --dir %s", res.NetDir)
}
