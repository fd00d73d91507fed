package requester

import (
	"bufio"
	"context"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/settlement"
)

type job struct {
	id        string
	spec      market.JobSpec
	place     Placement // who may be invited and awarded
	digest    string
	idemKey   string
	agent     string // whose budget holds it
	held      int64  // its hold
	approval  bool   // waiting for the operator's decision; the machine has not started
	sampling  *sampling
	parent    *job              // set on the hidden runs that check a sampled job
	exclude   []string          // a check run's: providers that ran the job already
	rep       market.Reputation // the machine's: the book, or probation (adaptive.go)
	reviewing []string          // unproven winners of its awards, under review until it ends
	machine   *market.Job       // owned by the job's goroutine
	weight    int               // provider slots it holds at once (replicas)
	admitted  chan struct{}     // closed when a queued job's turn comes
	in        chan func(now time.Time)
	done      chan struct{}
	started   chan struct{} // closed when the machine starts
	// counted: the job's end is in Service.finished (guarded by
	// Service.mu), set before its view turns terminal, so Counts finds
	// it in one place or the other, never in neither.
	counted bool

	mu       sync.Mutex
	view     api.Job
	events   []api.Event
	subs     map[chan api.Event]func() bool // each subscriber and what stops watching its reader
	result   *api.Result
	winners  map[string]bool     // providers holding an award now
	resulted map[string]string   // award CID → CID of the result received for it
	allowed  map[string]bool     // blobs they may fetch
	signed   []api.SignedMessage // every signed message sent or accepted, for the audit
	offers   []api.OfferSeen     // what discovery found
}

// lostGrace is how long a winner may be disconnected before its job is
// re-auctioned: long enough to ride out a redial, short against a crash.
const lostGrace = 2 * time.Second

// Run faults the awards of providers whose last connection closed and did
// not come back within lostGrace, until ctx ends. Jobs run apart from it,
// in Deps.Tasks.
func (r *Service) Run(ctx context.Context) error {
	nb := &network.NotifyBundle{
		DisconnectedF: func(nw network.Network, c network.Conn) {
			p := c.RemotePeer()
			if nw.Connectedness(p) == network.Connected {
				return
			}
			r.d.Tasks.Go(func() {
				t := time.NewTimer(lostGrace)
				defer t.Stop()
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				if r.d.Host.Network().Connectedness(p) == network.Connected {
					return
				}
				r.faultWinner(p.String(), fmt.Sprintf("lost connection for more than %v", lostGrace))
			})
		},
	}
	r.d.Host.Network().Notify(nb)
	<-ctx.Done()
	r.d.Host.Network().StopNotify(nb)
	return nil
}

// faultWinner reports a fault on every job awarded to peer.
func (r *Service) faultWinner(peerID, reason string) {
	r.mu.Lock()
	var hit []string
	for id, j := range r.jobs {
		j.mu.Lock()
		if j.winners[peerID] {
			hit = append(hit, id)
		}
		j.mu.Unlock()
	}
	r.mu.Unlock()
	for _, id := range hit {
		r.deliver(id, "fault", func(m *market.Job, now time.Time) { m.Fault(now, peerID, market.FaultLost, reason) })
	}
}

var jobIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func (r *Service) newID() string {
	var b [10]byte
	binary.BigEndian.PutUint64(b[:8], r.d.Rand())
	binary.BigEndian.PutUint16(b[8:], uint16(r.d.Rand()))
	return "j" + jobIDEncoding.EncodeToString(b[:])
}

