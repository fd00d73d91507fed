package market

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hayek-market/hayek/internal/canon"
)

// JobConfig tunes the requester's side of auctions.
type JobConfig struct {
	Self        string        // the requester's peer ID
	BidWindow   time.Duration // the longest an auction stays open
	MaxInvitees int           // B: invitees per call for bids
	AckTimeout  time.Duration // from award to the winner's acknowledgement
	ResultGrace time.Duration // beyond start + timeout, for fetching and delivery
	MaxAttempts int           // auctions per job before it fails
	AllowSelf   bool          // let this node win its own jobs
}

// DefaultJobConfig returns the defaults documented on each field.
func DefaultJobConfig(self string) JobConfig {
	return JobConfig{
		Self:        self,
		BidWindow:   time.Second,
		MaxInvitees: 16,
		AckTimeout:  3 * time.Second,
		ResultGrace: 10 * time.Second,
		MaxAttempts: 3,
	}
}

// State is the requester's state of a job.
type State string

// States of a job on its requester.
const (
	StatePending   State = "pending"   // waiting for candidates from discovery
	StateAuction   State = "auction"   // call for bids out
	StateAwarded   State = "awarded"   // award sent, waiting for the ack
	StateRunning   State = "running"   // acknowledged, waiting for the result
	StateCompleted State = "completed" // a result arrived
	StateFailed    State = "failed"
	StateCancelled State = "cancelled"
)

// Terminal reports whether the state is final.
func (s State) Terminal() bool {
	return s == StateCompleted || s == StateFailed || s == StateCancelled
}

// Failure codes of jobs that could not be run.
const (
	FailNoProviders = "no_providers"    // discovery found nobody selling what the job needs
	FailNoBids      = "no_bids"         // every auction closed without an eligible bid
	FailFaults      = "provider_faults" // winners failed to deliver, attempts exhausted
	FailDeadline    = "deadline"        // the job's deadline passed
	FailCancelled   = "cancelled"
)

// Candidate is a provider found by discovery, with its verified offer.
type Candidate struct {
	Peer  string
	Offer Offer
}

// Event is one observable step of a job, for the API's event stream.
type Event struct {
	Time     time.Time
	Type     string // state, auction, bid, decline, award, fault, result
	State    State
	Attempt  uint32
	Provider string
	Price    int64
	Reason   string
	Message  string
	// Invitees is set on the auction-open event, StartWithinMs on bids,
	// Status and ExitCode on the result.
	Invitees      int
	StartWithinMs int64
	Status        Status
	ExitCode      *int32
}

// Outcome is a job's end.
type Outcome struct {
	State     State
	Code      string // failure code, "" when completed
	Message   string
	Provider  string
	Price     int64
	Result    *Result
	ResultEnv []byte // the provider's signed result, as received
}

// Ready is what the caller must carry out after feeding the job an input.
type Ready struct {
	Discover bool             // find candidates and call Candidates
	Calls    []canon.Envelope // publish on the primary capability's topic
	Awards   []Outgoing       // send to the named provider
	Cancels  []Outgoing       // tell the provider to stop
	Events   []Event
	Done     *Outcome // set once, when the job reaches a terminal state
}

// Outgoing is a signed message for one peer.
type Outgoing struct {
	To  string
	Env canon.Envelope
}

// Empty reports whether there is nothing to do.
func (r Ready) Empty() bool {
	return !r.Discover && len(r.Calls) == 0 && len(r.Awards) == 0 && len(r.Cancels) == 0 &&
		len(r.Events) == 0 && r.Done == nil
}

// BidRecord is a bid as the requester recorded it.
type BidRecord struct {
	Bid      Bid
	Env      []byte // the signed bid, as received
	Standing Standing
	Invited  bool
}

// AttemptRecord is the history of one auction and its award.
type AttemptRecord struct {
	Number     uint32
	Opened     time.Time
	Closed     time.Time
	Invitees   []string
	Bids       []BidRecord
	Declines   []Decline
	Ineligible []string // bidders whose standing excluded them, with reasons
	Winner     string
	RunnerUp   string
	Price      int64
	AwardCID   string
	Fault      string
}

