package provider

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/exec/gpu"
	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/reputation"
	"github.com/hayek-market/hayek/settlement"
)

// How long a provider keeps a finished run's outputs servable to its
// requester, and how many finished runs it remembers.
const (
	runRetention  = 10 * time.Minute
	maxKeptRuns   = 4096
	maxCallWorker = 1024
)

// Ledger is what the provider needs of the node's ledger.
type Ledger interface {
	Balance(peer string) int64
	Head() (seq uint64, cid string)
	Append(ctx context.Context, kind settlement.Kind, body any) (settlement.Entry, error)
	AppendAll(ctx context.Context, drafts ...settlement.Draft) ([]settlement.Entry, error)
}

// Reputation is what the provider needs of the reputation service.
type Reputation interface {
	CreditLimit(requester string) int64
	Record(peer, capability string, o reputation.Outcome, evidence string)
	Attest(ctx context.Context, subject, capability string, o reputation.Outcome, evidence string, receipt []byte)
}

// Blobs is what the provider needs of the blob store.
type Blobs interface {
	Has(c string) bool
	Get(c string) ([]byte, error)
	PutBytes(b []byte) (cid.Cid, error)
	PutKnown(c string, b []byte) error
}

// Subscriber delivers validated calls for bids on a capability's topic.
type Subscriber interface {
	Subscribe(ctx context.Context, c market.Capability, fn func(from peer.ID, dc *wire.Call)) error
}

// Config is what the provider takes from the node's configuration.
type Config struct {
	Capabilities []market.Capability
	Slots        int
	StartBase    time.Duration
	BidUnasked   bool
	AllowSelf    bool          // answer this node's own calls
	Freshness    time.Duration // accepted clock skew of messages
	Misbehave    Misbehave
	Seed         uint64 // seeds misbehaviour
	// CPUMilli is the cores jobs may claim together (their cpus), in
	// thousandths; 0 does not count them.
	CPUMilli int64
	// AllowedImages are the images by digest docker jobs may name.
	AllowedImages []string
}

// Deps are what the provider needs.
type Deps struct {
	Host     host.Host
	Signer   canon.Signer
	Verifier canon.Verifier
	Drops    *wire.Drops
	Log      *slog.Logger
	Now      func() time.Time
	Tasks    *wire.Group // tracks answers and dispute records
	// Executors run the jobs of each runtime sold.
	Executors map[market.Capability]exec.Executor
	// GPUs hands whole devices to jobs that ask for them; nil without
	// GPUs. GPURuntimes are the runtimes whose jobs may have them.
	GPUs        *gpu.Allocator
	GPURuntimes []market.Capability
	Blobs       Blobs
	// Fetch fetches a blob of a job from its requester.
	Fetch    func(ctx context.Context, p, job string, b market.Blob) ([]byte, error)
	Ledger   Ledger
	Rep      Reputation
	Gossip   Subscriber
	OwnOffer func() (market.Offer, bool)
	// Metrics registers the provider's counters; nil keeps them unregistered.
	Metrics prometheus.Registerer
	Config
}

// Service sells this node's compute: it answers calls for bids on
// the topics it subscribes to, accepts awards that match its bids, fetches
// module and inputs from the requester, runs the job in the executor and
// delivers a signed result.
type Service struct {
	d       Deps
	self    string
	answers *prometheus.CounterVec // bids and declines sent, by kind
	workers chan struct{}          // bounds concurrent answers to calls
	// answering counts answers in flight per requester: one requester
	// that stalls its streams holds at most perRequesterAnswers workers.
	answering   map[string]int
	stalled     map[string]stall // requesters whose bid streams timed out
	answeringMu sync.Mutex
	quotes      quoteLimits

	mu        sync.Mutex
	policy    *market.Provider
	running   int
	cpuInUse  int64 // thousandths of a core claimed by running jobs
	runs      map[runKey]*provRun
	finished  []runKey             // oldest first
	delivered map[runKey]delivered // results awaiting their receipt
	misbehave *misbehaviour
	draining  atomic.Bool
	runWG     sync.WaitGroup
}

type runKey struct {
	requester, job string
	attempt        uint32
}