// submitPlaced starts a validated spec as a job for agent, honouring its
// idempotency key: the agent's limits are checked, its max cost is put on
// hold, and the job starts — or waits for approval when it costs more than
// the agent may spend unasked.
func (r *Service) submitPlaced(ctx context.Context, spec market.JobSpec, pl Placement, idemKey, agent string) (*job, bool, error) {
	if r.d.Closing() {
		return nil, false, api.Errorf(api.CodeUnavailable, "the node is shutting down; submit to another node or restart it")
	}
	digest := spec.Digest() + pl.key()
	now := r.d.Now()
	r.mu.Lock()
	if idemKey != "" {
		key := agent + "/" + idemKey // agents' keys never collide
		if id, ok := r.idem[key]; ok {
			j := r.jobs[id]
			r.mu.Unlock()
			if j.digest != digest {
				return nil, false, api.Errorf(api.CodeIdempotencyUsed, "idempotency key %q was used for job %s with a different spec; use a new key", idemKey, id)
			}
			return j, false, nil
		}
		if id, err := r.store.idem(key); err != nil || id != "" {
			r.mu.Unlock()
			if err != nil {
				return nil, false, err
			}
			sj, err := r.store.get(id)
			if err != nil || sj == nil {
				return nil, false, fmt.Errorf("requester: idempotency key %q names job %s, which cannot be read: %v", idemKey, id, err)
			}
			if sj.Digest != digest {
				return nil, false, api.Errorf(api.CodeIdempotencyUsed, "idempotency key %q was used for job %s with a different spec; use a new key", idemKey, id)
			}
			return storedJobView(id, sj), false, nil
		}
	}
	r.mu.Unlock()
	id := r.newID()
	hold, approval, err := r.d.Admit(ctx, id, agent, spec, now)
	if err != nil {
		return nil, false, err
	}
	j := r.newJob(id, spec, digest, idemKey, agent, hold, now)
	r.placeJob(j, pl, now)
	if approval {
		j.approval = true
		j.view.State = api.StateApproval
	}
	r.mu.Lock()
	if idemKey != "" {
		key := agent + "/" + idemKey
		if other, ok := r.idem[key]; ok {
			// A concurrent submit with the same key won: give back our hold.
			r.mu.Unlock()
			r.releaseAll(ctx, id, "duplicate submission")
			oj := r.job(other)
			if oj == nil || oj.digest != digest {
				return nil, false, api.Errorf(api.CodeIdempotencyUsed, "idempotency key %q was used for another spec; use a new key", idemKey)
			}
			return oj, false, nil
		}
		r.idem[key] = id
	}
	r.jobs[id] = j
	r.mu.Unlock()
	if approval {
		r.appendEvent(j, api.Event{Time: now, Job: id, Type: "state", State: api.StateApproval,
			Message: fmt.Sprintf("may cost up to %d, above agent %s's approval threshold: waiting for hayek job approve %s", hold, agent, id)})
		// Unanswered by its deadline, the job is rejected.
		deadline := j.machine.Deadline()
		r.wg.Add(1)
		if !r.d.Tasks.GoCtx(func(ctx context.Context) {
			defer r.wg.Done()
			t := time.NewTimer(deadline.Sub(r.d.Now()))
			defer t.Stop()
			select {
			case <-t.C:
				r.Decide(ctx, id, Expire, "")
			case <-j.started:
			case <-j.done:
			case <-ctx.Done():
			}
		}) {
			r.wg.Done()
		}
		return j, true, nil
	}
	r.start(j)
	return j, true, nil
}

func (r *Service) newJob(id string, spec market.JobSpec, digest, idemKey, agent string, hold int64, now time.Time) *job {
	j := &job{
		id: id, spec: spec, digest: digest, idemKey: idemKey, agent: agent, held: hold,
		in: make(chan func(time.Time), 256), done: make(chan struct{}), started: make(chan struct{}),
		admitted: make(chan struct{}), weight: weight(spec),
		subs: map[chan api.Event]func() bool{},
	}
	j.rep = r.d.Rep
	if adaptive(spec) {
		j.rep = &drawnRep{probation: r.prob}
	}
	j.machine = r.newMachine(j, now)
	j.view = api.Job{ID: id, State: api.StatePending, IdempotencyKey: idemKey, Module: spec.Module.CID, Runtime: string(spec.Runtime),
		MaxPrice: spec.MaxPrice, Outputs: []api.Output{}, Attempts: []api.Attempt{}, CreatedAt: now, UpdatedAt: now,
		Deadline: j.machine.Deadline(),
		Agent:    agent, Verify: spec.Verify, Settlement: &api.Settlement{Held: hold, Receipts: []string{}}}
	return j
}