// Silent lists invitees that neither bid nor declined.
func (a *AttemptRecord) Silent() []string {
	answered := map[string]bool{}
	for _, b := range a.Bids {
		answered[b.Bid.Provider] = true
	}
	for _, d := range a.Declines {
		answered[d.Provider] = true
	}
	var out []string
	for _, p := range a.Invitees {
		if !answered[p] {
			out = append(out, p)
		}
	}
	return out
}

// Job is the requester's state machine for one job: discovery, auction,
// award, run, and re-auction after a provider's fault. It does no I/O and
// reads no clock: the caller feeds it verified messages and the time, and
// carries out what Ready returns. It signs its own calls and awards with the
// configured signer, which is pure computation. Not safe for concurrent use.
type Job struct {
	id       string
	spec     JobSpec
	cfg      JobConfig
	signer   canon.Signer
	rep      Reputation
	rng      *rand.Rand
	created  time.Time
	deadline time.Time

	state    State
	attempts []*AttemptRecord
	excluded map[string]string // peer → its fault, never invited again

	// current attempt
	call      canon.Envelope
	callCID   string
	closesAt  time.Time
	invited   map[string]bool
	answered  map[string]bool
	awardEnv  canon.Envelope
	ackBy     time.Time
	resultBy  time.Time
	winnerBid *BidRecord

	silentRetried bool
	ready         Ready
	done          bool
}

// NewJob starts a job at now. spec must be validated. The job first asks for
// candidates (Ready.Discover).
func NewJob(id string, spec JobSpec, cfg JobConfig, signer canon.Signer, rep Reputation, rng *rand.Rand, now time.Time) *Job {
	if rep == nil {
		rep = NeutralReputation{}
	}
	j := &Job{
		id: id, spec: spec, cfg: cfg, signer: signer, rep: rep, rng: rng,
		created: now, deadline: now.Add(time.Duration(spec.DeadlineMs) * time.Millisecond),
		state: StatePending, excluded: map[string]string{},
	}
	j.ready.Discover = true
	j.event(now, Event{Type: "state", Message: "waiting for providers"})
	return j
}

// ID is the job's ID.
func (j *Job) ID() string { return j.id }

// Spec is the job's spec.
func (j *Job) Spec() JobSpec { return j.spec }

// State is the job's current state.
func (j *Job) State() State { return j.state }

// Deadline is when the job fails if it has not completed.
func (j *Job) Deadline() time.Time { return j.deadline }

// Attempts returns the history of the job's auctions.
func (j *Job) Attempts() []*AttemptRecord { return j.attempts }

// Ready returns what the caller must do and clears it.
func (j *Job) Ready() Ready {
	r := j.ready
	j.ready = Ready{}
	return r
}

// CallCID is the CID of the current call for bids' envelope.
func (j *Job) CallCID() string { return j.callCID }

// AwardCID is the CID of the current award's envelope.
func (j *Job) AwardCID() string { return j.awardEnv.CIDOrEmpty() }

// Winner is the provider of the current award, if any.
func (j *Job) Winner() string {
	if j.winnerBid == nil {
		return ""
	}
	return j.winnerBid.Bid.Provider
}

