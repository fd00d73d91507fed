package api

import (
	"context"
	"encoding/json"
	"io"
	"time"
)

// Caller is who a request acts for: the operator (a request on the
// operator socket without a token) or an agent (a request with its token,
// on either socket).
type Caller struct {
	Operator bool
	Agent    string // the agent's name; "operator" for the operator
}

// OperatorAgent is the account the operator's own jobs are held against.
const OperatorAgent = "operator"

// JobState values added by settlement: a job above its agent's approval
// threshold waits in StateApproval until the operator approves or rejects
// it (unanswered by its deadline, it is rejected).
const StateApproval JobState = "approval"

// AgentCreate is the body of POST /v1/agents.
type AgentCreate struct {
	Name         string `json:"name"`
	Budget       int64  `json:"budget"`
	MaxJobPrice  int64  `json:"max_job_price,omitempty"` // 0: no cap beyond the budget
	ApproveAbove int64  `json:"approve_above,omitempty"` // 0: never ask; jobs whose max cost is above wait for approval
	RatePerHour  int64  `json:"rate_per_hour,omitempty"` // 0: unlimited jobs per hour
}

// AgentToken answers POST /v1/agents: the bearer token, shown once.
type AgentToken struct {
	Name  string `json:"name"`
	Token string `json:"token"`
}

// Agent is an agent's account and limits, as GET /v1/agents/{name} and
// GET /v1/agents/me return it.
type Agent struct {
	Name         string       `json:"name"`
	Funded       int64        `json:"funded"`
	BudgetLeft   int64        `json:"budget_left"`
	Held         int64        `json:"held"`
	Spent        int64        `json:"spent"`
	MaxJobPrice  int64        `json:"max_job_price"`
	ApproveAbove int64        `json:"approve_above"`
	RatePerHour  int64        `json:"rate_per_hour"`
	JobsLastHour int          `json:"jobs_last_hour"`
	Revoked      bool         `json:"revoked"`
	Policy       *AgentPolicy `json:"policy,omitempty"` // where its jobs may run and what they may use
}

// Fund is the body of POST /v1/agents/{name}/fund.
type Fund struct {
	Amount int64  `json:"amount"`
	Note   string `json:"note,omitempty"`
}

// Decision is the body of POST /v1/jobs/{id}/approve and /reject.
type Decision struct {
	Reason string `json:"reason,omitempty"`
}

// LedgerEntry is one entry of the node's ledger. Body is the kind's body
// decoded to JSON (amounts as integers of the smallest unit).
type LedgerEntry struct {
	Seq  uint64          `json:"seq"`
	CID  string          `json:"cid"`
	Prev string          `json:"prev"`
	Time time.Time       `json:"time"`
	Kind string          `json:"kind"`
	Body json.RawMessage `json:"body"`
}

// LedgerKinds are the kinds of ledger entries, as GET /v1/ledger?kind=
// accepts them. A kind the ledger adds must be added here.
var LedgerKinds = []string{"fund", "hold", "release", "receipt", "settle", "attestation", "outcome", "governance", "checkpoint", "lost"}

// LedgerFilter narrows GET /v1/ledger.
type LedgerFilter struct {
	Kind  string
	Job   string
	Peer  string
	After uint64 // entries with seq > After
	Limit int    // 0: server default (100)
}

// Balance is GET /v1/ledger/balance: where the money is.
type Balance struct {
	Head    string         `json:"head"` // CID of the latest entry
	Seq     uint64         `json:"seq"`
	Funded  int64          `json:"funded"`
	Budgets int64          `json:"budgets_left"`
	Held    int64          `json:"held"`
	Paid    int64          `json:"paid"`
	Earned  int64          `json:"earned"`
	Agents  []Agent        `json:"agents"`
	Holds   []HoldInfo     `json:"holds"` // open holds
	Peers   []PeerBalance  `json:"peers"` // bilateral balances
	Extra   map[string]any `json:"extra,omitempty"`
}

// HoldInfo is an open budget hold.
type HoldInfo struct {
	Job       string `json:"job"`
	Agent     string `json:"agent"`
	Amount    int64  `json:"amount"`
	Remaining int64  `json:"remaining"`
}

// PeerBalance is the netted balance with one peer: positive, the peer owes
// this node; negative, this node owes the peer.
type PeerBalance struct {
	Peer        string `json:"peer"`
	Balance     int64  `json:"balance"`
	CreditLimit int64  `json:"credit_limit"` // what this node lets the peer owe it
}

// VerifyReport is POST /v1/ledger/verify's answer, and what hayek ledger
// verify --file reports of an export.
type VerifyReport struct {
	OK          bool         `json:"ok"`
	Entries     uint64       `json:"entries"`
	Checkpoints uint64       `json:"checkpoints"`
	Receipts    uint64       `json:"receipts_checked"`
	Settles     uint64       `json:"settles_checked,omitempty"` // deep: settle entries whose creditor signature verified
	Deep        bool         `json:"deep"`
	Seconds     float64      `json:"seconds"`
	Error       string       `json:"error,omitempty"`
	BadSeq      uint64       `json:"bad_seq,omitempty"`   // first bad entry, when corrupt
	Node        string       `json:"node,omitempty"`      // whose ledger: the signer of its checkpoints
	Head        string       `json:"head,omitempty"`      // CID of the last entry verified
	Seq         uint64       `json:"seq,omitempty"`       // its sequence number
	Unsealed    uint64       `json:"unsealed,omitempty"`  // entries after the last checkpoint, not yet signed by the node
	Lost        []LedgerLoss `json:"lost,omitempty"`      // losses of acknowledged entries the ledger declared (hayek ledger recover)
	Untrailed   bool         `json:"untrailed,omitempty"` // an export accepted without its trailer (--allow-untrailed): its end is unchecked
}