func (r *Service) newMachine(j *job, now time.Time) *market.Job {
	return market.NewJob(j.id, j.spec, r.cfg, r.d.Signer, j.rep, newJobRand(r.d.Rand()), now)
}

// start runs a job; false when the node is stopping.
func (r *Service) start(j *job) bool {
	close(j.started)
	r.wg.Add(1)
	if !r.d.Tasks.GoCtx(func(ctx context.Context) { r.run(ctx, j) }) {
		r.wg.Done() // the node is stopping
		return false
	}
	return true
}

// Decision is what becomes of a job waiting for approval.
type Decision int

const (
	Approve Decision = iota // the operator approved it
	Reject                  // the operator rejected it
	Expire                  // nobody decided by its deadline
	Cancel                  // its agent was revoked, or the node is stopping
)

// Decide approves, rejects, expires or cancels a job waiting for approval.
func (r *Service) Decide(ctx context.Context, id string, d Decision, reason string) (api.Job, error) {
	j := r.job(id)
	if j == nil {
		return api.Job{}, api.Errorf(api.CodeNotFound, "no job %s waiting on this node", id)
	}
	r.mu.Lock()
	waiting := j.approval
	j.approval = false
	r.mu.Unlock()
	if !waiting {
		return api.Job{}, api.Errorf(api.CodeNotApproval, "job %s is %s, not waiting for approval", id, j.snapshot().State)
	}
	action := map[Decision]string{Approve: settlement.ActionJobApprove, Reject: settlement.ActionJobReject,
		Expire: settlement.ActionJobExpire, Cancel: settlement.ActionJobCancel}[d]
	if _, err := r.d.Ledger.Append(ctx, settlement.KindGovernance, settlement.Governance{Action: action, Agent: j.agent, Job: id, Detail: reason}); err != nil {
		r.d.Log.Error("cannot record decision", "job", id, "err", err)
	}
	now := r.d.Now()
	if d == Approve {
		r.appendEvent(j, api.Event{Time: now, Job: id, Type: "state", State: api.StatePending, Message: withReason("approved", reason)})
		r.start(j)
		return j.snapshot(), nil
	}
	released := r.releaseAll(ctx, id, action)
	j.mu.Lock()
	j.view.Settlement = &api.Settlement{Held: j.held, Released: released, Receipts: []string{}}
	created := j.view.CreatedAt
	j.mu.Unlock()
	var o *market.Outcome
	switch d {
	case Reject:
		o = &market.Outcome{State: market.StateFailed, Code: codeRejected, Message: withReason("rejected by the operator", reason)}
	case Expire:
		o = &market.Outcome{State: market.StateFailed, Code: codeExpired,
			Message: fmt.Sprintf("expired: no decision within %v (its deadline); approve sooner or give it a later --deadline", now.Sub(created).Round(time.Second))}
	default:
		o = &market.Outcome{State: market.StateCancelled, Code: market.FailCancelled, Message: reason}
	}
	r.finish(j, o, nil)
	return j.snapshot(), nil
}

// Failure codes of jobs that never reached the market.
const (
	codeRejected market.FailCode = "rejected" // the operator rejected it
	codeExpired  market.FailCode = "expired"  // nobody approved it by its deadline
)

func withReason(s, reason string) string {
	if reason == "" {
		return s
	}
	return s + ": " + reason
}

// CancelAgentJobs cancels every unfinished job of agent.
func (r *Service) CancelAgentJobs(ctx context.Context, agent, reason string) {
	r.mu.Lock()
	var mine []*job
	for _, j := range r.jobs {
		if j.agent == agent {
			mine = append(mine, j)
		}
	}
	r.mu.Unlock()
	for _, j := range mine {
		if j.snapshot().State == api.StateApproval {
			r.Decide(ctx, j.id, Cancel, reason)
			continue
		}
		r.deliver(j.id, "cancel", func(m *market.Job, now time.Time) { m.Cancel(now, reason) })
	}
}