// NextTimer is the earliest time at which Tick would change something, or
// the zero time when nothing is pending.
func (j *Job) NextTimer() time.Time {
	if j.state.Terminal() {
		return time.Time{}
	}
	t := j.deadline
	switch j.state {
	case StateAuction:
		t = earliest(t, j.closesAt)
	case StateAwarded:
		t = earliest(t, j.ackBy)
	case StateRunning:
		t = earliest(t, j.resultBy)
	}
	return t
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func (j *Job) current() *AttemptRecord {
	if len(j.attempts) == 0 {
		return nil
	}
	return j.attempts[len(j.attempts)-1]
}

func (j *Job) event(now time.Time, e Event) {
	e.Time = now
	e.State = j.state
	if e.Attempt == 0 {
		e.Attempt = uint32(len(j.attempts))
	}
	j.ready.Events = append(j.ready.Events, e)
}

func (j *Job) setState(now time.Time, s State, msg string) {
	j.state = s
	j.event(now, Event{Type: "state", Message: msg})
}

// Candidates feeds the result of discovery. The job picks its invitees and
// opens an auction, or fails when nobody can run it.
func (j *Job) Candidates(now time.Time, cands []Candidate) {
	if j.state != StatePending {
		return
	}
	if j.checkDeadline(now) {
		return
	}
	needs := j.spec.Needs()
	primary := j.spec.Runtime
	type pick struct {
		c     Candidate
		quote int64
		st    Standing
		tie   uint64
	}
	var picks []pick
	var unfit []string
	for _, c := range cands {
		if c.Peer == j.cfg.Self && !j.cfg.AllowSelf {
			continue
		}
		if _, bad := j.excluded[c.Peer]; bad {
			continue
		}
		if reason, detail := c.Offer.Fits(needs); reason != "" {
			unfit = append(unfit, fmt.Sprintf("%s: %s (%s)", short(c.Peer), reason, detail))
			continue
		}
		st := j.rep.Standing(c.Peer, primary, j.spec.MinReputation)
		if !st.Eligible {
			unfit = append(unfit, fmt.Sprintf("%s: ineligible (%s)", short(c.Peer), st.Reason))
			continue
		}
		picks = append(picks, pick{c: c, quote: c.Offer.Pricing.Quote(needs), st: st, tie: j.rng.Uint64()})
	}
	if len(picks) == 0 {
		msg := fmt.Sprintf("no provider found for %s", strings.Join(capStrings(j.spec.AllCapabilities()), ", "))
		if len(unfit) > 0 {
			msg = fmt.Sprintf("no provider can run this job: %s", strings.Join(unfit, "; "))
		}
		if len(j.attempts) > 0 {
			if j.hasFaults() {
				j.fail(now, FailFaults, j.faultSummary()+"; then "+msg)
			} else {
				j.fail(now, FailNoBids, j.noBidsMessage())
			}
			return
		}
		j.fail(now, FailNoProviders, msg)
		return
	}
	// Cheapest quotes first, random among equals so load spreads.
	sort.Slice(picks, func(a, b int) bool {
		if picks[a].quote != picks[b].quote {
			return picks[a].quote < picks[b].quote
		}
		return picks[a].tie < picks[b].tie
	})
	if len(picks) > j.cfg.MaxInvitees {
		picks = picks[:j.cfg.MaxInvitees]
	}
	invitees := make([]string, len(picks))
	for i, p := range picks {
		invitees[i] = p.c.Peer
	}
	slices.Sort(invitees)
	j.open(now, invitees)
}

func (j *Job) open(now time.Time, invitees []string) {
	attempt := uint32(len(j.attempts) + 1)
	call := CallForBids{
		Job: j.id, Attempt: attempt, Requester: j.cfg.Self, Needs: j.spec.Needs(),
		Invitees: invitees, WindowMs: j.cfg.BidWindow.Milliseconds(), Created: now.UnixMilli(),
	}
	env, err := canon.Seal(j.signer, KindCall, call)
	if err != nil {
		j.fail(now, "internal", fmt.Sprintf("cannot sign the call for bids: %v", err))
		return
	}
	j.attempts = append(j.attempts, &AttemptRecord{Number: attempt, Opened: now, Invitees: invitees})
	j.call, j.callCID = env, env.CID()
	j.closesAt = now.Add(j.cfg.BidWindow)
	j.invited = map[string]bool{}
	j.answered = map[string]bool{}
	for _, p := range invitees {
		j.invited[p] = true
	}
	j.awardEnv, j.winnerBid = canon.Envelope{}, nil
	j.ready.Calls = append(j.ready.Calls, env)
	j.setState(now, StateAuction, fmt.Sprintf("auction %d open with %d invitees", attempt, len(invitees)))
	j.event(now, Event{Type: "auction", Invitees: len(invitees), Message: fmt.Sprintf("call for bids to %d invitees", len(invitees))})
}

// Bid feeds a verified bid. env is its signed envelope as received.
func (j *Job) Bid(now time.Time, b Bid, env []byte) error {
	if j.state != StateAuction {
		return fmt.Errorf("market: bid from %s for job %s in state %s", short(b.Provider), j.id, j.state)
	}
	cur := j.current()
	switch {
	case b.Job != j.id || b.Attempt != cur.Number:
		return fmt.Errorf("market: bid for %s/%d, auction is %s/%d", b.Job, b.Attempt, j.id, cur.Number)
	case b.Call != j.callCID:
		return fmt.Errorf("market: bid names call %s, not the open call", b.Call)
	case b.Requester != j.cfg.Self:
		return fmt.Errorf("market: bid addressed to %s", short(b.Requester))
	case b.Price <= 0 || b.Price > j.spec.MaxPrice:
		return fmt.Errorf("market: bid price %d outside (0, %d]", b.Price, j.spec.MaxPrice)
	case b.StartWithinMs < 0 || b.StartWithinMs > time.Hour.Milliseconds():
		return fmt.Errorf("market: bid start-within %dms out of range", b.StartWithinMs)
	case b.Provider == j.cfg.Self && !j.cfg.AllowSelf:
		return fmt.Errorf("market: bid from ourselves")
	}
	if _, bad := j.excluded[b.Provider]; bad {
		return fmt.Errorf("market: bid from %s, dropped earlier for a fault", short(b.Provider))
	}
	if j.answered[b.Provider] {
		return fmt.Errorf("market: second answer from %s", short(b.Provider))
	}
	j.answered[b.Provider] = true
	st := j.rep.Standing(b.Provider, j.spec.Runtime, j.spec.MinReputation)
	cur.Bids = append(cur.Bids, BidRecord{Bid: b, Env: env, Standing: st, Invited: j.invited[b.Provider]})
	j.event(now, Event{Type: "bid", Provider: b.Provider, Price: b.Price, StartWithinMs: b.StartWithinMs,
		Message: fmt.Sprintf("bid %d, start within %dms", b.Price, b.StartWithinMs)})
	j.maybeClose(now)
	return nil
}

// Decline feeds a verified decline.
func (j *Job) Decline(now time.Time, d Decline) error {
	if j.state != StateAuction {
		return fmt.Errorf("market: decline from %s for job %s in state %s", short(d.Provider), j.id, j.state)
	}
	cur := j.current()
	switch {
	case d.Job != j.id || d.Attempt != cur.Number:
		return fmt.Errorf("market: decline for %s/%d, auction is %s/%d", d.Job, d.Attempt, j.id, cur.Number)
	case d.Call != j.callCID:
		return fmt.Errorf("market: decline names call %s, not the open call", d.Call)
	case d.Requester != j.cfg.Self:
		return fmt.Errorf("market: decline addressed to %s", short(d.Requester))
	case j.answered[d.Provider]:
		return fmt.Errorf("market: second answer from %s", short(d.Provider))
	}
	j.answered[d.Provider] = true
	cur.Declines = append(cur.Declines, d)
	j.event(now, Event{Type: "decline", Provider: d.Provider, Reason: string(d.Reason), Message: d.Detail})
	j.maybeClose(now)
	return nil
}

func (j *Job) maybeClose(now time.Time) {
	for p := range j.invited {
		if !j.answered[p] {
			return
		}
	}
	j.close(now)
}

// Tick advances timers: the bid window, the ack and result deadlines, and
// the job's deadline.
func (j *Job) Tick(now time.Time) {
	if j.state.Terminal() || j.checkDeadline(now) {
		return
	}
	switch j.state {
	case StateAuction:
		if !now.Before(j.closesAt) {
			j.close(now)
		}
	case StateAwarded:
		if !now.Before(j.ackBy) {
			j.fault(now, j.Winner(), "did not acknowledge the award in time")
		}
	case StateRunning:
		if !now.Before(j.resultBy) {
			j.fault(now, j.Winner(), "no result by the deadline")
		}
	}
}

func (j *Job) checkDeadline(now time.Time) bool {
	if now.Before(j.deadline) {
		return false
	}
	j.cancelAward(now)
	j.fail(now, FailDeadline, fmt.Sprintf("the job's deadline passed (%v after submission)%s",
		j.deadline.Sub(j.created), j.historySuffix()))
	return true
}

// close ranks the bids and awards the job, or moves on.
func (j *Job) close(now time.Time) {
	cur := j.current()
	cur.Closed = now
	vot := j.spec.ValueOfTime
	var ranked []*BidRecord
	newcomer := false
	bids := slices.Clone(cur.Bids)
	slices.SortStableFunc(bids, func(a, b BidRecord) int {
		return compareBids(j.id, a, b, vot)
	})
	for i := range bids {
		b := &bids[i]
		if !b.Standing.Eligible {
			cur.Ineligible = append(cur.Ineligible, fmt.Sprintf("%s: %s", short(b.Bid.Provider), b.Standing.Reason))
			continue
		}
		if b.Standing.Newcomer {
			if newcomer {
				cur.Ineligible = append(cur.Ineligible, fmt.Sprintf("%s: a newcomer already ranked", short(b.Bid.Provider)))
				continue
			}
			newcomer = true
		}
		ranked = append(ranked, b)
	}
	silent := cur.Silent()
	j.event(now, Event{Type: "auction", Message: fmt.Sprintf("closed: %d bids, %d declines, %d silent",
		len(cur.Bids), len(cur.Declines), len(silent))})
	if len(ranked) == 0 {
		// A call can be lost (a peer that joined the topic a moment ago),
		// so silence earns one more auction with fresh discovery; peers
		// that answered no are not asked again.
		if len(silent) > 0 && !j.silentRetried && len(j.attempts) < j.cfg.MaxAttempts {
			j.silentRetried = true
			for _, d := range cur.Declines {
				j.excluded[d.Provider] = "declined: " + string(d.Reason)
			}
			for _, b := range cur.Bids {
				j.excluded[b.Bid.Provider] = "ineligible"
			}
			j.restart(now)
			return
		}
		j.fail(now, FailNoBids, j.noBidsMessage())
		return
	}
	w := ranked[0]
	ranking := Ranking{ValueOfTime: vot, MaxPrice: j.spec.MaxPrice,
		WinnerScore: Score(w.Bid.Price, w.Bid.StartWithinMs, vot), Bids: len(ranked)}
	var runnerUpEnv []byte
	if len(ranked) > 1 {
		r := ranked[1]
		ranking.RunnerUpScore = Score(r.Bid.Price, r.Bid.StartWithinMs, vot)
		runnerUpEnv = r.Env
		cur.RunnerUp = r.Bid.Provider
	}
	price := SecondPrice(w.Bid.StartWithinMs, vot, ranking.RunnerUpScore, len(ranked) > 1, j.spec.MaxPrice)
	resultBy := now.Add(j.cfg.AckTimeout + time.Duration(w.Bid.StartWithinMs+j.spec.TimeoutMs)*time.Millisecond + j.cfg.ResultGrace)
	if resultBy.After(j.deadline) {
		resultBy = j.deadline
	}
	award := Award{
		Job: j.id, Attempt: cur.Number, Requester: j.cfg.Self, Provider: w.Bid.Provider, Price: price,
		WinningBid: w.Env, RunnerUp: runnerUpEnv, Ranking: ranking,
		Run: RunSpec{
			Module: j.spec.Module, Stdin: j.spec.Stdin, Inputs: j.spec.Inputs, Args: j.spec.Args, Env: j.spec.Env,
			MemoryBytes: j.spec.MemoryBytes, TimeoutMs: j.spec.TimeoutMs, MaxOutputBytes: j.spec.MaxOutputBytes,
		},
		ResultBy: resultBy.UnixMilli(), Created: now.UnixMilli(),
	}
	env, err := canon.Seal(j.signer, KindAward, award)
	if err != nil {
		j.fail(now, "internal", fmt.Sprintf("cannot sign the award: %v", err))
		return
	}
	wb := *w
	j.winnerBid = &wb
	j.awardEnv = env
	cur.Winner, cur.Price, cur.AwardCID = w.Bid.Provider, price, env.CID()
	j.ackBy = now.Add(j.cfg.AckTimeout)
	j.resultBy = resultBy
	j.ready.Awards = append(j.ready.Awards, Outgoing{To: w.Bid.Provider, Env: env})
	j.setState(now, StateAwarded, fmt.Sprintf("awarded to %s at %d", short(w.Bid.Provider), price))
	j.event(now, Event{Type: "award", Provider: w.Bid.Provider, Price: price,
		Message: fmt.Sprintf("%d eligible bids, winner bid %d", len(ranked), w.Bid.Price)})
}

// compareBids orders bids by score, then standing, then committed start,
// then a hash of job and peer ID: equal bids are ranked the same way by
// anyone who checks, yet different jobs spread over equal providers.
func compareBids(job string, a, b BidRecord, vot int64) int {
	if c := cmp.Compare(Score(a.Bid.Price, a.Bid.StartWithinMs, vot), Score(b.Bid.Price, b.Bid.StartWithinMs, vot)); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Standing.Score, a.Standing.Score); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Bid.StartWithinMs, b.Bid.StartWithinMs); c != 0 {
		return c
	}
	if c := cmp.Compare(tieBreak(job, a.Bid.Provider), tieBreak(job, b.Bid.Provider)); c != 0 {
		return c
	}
	return cmp.Compare(a.Bid.Provider, b.Bid.Provider)
}

