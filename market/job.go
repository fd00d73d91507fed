package market

import (
	"cmp"
	"fmt"
	"maps"
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
	MaxAttempts int           // auctions per job before it fails (replicate: per replica needed)
	AllowSelf   bool          // let this node win its own jobs
	// DistinctSubnets keeps a job's replicas on providers in different
	// subnets (Candidate.Subnet), so one operator's machines cannot fill
	// a replica group.
	DistinctSubnets bool
	// Decider judges replica groups; MajorityDecider if nil.
	Decider Decider
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

// FailCode is a stable, machine-readable reason why a job did not
// complete: Outcome.Code, and the Reason of the job's final state event.
// Callers branch on it, never on Outcome.Message, which is for people.
type FailCode string

// Failure codes of jobs that could not be run.
const (
	FailNoProviders FailCode = "no_providers"        // discovery found nobody selling what the job needs
	FailNoBids      FailCode = "no_bids"             // every auction closed without an eligible bid
	FailFaults      FailCode = "provider_faults"     // winners failed to deliver, attempts exhausted
	FailDeadline    FailCode = "deadline"            // the job's deadline passed
	FailCancelled   FailCode = "cancelled"           // Job.Cancel
	FailVerify      FailCode = "verification_failed" // replicas never agreed
	// FailTooFewProviders: replicate:K needs K distinct providers (in
	// distinct subnets when configured) and fewer can run the job. Found
	// before anything ran, so nothing is paid and nothing is held against
	// anyone.
	FailTooFewProviders FailCode = "too_few_providers"
	// FailInternal: the job could not sign a message (a broken signer).
	FailInternal FailCode = "internal"
)

// Candidate is a provider found by discovery, with its verified offer.
type Candidate struct {
	Peer   string
	Offer  Offer
	Subnet string // e.g. "192.0.2.0/24"; used when replicas must be apart
}

// Event is one observable step of a job, for the API's event stream.
type Event struct {
	Time     time.Time
	Type     string // state, auction, bid, decline, award, fault, result, verify
	State    State
	Attempt  uint32
	Provider string
	Price    int64
	Reason   string
	Message  string
	// Invitees is set on the auction-open event, StartWithinMs on bids,
	// Status and ExitCode on results.
	Invitees      int
	StartWithinMs int64
	Status        Status
	ExitCode      *int32
}

// ReplicaResult is one provider's accepted-for-judgement result.
type ReplicaResult struct {
	Provider string
	Attempt  uint32
	Price    int64
	Basis    PriceBasis // why Price
	Digest   string
	Result   Result
	Env      []byte // the provider's signed result, as received
	Bid      Bid
	Standing Standing
}

// Outcome is a job's end.
type Outcome struct {
	State     State
	Code      FailCode // why it did not complete; "" when completed
	Message   string   // the same for people; never branch on it
	Provider  string   // who produced the accepted result
	Price     int64
	Basis     PriceBasis // why Price: the rule and the bid that set it
	Result    *Result
	ResultEnv []byte // the provider's signed result, as received
	// Paid are the runs to be paid: the accepted result and, under
	// replication, every replica that agreed with it. Losers are replicas
	// whose results verification rejected: not paid, evidence against them.
	Paid   []ReplicaResult
	Losers []ReplicaResult
	// Faults are the providers dropped for a fault, with why, for
	// reputation.
	Faults []Fault
	// Reasons is, for a job that found no provider or no bid, the funnel a
	// quote reports: how many providers dropped out for each reason (the
	// decline codes, ReasonReputation, ReasonUnreachable).
	Reasons map[string]int
}

// Fault is a provider dropped from a job.
type Fault struct {
	Provider string
	Attempt  uint32
	Reason   string
	Kind     FaultKind
}

// FaultKind says what went wrong with a winner, and so whether it is
// evidence against it: only what the provider did counts, never what this
// requester's own load or limits caused.
type FaultKind string

// Fault kinds.
const (
	FaultTimeout  FaultKind = "timeout"  // no ack or no result in time
	FaultRefused  FaultKind = "refused"  // it refused its award for a reason of its own
	FaultBusy     FaultKind = "busy"     // it refused its award saying it is full or stopping: no evidence
	FaultReported FaultKind = "reported" // it reported a failure of its own (fetch_failed, internal)
	FaultLost     FaultKind = "lost"     // unreachable, or its connection was lost
	FaultOutputs  FaultKind = "outputs"  // its outputs could not be fetched or were not as signed
	FaultLocal    FaultKind = "local"    // this node's own limits failed the exchange: no evidence
	// FaultLate: it refused its award because the award reached it after
	// its bid (or the award itself) expired. The award was late — this
	// requester's load or the network's, not the provider's doing — so it
	// is no evidence and the provider stays eligible.
	FaultLate FaultKind = "late"
)

// Evidence reports whether a fault of this kind counts against the
// provider's reputation.
func (k FaultKind) Evidence() bool { return k != FaultBusy && k != FaultLocal && k != FaultLate }

// Timeout reports whether the fault is the provider's silence in time,
// which reputation records apart from other failures.
func (f Fault) Timeout() bool { return f.Kind == FaultTimeout }

// Ready is what the caller must carry out after feeding the job an input.
type Ready struct {
	Discover bool             // find candidates and call Candidates
	Calls    []canon.Envelope // send to each invitee; gossip on the primary capability's topic when the market is thin
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
	Score    int64  // Score of the bid, computed (and checked) when it came in
	Standing Standing
	Invited  bool
}

// AttemptRecord is the history of one auction and its awards.
type AttemptRecord struct {
	Number     uint32
	Opened     time.Time
	Closed     time.Time
	Invitees   []string
	Bids       []BidRecord
	Declines   []Decline
	Ineligible []string // bidders whose standing excluded them, with reasons
	Winner     string   // the first winner (the only one without replication)
	Winners    []string // every winner of this auction
	RunnerUp   string   // whose losing bid set the price under PriceSecond, "" otherwise
	Price      int64
	Prices     map[string]int64      // per winner
	Basis      map[string]PriceBasis // per winner: why it is paid Prices[winner]
	AwardCID   string
	Fault      string // the first winner's fault
	Faults     map[string]string
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

// replica is an award out to one provider.
type replica struct {
	bid      BidRecord
	attempt  *AttemptRecord
	price    int64
	basis    PriceBasis
	award    canon.Envelope
	awardCID string
	ackBy    time.Time
	resultBy time.Time
	acked    bool
}

// Job is the requester's state machine for one job: discovery, auction,
// awards, runs, verification of replicas, and re-auction after a
// provider's fault. It does no I/O and reads no clock: the caller feeds it
// verified messages and the time, and carries out what Ready returns. It
// signs its own calls and awards with the configured signer, which is pure
// computation. Not safe for concurrent use.
type Job struct {
	id       string
	spec     JobSpec
	cfg      JobConfig
	verify   Verification
	signer   canon.Signer
	rep      Reputation
	rng      *rand.Rand
	created  time.Time
	deadline time.Time

	state    State
	attempts []*AttemptRecord
	excluded map[string]string // peer → why it is never invited again
	subnets  map[string]string // peer → subnet, from discovery

	// The auction in progress, if any.
	auctionOpen bool
	need        int // winners the open or next auction must find
	call        canon.Envelope
	callCID     string
	closesAt    time.Time
	invited     map[string]bool
	answered    map[string]bool

	live    map[string]*replica // awards out, by provider
	results []ReplicaResult     // results in, awaiting judgement
	runs    int                 // awards made so far
	faults  []Fault

	silentRetried bool
	exhausted     bool // a replica auction found no one: more replicas cannot be had
	// A busy market delays a job, it does not fail it: auctions that
	// found only busy providers, and awards refused as busy, are retried
	// after a growing pause and are not charged to MaxAttempts.
	busyAttempts int
	retryAt      time.Time // the next auction after a busy one; zero: none pending
	ready        Ready
	done         bool
}

// NewJob starts a job at now. spec must be validated. The job first asks for
// candidates (Ready.Discover).
func NewJob(id string, spec JobSpec, cfg JobConfig, signer canon.Signer, rep Reputation, rng *rand.Rand, now time.Time) *Job {
	if rep == nil {
		rep = NeutralReputation{}
	}
	if cfg.Decider == nil {
		cfg.Decider = MajorityDecider{}
	}
	v, err := ParseVerify(spec.Verify)
	if err != nil || v.Mode == VerifySample || v.Mode == VerifyAdaptive {
		// Sampling and checks are the caller's: it runs further jobs,
		// after delivery or before accepting the result.
		v = Verification{Mode: VerifyNone, K: 1}
	}
	j := &Job{
		id: id, spec: spec, cfg: cfg, verify: v, signer: signer, rep: rep, rng: rng,
		created: now, deadline: now.Add(time.Duration(spec.DeadlineMs) * time.Millisecond),
		state: StatePending, excluded: map[string]string{}, subnets: map[string]string{},
		live: map[string]*replica{}, need: v.K,
	}
	j.ready.Discover = true
	j.event(now, Event{Type: "state", Message: "waiting for providers"})
	return j
}

// Exclude keeps peer out of this job's auctions (a sample run must not go
// back to the provider it checks).
func (j *Job) Exclude(peer, why string) { j.excluded[peer] = why }

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

// AwardCID is the CID of the award provider holds now, "" if none.
func (j *Job) AwardCID(provider string) string {
	if r, ok := j.live[provider]; ok {
		return r.awardCID
	}
	return ""
}

// Winner is a provider holding an award, "" if none.
func (j *Job) Winner() string {
	w := j.Winners()
	if len(w) == 0 {
		return ""
	}
	return w[0]
}

// Winners lists the providers holding awards now.
func (j *Job) Winners() []string {
	out := make([]string, 0, len(j.live))
	for p := range j.live {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// NextTimer is the earliest time at which Tick would change something, or
// the zero time when nothing is pending.
func (j *Job) NextTimer() time.Time {
	if j.state.Terminal() {
		return time.Time{}
	}
	t := j.deadline
	if j.auctionOpen {
		t = earliest(t, j.closesAt)
	}
	if !j.retryAt.IsZero() {
		t = earliest(t, j.retryAt)
	}
	for _, r := range j.live {
		if r.acked {
			t = earliest(t, r.resultBy)
		} else {
			t = earliest(t, r.ackBy)
		}
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

// settleState recomputes the state from what is in flight.
func (j *Job) settleState(now time.Time, msg string) {
	s := StatePending
	switch {
	case j.auctionOpen:
		s = StateAuction
	case len(j.live) > 0:
		s = StateRunning
		for _, r := range j.live {
			if !r.acked {
				s = StateAwarded
			}
		}
	}
	if s != j.state || msg != "" {
		j.setState(now, s, msg)
	}
}

// Candidates feeds the result of discovery. The job picks its invitees and
// opens an auction, or fails when nobody can run it.
func (j *Job) Candidates(now time.Time, cands []Candidate) {
	if j.state.Terminal() || j.auctionOpen || j.need == 0 {
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
	why := map[string]int{}
	for _, c := range cands {
		if c.Subnet != "" {
			j.subnets[c.Peer] = c.Subnet
		}
		if c.Peer == j.cfg.Self && !j.cfg.AllowSelf {
			continue
		}
		if _, bad := j.excluded[c.Peer]; bad {
			continue
		}
		if j.inGroup(c.Peer) {
			continue // replicas run on distinct providers
		}
		if reason, detail := c.Offer.Fits(needs); reason != "" {
			unfit = append(unfit, fmt.Sprintf("%s: %s (%s)", short(c.Peer), reason, detail))
			why[string(reason)]++
			continue
		}
		quote, err := c.Offer.Pricing.Quote(needs)
		if err != nil { // Fits checked the quote; a surprise is still no fit
			unfit = append(unfit, fmt.Sprintf("%s: %s (%v)", short(c.Peer), DeclinePrice, err))
			why[string(DeclinePrice)]++
			continue
		}
		st := j.rep.Standing(c.Peer, primary, j.spec.MinReputation)
		if !st.Eligible {
			unfit = append(unfit, fmt.Sprintf("%s: ineligible (%s)", short(c.Peer), st.Reason))
			why[ReasonReputation]++
			continue
		}
		picks = append(picks, pick{c: c, quote: quote, st: st, tie: j.rng.Uint64()})
	}
	if len(picks) == 0 {
		msg := fmt.Sprintf("no provider found for %s", strings.Join(capStrings(j.spec.AllCapabilities()), ", "))
		if len(unfit) > 0 {
			msg = fmt.Sprintf("no provider can run this job (%s): %s", reasonCounts(why), strings.Join(unfit, "; "))
		}
		switch {
		case len(j.live) > 0 || len(j.results) > 0:
			// Replicas are out or in: judge what there is when they end.
			j.need, j.exhausted = 0, true
			j.event(now, Event{Type: "auction", Message: "no more providers to add replicas: " + msg})
			j.maybeJudge(now)
		case len(j.attempts) > 0 && j.hasFaults():
			j.fail(now, FailFaults, j.faultSummary()+"; then "+msg)
		case len(j.attempts) > 0:
			j.failFunnel(now, FailNoBids, j.noBidsMessage(), j.answerReasons())
		default:
			j.failFunnel(now, FailNoProviders, msg, why)
		}
		return
	}
	peers := make([]string, len(picks))
	for i, p := range picks {
		peers[i] = p.c.Peer
	}
	if n := j.distinct(peers); j.replicasImpossible(n) {
		// Discovery already shows the group cannot be formed: say so
		// before anyone is asked to bid, let alone run.
		j.fail(now, FailTooFewProviders, j.tooFewMessage(n, unfit))
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
		j.fail(now, FailInternal, fmt.Sprintf("cannot sign the call for bids: %v", err))
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
	j.auctionOpen = true
	j.ready.Calls = append(j.ready.Calls, env)
	j.setState(now, StateAuction, fmt.Sprintf("auction %d open with %d invitees", attempt, len(invitees)))
	j.event(now, Event{Type: "auction", Invitees: len(invitees), Message: fmt.Sprintf("call for bids to %d invitees", len(invitees))})
}

// Bid feeds a verified bid. env is its signed envelope as received.
func (j *Job) Bid(now time.Time, b Bid, env []byte) error {
	if !j.auctionOpen || j.state.Terminal() {
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
	case b.StartWithinMs < 0 || b.StartWithinMs > MaxStartWithin.Milliseconds():
		return fmt.Errorf("market: bid start-within %dms outside [0, %v]", b.StartWithinMs, MaxStartWithin)
	case b.Provider == j.cfg.Self && !j.cfg.AllowSelf:
		return fmt.Errorf("market: bid from ourselves")
	}
	if _, bad := j.excluded[b.Provider]; bad {
		return fmt.Errorf("market: bid from %s, dropped earlier for a fault", short(b.Provider))
	}
	if j.answered[b.Provider] {
		return fmt.Errorf("market: second answer from %s", short(b.Provider))
	}
	score, err := Score(b.Price, b.StartWithinMs, j.spec.ValueOfTime)
	if err != nil {
		// Only a spec that never validated gets here: refuse the bid rather
		// than rank it on a wrapped score.
		return fmt.Errorf("market: bid from %s cannot be scored: %w", short(b.Provider), err)
	}
	j.answered[b.Provider] = true
	st := j.rep.Standing(b.Provider, j.spec.Runtime, j.spec.MinReputation)
	cur.Bids = append(cur.Bids, BidRecord{Bid: b, Env: env, Score: score, Standing: st, Invited: j.invited[b.Provider]})
	j.event(now, Event{Type: "bid", Provider: b.Provider, Price: b.Price, StartWithinMs: b.StartWithinMs,
		Message: fmt.Sprintf("bid %d, start within %dms", b.Price, b.StartWithinMs)})
	j.maybeClose(now)
	return nil
}

// Decline feeds a verified decline.
func (j *Job) Decline(now time.Time, d Decline) error {
	if !j.auctionOpen || j.state.Terminal() {
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

// Tick advances timers: the bid window, each award's ack and result
// deadlines, and the job's deadline.
func (j *Job) Tick(now time.Time) {
	if j.state.Terminal() || j.checkDeadline(now) {
		return
	}
	if j.auctionOpen && !now.Before(j.closesAt) {
		j.close(now)
	}
	if !j.retryAt.IsZero() && !now.Before(j.retryAt) {
		j.retryAt = time.Time{}
		j.restart(now)
	}
	for _, p := range j.Winners() {
		r, ok := j.live[p]
		switch {
		case !ok || j.state.Terminal():
		case !r.acked && !now.Before(r.ackBy):
			j.fault(now, p, "did not acknowledge the award in time", FaultTimeout)
		case r.acked && !now.Before(r.resultBy):
			j.fault(now, p, "no result by the deadline", FaultTimeout)
		}
	}
}

func (j *Job) checkDeadline(now time.Time) bool {
	if now.Before(j.deadline) {
		return false
	}
	j.cancelAwards(now)
	j.fail(now, FailDeadline, fmt.Sprintf("the job's deadline passed (%v after submission)%s",
		j.deadline.Sub(j.created), j.historySuffix()))
	return true
}

// close ends the bidding: it ranks the bids (rank), then awards the job
// to as many winners as it needs (award), or decides what to do without
// them.
func (j *Job) close(now time.Time) {
	cur := j.current()
	cur.Closed = now
	j.auctionOpen = false
	ranked := j.rank(cur)
	silent := cur.Silent()
	j.event(now, Event{Type: "auction", Message: fmt.Sprintf("closed: %d bids, %d declines, %d silent",
		len(cur.Bids), len(cur.Declines), len(silent))})
	pool := j.pool(ranked)
	switch {
	case len(pool) == 0 || j.need <= 0: // need > 0 while an auction is open; a panic is no way to learn otherwise
		j.noWinners(now, cur, silent)
	case j.replicasImpossible(len(pool)):
		j.tooFew(now, cur, silent, len(pool))
	default:
		j.award(now, cur, len(ranked), pool)
	}
}

// noWinners decides what follows an auction without a bid that can win.
func (j *Job) noWinners(now time.Time, cur *AttemptRecord, silent []string) {
	if len(j.live) > 0 || len(j.results) > 0 {
		// A replica auction found nobody: judge what there is.
		j.need, j.exhausted = 0, true
		j.maybeJudge(now)
		return
	}
	if j.busyRetry(now, cur, "every provider that answered is busy") {
		return
	}
	// A call can be lost (a peer that joined the topic a moment ago), so
	// silence earns one more auction with fresh discovery; peers that
	// answered no are not asked again.
	if j.retrySilence(cur, silent) {
		for _, b := range cur.Bids {
			j.excluded[b.Bid.Provider] = "ineligible"
		}
		j.restart(now)
		return
	}
	j.failFunnel(now, FailNoBids, j.noBidsMessage(), j.answerReasons())
}

// MaxBusyRetries bounds the auctions a job gets while the market is busy;
// with BusyBackoffMax between them, that is about a quarter of an hour.
const (
	MaxBusyRetries  = 100
	BusyBackoffBase = 100 * time.Millisecond
	BusyBackoffMax  = 10 * time.Second
)

// busyRetry schedules another auction after a pause when the market is
// merely busy: the current auction found no bid and at least one busy
// decline (or its award was refused as busy), and the job has time left.
// The auction is not charged to MaxAttempts and busy providers are not
// excluded: being full is not misconduct.
func (j *Job) busyRetry(now time.Time, cur *AttemptRecord, why string) bool {
	busy := false
	for _, d := range cur.Declines {
		busy = busy || d.Reason == DeclineBusy
	}
	if !busy || len(cur.Bids) > 0 || !j.pauseForBusy(now, why) {
		return false
	}
	for _, d := range cur.Declines {
		if d.Reason != DeclineBusy {
			j.excluded[d.Provider] = "declined: " + string(d.Reason)
		}
	}
	return true
}

// pauseForBusy uncharges the current auction and sets the next one after
// a pause that doubles with each busy auction.
func (j *Job) pauseForBusy(now time.Time, why string) bool {
	if j.busyAttempts >= MaxBusyRetries {
		return false
	}
	pause := BusyBackoffBase << min(j.busyAttempts, 10)
	pause = min(pause, BusyBackoffMax)
	if !now.Add(pause).Before(j.deadline) {
		return false
	}
	j.busyAttempts++
	j.retryAt = now.Add(pause)
	j.setState(now, StatePending, fmt.Sprintf("%s: next auction in %v", why, pause))
	return true
}

// charged is the number of auctions counted against MaxAttempts.
func (j *Job) charged() int { return len(j.attempts) - j.busyAttempts }

// tooFew ends a replicated job whose first group cannot be formed: n
// distinct providers can run it, fewer than replicate:K needs. Running
// some of them would only end in a verification that cannot succeed, with
// nobody paid, so nothing runs. Silence earns one more auction, as in
// noWinners; bidders are asked again, decliners are not.
func (j *Job) tooFew(now time.Time, cur *AttemptRecord, silent []string, n int) {
	if j.retrySilence(cur, silent) {
		j.restart(now)
		return
	}
	j.fail(now, FailTooFewProviders, j.tooFewMessage(n, j.answers()))
}

// retrySilence reports whether an auction with silent invitees earns its
// one retry, and if so excludes the peers that declined.
func (j *Job) retrySilence(cur *AttemptRecord, silent []string) bool {
	if len(silent) == 0 || j.silentRetried || j.charged() >= j.cfg.MaxAttempts {
		return false
	}
	j.silentRetried = true
	for _, d := range cur.Declines {
		j.excluded[d.Provider] = "declined: " + string(d.Reason)
	}
	return true
}

// apart reports whether the job's replicas must be in distinct subnets.
func (j *Job) apart() bool { return j.cfg.DistinctSubnets && j.verify.K > 1 }

// distinct counts the providers among peers that could share one replica
// group: distinct peers, in distinct subnets when replicas must be apart.
func (j *Job) distinct(peers []string) int {
	seen := map[string]bool{}
	for _, p := range peers {
		k := "peer " + p
		if sn := j.subnets[p]; sn != "" && j.apart() {
			k = "subnet " + sn
		}
		seen[k] = true
	}
	return len(seen)
}

// replicasImpossible reports whether n distinct providers are too few for
// a replicated job's first group. Later auctions (replacements, extra
// replicas) add to a group that has run: they take whom they find.
func (j *Job) replicasImpossible(n int) bool {
	return j.verify.K > 1 && j.runs == 0 && n < j.need
}

func (j *Job) tooFewMessage(n int, why []string) string {
	what := "distinct providers"
	if j.apart() {
		what = "providers in distinct subnets"
	}
	msg := fmt.Sprintf("%s needs %d %s; %d can run it", j.verify, j.verify.K, what, n)
	if len(why) > 0 {
		msg += " (" + strings.Join(why, "; ") + ")"
	}
	return msg
}

// Ack feeds a winner's verified acknowledgement.
func (j *Job) Ack(now time.Time, a Ack) error {
	r, ok := j.live[a.Provider]
	switch {
	case j.state.Terminal() || len(j.live) == 0:
		return fmt.Errorf("market: ack from %s for job %s in state %s", short(a.Provider), j.id, j.state)
	case !ok:
		return fmt.Errorf("market: ack from %s does not match the current award", short(a.Provider))
	}
	if r.acked || a.Award != r.awardCID || a.Job != j.id || a.Requester != j.cfg.Self {
		return fmt.Errorf("market: ack from %s does not match the current award", short(a.Provider))
	}
	if !a.Accept {
		kind := FaultRefused
		switch a.Code {
		case DeclineBusy, DeclineWithdrawn:
			kind = FaultBusy
		case DeclineExpired:
			// The provider's bid stays open for the call's window and
			// AwardMargin from when the call reached it, which is after the
			// auction opened. An ack back before that cannot be about an
			// expired bid: a provider saying so is refusing for a reason
			// of its own.
			if now.Sub(r.attempt.Opened) >= j.cfg.BidWindow+AwardMargin {
				kind = FaultLate
			}
		}
		j.fault(now, a.Provider, "refused the award: "+a.Reason, kind)
		return nil
	}
	r.acked = true
	j.settleState(now, fmt.Sprintf("running on %s", short(a.Provider)))
	return nil
}

// Result feeds a winner's verified result, after the caller has fetched
// and checked every blob it names. env is the signed result as received.
func (j *Job) Result(now time.Time, res Result, env []byte) error {
	r, ok := j.live[res.Provider]
	switch {
	case j.state.Terminal() || len(j.live) == 0:
		return fmt.Errorf("market: result from %s for job %s in state %s", short(res.Provider), j.id, j.state)
	case !ok:
		return fmt.Errorf("market: result from %s does not match the current award", short(res.Provider))
	}
	if res.Award != r.awardCID || res.Job != j.id || res.Requester != j.cfg.Self {
		return fmt.Errorf("market: result from %s does not match the current award", short(res.Provider))
	}
	if !res.Status.Known() {
		return fmt.Errorf("market: result with unknown status %q", res.Status)
	}
	if res.Status.ProviderFault() {
		j.fault(now, res.Provider, withDetail("reported "+string(res.Status), res.Error), FaultReported)
		return nil
	}
	delete(j.live, res.Provider)
	ec := res.ExitCode
	j.results = append(j.results, ReplicaResult{Provider: res.Provider, Attempt: r.attempt.Number, Price: r.price, Basis: r.basis,
		Digest: res.Digest(), Result: res, Env: env, Bid: r.bid.Bid, Standing: r.bid.Standing})
	j.event(now, Event{Type: "result", Provider: res.Provider, Price: r.price, Status: res.Status, ExitCode: &ec,
		Reason: string(res.Status), Message: fmt.Sprintf("exit code %d", res.ExitCode)})
	j.maybeJudge(now)
	return nil
}

// maybeJudge decides once every replica in flight has answered.
func (j *Job) maybeJudge(now time.Time) {
	if j.state.Terminal() || len(j.live) > 0 || j.auctionOpen || j.need > 0 || len(j.results) == 0 {
		if !j.state.Terminal() {
			j.settleState(now, "")
		}
		return
	}
	if j.verify.K <= 1 {
		j.complete(now, j.results[0].Digest)
		return
	}
	// Runs stopped by a limit agree with others only when every run hit
	// one: where a limit bites depends on the machine.
	var votes []Vote
	allLimited := true
	for _, r := range j.results {
		allLimited = allLimited && r.Result.Status.LimitHit()
	}
	for _, r := range j.results {
		if allLimited || !r.Result.Status.LimitHit() {
			votes = append(votes, Vote{Provider: r.Provider, Capability: j.spec.Runtime, Digest: r.Digest, Standing: r.Standing})
		}
	}
	if allLimited {
		for i := range votes {
			votes[i].Digest = "limit"
		}
	}
	maxRuns := j.verify.MaxRuns()
	d := j.cfg.Decider.Decide(votes, j.verify.K, j.runs, maxRuns)
	switch {
	case d.Accept != "":
		if allLimited {
			d.Accept = j.results[0].Digest
			for _, r := range j.results {
				if r.Digest != d.Accept {
					d.Accept = "limit"
				}
			}
		}
		j.event(now, Event{Type: "verify", Message: fmt.Sprintf("%d of %d replicas agree", countDigest(j.results, d.Accept, allLimited), len(j.results))})
		j.complete(now, d.Accept)
	case d.More > 0 && j.runs < maxRuns && !j.exhausted:
		more := min(d.More, maxRuns-j.runs)
		j.need = more
		j.event(now, Event{Type: "verify", Message: fmt.Sprintf("replicas disagree or are not credible yet: adding %d", more)})
		j.restart(now)
	default:
		msg := d.Fail
		switch {
		case msg != "":
		case j.exhausted:
			msg = fmt.Sprintf("%d results cannot be accepted and no more providers can be found to add replicas", len(j.results))
		default:
			msg = fmt.Sprintf("replicas disagree after %d runs, the most allowed", j.runs)
		}
		j.event(now, Event{Type: "verify", Reason: "failed", Message: msg})
		j.fail(now, FailVerify, msg)
	}
}

func countDigest(rs []ReplicaResult, d string, limited bool) int {
	n := 0
	for _, r := range rs {
		if r.Digest == d || limited && r.Result.Status.LimitHit() {
			n++
		}
	}
	return n
}

// complete ends the job with the results whose digest is accepted ("limit":
// every run hit a limit, all count).
func (j *Job) complete(now time.Time, digest string) {
	var paid, losers []ReplicaResult
	for _, r := range j.results {
		switch {
		case r.Digest == digest || digest == "limit":
			paid = append(paid, r)
		case r.Result.Status.LimitHit():
			// Outvoted by runs that finished: no evidence either way, and
			// its run is paid — a limit is the job's own.
			paid = append(paid, r)
		default:
			losers = append(losers, r)
		}
	}
	first := paid[0]
	j.state = StateCompleted
	for _, l := range losers {
		j.event(now, Event{Type: "verify", Provider: l.Provider, Reason: "wrong_result", Message: "result differs from the accepted one"})
	}
	res := first.Result
	msg := fmt.Sprintf("ran on %s for %d: %s", short(first.Provider), first.Price, res.Status)
	if len(j.results) > 1 {
		msg = fmt.Sprintf("%d replicas agree, %d disagree: %s", len(paid), len(losers), res.Status)
	}
	j.finish(now, &Outcome{State: StateCompleted, Provider: first.Provider, Price: first.Price, Basis: first.Basis, Result: &res,
		ResultEnv: first.Env, Paid: paid, Losers: losers, Faults: j.faults, Message: msg})
}

// Fault reports that peer failed the job through no fault of the job:
// unreachable, disconnected, or it sent outputs that could not be fetched.
// Faults of anyone not holding an award are ignored.
func (j *Job) Fault(now time.Time, peer string, kind FaultKind, reason string) {
	if _, ok := j.live[peer]; ok && !j.state.Terminal() {
		j.fault(now, peer, reason, kind)
	}
}

func (j *Job) fault(now time.Time, peer, reason string, kind FaultKind) {
	r := j.live[peer]
	cur := r.attempt
	if cur.Fault == "" && cur.Winner == peer {
		cur.Fault = reason
	}
	if cur.Faults == nil {
		cur.Faults = map[string]string{}
	}
	cur.Faults[peer] = reason
	j.excluded[peer] = reason
	j.faults = append(j.faults, Fault{Provider: peer, Attempt: cur.Number, Reason: reason, Kind: kind})
	why := "provider_fault"
	switch kind {
	case FaultBusy:
		why = "provider_busy"
	case FaultLocal:
		why = "local_failure"
	case FaultLate:
		why = "award_late"
		delete(j.excluded, peer) // it did nothing wrong: it may bid again
	}
	j.event(now, Event{Type: "fault", Provider: peer, Reason: why, Message: reason})
	j.cancel(now, peer)
	if kind == FaultBusy {
		// Full, and it said so: not excluded, the auction not charged,
		// and the job waits a moment before trying again.
		delete(j.excluded, peer)
		if j.pauseForBusy(now, fmt.Sprintf("%s is busy", short(peer))) {
			j.need++
			return
		}
	}
	if j.charged() >= j.cfg.MaxAttempts*max(1, j.verify.K) {
		if len(j.live) > 0 || len(j.results) > 0 {
			j.maybeJudge(now)
			return
		}
		j.cancelAwards(now)
		j.fail(now, FailFaults, j.faultSummary())
		return
	}
	j.need++
	if !j.auctionOpen {
		j.restart(now)
	}
}

func (j *Job) restart(now time.Time) {
	if len(j.live) == 0 && !j.auctionOpen {
		j.setState(now, StatePending, "re-auctioning")
	}
	j.ready.Discover = true
}

// cancel withdraws peer's award.
func (j *Job) cancel(now time.Time, peer string) {
	r, ok := j.live[peer]
	if !ok {
		return
	}
	delete(j.live, peer)
	c := Cancel{Job: j.id, Attempt: r.attempt.Number, Requester: j.cfg.Self, Award: r.awardCID, Created: now.UnixMilli()}
	if env, err := canon.Seal(j.signer, KindCancel, c); err == nil {
		j.ready.Cancels = append(j.ready.Cancels, Outgoing{To: peer, Env: env})
	}
}

func (j *Job) cancelAwards(now time.Time) {
	for _, p := range j.Winners() {
		j.cancel(now, p)
	}
}

// Cancel stops the job at the caller's request.
func (j *Job) Cancel(now time.Time, reason string) {
	if j.state.Terminal() {
		return
	}
	j.cancelAwards(now)
	j.state = StateCancelled
	j.event(now, Event{Type: "state", Message: "cancelled: " + reason})
	j.finish(now, &Outcome{State: StateCancelled, Code: FailCancelled, Message: reason, Faults: j.faults})
}

func (j *Job) fail(now time.Time, code FailCode, msg string) {
	j.cancelAwards(now)
	j.state = StateFailed
	j.auctionOpen = false
	j.event(now, Event{Type: "state", Reason: string(code), Message: msg})
	// A job that failed verification pays no replica and holds none
	// against its provider: which of them was right is unknown.
	j.finish(now, &Outcome{State: StateFailed, Code: code, Message: msg, Faults: j.faults})
}

// failFunnel fails a job that found no provider or no bid, with the
// reasons each provider dropped out (nil or empty: none was found).
func (j *Job) failFunnel(now time.Time, code FailCode, msg string, reasons map[string]int) {
	done := j.done
	j.fail(now, code, msg)
	if !done && len(reasons) > 0 {
		j.ready.Done.Reasons = reasons
	}
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
	parts := j.answers()
	if len(parts) == 0 {
		return "no bids"
	}
	return "no bids (" + reasonCounts(j.answerReasons()) + "): " + strings.Join(parts, "; ")
}

// answerReasons counts why the job's auctions found no one, by reason:
// declines by their codes, ineligible bidders as ReasonReputation,
// invitees that never answered as ReasonUnreachable.
func (j *Job) answerReasons() map[string]int {
	why := map[string]int{}
	var silent []string
	for _, a := range j.attempts {
		for _, d := range a.Declines {
			why[string(d.Reason)]++
		}
		why[ReasonReputation] += len(a.Ineligible)
		for _, p := range a.Silent() {
			if !slices.Contains(silent, p) {
				silent = append(silent, p)
			}
		}
	}
	why[ReasonUnreachable] += len(silent)
	maps.DeleteFunc(why, func(_ string, n int) bool { return n == 0 })
	return why
}

// reasonCounts says a funnel's reasons in one line, the commonest first:
// "price_floor 2, busy 1".
func reasonCounts(why map[string]int) string {
	reasons := slices.Collect(maps.Keys(why))
	slices.SortFunc(reasons, func(a, b string) int { return cmp.Or(cmp.Compare(why[b], why[a]), cmp.Compare(a, b)) })
	parts := make([]string, len(reasons))
	for i, r := range reasons {
		parts[i] = fmt.Sprintf("%s %d", r, why[r])
	}
	return strings.Join(parts, ", ")
}

// answers summarises why the job's auctions found no one: declines with
// their reasons, ineligible bidders, invitees that never answered.
func (j *Job) answers() []string {
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
	var parts []string
	if len(declines) > 0 {
		parts = append(parts, fmt.Sprintf("%d declined: %s", len(declines), strings.Join(declines, "; ")))
	}
	if len(ineligible) > 0 {
		parts = append(parts, fmt.Sprintf("%d ineligible: %s", len(ineligible), strings.Join(ineligible, "; ")))
	}
	if len(silent) > 0 {
		parts = append(parts, fmt.Sprintf("%d did not answer", len(silent)))
	}
	return parts
}

func (j *Job) hasFaults() bool { return len(j.faults) > 0 }

func (j *Job) faultSummary() string {
	var parts []string
	for _, f := range j.faults {
		parts = append(parts, fmt.Sprintf("attempt %d: %s %s", f.Attempt, short(f.Provider), f.Reason))
	}
	if len(parts) == 0 {
		return "no provider delivered"
	}
	return fmt.Sprintf("%d providers failed: %s", len(parts), strings.Join(parts, "; "))
}

func (j *Job) historySuffix() string {
	if len(j.faults) == 0 {
		return ""
	}
	return "; " + j.faultSummary()
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