// appendEvent records an event that does not come from the machine.
func (r *Service) appendEvent(j *job, e api.Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.emitLocked(e)
}

func (r *Service) job(id string) *job {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.jobs[id]
}

// deliver hands an input to a job's goroutine; inputs for unknown or
// finished jobs, or beyond a job's queue, are dropped and counted.
func (r *Service) deliver(id, what string, f func(m *market.Job, now time.Time)) bool {
	j := r.job(id)
	if j == nil {
		r.d.Drops.Add(what + "/unknown_job")
		return false
	}
	select {
	case <-j.done:
		r.d.Drops.Add(what + "/job_finished")
		return false
	case j.in <- func(now time.Time) { f(j.machine, now) }:
		return true
	default:
		r.d.Drops.Add(what + "/job_busy")
		return false
	}
}

// run drives one job until it is terminal. A job's terminal state, its
// result, its settlement and its last events become visible together, in
// finish: no reader ever sees "completed" without a result to fetch.
func (r *Service) run(ctx context.Context, j *job) {
	defer r.wg.Done()
	defer r.queue.leave(j)
	if !r.queue.enter(j) {
		r.waitTurn(ctx, j) // admitted, or ended (cancel, deadline) while queued
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		rd := j.machine.Ready()
		if o := rd.Done; o != nil {
			final := rd.Events
			rd.Events, rd.Discover = nil, false
			r.carryOut(ctx, j, rd)
			r.syncView(j)
			for _, p := range j.reviewing {
				r.prob.release(p)
			}
			r.decideSample(j, o)
			r.settle(ctx, j, o)
			if s := j.sampling; s != nil && s.adaptive {
				// Held back until the check's verdict (adaptive.go).
				s.outcome, s.final = o, final
				j.mu.Lock()
				j.winners, j.allowed = nil, nil
				j.mu.Unlock()
				r.spawnSample(ctx, j)
				return
			}
			r.finish(j, o, final)
			if j.parent != nil {
				r.sampleDone(ctx, j, o)
			} else if j.sampling != nil {
				r.spawnSample(ctx, j)
			}
			return
		}
		r.carryOut(ctx, j, rd)
		r.syncView(j)
		var tick <-chan time.Time
		if nt := j.machine.NextTimer(); !nt.IsZero() {
			timer.Reset(max(nt.Sub(r.d.Now()), 0))
			tick = timer.C
		}
		select {
		case f := <-j.in:
			f(r.d.Now())
		case <-tick:
			j.machine.Tick(r.d.Now())
		case <-ctx.Done():
			j.machine.Cancel(r.d.Now(), "the node shut down")
		}
	}
}

// carryOut performs what the machine asked for. Network sends run in their
// own goroutines and report back as inputs.
func (r *Service) carryOut(ctx context.Context, j *job, rd market.Ready) {
	if rd.Discover {
		caps := j.spec.AllCapabilities()
		r.d.Tasks.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			defer cancel()
			cands, err := r.candidates(ctx, j, caps)
			if err != nil {
				r.d.Log.Warn("discovery failed", "job", j.id, "err", err)
			}
			r.prob.seen(cands)
			switch {
			case j.parent != nil && checkOf(j) != nil:
				cands = r.checkCandidates(j, cands)
			case j.parent == nil && adaptive(j.spec):
				cands = r.closeToTrusted(j, cands)
			}
			r.deliver(j.id, "discovery", func(m *market.Job, now time.Time) { m.Candidates(now, cands) })
		})
	}
	for _, env := range rd.Calls {
		j.keep(market.KindCall, r.self, env.Encode(), r.d.Now())
		r.sendCall(ctx, j, env)
	}
	for _, o := range rd.Awards {
		if j.rep != r.d.Rep && r.prob.unproven(o.To, string(j.spec.Runtime)) {
			r.prob.hold(o.To) // released when the job ends
			j.reviewing = append(j.reviewing, o.To)
		}
		j.mu.Lock()
		if j.winners == nil {
			j.winners = map[string]bool{}
		}
		j.winners[o.To] = true
		j.keepLocked(market.KindAward, r.self, o.Env.Encode(), r.d.Now())
		j.allowed = map[string]bool{j.spec.Module.CID: true}
		if j.spec.Stdin != nil {
			j.allowed[j.spec.Stdin.CID] = true
		}
		for _, in := range j.spec.Inputs {
			j.allowed[in.CID] = true
		}
		j.mu.Unlock()
		r.d.Tasks.Go(func() { r.sendAward(ctx, j, o) })
	}
	for _, o := range rd.Cancels {
		j.mu.Lock()
		delete(j.winners, o.To)
		j.mu.Unlock()
		r.d.Tasks.Go(func() { r.sendCancel(ctx, o) })
	}
	if len(rd.Events) > 0 {
		j.mu.Lock()
		j.publishLocked(rd.Events)
		j.mu.Unlock()
	}
}