type provRun struct {
	key      runKey
	award    market.Award
	awardCID string
	bid      market.Bid
	received time.Time
	cancel   context.CancelFunc
	gpus     *gpu.Allocation // nil for a job without GPUs
	cpus     int64           // thousandths of a core it claims

	mu       sync.Mutex
	outputs  map[string]bool // blobs the requester may fetch
	finished time.Time
}

// New returns the provider. Serve AwardHandler on /hayek/award/1.0.0; when
// the node sells, Subscribe to the auction topics and Run the expiry.
func New(d Deps) *Service {
	self := d.Signer.ID()
	pc := market.DefaultProviderConfig(self)
	pc.StartBaseMs = d.StartBase.Milliseconds()
	pc.BidUnasked = d.BidUnasked
	if d.Misbehave.FalseStart {
		pc.StartBaseMs, pc.FetchBytesPerSec, pc.PrepareBytesPerSec = 1, 0, 0 // promises it cannot keep
	}
	answers := promauto.With(d.Metrics).NewCounterVec(prometheus.CounterOpts{Name: "hayek_answers_sent_total",
		Help: "Answers to calls for bids this node sent as a provider, by kind (bid, decline)."}, []string{"kind"})
	answers.WithLabelValues("bid")
	answers.WithLabelValues("decline")
	return &Service{d: d, self: self, answers: answers, policy: market.NewProvider(pc, d.Signer), runs: map[runKey]*provRun{},
		delivered: map[runKey]delivered{}, misbehave: newMisbehaviour(d.Misbehave, d.Seed),
		workers: make(chan struct{}, maxCallWorker), answering: map[string]int{}, stalled: map[string]stall{}}
}

// Subscribe subscribes to the auction topic of every capability sold; calls
// are answered until ctx ends.
func (p *Service) Subscribe(ctx context.Context) error {
	for _, c := range p.d.Capabilities {
		if err := p.d.Gossip.Subscribe(ctx, c, func(from peer.ID, dc *wire.Call) { p.onCall(ctx, from, dc) }); err != nil {
			return err
		}
	}
	return nil
}

// Run forgets finished runs and records undisputed deliveries every five
// seconds until ctx ends.
func (p *Service) Run(ctx context.Context) error {
	wire.Every(ctx, 5*time.Second, func() { p.expire(ctx, p.d.Now()) })
	return nil
}

// AwardHandler serves /hayek/award/1.0.0; the runs it starts end with ctx.
func (p *Service) AwardHandler(ctx context.Context) network.StreamHandler {
	return func(st network.Stream) { p.handleAward(ctx, st) }
}

// Wait waits for every run to end (they end with the context given to
// AwardHandler).
func (p *Service) Wait() { p.runWG.Wait() }

// CPUsClaimed is the thousandths of a core the running jobs claim.
func (p *Service) CPUsClaimed() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cpuInUse
}

// Running is the number of jobs this node runs now.
func (p *Service) Running() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running
}

func (p *Service) onCall(ctx context.Context, from peer.ID, dc *wire.Call) {
	n := p.d
	req := dc.Call.Requester
	if req == p.self && !p.d.AllowSelf && !dc.Call.Invited(p.self) {
		return // this node's own job, unless it asked itself (a local placement)
	}
	if !p.startAnswer(req) {
		n.Drops.Add("call/requester_busy")
		return
	}
	select {
	case p.workers <- struct{}{}:
	default:
		p.endAnswer(req)
		n.Drops.Add("call/overloaded")
		return
	}
	if !p.d.Tasks.Go(func() {
		defer func() { <-p.workers; p.endAnswer(req) }()
		p.answer(ctx, dc)
	}) {
		<-p.workers
		p.endAnswer(req)
	}
}

// perRequesterAnswers bounds the answers in flight to one requester: a
// requester that never reads its bid streams (or a flood of calls naming
// one) cannot take the workers every other requester's calls need. It is
// well above what an honest requester's auctions need at once.
const perRequesterAnswers = 64

// answerTimeout bounds dialling a requester and handing it a bid.
const answerTimeout = 3 * time.Second

// A requester whose bid stream timed out is not answered for a while,
// doubling from stallBase to stallMax: a stalled identity holds workers
// for one answerTimeout, then costs nothing until it answers again.
const (
	stallBase = 5 * time.Second
	stallMax  = 5 * time.Minute
)

