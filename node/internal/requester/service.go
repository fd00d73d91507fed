package requester

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/reputation"
	"github.com/hayek-market/hayek/settlement"
)

// maxRetainedJobs bounds the finished jobs kept in memory; older ones live
// on in the job store only, so memory stays flat however many jobs run.
const maxRetainedJobs = 256

// Ledger is what the requester needs of the node's ledger.
type Ledger interface {
	Head() (seq uint64, cid string)
	Hold(job string) (settlement.HoldState, bool)
	Append(ctx context.Context, kind settlement.Kind, body any) (settlement.Entry, error)
	AppendAll(ctx context.Context, drafts ...settlement.Draft) ([]settlement.Entry, error)
	Entries(ctx context.Context, f settlement.Filter) ([]settlement.Entry, error) // a job's audit
	Balance(peer string) int64                                                    // < 0: this node owes peer
}

// Reputation is what the requester needs of the reputation service: the
// auction's standings and replica decider, and somewhere to put evidence.
type Reputation interface {
	market.Reputation
	market.Decider
	Record(peer, capability string, o reputation.Outcome, evidence string)
	// BookStanding and DirectReliability are what adaptive verification
	// reads: the lower bound CheckPolicy rates a provider by, and what a
	// run weighs when a check is judged.
	BookStanding(peer, capability string, min float64) reputation.Standing
	DirectReliability(peer, capability string) float64
	Attest(ctx context.Context, subject, capability string, o reputation.Outcome, evidence string, receipt []byte)
}

// Blobs is what the requester needs of the blob store.
type Blobs interface {
	Has(c string) bool
	Get(c string) ([]byte, error)
	PutKnown(c string, b []byte) error
}

// Config is what the requester takes from the node's configuration.
type Config struct {
	Job            market.JobConfig // the auction's; its Decider is Deps.Rep
	MaxActive      int              // the most job slots in the market at once
	Freshness      time.Duration    // accepted clock skew of bids and declines
	ReceiptTimeout time.Duration    // how long a provider has to countersign
	Dir            string           // the job store's directory
	BarsFile       string           // keeps the subnets barred to newcomers across a restart (bars.go); "": memory only
	// CallGossip is when calls for bids are gossiped as well as sent to
	// their invitees: CallGossipThin (also ""), CallGossipAlways or
	// CallGossipNever.
	CallGossip string
	// SharedSubnets are subnets whose addresses say nothing about who
	// runs a peer (a testnet's, the gossip whitelist): the subnet guard
	// and a check's cohorts ignore them, as they ignore loopback.
	SharedSubnets []string
}

// Deps are what the requester needs.
type Deps struct {
	Host     host.Host
	Signer   canon.Signer
	Verifier canon.Verifier
	Drops    *wire.Drops
	Log      *slog.Logger
	Now      func() time.Time
	Rand     func() uint64 // job IDs and the auctions' tie-breaks
	Tasks    *wire.Group   // runs jobs and their sends; Stop ends them
	Ledger   Ledger
	Rep      Reputation
	Blobs    Blobs
	// Fetch fetches a blob of a job from the provider holding its award.
	Fetch func(ctx context.Context, p, job string, b market.Blob) ([]byte, error)
	// Candidates finds the providers that may be invited for capabilities.
	Candidates func(ctx context.Context, caps []market.Capability) ([]market.Candidate, error)
	// Own is this node's own offer as a candidate, if it sells now: the
	// only one a local job invites.
	Own func() (market.Candidate, bool)
	// Capacity is the slots of the providers known now.
	Capacity func() int
	// Publish publishes a call for bids on a capability's topic, for the
	// calls Config.CallGossip gossips; every call also goes straight to
	// its invitees on /hayek/call/1.0.0 through Host.
	Publish func(ctx context.Context, env canon.Envelope, c market.Capability) error
	// Auction counts a call for bids sent; nil counts nothing.
	Auction func()
	// Admit checks an agent's limits for a job and holds its max cost:
	// the amount held, and whether the job waits for approval.
	Admit func(ctx context.Context, id, agent string, spec market.JobSpec, now time.Time) (hold int64, approval bool, err error)
	// Closing reports whether the node is shutting down.
	Closing func() bool
	// EntryView and AgentPolicy are how the API shows a ledger entry and
	// an agent's policy, for a job's audit.
	EntryView   func(settlement.Entry) api.LedgerEntry
	AgentPolicy func(*settlement.Policy) *api.AgentPolicy
	// ShareCatch tells other requesters at once of a wrong result an
	// adaptive check caught (the reputation service signs and gossips
	// it); Suspect reports whether another requester's catch makes a
	// provider's results checked every time here. Either nil: no sharing.
	ShareCatch func(ctx context.Context, c market.Catch)
	Suspect    func(peer string) bool
	Config
}

// Service runs this node's side of its agents' jobs: one goroutine per
// job drives a market.Job machine, carrying out what it asks (discovery,
// publishing calls, sending awards) and feeding it the bids, declines, acks
// and results that arrive on streams.
type Service struct {
	d     Deps
	self  string
	cfg   market.JobConfig
	store *jobStore

	// Adaptive verification (adaptive.go, probation.go).
	policy reputation.CheckPolicy
	secret []byte // keys which results are checked; providers cannot tell
	prob   *probation

	mu       sync.Mutex
	jobs     map[string]*job   // live jobs and the most recent finished ones
	idem     map[string]string // idempotency key → job ID, live jobs
	queue    jobQueue          // admits jobs as the market can take them
	order    []string          // finished job IDs in memory, oldest first
	finished map[api.JobState]int
	wg       sync.WaitGroup // job goroutines and approval timers, for Shutdown
}

// New opens the job store and returns the requester. Serve HandleBid on
// /hayek/bid/1.0.0 and ResultHandler on /hayek/result/1.0.0, and Run it;
// Close closes the store once the task group has stopped.
func New(d Deps) (*Service, error) {
	store, err := openJobStore(d.Dir)
	if err != nil {
		return nil, err
	}
	counts, err := store.counts()
	if err != nil {
		store.close()
		return nil, fmt.Errorf("requester: job store: %w", err)
	}
	cfg := d.Job
	cfg.Decider = d.Rep
	r := &Service{d: d, self: d.Signer.ID(), cfg: cfg, store: store, finished: counts,
		jobs: map[string]*job{}, idem: map[string]string{}, policy: reputation.DefaultCheckPolicy()}
	r.prob = newProbation(d.Rep, r.policy, d.Now)
	r.prob.shared = parseShared(d.SharedSubnets)
	r.prob.persist(d.BarsFile, d.Log)
	r.secret = make([]byte, 32)
	for i := 0; i < len(r.secret); i += 8 {
		binary.LittleEndian.PutUint64(r.secret[i:], d.Rand())
	}
	r.queue.capacity = func() int { return min(d.MaxActive, max(d.Capacity(), 1)) }
	return r, nil
}

// Close saves the subnet bars and closes the job store. Jobs write to it
// as they end: stop the task group first.
func (r *Service) Close() error {
	r.prob.save()
	return r.store.close()
}

// Poke admits queued jobs after the market's capacity grew (offers
// arrived).
func (r *Service) Poke() { r.queue.poke() }