// publishLocked emits the machine's events. j.mu must be held.
func (j *job) publishLocked(evs []market.Event) {
	for _, e := range evs {
		ae := api.Event{Time: e.Time, Job: j.id, Type: e.Type, State: apiState(e.State),
			Attempt: e.Attempt, Provider: e.Provider, Price: e.Price, Reason: e.Reason, Message: e.Message,
			Invitees: e.Invitees, StartWithinMs: e.StartWithinMs, Status: string(e.Status), ExitCode: e.ExitCode}
		j.emitLocked(ae)
	}
}

// emitLocked numbers an event, appends it to the job's history and hands
// it to subscribers. A subscriber that cannot keep up is cut off; it
// resumes from its last event ID. j.mu must be held.
func (j *job) emitLocked(e api.Event) {
	e.Seq = int64(len(j.events) + 1)
	j.events = append(j.events, e)
	for ch := range j.subs {
		select {
		case ch <- e:
		default:
			delete(j.subs, ch)
			close(ch)
		}
	}
}

// sendAward delivers an award and waits for the signed acknowledgement.
func (r *Service) sendAward(ctx context.Context, j *job, o market.Outgoing) {
	kind := market.FaultLost
	ack, err := func() (market.Ack, error) {
		pid, err := wire.DecodePeer(o.To)
		if err != nil {
			return market.Ack{}, err
		}
		ctx, cancel := context.WithTimeout(ctx, r.cfg.AckTimeout)
		defer cancel()
		st, err := r.d.Host.NewStream(ctx, pid, wire.ProtoAward)
		if err != nil {
			return market.Ack{}, fmt.Errorf("cannot reach the winner: %w", err)
		}
		defer st.Close()
		dl, _ := ctx.Deadline()
		st.SetDeadline(dl)
		if err := wire.WriteFrame(st, o.Env.Encode()); err != nil {
			st.Reset()
			return market.Ack{}, fmt.Errorf("cannot send the award: %w", err)
		}
		st.CloseWrite()
		b, err := wire.ReadFrame(bufio.NewReader(st), wire.MaxAckFrame)
		if err != nil {
			st.Reset()
			kind = market.FaultTimeout
			return market.Ack{}, fmt.Errorf("no acknowledgement: %w", err)
		}
		kind = market.FaultRefused // what it sent is not an acknowledgement
		var a market.Ack
		_, err = r.inbox().OpenFrame(b, wire.Expect{What: "ack", Kind: market.KindAck, From: o.To, WrongFrom: "wrong_provider"}, &a)
		switch {
		case errors.Is(err, wire.ErrNotEnvelope):
			return market.Ack{}, fmt.Errorf("malformed acknowledgement: %w", err)
		case errors.Is(err, wire.ErrWrongSender):
			return market.Ack{}, fmt.Errorf("acknowledgement signed by %s", wire.ShortID(a.Provider))
		case err != nil:
			return market.Ack{}, fmt.Errorf("bad acknowledgement: %w", err)
		}
		return a, nil
	}()
	if err != nil {
		kind = faultKind(err, kind)
		r.deliver(j.id, "ack", func(m *market.Job, now time.Time) { m.Fault(now, o.To, kind, err.Error()) })
		return
	}
	r.deliver(j.id, "ack", func(m *market.Job, now time.Time) {
		if err := m.Ack(now, ack); err != nil {
			r.d.Drops.Add("ack/rejected")
		}
	})
}