type stall struct {
	until time.Time
	pause time.Duration
}

func (p *Service) startAnswer(req string) bool {
	now := p.d.Now()
	p.answeringMu.Lock()
	defer p.answeringMu.Unlock()
	if s, ok := p.stalled[req]; ok && now.Before(s.until) {
		return false
	}
	if p.answering[req] >= perRequesterAnswers {
		return false
	}
	p.answering[req]++
	return true
}

// answered records how handing a requester its answer went: a timeout
// sets (or doubles) its pause, a success clears it.
func (p *Service) answered(req string, err error) {
	p.answeringMu.Lock()
	defer p.answeringMu.Unlock()
	if err == nil {
		delete(p.stalled, req)
		return
	}
	if !errors.Is(err, context.DeadlineExceeded) && !os.IsTimeout(err) {
		return
	}
	s := p.stalled[req]
	s.pause = min(max(2*s.pause, stallBase), stallMax)
	s.until = p.d.Now().Add(s.pause)
	p.stalled[req] = s
	if len(p.stalled) > maxStalled {
		now := p.d.Now()
		for r, s := range p.stalled {
			if now.After(s.until) {
				delete(p.stalled, r)
			}
		}
	}
}

// maxStalled bounds the stalled requesters remembered before old pauses
// are swept.
const maxStalled = 10_000

func (p *Service) endAnswer(req string) {
	p.answeringMu.Lock()
	defer p.answeringMu.Unlock()
	if p.answering[req]--; p.answering[req] <= 0 {
		delete(p.answering, req)
	}
}

// answer bids on or declines a call, straight to its requester.
func (p *Service) answer(ctx context.Context, dc *wire.Call) {
	n := p.d
	offer, ok := p.d.OwnOffer()
	if !ok {
		return
	}
	if p.draining.Load() {
		offer.Withdrawn = true
	}
	now := n.Now()
	p.mu.Lock()
	env, send, err := p.policy.Answer(now, offer, dc.Call, dc.CID, p.loadFor(dc.Call.Requester, dc.Call.Needs), p.prep(dc.Call.Needs))
	p.mu.Unlock()
	if err != nil {
		n.Log.Error("cannot answer call", "err", err)
		return
	}
	if !send {
		return
	}
	pid, err := wire.DecodePeer(dc.Call.Requester)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, answerTimeout)
	defer cancel()
	st, err := p.d.Host.NewStream(ctx, pid, wire.ProtoBid)
	if err != nil {
		n.Log.Debug("cannot reach requester to bid", "requester", wire.ShortID(dc.Call.Requester), "err", err)
		p.answered(dc.Call.Requester, err)
		return
	}
	dl, _ := ctx.Deadline()
	st.SetDeadline(dl)
	if err := wire.WriteFrame(st, env.Encode()); err != nil {
		st.Reset()
		p.answered(dc.Call.Requester, err)
		return
	}
	if env.Kind == market.KindDecline {
		p.answers.WithLabelValues("decline").Inc()
	} else {
		p.answers.WithLabelValues("bid").Inc()
	}
	p.answered(dc.Call.Requester, st.Close())
}

// loadFor is this provider's occupancy (slots, cores, the GPUs a job with
// these needs would take) and what it lets requester owe it, as a call or
// a quote from requester finds them. p.mu must be held.
func (p *Service) loadFor(requester string, needs market.Needs) market.Load {
	load := market.Load{Running: p.running, Slots: p.d.Slots,
		RequesterOwes: max(p.d.Ledger.Balance(requester), 0), CreditLimit: p.d.Rep.CreditLimit(requester)}
	if p.d.CPUMilli > 0 {
		load.CPUMilliKnown, load.CPUMilliFree = true, p.d.CPUMilli-p.cpuInUse
	}
	load.ImageNotAllowed = needs.Image != "" && !slices.Contains(p.d.AllowedImages, needs.Image)
	if g := needs.GPUs; g != nil {
		load.GPUsUnusable = p.gpusUnusable(needs.Runtime())
		load.GPUsBusy = !p.gpusFree(*g)
	}
	return load
}