func tieBreak(job, peer string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(job))
	h.Write([]byte{0})
	h.Write([]byte(peer))
	return h.Sum64()
}

// Ack feeds the winner's verified acknowledgement.
func (j *Job) Ack(now time.Time, a Ack) error {
	if j.state != StateAwarded {
		return fmt.Errorf("market: ack from %s for job %s in state %s", short(a.Provider), j.id, j.state)
	}
	if a.Provider != j.Winner() || a.Award != j.awardEnv.CID() || a.Job != j.id || a.Requester != j.cfg.Self {
		return fmt.Errorf("market: ack from %s does not match the current award", short(a.Provider))
	}
	if !a.Accept {
		j.fault(now, a.Provider, "refused the award: "+a.Reason)
		return nil
	}
	j.setState(now, StateRunning, fmt.Sprintf("running on %s", short(a.Provider)))
	return nil
}

// Result feeds the winner's verified result, after the caller has fetched
// and checked every blob it names. env is the signed result as received.
func (j *Job) Result(now time.Time, r Result, env []byte) error {
	if j.state != StateAwarded && j.state != StateRunning {
		return fmt.Errorf("market: result from %s for job %s in state %s", short(r.Provider), j.id, j.state)
	}
	if r.Provider != j.Winner() || r.Award != j.awardEnv.CID() || r.Job != j.id || r.Requester != j.cfg.Self {
		return fmt.Errorf("market: result from %s does not match the current award", short(r.Provider))
	}
	if !r.Status.Known() {
		return fmt.Errorf("market: result with unknown status %q", r.Status)
	}
	if r.Status.ProviderFault() {
		j.fault(now, r.Provider, withDetail("reported "+string(r.Status), r.Error))
		return nil
	}
	cur := j.current()
	j.state = StateCompleted
	ec := r.ExitCode
	j.event(now, Event{Type: "result", Provider: r.Provider, Price: cur.Price, Status: r.Status, ExitCode: &ec,
		Reason: string(r.Status), Message: fmt.Sprintf("exit code %d", r.ExitCode)})
	j.finish(now, &Outcome{State: StateCompleted, Provider: r.Provider, Price: cur.Price, Result: &r, ResultEnv: env,
		Message: fmt.Sprintf("ran on %s for %d: %s", short(r.Provider), cur.Price, r.Status)})
	return nil
}