// LedgerLoss is a loss of acknowledged entries a ledger declared in a
// signed "lost" entry, written by hayek ledger recover.
type LedgerLoss struct {
	Seq       uint64 `json:"seq"`               // the lost entry
	Reason    string `json:"reason"`            // behind, diverged, head_missing, head_corrupt
	Kept      uint64 `json:"kept"`              // the last entry that survived the loss
	Want      uint64 `json:"want,omitempty"`    // the last entry acknowledged before it (absent: unknown)
	Missing   uint64 `json:"missing,omitempty"` // want - kept: how many were lost (absent: unknown)
	Reapplied int    `json:"reapplied"`         // receipts and settlements re-appended from counterparties' exports
	Covered   int64  `json:"covered,omitempty"` // funded to pay re-appended receipts whose holds were lost
}

// Settle is the body of POST /v1/ledger/settle: this node, as creditor,
// acknowledges that Peer paid it Amount outside the ledger.
type Settle struct {
	Peer      string `json:"peer"`
	Amount    int64  `json:"amount"`
	Reference string `json:"reference,omitempty"`
}

// RepRow is one line of GET /v1/rep: this node's belief about a peer on a
// capability.
type RepRow struct {
	Peer       string  `json:"peer"`
	Capability string  `json:"capability"`
	Alpha      float64 `json:"alpha"`
	Beta       float64 `json:"beta"`
	Mean       float64 `json:"mean"`
	LowerBound float64 `json:"lower_bound"`
	Evidence   float64 `json:"evidence"`
	FirstHand  float64 `json:"first_hand"`
	ThirdParty float64 `json:"third_party"`
	// SuspectUntil is set while another requester's catch, backed by a
	// checker this node trusts, has every adaptive result of the peer
	// checked here (docs/protocol.md, "Shared catches").
	SuspectUntil *time.Time `json:"suspect_until,omitempty"`
}

// Verification is how a job's result is being checked, on Job.
type Verification struct {
	Mode     string   `json:"mode"`               // none, replicate, sample, adaptive
	State    string   `json:"state"`              // pending, accepted, confirmed, disputed, failed, skipped
	Replicas []string `json:"replicas,omitempty"` // providers whose results were compared
	Losers   []string `json:"losers,omitempty"`   // providers whose results were rejected
	Detail   string   `json:"detail,omitempty"`
}

// Settlement is what a job cost, on Job.
type Settlement struct {
	Held     int64    `json:"held"`     // set aside at submission: max price × runs allowed
	Paid     int64    `json:"paid"`     // acknowledged in countersigned receipts
	Released int64    `json:"released"` // returned to the agent's budget
	Receipts []string `json:"receipts"` // CIDs of the countersigned receipts
	Pending  bool     `json:"pending"`  // receipts still being exchanged
	Error    string   `json:"error,omitempty"`
}

// Admin is what the server needs from the node for agents, approvals, the
// ledger and reputation. Every method receives the caller in ctx (see
// CallerFrom); operator-only methods refuse agents with CodeForbidden.
type Admin interface {
	// Authenticate maps a bearer token to its agent, or fails with
	// CodeUnauthorized.
	Authenticate(ctx context.Context, token string) (Caller, error)
	CreateAgent(ctx context.Context, req AgentCreate) (AgentToken, error)
	Agents(ctx context.Context) ([]Agent, error)
	Agent(ctx context.Context, name string) (Agent, error) // "me" names the caller
	FundAgent(ctx context.Context, name string, f Fund) (Agent, error)
	RevokeAgent(ctx context.Context, name string) (Agent, error)
	Approve(ctx context.Context, job string, d Decision) (Job, error)
	Reject(ctx context.Context, job string, d Decision) (Job, error)
	Ledger(ctx context.Context, f LedgerFilter) ([]LedgerEntry, error)
	LedgerBalance(ctx context.Context) (Balance, error)
	// VerifyLedger reports a corrupt ledger as OK false with Error and
	// BadSeq; an error means the check could not run.
	VerifyLedger(ctx context.Context, deep bool) (VerifyReport, error)
	// ExportLedger streams JSON lines to w (which implements Flush) as it
	// reads them.
	ExportLedger(ctx context.Context, w io.Writer) error
	SettleDebt(ctx context.Context, s Settle) (LedgerEntry, error)
	Reputation(ctx context.Context, peer string) ([]RepRow, error)
}

type callerKey struct{}

// WithCaller returns ctx carrying the caller; the server sets it on every
// request before calling the Backend.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller of a request; without one (in-process
// use), the operator.
func CallerFrom(ctx context.Context) Caller {
	if c, ok := ctx.Value(callerKey{}).(Caller); ok {
		return c
	}
	return Caller{Operator: true, Agent: OperatorAgent}
}