// prep estimates what must happen before a job with these needs starts
// here: inputs are always fetched (the call does not name them), the module
// only when not stored, and compiled only when the executor has not got it
// ready.
func (p *Service) prep(needs market.Needs) market.Prep {
	pr := market.Prep{FetchBytes: needs.InputBytes}
	if !p.d.Blobs.Has(needs.Module) {
		pr.FetchBytes += needs.ModuleBytes
	}
	if w, ok := p.d.Executors[needs.Runtime()].(exec.Warmer); !ok || !w.Warm(needs.Module) {
		pr.PrepareBytes = needs.ModuleBytes
	}
	return pr
}

// handleAward receives awards (answered with a signed ack) and cancels.
func (p *Service) handleAward(life context.Context, st network.Stream) {
	n := p.d
	defer st.Close()
	b, err := wire.ReadFrame(bufio.NewReader(st), wire.MaxAwardFrame)
	if err != nil {
		n.Drops.Add("award/unreadable")
		st.Reset()
		return
	}
	env, err := canon.DecodeEnvelope(b)
	if err != nil {
		n.Drops.Add("award/malformed")
		return
	}
	switch env.Kind {
	case market.KindCancel:
		var c market.Cancel
		if !n.Drops.Open(n.Verifier, env, market.KindCancel, "cancel", &c) {
			return
		}
		p.mu.Lock()
		run := p.runs[runKey{c.Requester, c.Job, c.Attempt}]
		p.mu.Unlock()
		if run == nil || run.awardCID != c.Award {
			n.Drops.Add("cancel/unknown_run")
			return
		}
		run.cancel()
		return
	case market.KindAward:
	default:
		n.Drops.Add("award/wrong_kind")
		return
	}
	var a market.Award
	if !n.Drops.Open(n.Verifier, env, market.KindAward, "award", &a) {
		return
	}
	now := n.Now()
	awardCID := env.CID()
	ack := func(accept bool, code market.DeclineReason, reason string) {
		aenv, err := canon.Seal(n.Signer, market.KindAck, market.Ack{Job: a.Job, Attempt: a.Attempt, Award: awardCID,
			Provider: p.self, Requester: a.Requester, Accept: accept, Code: code, Reason: reason, Created: n.Now().UnixMilli()})
		if err != nil {
			st.Reset()
			return
		}
		if err := wire.WriteFrame(st, aenv.Encode()); err != nil {
			st.Reset()
		}
	}
	if err := market.Fresh(a.Created, now, n.Freshness); err != nil {
		n.Drops.Add("award/stale")
		ack(false, market.DeclineExpired, "the award is stale: "+err.Error())
		return
	}
	if a.ResultBy <= now.UnixMilli() {
		n.Drops.Add("award/expired")
		ack(false, market.DeclineExpired, "the award's result deadline has already passed")
		return
	}
	p.mu.Lock()
	if p.draining.Load() {
		p.mu.Unlock()
		ack(false, market.DeclineWithdrawn, "the provider is shutting down")
		return
	}
	if p.running >= n.Slots {
		p.mu.Unlock()
		ack(false, market.DeclineBusy, "busy: all slots in use")
		return
	}
	bid, err := p.policy.CheckAward(a, n.Verifier)
	if err != nil {
		p.mu.Unlock()
		n.Drops.Add("award/rejected")
		code := market.DeclineReason("")
		if errors.Is(err, market.ErrNoOpenBid) {
			code = market.DeclineExpired // late: the requester's doing, not ours
		}
		ack(false, code, err.Error())
		return
	}
	key := runKey{a.Requester, a.Job, a.Attempt}
	var devices *gpu.Allocation
	if a.Run.GPUs != nil {
		// Taken before the ack: a job is never accepted without the
		// devices it bid for, and never two jobs get one device.
		if devices, err = p.acquireGPUs(key, a.Run.RunRuntime(), *a.Run.GPUs); err != nil {
			p.mu.Unlock()
			code := market.DeclineBusy
			if errors.Is(err, gpu.ErrUnfit) {
				code = market.DeclineNoGPU
			}
			ack(false, code, err.Error())
			return
		}
	}
	if c := a.Run.CPUMilli; c > 0 && n.CPUMilli > 0 && p.cpuInUse+c > n.CPUMilli {
		p.mu.Unlock()
		if devices != nil {
			devices.Release()
		}
		ack(false, market.DeclineBusy, fmt.Sprintf("busy: the job needs %s CPUs, running jobs leave %s",
			market.FormatCPUs(c), market.FormatCPUs(max(n.CPUMilli-p.cpuInUse, 0))))
		return
	}
	p.cpuInUse += a.Run.CPUMilli
	ctx, cancel := context.WithDeadline(life, time.UnixMilli(a.ResultBy))
	run := &provRun{key: key, award: a, awardCID: awardCID, bid: bid, received: now, cancel: cancel, gpus: devices,
		cpus: a.Run.CPUMilli}
	p.runs[run.key] = run
	p.running++
	p.runWG.Add(1)
	p.mu.Unlock()
	ack(true, "", "")
	go p.execute(life, ctx, run)
}