// sendCancel tells a provider to stop, best effort.
func (r *Service) sendCancel(ctx context.Context, o market.Outgoing) {
	pid, err := wire.DecodePeer(o.To)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := r.d.Host.NewStream(ctx, pid, wire.ProtoAward)
	if err != nil {
		return
	}
	st.SetDeadline(time.Now().Add(5 * time.Second))
	if err := wire.WriteFrame(st, o.Env.Encode()); err != nil {
		st.Reset()
		return
	}
	st.Close()
}

// HandleBid receives bids and declines from providers.
func (r *Service) HandleBid(st network.Stream) {
	defer st.Close()
	in := r.inbox()
	b, ok := in.ReadFrame(st, wire.MaxBidFrame, "bid")
	if !ok {
		return
	}
	env, err := in.Decode(b, "bid")
	if err != nil {
		return
	}
	switch env.Kind {
	case market.KindBid:
		var bid market.Bid
		if in.Open(env, wire.Expect{What: "bid", Kind: market.KindBid, Created: func() int64 { return bid.Created }}, &bid) != nil {
			return
		}
		if j := r.job(bid.Job); j != nil && !j.place.permits(bid.Provider) {
			r.d.Drops.Add("bid/placement") // an unasked bidder the job's placement forbids
			return
		}
		r.deliver(bid.Job, "bid", func(m *market.Job, now time.Time) {
			if err := m.Bid(now, bid, b); err != nil {
				r.d.Drops.Add("bid/rejected")
				r.d.Log.Debug("bid rejected", "err", err)
				return
			}
			r.prob.bid(bid.Provider)
			r.keep(bid.Job, market.KindBid, bid.Provider, b, now)
		})
	case market.KindDecline:
		var d market.Decline
		if in.Open(env, wire.Expect{What: "decline", Kind: market.KindDecline, Created: func() int64 { return d.Created }}, &d) != nil {
			return
		}
		r.deliver(d.Job, "decline", func(m *market.Job, now time.Time) {
			if err := m.Decline(now, d); err != nil {
				r.d.Drops.Add("decline/rejected")
				return
			}
			if d.Reason == market.DeclineRequester {
				r.prob.declined(d.Provider, r.owed(d.Provider))
			}
			r.keep(d.Job, market.KindDecline, d.Provider, b, now)
		})
	default:
		r.d.Drops.Add("bid/wrong_kind")
	}
}

// inbox takes in the signed messages peers send the requester.
func (r *Service) inbox() wire.Inbox {
	return wire.Inbox{Verifier: r.d.Verifier, Drops: r.d.Drops, Now: r.d.Now, Freshness: r.d.Freshness}
}

// faultKind classifies a failed exchange with a winner: a failure of this
// node's own making — its resource limits, its shutdown — is local and no
// evidence against the peer; anything else is of the kind given.
func faultKind(err error, otherwise market.FaultKind) market.FaultKind {
	switch {
	case errors.Is(err, network.ErrResourceLimitExceeded), errors.Is(err, network.ErrResourceScopeClosed),
		errors.Is(err, context.Canceled):
		return market.FaultLocal
	}
	return otherwise
}

