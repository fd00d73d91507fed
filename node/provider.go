package node

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/internal/gossip"
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

// providerService sells this node's compute: it answers calls for bids on
// the topics it subscribes to, accepts awards that match its bids, fetches
// module and inputs from the requester, runs the job in the executor and
// delivers a signed result.
type providerService struct {
	n       *Node
	workers chan struct{} // bounds concurrent answers to calls
	// answering counts answers in flight per requester: one requester
	// that stalls its streams holds at most perRequesterAnswers workers.
	answering   map[string]int
	stalled     map[string]stall // requesters whose bid streams timed out
	answeringMu sync.Mutex

	mu        sync.Mutex
	policy    *market.Provider
	running   int
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

	mu       sync.Mutex
	outputs  map[string]bool // blobs the requester may fetch
	finished time.Time
}

func newProviderService(n *Node) *providerService {
	pc := market.DefaultProviderConfig(n.ID())
	pc.StartBaseMs = time.Duration(n.cfg.Provider.StartBase).Milliseconds()
	pc.BidUnasked = n.cfg.Provider.BidUnasked
	if n.cfg.Misbehave.FalseStart {
		pc.StartBaseMs, pc.FetchBytesPerSec, pc.PrepareBytesPerSec = 1, 0, 0 // promises it cannot keep
	}
	return &providerService{n: n, policy: market.NewProvider(pc, n.signer), runs: map[runKey]*provRun{},
		delivered: map[runKey]delivered{}, misbehave: newMisbehaviour(n.cfg.Misbehave, n.randUint64()),
		workers: make(chan struct{}, maxCallWorker), answering: map[string]int{}, stalled: map[string]stall{}}
}

// start subscribes to the auction topic of every capability sold.
func (p *providerService) start() error {
	for _, c := range p.n.cfg.Provider.Capabilities {
		if err := p.n.gossip.Subscribe(p.n.ctx, market.Capability(c), p.onCall); err != nil {
			return err
		}
	}
	n := p.n
	n.tasks.Go(func() {
		wire.Every(n.ctx, 5*time.Second, func() {
			p.expire(n.now())
		})
	})
	return nil
}

// Running is the number of jobs this node runs now.
func (p *providerService) Running() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running
}