// execute fetches, runs and delivers one awarded job.
func (p *Service) execute(life, ctx context.Context, run *provRun) {
	n := p.d
	defer p.runWG.Done()
	defer func() {
		run.cancel()
		if run.gpus != nil {
			run.gpus.Release() // on every way out: delivered, failed, cancelled, dropped
		}
		run.mu.Lock()
		run.finished = n.Now()
		// Only the outputs the requester may still fetch are kept: the
		// award, with its signed bids and run spec, is done with.
		run.award, run.bid, run.cancel = market.Award{Requester: run.award.Requester, Job: run.award.Job}, market.Bid{}, func() {}
		servable := len(run.outputs) > 0
		run.mu.Unlock()
		p.mu.Lock()
		p.running--
		p.cpuInUse -= run.cpus
		if servable {
			p.finished = append(p.finished, run.key)
		} else {
			// Everything travelled inline with the result: nothing is left
			// to serve, so nothing is kept.
			delete(p.runs, run.key)
		}
		p.mu.Unlock()
	}()
	a := run.award
	res := market.Result{Job: a.Job, Attempt: a.Attempt, Award: run.awardCID, Provider: p.self, Requester: a.Requester}
	if p.misbehave.drop() {
		n.Log.Warn("misbehaving: dropping an accepted award", "job", a.Job)
		<-ctx.Done()
		return
	}
	if err := p.misbehave.slow(ctx); err != nil {
		return
	}
	job, err := p.gather(ctx, run)
	if err != nil {
		if ctx.Err() != nil && life.Err() == nil && !deadlinePassed(ctx) {
			return // cancelled by the requester: it wants no result
		}
		res.Status, res.Error = market.StatusFetchFailed, err.Error()
		p.deliver(life, ctx, run, res, nil)
		return
	}
	startedAfter := n.Now().Sub(run.received)
	res.StartedAfterMs = startedAfter.Milliseconds()
	res.StartHeld = res.StartedAfterMs <= run.bid.StartWithinMs
	out, err := p.run(ctx, run, job)
	if ctx.Err() != nil && !deadlinePassed(ctx) && life.Err() == nil {
		return // cancelled by the requester
	}
	if err != nil {
		n.Log.Warn("the executor failed", "job", a.Job, "runtime", a.Run.RunRuntime(), "err", err)
		res.Status, res.Error = market.StatusInternal, err.Error()
		p.deliver(life, ctx, run, res, nil)
		return
	}
	res.Status = market.Status(out.Status)
	res.ExitCode, res.Error = out.ExitCode, out.Error
	if p.misbehave.corrupt() {
		out.Stdout = append(append([]byte(nil), out.Stdout...), "\n(corrupted by a misbehaving provider)\n"...)
	}
	res.Usage = market.Usage{WallUs: out.Usage.Wall.Microseconds(), MemoryBytes: out.Usage.MemoryBytes}
	var blobs [][]byte
	var inlined int
	keep := func(b []byte) (market.Blob, error) {
		c, err := n.Blobs.PutBytes(b)
		if err != nil {
			return market.Blob{}, err
		}
		if len(b) <= wire.InlineBlobMax && inlined+len(b) <= wire.InlineTotalMax {
			blobs = append(blobs, b)
			inlined += len(b)
		} else {
			// Too big to travel inline: the requester fetches it.
			run.mu.Lock()
			if run.outputs == nil {
				run.outputs = map[string]bool{}
			}
			run.outputs[c.String()] = true
			run.mu.Unlock()
		}
		return market.Blob{CID: c.String(), Size: int64(len(b))}, nil
	}
	var serr error
	var bl market.Blob
	if bl, serr = keep(out.Stdout); serr == nil {
		res.Stdout = market.Stream{Blob: bl, Truncated: out.StdoutTruncated}
		if bl, serr = keep(out.Stderr); serr == nil {
			res.Stderr = market.Stream{Blob: bl, Truncated: out.StderrTruncated}
		}
	}
	for _, f := range out.Outputs {
		if serr != nil {
			break
		}
		bl, serr = keep(f.Data)
		res.Outputs = append(res.Outputs, market.Output{Name: f.Name, Blob: bl})
	}
	res.OutputsTruncated = out.Status == exec.StatusOutputLimit
	if serr != nil {
		res = market.Result{Job: a.Job, Attempt: a.Attempt, Award: run.awardCID, Provider: p.self, Requester: a.Requester,
			Status: market.StatusInternal, Error: "cannot store outputs: " + serr.Error()}
		blobs = nil
	}
	p.deliver(life, ctx, run, res, dedupe(blobs))
}

