package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/internal/samples"
	"github.com/hayek-market/hayek/internal/units"
	"github.com/hayek-market/hayek/node"
	"github.com/hayek-market/hayek/node/api"
)

// benchOptions are bench's flags.
type benchOptions struct {
	nodes, jobs, conc int
	modules           map[string]bool
	explain           bool
	memProfile        string
	soak              time.Duration
	quic              bool
}

// Percentiles in milliseconds.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
}

// BenchReport is what `hayek bench --json` prints.
type BenchReport struct {
	Nodes       int `json:"nodes"`
	Jobs        int `json:"jobs"`           // per trivial-module phase
	GoJobs      int `json:"go_module_jobs"` // per Go-module phase
	Concurrency int `json:"concurrency"`
	// Modules are the phases measured (--modules); the others' figures
	// stay zero and are not printed.
	Modules []string `json:"modules"`
	// Trivial module (hello.wasm, 337 bytes), modules warm.
	Latency        Percentiles `json:"latency_ms"`        // unloaded: one job at a time
	LoadedLatency  Percentiles `json:"loaded_latency_ms"` // with Concurrency jobs in flight
	JobsPerSecond  float64     `json:"jobs_per_second"`   // loaded phase
	GoModuleBytes  int         `json:"go_module_bytes"`
	GoLatency      Percentiles `json:"go_module_latency_ms"` // unloaded
	GoLoaded       Percentiles `json:"go_module_loaded_latency_ms"`
	GoJobsPerSec   float64     `json:"go_module_jobs_per_second"`
	FloorRTT       float64     `json:"floor_rtt_ms"`           // bare libp2p stream request between two of the nodes
	AppendFloor    float64     `json:"synced_append_floor_ms"` // one raw synced pebble batch: what each ledger append on the job path costs at least
	P50OverFloor   float64     `json:"p50_over_floor"`
	RSSBefore      float64     `json:"rss_mb_before"` // after warm-up
	RSSAfter       float64     `json:"rss_mb_after"`
	HeapBefore     float64     `json:"heap_mb_before"`
	HeapAfter      float64     `json:"heap_mb_after"`
	Soak           []SoakPoint `json:"soak,omitempty"`
	Failed         int         `json:"failed"`
	WarmupJobs     int         `json:"warmup_jobs"`
	QUIC           bool        `json:"quic"`
	GoVersion      string      `json:"go_version"`
	CPUs           int         `json:"cpus"`
	DurationSecond float64     `json:"duration_s"`
}