func (p *providerService) onCall(from peer.ID, dc *gossip.Call) {
	n := p.n
	req := dc.Call.Requester
	if req == n.ID() && !n.cfg.Requester.AllowSelf {
		return
	}
	if !p.startAnswer(req) {
		n.drops.Add("call/requester_busy")
		return
	}
	select {
	case p.workers <- struct{}{}:
	default:
		p.endAnswer(req)
		n.drops.Add("call/overloaded")
		return
	}
	if !n.tasks.Go(func() {
		defer func() { <-p.workers; p.endAnswer(req) }()
		p.answer(dc)
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

func (p *providerService) startAnswer(req string) bool {
	now := p.n.now()
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
func (p *providerService) answered(req string, err error) {
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
	s.until = p.n.now().Add(s.pause)
	p.stalled[req] = s
	if len(p.stalled) > maxStalled {
		now := p.n.now()
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

func (p *providerService) endAnswer(req string) {
	p.answeringMu.Lock()
	defer p.answeringMu.Unlock()
	if p.answering[req]--; p.answering[req] <= 0 {
		delete(p.answering, req)
	}
}

// answer bids on or declines a call, straight to its requester.
func (p *providerService) answer(dc *gossip.Call) {
	n := p.n
	offer, ok := n.offers.Offer()
	if !ok {
		return
	}
	if p.draining.Load() {
		offer.Withdrawn = true
	}
	now := n.now()
	p.mu.Lock()
	load := market.Load{Running: p.running, Slots: n.cfg.Provider.Slots,
		RequesterOwes: max(n.ledger.Balance(dc.Call.Requester), 0), CreditLimit: n.rep.CreditLimit(dc.Call.Requester)}
	env, send, err := p.policy.Answer(now, offer, dc.Call, dc.CID, load, p.prep(dc.Call.Needs))
	p.mu.Unlock()
	if err != nil {
		n.log.Error("cannot answer call", "err", err)
		return
	}
	if !send {
		return
	}
	pid, err := wire.DecodePeer(dc.Call.Requester)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(n.ctx, answerTimeout)
	defer cancel()
	st, err := n.host.NewStream(ctx, pid, ProtoBid)
	if err != nil {
		n.log.Debug("cannot reach requester to bid", "requester", wire.ShortID(dc.Call.Requester), "err", err)
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
	p.answered(dc.Call.Requester, st.Close())
}

// prep estimates what must happen before a job with these needs starts
// here: inputs are always fetched (the call does not name them), the module
// only when not stored, and compiled only when the executor has not got it
// ready.
func (p *providerService) prep(needs market.Needs) market.Prep {
	n := p.n
	pr := market.Prep{FetchBytes: needs.InputBytes}
	if !n.blobs.Has(needs.Module) {
		pr.FetchBytes += needs.ModuleBytes
	}
	if w, ok := n.exec.(exec.Warmer); !ok || !w.Warm(needs.Module) {
		pr.PrepareBytes = needs.ModuleBytes
	}
	return pr
}

// handleAward receives awards (answered with a signed ack) and cancels.
func (p *providerService) handleAward(st network.Stream) {
	n := p.n
	defer st.Close()
	b, err := wire.ReadFrame(bufio.NewReader(st), wire.MaxAwardFrame)
	if err != nil {
		n.drops.Add("award/unreadable")
		st.Reset()
		return
	}
	env, err := canon.DecodeEnvelope(b)
	if err != nil {
		n.drops.Add("award/malformed")
		return
	}
	switch env.Kind {
	case market.KindCancel:
		var c market.Cancel
		if !n.drops.Open(n.verifier, env, market.KindCancel, "cancel", &c) {
			return
		}
		p.mu.Lock()
		run := p.runs[runKey{c.Requester, c.Job, c.Attempt}]
		p.mu.Unlock()
		if run == nil || run.awardCID != c.Award {
			n.drops.Add("cancel/unknown_run")
			return
		}
		run.cancel()
		return
	case market.KindAward:
	default:
		n.drops.Add("award/wrong_kind")
		return
	}
	var a market.Award
	if !n.drops.Open(n.verifier, env, market.KindAward, "award", &a) {
		return
	}
	now := n.now()
	awardCID := env.CID()
	ack := func(accept bool, code market.DeclineReason, reason string) {
		aenv, err := canon.Seal(n.signer, market.KindAck, market.Ack{Job: a.Job, Attempt: a.Attempt, Award: awardCID,
			Provider: n.ID(), Requester: a.Requester, Accept: accept, Code: code, Reason: reason, Created: n.now().UnixMilli()})
		if err != nil {
			st.Reset()
			return
		}
		if err := wire.WriteFrame(st, aenv.Encode()); err != nil {
			st.Reset()
		}
	}
	if err := market.Fresh(a.Created, now, time.Duration(n.cfg.Gossip.Freshness)); err != nil {
		n.drops.Add("award/stale")
		ack(false, market.DeclineExpired, "the award is stale: "+err.Error())
		return
	}
	if a.ResultBy <= now.UnixMilli() {
		n.drops.Add("award/expired")
		ack(false, market.DeclineExpired, "the award's result deadline has already passed")
		return
	}
	p.mu.Lock()
	if p.draining.Load() {
		p.mu.Unlock()
		ack(false, market.DeclineWithdrawn, "the provider is shutting down")
		return
	}
	if p.running >= n.cfg.Provider.Slots {
		p.mu.Unlock()
		ack(false, market.DeclineBusy, "busy: all slots in use")
		return
	}
	bid, err := p.policy.CheckAward(a, n.verifier)
	if err != nil {
		p.mu.Unlock()
		n.drops.Add("award/rejected")
		code := market.DeclineReason("")
		if errors.Is(err, market.ErrNoOpenBid) {
			code = market.DeclineExpired // late: the requester's doing, not ours
		}
		ack(false, code, err.Error())
		return
	}
	ctx, cancel := context.WithDeadline(n.ctx, time.UnixMilli(a.ResultBy))
	run := &provRun{key: runKey{a.Requester, a.Job, a.Attempt}, award: a, awardCID: awardCID, bid: bid,
		received: now, cancel: cancel}
	p.runs[run.key] = run
	p.running++
	p.runWG.Add(1)
	p.mu.Unlock()
	ack(true, "", "")
	go p.execute(ctx, run)
}

// execute fetches, runs and delivers one awarded job.
func (p *providerService) execute(ctx context.Context, run *provRun) {
	n := p.n
	defer p.runWG.Done()
	defer func() {
		run.cancel()
		run.mu.Lock()
		run.finished = n.now()
		// Only the outputs the requester may still fetch are kept: the
		// award, with its signed bids and run spec, is done with.
		run.award, run.bid, run.cancel = market.Award{Requester: run.award.Requester, Job: run.award.Job}, market.Bid{}, func() {}
		servable := len(run.outputs) > 0
		run.mu.Unlock()
		p.mu.Lock()
		p.running--
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
	res := market.Result{Job: a.Job, Attempt: a.Attempt, Award: run.awardCID, Provider: n.ID(), Requester: a.Requester}
	if p.misbehave.drop() {
		n.log.Warn("misbehaving: dropping an accepted award", "job", a.Job)
		<-ctx.Done()
		return
	}
	if err := p.misbehave.slow(ctx); err != nil {
		return
	}
	job, err := p.gather(ctx, run)
	if err != nil {
		if ctx.Err() != nil && n.ctx.Err() == nil && !deadlinePassed(ctx) {
			return // cancelled by the requester: it wants no result
		}
		res.Status, res.Error = market.StatusFetchFailed, err.Error()
		p.deliver(ctx, run, res, nil)
		return
	}
	startedAfter := n.now().Sub(run.received)
	res.StartedAfterMs = startedAfter.Milliseconds()
	res.StartHeld = res.StartedAfterMs <= run.bid.StartWithinMs
	out, err := n.exec.Run(ctx, job)
	if ctx.Err() != nil && !deadlinePassed(ctx) && n.ctx.Err() == nil {
		return // cancelled by the requester
	}
	if err != nil {
		res.Status, res.Error = market.StatusInternal, err.Error()
		p.deliver(ctx, run, res, nil)
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
		c, err := n.blobs.PutBytes(b)
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
		res = market.Result{Job: a.Job, Attempt: a.Attempt, Award: run.awardCID, Provider: n.ID(), Requester: a.Requester,
			Status: market.StatusInternal, Error: "cannot store outputs: " + serr.Error()}
		blobs = nil
	}
	p.deliver(ctx, run, res, dedupe(blobs))
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
func (p *providerService) gather(ctx context.Context, run *provRun) (exec.Job, error) {
	n := p.n
	a := run.award
	get := func(b market.Blob) ([]byte, error) {
		if data, err := n.blobs.Get(b.CID); err == nil {
			return data, nil
		}
		data, err := n.data.Fetch(ctx, a.Requester, a.Job, b)
		if err != nil {
			return nil, err
		}
		if err := n.blobs.PutKnown(b.CID, data); err != nil {
			n.log.Warn("cannot cache fetched blob", "err", err)
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
			StdoutBytes: min(a.Run.MaxOutputBytes, 16<<20), StderrBytes: min(a.Run.MaxOutputBytes, 1<<20),
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
func (p *providerService) deliver(ctx context.Context, run *provRun, res market.Result, blobs [][]byte) {
	n := p.n
	res.Created = n.now().UnixMilli()
	env, err := canon.Seal(n.signer, market.KindResult, res)
	if err != nil {
		n.log.Error("cannot sign result", "err", err)
		return
	}
	frame := canon.MustMarshal(resultDelivery{Result: env.Encode(), Blobs: blobs})
	if len(frame) > wire.MaxResultFrame {
		frame = canon.MustMarshal(resultDelivery{Result: env.Encode()})
	}
	if !res.Status.ProviderFault() {
		// Remembered before sending: the receipt can come right behind the
		// result's acknowledgement.
		p.mu.Lock()
		p.delivered[run.key] = delivered{requester: run.award.Requester, price: run.award.Price,
			result: canon.DocCID(env.Encode()).String(), at: n.now(), cap: string(market.RuntimeWasm)}
		p.mu.Unlock()
	}
	// The run's own context may have ended with its time limit; delivery
	// gets until the award's deadline, measured on the node's context.
	dctx, cancel := context.WithDeadline(n.ctx, time.UnixMilli(run.award.ResultBy))
	defer cancel()
	backoff := 50 * time.Millisecond
	for {
		err := p.sendResult(dctx, run.award.Requester, frame)
		if err == nil {
			return
		}
		n.log.Debug("result delivery failed; retrying", "job", run.key.job, "err", err)
		select {
		case <-dctx.Done():
			if n.ctx.Err() == nil {
				n.log.Warn("result not delivered by the deadline", "job", run.key.job, "err", err)
			}
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

func (p *providerService) sendResult(ctx context.Context, to string, frame []byte) error {
	n := p.n
	pid, err := wire.DecodePeer(to)
	if err != nil {
		return err
	}
	st, err := n.host.NewStream(ctx, pid, ProtoResult)
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
	var rr resultReply
	if err := canon.Unmarshal(b, &rr); err != nil {
		return err
	}
	if !rr.OK {
		// The requester read and refused it: resending will not help.
		n.log.Warn("requester refused result", "reason", rr.Error)
	}
	return nil
}

// authorizeFetch reports whether peer may fetch blob c of job: only the
// requester of a run, and only that run's outputs.
func (p *providerService) authorizeFetch(job, peerID, c string) bool {
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
func (p *providerService) expire(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.policy.Expire(now)
	// A requester that never sent the receipt for a delivered result is
	// disputing it (or gone): evidence against it as a requester.
	for k, d := range p.delivered {
		if now.Sub(d.at) > 10*time.Minute {
			delete(p.delivered, k)
			p.n.tasks.Go(func() { p.disputed(k, d) })
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

// drain stops taking work and waits for running jobs until ctx ends, then
// cancels what is left.
func (p *providerService) drain(ctx context.Context) {
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
func (p *providerService) disputed(k runKey, d delivered) {
	n := p.n
	ev := fmt.Sprintf("unreceipted:%s:%d", k.job, k.attempt)
	n.rep.Record(d.requester, reputation.CapRequester, reputation.Disputed, ev)
	if _, err := n.ledger.Append(n.ctx, settlement.KindOutcome, settlement.Outcome{Peer: d.requester,
		Capability: reputation.CapRequester, Outcome: string(reputation.Disputed), Job: k.job}); err != nil {
		n.log.Warn("cannot record outcome", "err", err)
	}
}