func deadlinePassed(ctx context.Context) bool { return errors.Is(ctx.Err(), context.DeadlineExceeded) }

func dedupe(blobs [][]byte) [][]byte {
	seen := map[string]bool{}
	out := blobs[:0]
	for _, b := range blobs {
		c := canon.BlobCID(b).String()
		if !seen[c] {
			seen[c] = true
			out = append(out, b)
		}
	}
	return out
}

// gather assembles the executor's job, fetching what is not stored here.
func (p *Service) gather(ctx context.Context, run *provRun) (exec.Job, error) {
	n := p.d
	a := run.award
	get := func(b market.Blob) ([]byte, error) {
		if data, err := n.Blobs.Get(b.CID); err == nil {
			return data, nil
		}
		data, err := n.Fetch(ctx, a.Requester, a.Job, b)
		if err != nil {
			return nil, err
		}
		if err := n.Blobs.PutKnown(b.CID, data); err != nil {
			n.Log.Warn("cannot cache fetched blob", "err", err)
		}
		return data, nil
	}
	type got struct {
		i    int
		data []byte
		err  error
	}
	wants := []market.Blob{a.Run.Module}
	if a.Run.Stdin != nil {
		wants = append(wants, *a.Run.Stdin)
	}
	for _, in := range a.Run.Inputs {
		wants = append(wants, in.Blob)
	}
	results := make([][]byte, len(wants))
	ch := make(chan got, len(wants))
	sem := make(chan struct{}, wire.FetchParallel) // the requester serves each peer only so many streams
	for i, w := range wants {
		go func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			d, err := get(w)
			ch <- got{i, d, err}
		}()
	}
	var firstErr error
	for range wants {
		g := <-ch
		if g.err != nil && firstErr == nil {
			firstErr = fmt.Errorf("fetch %s: %w", wants[g.i].CID, g.err)
		}
		results[g.i] = g.data
	}
	if firstErr != nil {
		return exec.Job{}, firstErr
	}
	job := exec.Job{
		ID: a.Job, ModuleCID: a.Run.Module.CID, Module: results[0], Args: a.Run.Args, Env: a.Run.Env,
		Limits: exec.Limits{
			MemoryBytes: a.Run.MemoryBytes, Timeout: time.Duration(a.Run.TimeoutMs) * time.Millisecond,
			StdoutBytes: wire.StdoutCap(a.Run.MaxOutputBytes), StderrBytes: min(a.Run.MaxOutputBytes, wire.MaxStderr),
			OutputBytes: a.Run.MaxOutputBytes, OutputFiles: 1024,
		},
	}
	i := 1
	if a.Run.Stdin != nil {
		job.Stdin = results[1]
		i = 2
	}
	for k, in := range a.Run.Inputs {
		job.Inputs = append(job.Inputs, exec.File{Name: in.Name, Data: results[i+k]})
	}
	return job, nil
}