func newBenchCmd(g *globals) *cobra.Command {
	var (
		nodes, jobs, conc int
		asJSON            bool
		cpuProfile        string
		memProfile        string
		modules           []string
		explain           bool
		soak              units.Duration
		quic              bool
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure job latency and throughput on an in-process devnet",
		Long: `Start an in-process devnet of N nodes and submit jobs to node-0 through its
socket API, as an agent would. After a warm-up (every provider has fetched and
compiled both modules), two phases per module: unloaded (one job at a time, for
latency) and loaded (--concurrency jobs in flight, for throughput and latency
under load). Each trivial-module phase runs --jobs jobs, each Go-module phase
a quarter as many (at least 10): a Go-module job costs several times more. Modules: hello.wasm (337 bytes) and toolbox.wasm (Go-built, ~3MB).
In the same run it measures the floor — a bare request/response on a new
libp2p stream between two of the nodes — and reports p50 ÷ floor, and the
process's resident memory before and after the measured phases.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if nodes < 2 || nodes > 64 {
				return usageErrorf("--nodes %d: want 2 to 64", nodes)
			}
			if jobs < 10 || conc < 1 || conc > 256 {
				return usageErrorf("want --jobs ≥ 10 and 1 ≤ --concurrency ≤ 256")
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			want := map[string]bool{}
			for _, m := range modules {
				if m != "trivial" && m != "go" {
					return usageErrorf("--modules %q: want trivial, go or both", m)
				}
				want[m] = true
			}
			rep, err := runBench(cmd.Context(), g, benchOptions{nodes: nodes, jobs: jobs, conc: conc, modules: want,
				explain: explain, memProfile: memProfile, soak: time.Duration(soak), quic: quic})
			if memProfile != "" {
				if f, err := os.Create(memProfile); err == nil {
					pprof.Lookup("heap").WriteTo(f, 0)
					f.Close()
				}
			}
			if err != nil {
				return withCode(ExitNotRun, err)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			printBench(cmd.OutOrStdout(), rep)
			return nil
		},
	}
	cmd.Flags().IntVar(&nodes, "nodes", 10, "nodes in the devnet")
	cmd.Flags().IntVar(&jobs, "jobs", 1000, "jobs per trivial-module phase; each Go-module phase runs a quarter as many (at least 10)")
	cmd.Flags().IntVar(&conc, "concurrency", 8, "jobs in flight in the loaded phase")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().BoolVar(&quic, "quic", false, "nodes listen on QUIC too (TCP only by default)")
	cmd.Flags().Var(&soak, "soak", "after the phases, keep the loaded trivial phase running this long, reading memory every 10s")
	cmd.Flags().BoolVar(&explain, "explain", false, "print the event timeline of each phase's slowest job on stderr")
	cmd.Flags().StringSliceVar(&modules, "modules", []string{"trivial", "go"}, "which modules to measure: trivial, go")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	cmd.Flags().StringVar(&memProfile, "memprofile", "", "write heap profiles to this file (end of run) and FILE.before (start of measurement)")
	return cmd
}

// bench is one run of hayek bench: its devnet, node-0's client, the two
// jobs it submits and the report it fills in.
type bench struct {
	o        benchOptions
	g        *globals
	dir      string
	net      *node.Devnet
	c        *api.Client
	trivial  api.SubmitRequest
	goJob    api.SubmitRequest
	rep      *BenchReport
	progress func(format string, args ...any)
}

// goPhaseJobs is how many jobs each Go-module phase runs for jobs per
// trivial-module phase: each of those jobs costs several times more.
func goPhaseJobs(jobs int) int { return max(jobs/4, 10) }

// runBench starts a devnet, warms it up, measures the floors, then runs
// the phases o asks for, and returns the figures.
func runBench(ctx context.Context, g *globals, o benchOptions) (*BenchReport, error) {
	start := time.Now()
	dir, err := os.MkdirTemp("", "hayek-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	b := &bench{o: o, g: g, dir: dir, progress: func(format string, args ...any) { fmt.Fprintf(g.Stderr, "bench: "+format+"\n", args...) },
		rep: &BenchReport{Nodes: o.nodes, Jobs: o.jobs, GoJobs: goPhaseJobs(o.jobs), Concurrency: o.conc, GoModuleBytes: len(samples.Toolbox),
			QUIC: o.quic, GoVersion: runtime.Version(), CPUs: runtime.NumCPU()}}
	for _, m := range []string{"trivial", "go"} {
		if o.modules[m] {
			b.rep.Modules = append(b.rep.Modules, m)
		}
	}
	err = b.startNet(ctx)
	if b.net != nil {
		defer func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
			defer cancel()
			b.net.Close(cctx)
		}()
		defer b.c.Close()
	}
	if err != nil {
		return nil, err
	}
	if err := b.warmUp(ctx); err != nil {
		return nil, err
	}
	if err := b.measureFloors(ctx); err != nil {
		return nil, err
	}
	if err := b.runPhases(ctx); err != nil {
		return nil, err
	}
	if b.rep.FloorRTT > 0 {
		b.rep.P50OverFloor = round2(b.rep.Latency.P50 / b.rep.FloorRTT)
	}
	b.rep.DurationSecond = round2(time.Since(start).Seconds())
	return b.rep, nil
}

// startNet starts the devnet, waits until it is ready and uploads the
// two modules to node-0. Once the devnet has started, b.net and b.c are
// set, for the caller to close, whatever the error.
func (b *bench) startNet(ctx context.Context) error {
	log := slog.New(slog.NewTextHandler(b.g.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	d, err := node.StartDevnet(ctx, node.DevnetOptions{Nodes: b.o.nodes, Dir: b.dir, Logger: log, QUIC: b.o.quic})
	if err != nil {
		return err
	}
	b.net, b.c = d, api.NewClient(d.Sockets[0])
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := d.Ready(rctx); err != nil {
		return err
	}
	hello, err := b.c.PutBlobBytes(ctx, samples.Hello)
	if err != nil {
		return err
	}
	toolbox, err := b.c.PutBlobBytes(ctx, samples.Toolbox)
	if err != nil {
		return err
	}
	b.trivial = api.SubmitRequest{Module: api.BlobRef{CID: hello.CID}, MaxPrice: 1000}
	b.goJob = api.SubmitRequest{Module: api.BlobRef{CID: toolbox.CID}, Args: []string{"upper"},
		Stdin: &api.BlobRef{Text: "hello from a go-built module\n"}, MaxPrice: 1000}
	return nil
}

// warmUp runs jobs until every provider has run both modules (fetched and
// compiled them), then loads the network at the measured rate, and reads
// memory. Equal bids favour providers that already hold a module (a
// shorter committed start), so the warm-up runs bursts of concurrent jobs:
// surge pricing then sends work to idle providers. The load after it
// fills the caches whose size follows the rate (gossip history, replay
// windows, open bids) before memory is first read.
func (b *bench) warmUp(ctx context.Context) error {
	providers, conc := b.o.nodes-1, b.o.conc
	b.progress("warming up %d providers", providers)
	for _, req := range []api.SubmitRequest{b.trivial, b.goJob} {
		seen := map[string]bool{}
		for round := 0; len(seen) < providers && round < 50; round++ {
			provs, err := burst(ctx, b.c, req, 2*conc, conc)
			b.rep.WarmupJobs += 2 * conc
			if err != nil {
				return err
			}
			for _, p := range provs {
				seen[p] = true
			}
		}
		if len(seen) < providers {
			b.progress("warm-up reached %d of %d providers; the rest may compile during the measurement", len(seen), providers)
		}
	}
	if _, err := burst(ctx, b.c, b.trivial, b.o.jobs/2, conc); err != nil {
		return err
	}
	b.rep.WarmupJobs += b.o.jobs / 2
	b.rep.RSSBefore, b.rep.HeapBefore = memMB()
	if b.o.memProfile != "" {
		// The heap at the start of the measurement, for pprof -base.
		if f, err := os.Create(b.o.memProfile + ".before"); err == nil {
			pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
	}
	return nil
}

// measureFloors measures what a job cannot beat: a bare request/response
// on a new libp2p stream between two of the nodes, and one synced pebble
// batch.
func (b *bench) measureFloors(ctx context.Context) error {
	var floor []time.Duration
	for i := 0; i < 200; i++ {
		rtt, err := b.net.Nodes[0].Ping(ctx, b.net.Nodes[1].ID())
		if err != nil {
			return fmt.Errorf("floor ping: %w", err)
		}
		floor = append(floor, rtt)
	}
	b.rep.FloorRTT = percentiles(floor).P50
	var err error
	b.rep.AppendFloor, err = appendFloor(b.dir)
	return err
}

// runPhases runs each module's unloaded and loaded phases, reads memory,
// and keeps the load on for --soak.
func (b *bench) runPhases(ctx context.Context) error {
	r, conc := b.rep, b.o.conc
	var err error
	if b.o.modules["trivial"] {
		if r.Latency, _, err = b.phase(ctx, "trivial module, unloaded", b.trivial, r.Jobs, 1); err != nil {
			return err
		}
		if r.LoadedLatency, r.JobsPerSecond, err = b.phase(ctx, "trivial module, loaded", b.trivial, r.Jobs, conc); err != nil {
			return err
		}
	}
	if b.o.modules["go"] {
		if r.GoLatency, _, err = b.phase(ctx, "go module, unloaded", b.goJob, r.GoJobs, 1); err != nil {
			return err
		}
		if r.GoLoaded, r.GoJobsPerSec, err = b.phase(ctx, "go module, loaded", b.goJob, r.GoJobs, conc); err != nil {
			return err
		}
	}
	r.RSSAfter, r.HeapAfter = memMB()
	if b.o.soak > 0 {
		b.progress("soak: %d in flight for %v", conc, b.o.soak)
		if r.Soak, err = runSoak(ctx, b.c, b.trivial, conc, b.o.soak); err != nil {
			return err
		}
	}
	return nil
}

// phase runs n jobs, conc in flight, and returns their latencies and rate.
func (b *bench) phase(ctx context.Context, name string, req api.SubmitRequest, n, conc int) (Percentiles, float64, error) {
	b.progress("%s: %d jobs, %d in flight", name, n, conc)
	lat, rate, failed, slowest, err := runPhase(ctx, b.c, req, n, conc)
	b.rep.Failed += failed
	if b.o.explain && slowest != "" {
		explainJob(ctx, b.g.Stderr, b.c, slowest, b.net)
	}
	return percentiles(lat), rate, err
}

func runJob(ctx context.Context, c *api.Client, req api.SubmitRequest) (api.Job, error) {
	j, err := c.Submit(ctx, req)
	if err != nil {
		return j, err
	}
	j, err = c.Wait(ctx, j.ID)
	if err != nil {
		return j, err
	}
	if j.State != api.StateCompleted {
		msg := string(j.State)
		if j.Error != nil {
			msg += ": " + j.Error.Message
		}
		return j, fmt.Errorf("job %s %s", j.ID, msg)
	}
	return j, nil
}

// SoakPoint is one memory reading during --soak.
type SoakPoint struct {
	Seconds float64 `json:"s"`
	Jobs    int     `json:"jobs"`
	RSS     float64 `json:"rss_mb"`
	Heap    float64 `json:"heap_mb"`
}

// runSoak keeps conc jobs in flight for d and reads memory every 10s: with
// no per-job growth, the readings level off once the caches bounded by time
// (gossip history, delivery records, open bids) are full.
func runSoak(ctx context.Context, c *api.Client, req api.SubmitRequest, conc int, d time.Duration) ([]SoakPoint, error) {
	sctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var done atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, conc)
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sctx.Err() == nil {
				if _, err := runJob(sctx, c, req); err != nil {
					if sctx.Err() == nil {
						errc <- err
					}
					return
				}
				done.Add(1)
			}
		}()
	}
	start := time.Now()
	var points []SoakPoint
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
loop:
	for {
		select {
		case <-sctx.Done():
			break loop
		case err := <-errc:
			cancel()
			wg.Wait()
			return nil, err
		case <-t.C:
			rss, heap := memMB()
			points = append(points, SoakPoint{Seconds: round2(time.Since(start).Seconds()), Jobs: int(done.Load()), RSS: rss, Heap: heap})
		}
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return points, nil
}

// burst runs n jobs, conc at a time, and returns who ran them.
func burst(ctx context.Context, c *api.Client, req api.SubmitRequest, n, conc int) ([]string, error) {
	var mu sync.Mutex
	var provs []string
	var firstErr error
	var wg sync.WaitGroup
	next := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		next <- struct{}{}
	}
	close(next)
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				j, err := runJob(ctx, c, req)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				provs = append(provs, j.Provider)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return provs, firstErr
}

// runPhase runs n jobs with conc in flight and returns each submit-to-result
// latency and the jobs per second.
func runPhase(ctx context.Context, c *api.Client, req api.SubmitRequest, n, conc int) ([]time.Duration, float64, int, string, error) {
	lat := make([]time.Duration, 0, n)
	var slowest string
	var worst time.Duration
	var mu sync.Mutex
	var failed int
	var firstErr error
	next := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		next <- struct{}{}
	}
	close(next)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				t0 := time.Now()
				j, err := runJob(ctx, c, req)
				d := time.Since(t0)
				mu.Lock()
				if d > worst {
					worst, slowest = d, j.ID
				}
				if err != nil {
					failed++
					if firstErr == nil {
						firstErr = err
					}
				} else {
					lat = append(lat, d)
				}
				mu.Unlock()
				if ctx.Err() != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if ctx.Err() != nil {
		return nil, 0, failed, "", ctx.Err()
	}
	if len(lat) == 0 {
		return nil, 0, failed, "", fmt.Errorf("every job failed: %v", firstErr)
	}
	return lat, round2(float64(len(lat)) / elapsed.Seconds()), failed, slowest, nil
}

// explainJob prints a job's event timeline, with node names for peers.
func explainJob(ctx context.Context, w io.Writer, c *api.Client, id string, d *node.Devnet) {
	names := map[string]string{}
	for i, n := range d.Nodes {
		names[n.ID()] = fmt.Sprintf("node-%d", i)
	}
	var t0 time.Time
	fmt.Fprintf(w, "bench: slowest job %s:\n", id)
	c.Events(ctx, id, func(e api.Event) error {
		if t0.IsZero() {
			t0 = e.Time
		}
		fmt.Fprintf(w, "  %+9.2fms %-8s %-8s %s\n", float64(e.Time.Sub(t0).Microseconds())/1000, e.Type, names[e.Provider], e.Message)
		return nil
	})
}

func percentiles(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) float64 {
		i := int(q*float64(len(s)-1) + 0.5)
		return round2(float64(s[i].Microseconds()) / 1000)
	}
	return Percentiles{P50: at(0.50), P90: at(0.90), P99: at(0.99)}
}

// memMB returns resident memory and live heap after returning freed memory
// to the OS, so two readings compare what is really held.
func memMB() (rss, heap float64) {
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap = round2(float64(ms.HeapAlloc) / (1 << 20))
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, heap
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return round2(kb / 1024), heap
		}
	}
	return 0, heap
}

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }

func printBench(out io.Writer, r *BenchReport) {
	fmt.Fprintf(out, "hayek bench: %d nodes, %d jobs per trivial-module phase and %d per Go-module phase, %d in flight when loaded (%s, %d CPUs)\n\n",
		r.Nodes, r.Jobs, r.GoJobs, r.Concurrency, r.GoVersion, r.CPUs)
	fmt.Fprintf(out, "%-34s %6s %8s %8s %8s %10s\n", "submit → result (ms)", "jobs", "p50", "p90", "p99", "jobs/s")
	row := func(name string, jobs int, p Percentiles, rate float64) {
		rs := ""
		if rate > 0 {
			rs = fmt.Sprintf("%.0f", rate)
		}
		fmt.Fprintf(out, "%-34s %6d %8.2f %8.2f %8.2f %10s\n", name, jobs, p.P50, p.P90, p.P99, rs)
	}
	measured := func(m string) bool { return len(r.Modules) == 0 || slices.Contains(r.Modules, m) }
	if measured("trivial") {
		row("trivial module, one at a time", r.Jobs, r.Latency, 0)
		row(fmt.Sprintf("trivial module, %d in flight", r.Concurrency), r.Jobs, r.LoadedLatency, r.JobsPerSecond)
	}
	if measured("go") {
		row(fmt.Sprintf("Go module (%.1f MB), one at a time", float64(r.GoModuleBytes)/1e6), r.GoJobs, r.GoLatency, 0)
		row(fmt.Sprintf("Go module, %d in flight", r.Concurrency), r.GoJobs, r.GoLoaded, r.GoJobsPerSec)
	}
	fmt.Fprintf(out, "\nfloor: bare libp2p stream round trip %.3f ms; trivial p50 = %.1f × floor\n", r.FloorRTT, r.P50OverFloor)
	fmt.Fprintf(out, "floor: one synced pebble batch %.3f ms (a job appends a hold, then its receipts and release, on the requester; a receipt on the provider)\n", r.AppendFloor)
	fmt.Fprintf(out, "memory: RSS %.1f → %.1f MB, live heap %.1f → %.1f MB across the measured phases\n",
		r.RSSBefore, r.RSSAfter, r.HeapBefore, r.HeapAfter)
	if len(r.Soak) > 0 {
		fmt.Fprintf(out, "soak (%d in flight):", r.Concurrency)
		for _, p := range r.Soak {
			fmt.Fprintf(out, " %.0fs/%d jobs: heap %.0f MB, RSS %.0f MB;", p.Seconds, p.Jobs, p.Heap, p.RSS)
		}
		fmt.Fprintln(out)
	}
	if r.Failed > 0 {
		fmt.Fprintf(out, "%d jobs failed\n", r.Failed)
	}
}

// appendFloor measures a raw synced pebble batch of a ledger entry's size
// in the same directory the nodes use: the least each synced append costs.
func appendFloor(dir string) (float64, error) {
	ds, err := node.SyncedAppendFloor(dir, 200)
	if err != nil {
		return 0, err
	}
	return percentiles(ds).P50, nil
}