// AuthorizeFetch reports whether peer may fetch blob c of job id: only the
// provider holding the job's current award may fetch its module and inputs.
func (r *Service) AuthorizeFetch(id, peerID, c string) bool {
	j := r.job(id)
	if j == nil {
		return false
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.winners[peerID] && j.allowed[c]
}

// syncView copies the machine's state into the API view.
func (r *Service) syncView(j *job) {
	m := j.machine
	now := r.d.Now()
	atts := m.Attempts()
	view := make([]api.Attempt, len(atts))
	var provider string
	var price int64
	for i, a := range atts {
		av := api.Attempt{Number: a.Number, Invitees: a.Invitees, Bids: []api.BidInfo{}, Declines: []api.DeclineInfo{},
			Silent: a.Silent(), Winner: a.Winner, Price: a.Price, RunnerUp: a.RunnerUp, Fault: a.Fault}
		if len(a.Winners) > 1 {
			av.Winners = a.Winners
		}
		if av.Invitees == nil {
			av.Invitees = []string{}
		}
		w := a.Winner
		if w == "" && len(a.Winners) > 0 {
			w = a.Winners[0]
		}
		if b, ok := a.Basis[w]; ok {
			av.PriceRule, av.PriceBasis = string(b.Rule), b.String()
		}
		for _, b := range a.Bids {
			av.Bids = append(av.Bids, api.BidInfo{Provider: b.Bid.Provider, Price: b.Bid.Price,
				StartWithinMs: b.Bid.StartWithinMs, Load: b.Bid.Load})
		}
		for _, d := range a.Declines {
			av.Declines = append(av.Declines, api.DeclineInfo{Provider: d.Provider, Reason: string(d.Reason), Detail: d.Detail})
		}
		if a.Winner != "" && a.Fault == "" {
			provider, price = a.Winner, a.Price
		}
		view[i] = av
	}
	j.mu.Lock()
	if st := apiState(m.State()); !st.Terminal() {
		j.view.State = st // a terminal state waits for finish and the result
	}
	j.view.Attempts = view
	j.view.Provider, j.view.Price = provider, price
	j.view.UpdatedAt = now
	j.mu.Unlock()
}

// finish records a job's outcome, wakes waiters and ends subscriptions.
// The finished view goes to the job store before it is visible in memory,
// so a reader listing jobs finds it in one place or the other.
func (r *Service) finish(j *job, o *market.Outcome, final []market.Event) {
	now := r.d.Now()
	j.mu.Lock()
	v := cloneJob(j.view)
	j.mu.Unlock()
	v.State = apiState(o.State)
	v.FinishedAt = &now
	v.UpdatedAt = now
	var result *api.Result
	switch o.State {
	case market.StateCompleted:
		res := o.Result
		if res.Status == market.StatusOK || res.Status == market.StatusExit {
			ec := res.ExitCode // a run stopped at a limit or trapped has none
			v.ExitCode = &ec
		}
		v.Status = string(res.Status)
		v.Provider, v.Price = o.Provider, o.Price
		v.Usage = &api.Usage{WallMs: float64(res.Usage.WallUs) / 1000, MemoryBytes: res.Usage.MemoryBytes}
		outs := make([]api.Output, len(res.Outputs))
		for i, out := range res.Outputs {
			outs[i] = api.Output{Name: out.Name, CID: out.CID, Size: out.Size}
		}
		v.Outputs = outs
		if res.Status != market.StatusOK {
			v.Error = &api.JobError{Code: string(res.Status), Message: res.Error}
		}
		result = &api.Result{
			Job: j.id, Provider: o.Provider, Price: o.Price, Status: string(res.Status), ExitCode: res.ExitCode,
			Error: res.Error, Stdout: r.stream(res.Stdout), Stderr: r.stream(res.Stderr), Outputs: slices.Clone(outs),
			OutputsTruncated: res.OutputsTruncated,
			Usage:            api.Usage{WallMs: float64(res.Usage.WallUs) / 1000, MemoryBytes: res.Usage.MemoryBytes},
			StartedAfterMs:   res.StartedAfterMs, StartHeld: res.StartHeld,
			ResultCID: canon.DocCID(o.ResultEnv).String(),
		}
	default:
		v.Error = &api.JobError{Code: string(o.Code), Message: o.Message}
	}

	if j.parent == nil {
		r.mu.Lock()
		r.finished[v.State]++
		j.counted = true
		r.mu.Unlock()
	}
	j.mu.Lock()
	j.view, j.result = v, result
	j.winners, j.allowed = nil, nil
	j.publishLocked(final)
	sj := &storedJob{Job: cloneJob(j.view), Result: j.result, Events: slices.Clone(j.events), Digest: j.digest,
		Spec: &j.spec, Signed: j.signed, Offers: j.offers}
	if j.parent == nil {
		// Stored under the lock: readers see it terminal only once the
		// store (which lists finished jobs) has it too.
		if err := r.store.put(sj); err != nil {
			r.d.Log.Error("cannot store finished job; it stays in memory", "job", j.id, "err", err)
		}
	}
	for ch, stop := range j.subs {
		stop()
		close(ch)
	}
	j.subs = nil
	j.mu.Unlock()
	// The machine, with every signed message of the auction, is no longer
	// needed: what the API shows is in the view and the store.
	j.machine = nil
	close(j.done)

	r.mu.Lock()
	if j.idemKey != "" {
		delete(r.idem, j.agent+"/"+j.idemKey) // the store answers for it now
	}
	r.order = append(r.order, j.id)
	for len(r.order) > maxRetainedJobs {
		delete(r.jobs, r.order[0])
		r.order = r.order[1:]
	}
	r.mu.Unlock()
}

// closedChan is the done channel of jobs read back from the store.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// lookup finds a job in memory or, finished, in the store.
func (r *Service) lookup(id string) (*job, error) {
	if j := r.job(id); j != nil {
		return j, nil
	}
	sj, err := r.store.get(id)
	if err != nil || sj == nil {
		return nil, err
	}
	return storedJobView(id, sj), nil
}

// storedJobView is a finished job read back from the store.
func storedJobView(id string, sj *storedJob) *job {
	j := &job{id: id, view: sj.Job, done: closedChan, started: closedChan, result: sj.Result,
		events: sj.Events, agent: sj.Job.Agent, digest: sj.Digest, signed: sj.Signed, offers: sj.Offers}
	if sj.Spec != nil {
		j.spec = *sj.Spec
	}
	return j
}

// stream describes captured output, inline when small and printable.
func (r *Service) stream(s market.Stream) api.Stream {
	out := api.Stream{CID: s.CID, Size: s.Size, Truncated: s.Truncated}
	if s.Size > 1<<20 {
		return out
	}
	b, err := r.d.Blobs.Get(s.CID)
	if err != nil {
		return out
	}
	if utf8.Valid(b) {
		out.Text = string(b)
	} else {
		out.Base64 = encodeBase64(b)
	}
	return out
}

// Shutdown cancels unfinished jobs and waits for their goroutines until
// ctx ends.
func (r *Service) Shutdown(ctx context.Context) {
	r.mu.Lock()
	var live []*job
	for _, j := range r.jobs {
		live = append(live, j)
	}
	r.mu.Unlock()
	for _, j := range live {
		if j.snapshot().State == api.StateApproval {
			r.Decide(ctx, j.id, Cancel, "the node is shutting down")
			continue
		}
		select {
		case <-j.done:
		case <-j.started:
			select {
			case <-j.done:
			case j.in <- func(now time.Time) { j.machine.Cancel(now, "the node is shutting down") }:
			case <-ctx.Done():
			}
		case <-ctx.Done():
		}
	}
	done := make(chan struct{})
	// The waiter is a task too: if ctx ends first, stopping the tasks ends
	// the jobs, then it.
	if !r.d.Tasks.Go(func() { r.wg.Wait(); close(done) }) {
		return // the tasks have stopped, and the jobs with them
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func apiState(s market.State) api.JobState {
	switch s {
	case market.StatePending:
		return api.StatePending
	case market.StateAuction:
		return api.StateAuction
	case market.StateAwarded:
		return api.StateAwarded
	case market.StateRunning:
		return api.StateRunning
	case market.StateCompleted:
		return api.StateCompleted
	case market.StateFailed:
		return api.StateFailed
	case market.StateCancelled:
		return api.StateCancelled
	}
	return api.JobState(strings.ToLower(string(s)))
}

func newJobRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d)) }

func encodeBase64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