// deliver seals the result and sends it until the requester confirms or
// the award's deadline passes.
func (p *Service) deliver(life, ctx context.Context, run *provRun, res market.Result, blobs [][]byte) {
	n := p.d
	// A result without a run (fetch failed, executor failed) still names
	// its streams: empty, carried inline, as requesters check every blob
	// a result names.
	for _, st := range []*market.Stream{&res.Stdout, &res.Stderr} {
		if st.CID == "" {
			st.Blob = market.Blob{CID: canon.BlobCID(nil).String()}
			blobs = append(blobs, []byte{})
		}
	}
	blobs = dedupe(blobs)
	res.Created = n.Now().UnixMilli()
	env, err := canon.Seal(n.Signer, market.KindResult, res)
	if err != nil {
		n.Log.Error("cannot sign result", "err", err)
		return
	}
	frame := canon.MustMarshal(wire.ResultDelivery{Result: env.Encode(), Blobs: blobs})
	if len(frame) > wire.MaxResultFrame {
		frame = canon.MustMarshal(wire.ResultDelivery{Result: env.Encode()})
	}
	if !res.Status.ProviderFault() && run.award.Requester != p.self {
		// Remembered before sending: the receipt can come right behind the
		// result's acknowledgement. This node's own (local) jobs have no
		// receipt: nobody pays itself.
		p.mu.Lock()
		p.delivered[run.key] = delivered{requester: run.award.Requester, price: run.award.Price,
			result: canon.DocCID(env.Encode()).String(), at: n.Now(), cap: string(run.award.Run.RunRuntime())}
		p.mu.Unlock()
	}
	// The run's own context may have ended with its time limit; delivery
	// gets until the award's deadline, measured on the node's context.
	dctx, cancel := context.WithDeadline(life, time.UnixMilli(run.award.ResultBy))
	defer cancel()
	backoff := 50 * time.Millisecond
	for {
		err := p.sendResult(dctx, run.award.Requester, frame)
		if err == nil {
			return
		}
		n.Log.Debug("result delivery failed; retrying", "job", run.key.job, "err", err)
		select {
		case <-dctx.Done():
			if life.Err() == nil {
				n.Log.Warn("result not delivered by the deadline", "job", run.key.job, "err", err)
			}
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

func (p *Service) sendResult(ctx context.Context, to string, frame []byte) error {
	n := p.d
	pid, err := wire.DecodePeer(to)
	if err != nil {
		return err
	}
	st, err := n.Host.NewStream(ctx, pid, wire.ProtoResult)
	if err != nil {
		return err
	}
	defer st.Close()
	st.SetDeadline(time.Now().Add(30 * time.Second))
	if err := wire.WriteFrame(st, frame); err != nil {
		st.Reset()
		return err
	}
	st.CloseWrite()
	b, err := wire.ReadFrame(bufio.NewReader(st), 4<<10)
	if err != nil {
		st.Reset()
		return err
	}
	var rr wire.ResultReply
	if err := canon.Unmarshal(b, &rr); err != nil {
		return err
	}
	if !rr.OK {
		// The requester read and refused it: resending will not help.
		n.Log.Warn("requester refused result", "reason", rr.Error)
	}
	return nil
}

// AuthorizeFetch reports whether peer may fetch blob c of job: only the
// requester of a run, and only that run's outputs.
func (p *Service) AuthorizeFetch(job, peerID, c string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, run := range p.runs {
		if k.job == job && k.requester == peerID {
			run.mu.Lock()
			ok := run.outputs[c]
			run.mu.Unlock()
			if ok {
				return true
			}
		}
	}
	return false
}

// expire forgets finished runs after their retention.
func (p *Service) expire(ctx context.Context, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.policy.Expire(now)
	// A requester that never sent the receipt for a delivered result is
	// disputing it (or gone): evidence against it as a requester.
	for k, d := range p.delivered {
		if now.Sub(d.at) > 10*time.Minute {
			delete(p.delivered, k)
			p.d.Tasks.Go(func() { p.disputed(ctx, k, d) })
		}
	}
	keep := p.finished[:0]
	for i, k := range p.finished {
		run := p.runs[k]
		if run == nil {
			continue
		}
		run.mu.Lock()
		old := now.Sub(run.finished) > runRetention
		run.mu.Unlock()
		if old || len(p.finished)-i > maxKeptRuns {
			delete(p.runs, k)
			continue
		}
		keep = append(keep, k)
	}
	p.finished = keep
}

// Drain stops taking work and waits for running jobs until ctx ends, then
// cancels what is left.
func (p *Service) Drain(ctx context.Context) {
	p.draining.Store(true)
	done := make(chan struct{})
	go func() { p.runWG.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		p.mu.Lock()
		for _, r := range p.runs {
			r.cancel()
		}
		p.mu.Unlock()
		<-done
	}
}

// disputed records that a requester never acknowledged a delivered result.
func (p *Service) disputed(ctx context.Context, k runKey, d delivered) {
	n := p.d
	ev := fmt.Sprintf("unreceipted:%s:%d", k.job, k.attempt)
	n.Rep.Record(d.requester, reputation.CapRequester, reputation.Disputed, ev)
	if _, err := n.Ledger.Append(ctx, settlement.KindOutcome, settlement.Outcome{Peer: d.requester,
		Capability: reputation.CapRequester, Outcome: string(reputation.Disputed), Job: k.job}); err != nil {
		n.Log.Warn("cannot record outcome", "err", err)
	}
}

// delivered is what a provider remembers of a result it delivered, until
// the requester's receipt for it arrives.
type delivered struct {
	requester string
	price     int64
	result    string // CID of the signed result
	at        time.Time
	cap       string
}

// Countersign checks a requester's receipt against the run this provider
// delivered, countersigns it with its ledger head and appends it.
func (p *Service) Countersign(ctx context.Context, sr settlement.SignedReceipt) (settlement.SignedReceipt, error) {
	n := p.d
	rc, err := settlement.OpenReceiptRequest(n.Verifier, sr)
	if err != nil {
		return settlement.SignedReceipt{}, err
	}
	if rc.Provider != p.self {
		return settlement.SignedReceipt{}, fmt.Errorf("receipt names %s as provider", wire.ShortID(rc.Provider))
	}
	key := runKey{rc.Requester, rc.Job, rc.Attempt}
	p.mu.Lock()
	d, ok := p.delivered[key]
	p.mu.Unlock()
	switch {
	case !ok:
		return settlement.SignedReceipt{}, fmt.Errorf("no delivered result of job %s attempt %d for %s", rc.Job, rc.Attempt, wire.ShortID(rc.Requester))
	case rc.Price != d.price:
		return settlement.SignedReceipt{}, fmt.Errorf("receipt says %d, the award said %d", rc.Price, d.price)
	case rc.Result != d.result:
		return settlement.SignedReceipt{}, fmt.Errorf("receipt names result %s, we delivered %s", rc.Result, d.result)
	}
	_, head := n.Ledger.Head()
	out, err := settlement.Countersign(n.Signer, sr, head)
	if err != nil {
		return settlement.SignedReceipt{}, err
	}
	b := canon.MustMarshal(out)
	cid := canon.DocCID(b).String()
	_, err = n.Ledger.AppendAll(ctx,
		settlement.Draft{Kind: settlement.KindReceipt, Body: out},
		settlement.Draft{Kind: settlement.KindOutcome, Body: settlement.Outcome{Peer: rc.Requester,
			Capability: reputation.CapRequester, Outcome: string(reputation.Paid), Job: rc.Job, Receipt: cid}})
	if err != nil && !errors.Is(err, settlement.ErrDuplicate) {
		return settlement.SignedReceipt{}, err
	}
	p.mu.Lock()
	delete(p.delivered, key)
	p.mu.Unlock()
	n.Rep.Record(rc.Requester, reputation.CapRequester, reputation.Paid, cid)
	n.Rep.Attest(ctx, rc.Requester, reputation.CapRequester, reputation.Paid, cid, b)
	return out, nil
}

// PinBlobs adds the outputs runs still serve and their modules to pins.
func (p *Service) PinBlobs(pins map[string]bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, run := range p.runs {
		run.mu.Lock()
		for c := range run.outputs {
			pins[c] = true
		}
		pins[run.award.Run.Module.CID] = true
		run.mu.Unlock()
	}
}
