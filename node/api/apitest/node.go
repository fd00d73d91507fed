package apitest

import (
	"bytes"
	"context"
	"io"
	"sync"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/node/api"
)

// The peers the fake knows, named in its offers, peers, bids and balances.
const (
	providerOne = "12D3KooWProviderOneAAAAAAAAAAAAAAAAAAAAAAAA11111111"
	providerTwo = "12D3KooWProviderTwoBBBBBBBBBBBBBBBBBBBBBBBB22222222"
	requester   = "12D3KooWRequesterZZZZZZZZZZZZZZZZZZZZZZZZZZZZ99999999"
	self        = "12D3KooWSelfCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC3333"
	ledgerHead  = "bafyheadHHHH"
)

// operatorBudget is what the operator's account is funded with.
const operatorBudget = 1_000_000

// Node is an in-memory api.Backend and api.Admin. New makes one.
type Node struct {
	// Options, fixed by New.
	tokenFormat string
	echo        bool
	unfiltered  bool
	canned      bool

	run sync.WaitGroup // the jobs Echo runs

	mu          sync.Mutex
	callers     []api.Caller // of every call but Authenticate, in order
	blobs       map[string][]byte
	jobs        map[string]*job
	order       []string          // job IDs, oldest first
	idem        map[string]string // idempotency key → job ID
	lastReq     api.SubmitRequest
	waiting     chan string
	status      func() (api.Status, error)
	misbehaving []string

	// Agents, the ledger and reputation (agents.go, ledger.go).
	tokens       map[string]string // token → agent
	agents       map[string]*agent
	entries      []api.LedgerEntry
	filter       api.LedgerFilter
	deep         bool
	verify       api.VerifyReport
	settled      []api.Settle
	rep          []api.RepRow
	export       []string
	exportFailAt int // -1: never
	exportGate   <-chan struct{}
	balanceOff   int64
}

var (
	_ api.Backend = (*Node)(nil)
	_ api.Admin   = (*Node)(nil)
)

// An Option changes how a Node behaves where tests want different things.
type Option func(*Node)

// TokenFormat makes CreateAgent hand out fmt.Sprintf(format, name) as the
// token of agent name. The default is "tok-%s".
func TokenFormat(format string) Option { return func(f *Node) { f.tokenFormat = format } }

// Echo makes jobs run by themselves once submitted (or approved), as an echo
// module would: stdout is the job's stdin, stderr lists its arguments, and
// each input comes back as an output of the same name. Inline blob refs are
// stored as blobs and unknown CIDs refused, as the node does. The job's
// environment steers it:
//
//	EXIT=N           exit with code N
//	OUTCOME=nobids   every provider declines; the job fails
//	OUTCOME=trap     the module traps
//	OUTCOME=hang     the job stays pending until cancelled
//	OUTNAME=NAME     name the first output NAME
//
// Without Echo, blob refs are passed on as they come and jobs move only
// when the test moves them.
func Echo() Option { return func(f *Node) { f.echo = true } }

// UnfilteredJobs makes Jobs ignore the filter's Agent, as a backend may:
// for checking that the server keeps agents to their own jobs by itself.
func UnfilteredJobs() Option { return func(f *Node) { f.unfiltered = true } }

// CannedAdmin makes Agents, Ledger, LedgerBalance and Reputation give fixed
// answers rather than the fake's own: no agents; one fund entry right after
// the filter's After (none of kind checkpoint); totals without lists; one
// row for the peer asked about (none for all peers). For checking what the
// server does with a backend's answers, nil lists included.
func CannedAdmin() Option { return func(f *Node) { f.canned = true } }

// New returns a fake node whose only agent is the operator.
func New(opts ...Option) *Node {
	f := &Node{
		tokenFormat:  "tok-%s",
		blobs:        map[string][]byte{},
		jobs:         map[string]*job{},
		idem:         map[string]string{},
		waiting:      make(chan string, 16),
		tokens:       map[string]string{},
		agents:       map[string]*agent{api.OperatorAgent: {Agent: api.Agent{Name: api.OperatorAgent, Funded: operatorBudget, BudgetLeft: operatorBudget}}},
		verify:       api.VerifyReport{OK: true, Entries: 12, Checkpoints: 3, Head: ledgerHead, Seq: 12},
		exportFailAt: -1,
	}
	for _, o := range opts {
		o(f)
	}
	return f
}

// Close waits for the jobs Echo runs to finish. Call it once the server in
// front of the fake has closed.
func (f *Node) Close() { f.run.Wait() }

// saw records the caller a call got in its context.
func (f *Node) saw(ctx context.Context) {
	f.mu.Lock()
	f.callers = append(f.callers, api.CallerFrom(ctx))
	f.mu.Unlock()
}

// Callers are the callers of every call so far but Authenticate, in order.
func (f *Node) Callers() []api.Caller {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.Caller(nil), f.callers...)
}

// LastCaller is the caller of the latest call, or the zero Caller.
func (f *Node) LastCaller() api.Caller {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.callers) == 0 {
		return api.Caller{}
	}
	return f.callers[len(f.callers)-1]
}

func (f *Node) PutBlob(ctx context.Context, r io.Reader, limit int64) (api.Blob, error) {
	f.saw(ctx)
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return api.Blob{}, err
	}
	if int64(len(data)) > limit {
		return api.Blob{}, api.Errorf(api.CodeTooLarge, "blob above %d bytes", limit)
	}
	return f.store(data), nil
}

func (f *Node) store(data []byte) api.Blob {
	cid := canon.BlobCID(data).String()
	f.mu.Lock()
	f.blobs[cid] = data
	f.mu.Unlock()
	return api.Blob{CID: cid, Size: int64(len(data))}
}

func (f *Node) OpenBlob(ctx context.Context, cid string) (io.ReadCloser, int64, error) {
	f.saw(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.blobs[cid]
	if !ok {
		return nil, 0, api.Errorf(api.CodeBlobNotFound, "no blob %s on this node", cid)
	}
	return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
}