// Fault reports that peer failed the job through no fault of the job:
// unreachable, disconnected, or it sent outputs that could not be fetched.
// Faults of anyone but the current winner are ignored.
func (j *Job) Fault(now time.Time, peer, reason string) {
	if (j.state == StateAwarded || j.state == StateRunning) && peer == j.Winner() {
		j.fault(now, peer, reason)
	}
}

func (j *Job) fault(now time.Time, peer, reason string) {
	cur := j.current()
	cur.Fault = reason
	j.excluded[peer] = reason
	j.event(now, Event{Type: "fault", Provider: peer, Reason: "provider_fault", Message: reason})
	j.cancelAward(now)
	if len(j.attempts) >= j.cfg.MaxAttempts {
		j.fail(now, FailFaults, j.faultSummary())
		return
	}
	j.restart(now)
}

func (j *Job) restart(now time.Time) {
	j.winnerBid, j.awardEnv = nil, canon.Envelope{}
	j.setState(now, StatePending, "re-auctioning")
	j.ready.Discover = true
}

func (j *Job) cancelAward(now time.Time) {
	if (j.state != StateAwarded && j.state != StateRunning) || j.winnerBid == nil {
		return
	}
	c := Cancel{Job: j.id, Attempt: j.current().Number, Requester: j.cfg.Self, Award: j.awardEnv.CID(), Created: now.UnixMilli()}
	if env, err := canon.Seal(j.signer, KindCancel, c); err == nil {
		j.ready.Cancels = append(j.ready.Cancels, Outgoing{To: j.Winner(), Env: env})
	}
}

// Cancel stops the job at the caller's request.
func (j *Job) Cancel(now time.Time, reason string) {
	if j.state.Terminal() {
		return
	}
	j.cancelAward(now)
	j.state = StateCancelled
	j.event(now, Event{Type: "state", Message: "cancelled: " + reason})
	j.finish(now, &Outcome{State: StateCancelled, Code: FailCancelled, Message: reason})
}

func (j *Job) fail(now time.Time, code, msg string) {
	j.state = StateFailed
	j.event(now, Event{Type: "state", Reason: code, Message: msg})
	j.finish(now, &Outcome{State: StateFailed, Code: code, Message: msg})
}

func (j *Job) finish(now time.Time, o *Outcome) {
	if j.done {
		return
	}
	j.done = true
	j.ready.Done = o
	j.ready.Discover = false
}

func (j *Job) noBidsMessage() string {
	var declines, silent []string
	var ineligible []string
	for _, a := range j.attempts {
		for _, d := range a.Declines {
			declines = append(declines, withDetail(short(d.Provider)+" "+string(d.Reason), d.Detail))
		}
		for _, p := range a.Silent() {
			if !slices.Contains(silent, p) {
				silent = append(silent, p)
			}
		}
		ineligible = append(ineligible, a.Ineligible...)
	}
	parts := []string{}
	if len(declines) > 0 {
		parts = append(parts, fmt.Sprintf("%d declined: %s", len(declines), strings.Join(declines, "; ")))
	}
	if len(ineligible) > 0 {
		parts = append(parts, fmt.Sprintf("%d ineligible: %s", len(ineligible), strings.Join(ineligible, "; ")))
	}
	if len(silent) > 0 {
		parts = append(parts, fmt.Sprintf("%d did not answer", len(silent)))
	}
	if len(parts) == 0 {
		return "no bids"
	}
	return "no bids: " + strings.Join(parts, "; ")
}

func (j *Job) hasFaults() bool {
	for _, a := range j.attempts {
		if a.Winner != "" && a.Fault != "" {
			return true
		}
	}
	return false
}

func (j *Job) faultSummary() string {
	var parts []string
	for _, a := range j.attempts {
		if a.Winner != "" && a.Fault != "" {
			parts = append(parts, fmt.Sprintf("attempt %d: %s %s", a.Number, short(a.Winner), a.Fault))
		}
	}
	if len(parts) == 0 {
		return "no provider delivered"
	}
	return fmt.Sprintf("%d providers failed: %s", len(parts), strings.Join(parts, "; "))
}

func (j *Job) historySuffix() string {
	s := j.faultSummary()
	if s == "no provider delivered" {
		return ""
	}
	return "; " + s
}

func capStrings(cs []Capability) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = string(c)
	}
	return out
}

// short abbreviates a peer ID for messages; full IDs are in the records.
func short(p string) string {
	if len(p) > 12 {
		return p[:4] + "…" + p[len(p)-6:]
	}
	return p
}

func withDetail(s, detail string) string {
	if detail == "" {
		return s
	}
	return s + " (" + detail + ")"
}
