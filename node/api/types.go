package api

import (
	"encoding/json"
	"time"

	"github.com/hayek-market/hayek/internal/units"
)

// JobState is where a job is in its life.
type JobState string

// Job states. Completed, failed and cancelled are terminal.
const (
	StatePending   JobState = "pending"   // accepted, not yet auctioned
	StateQueued    JobState = "queued"    // accepted, waiting for room in the market (QueuePosition)
	StateAuction   JobState = "auction"   // call for bids out, collecting bids
	StateAwarded   JobState = "awarded"   // awarded, waiting for the winner's acknowledgement
	StateRunning   JobState = "running"   // the winner acknowledged and is running it
	StateCompleted JobState = "completed" // a result arrived (whatever its exit code)
	StateFailed    JobState = "failed"    // could not be run: see error
	StateCancelled JobState = "cancelled" // cancelled by the caller
)

// Terminal reports whether no further change will happen.
func (s JobState) Terminal() bool {
	return s == StateCompleted || s == StateFailed || s == StateCancelled
}

// BlobRef names content for a job: by CID (uploaded with POST /v1/blobs) or
// inline, as UTF-8 text or base64, for small content.
type BlobRef struct {
	CID    string `json:"cid,omitempty"`
	Text   string `json:"text,omitempty"`
	Base64 string `json:"base64,omitempty"`
}

// InputRef is a named input file, mounted read-only at /in/<name>.
type InputRef struct {
	Name string `json:"name"`
	BlobRef
}

// SubmitRequest is the body of POST /v1/jobs.
type SubmitRequest struct {
	Runtime      string   `json:"runtime,omitempty"` // "wasm" (default), "process" or "docker"
	Capabilities []string `json:"capabilities,omitempty"`
	Module       BlobRef  `json:"module"`
	// Image names a docker job's image by digest ("name@sha256:<hex>" or
	// "sha256:<hex>") instead of shipping it as a module archive.
	Image          string            `json:"image,omitempty"`
	CPUs           float64           `json:"cpus,omitempty"` // cores, e.g. 1.5
	GPUs           *GPURequest       `json:"gpus,omitempty"`
	Stdin          *BlobRef          `json:"stdin,omitempty"`
	Inputs         []InputRef        `json:"inputs,omitempty"`
	Args           []string          `json:"args,omitempty"`
	Env            map[string]string `json:"env,omitempty"`
	Memory         units.Size        `json:"memory,omitempty"`     // default 64MiB
	Timeout        units.Duration    `json:"timeout,omitempty"`    // default 10s
	MaxOutput      units.Size        `json:"max_output,omitempty"` // default 64MiB
	MaxPrice       int64             `json:"max_price"`
	Deadline       units.Duration    `json:"deadline,omitempty"` // whole job, retries included
	ValueOfTime    int64             `json:"value_of_time,omitempty"`
	MinReputation  float64           `json:"min_reputation,omitempty"`
	Verify         string            `json:"verify,omitempty"`
	IdempotencyKey string            `json:"idempotency_key,omitempty"`
	Placement      *Placement        `json:"placement,omitempty"` // where it may run (see Placement)
}

// GPURequest asks for whole GPUs: Count of them, of Model (a model key as
// offers name it, "a100" for any a100-…) when set, each with at least
// MinVRAM of memory.
type GPURequest struct {
	Count   int        `json:"count"`
	Model   string     `json:"model,omitempty"`
	MinVRAM units.Size `json:"min_vram,omitempty"`
}

// Blob is stored content.
type Blob struct {
	CID  string `json:"cid"`
	Size int64  `json:"size"`
}

// Output is a file the job wrote under /out.
type Output struct {
	Name string `json:"name"`
	CID  string `json:"cid"`
	Size int64  `json:"size"`
}

// BidInfo is a bid as the requester saw it.
type BidInfo struct {
	Provider      string `json:"provider"`
	Price         int64  `json:"price"`
	StartWithinMs int64  `json:"start_within_ms"`
	Load          uint16 `json:"load_permille"`
}

// DeclineInfo is a decline as the requester saw it.
type DeclineInfo struct {
	Provider string `json:"provider"`
	Reason   string `json:"reason"`
	Detail   string `json:"detail,omitempty"`
}

// Attempt is one auction and, if awarded, one run.
type Attempt struct {
	Number   uint32        `json:"number"`
	Invitees []string      `json:"invitees"`
	Bids     []BidInfo     `json:"bids"`
	Declines []DeclineInfo `json:"declines"`
	Silent   []string      `json:"silent,omitempty"` // invitees that did not answer
	Winner   string        `json:"winner,omitempty"`
	Price    int64         `json:"price,omitempty"`
	Winners  []string      `json:"winners,omitempty"` // replicas: every winner of this auction (Price is each one's)
	RunnerUp string        `json:"runner_up,omitempty"`
	// PriceRule is the rule that set Price (second_price, or
	// highest_winning_bid when no losing bid was left), and PriceBasis says
	// it in one line: "second price: runner-up bid 40".
	PriceRule  string `json:"price_rule,omitempty"`
	PriceBasis string `json:"price_basis,omitempty"`
	Fault      string `json:"fault,omitempty"` // why the winner was dropped
}

// JobError says why a job failed or was cancelled.
type JobError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Usage is what a run consumed, as reported by its provider.
type Usage struct {
	WallMs      float64 `json:"wall_ms"`
	MemoryBytes int64   `json:"memory_bytes"`
}

// Job is the state of a job, as GET /v1/jobs/{id} returns it.
type Job struct {
	ID             string        `json:"id"`
	State          JobState      `json:"state"`
	IdempotencyKey string        `json:"idempotency_key,omitempty"`
	Module         string        `json:"module"`            // CID
	Runtime        string        `json:"runtime,omitempty"` // runtime/wasm, runtime/process or runtime/docker
	MaxPrice       int64         `json:"max_price"`
	Provider       string        `json:"provider,omitempty"` // peer ID of the winner
	Price          int64         `json:"price"`              // agreed price; 0 until awarded
	Status         string        `json:"status,omitempty"`   // run status: ok, exit, trap, timeout, memory_limit, output_limit, bad_module
	ExitCode       *int32        `json:"exit_code"`          // null until a result arrives
	Outputs        []Output      `json:"outputs"`
	Error          *JobError     `json:"error,omitempty"`
	Attempts       []Attempt     `json:"attempts"`
	Usage          *Usage        `json:"usage,omitempty"`
	QueuePosition  int           `json:"queue_position,omitempty"` // in state queued: 1 is next
	Agent          string        `json:"agent"`                    // the agent that submitted it ("operator" for the operator)
	Verify         string        `json:"verify"`                   // none, adaptive, replicate:K, sample:P
	Verification   *Verification `json:"verification,omitempty"`   // how the result was checked
	Placement      *Placement    `json:"placement,omitempty"`      // where it may run: the job's and its agent's rules merged
	Settlement     *Settlement   `json:"settlement,omitempty"`     // what it was held, paid, released
	CreatedAt      time.Time     `json:"created_at"`
	Deadline       time.Time     `json:"deadline"` // the job fails if it has not completed by then (approval included)
	UpdatedAt      time.Time     `json:"updated_at"`
	FinishedAt     *time.Time    `json:"finished_at,omitempty"`
}

// Stream is captured stdout or stderr. Text holds it when it is valid UTF-8,
// Base64 otherwise; both are omitted above 1 MiB (fetch it by CID).
type Stream struct {
	CID       string `json:"cid"`
	Size      int64  `json:"size"`
	Truncated bool   `json:"truncated"`
	Text      string `json:"text,omitempty"`
	Base64    string `json:"base64,omitempty"`
}

// Result is the outcome of a completed job.
type Result struct {
	Job              string   `json:"job"`
	Provider         string   `json:"provider"`
	Price            int64    `json:"price"`
	Status           string   `json:"status"`
	ExitCode         int32    `json:"exit_code"`
	Error            string   `json:"error,omitempty"`
	Stdout           Stream   `json:"stdout"`
	Stderr           Stream   `json:"stderr"`
	Outputs          []Output `json:"outputs"`
	OutputsTruncated bool     `json:"outputs_truncated"`
	Usage            Usage    `json:"usage"`
	StartedAfterMs   int64    `json:"started_after_ms"`
	StartHeld        bool     `json:"start_held"`
	ResultCID        string   `json:"result_cid"` // CID of the provider's signed result
}

// Event is one step in a job's life, streamed by GET /v1/jobs/{id}/events.
// Seq numbers a job's events from 1 upwards and is the SSE id. State is the
// job's state after the event, so the last event of every job has a
// terminal state.
type Event struct {
	Seq      int64     `json:"seq"`
	Time     time.Time `json:"time"`
	Job      string    `json:"job"`
	Type     string    `json:"type"` // state, auction, bid, decline, award, fault, result
	State    JobState  `json:"state"`
	Attempt  uint32    `json:"attempt,omitempty"`
	Provider string    `json:"provider,omitempty"`
	Price    int64     `json:"price,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Message  string    `json:"message,omitempty"`
	// Invitees is, on an auction event, how many providers were invited.
	Invitees int `json:"invitees,omitempty"`
	// StartWithinMs is, on a bid event, the start time the bidder commits to.
	StartWithinMs int64 `json:"start_within_ms,omitempty"`
	// Status and ExitCode are, on a result event, the run's status (as in
	// Job.Status) and exit code.
	Status   string `json:"status,omitempty"`
	ExitCode *int32 `json:"exit_code,omitempty"`
}

// OfferInfo is a provider's signed offer as this node last fetched it.
type OfferInfo struct {
	Provider     string          `json:"provider"`
	Self         bool            `json:"self"`
	Seq          uint64          `json:"seq"`
	Capabilities []string        `json:"capabilities"`
	Pricing      json.RawMessage `json:"pricing"`
	Limits       json.RawMessage `json:"limits"`
	// Resources are the machine as the offer states it: cpus, memory,
	// arch and gpus ([{model, count, vram_mib}]); absent from offers of
	// providers that do not state them.
	Resources json.RawMessage `json:"resources,omitempty"`
	Version   string          `json:"version"`
	ExpiresAt time.Time       `json:"expires_at"`
	FetchedAt time.Time       `json:"fetched_at"`
	Withdrawn bool            `json:"withdrawn"`
}

// PeerInfo is a connected or known peer.
type PeerInfo struct {
	PeerID    string   `json:"peer_id"`
	Addrs     []string `json:"addrs"`
	Connected bool     `json:"connected"`
	LatencyMs float64  `json:"latency_ms,omitempty"`
	Provider  bool     `json:"provider"` // this node holds an offer from it
}

// Status is the node's own state.
type Status struct {
	PeerID       string           `json:"peer_id"`
	Addrs        []string         `json:"addrs"`
	Version      string           `json:"version"`
	StartedAt    time.Time        `json:"started_at"`
	Peers        int              `json:"peers"`
	Isolated     bool             `json:"isolated"` // no peer at all although bootstrap peers are configured: it keeps dialling them
	Selling      bool             `json:"selling"`
	Capabilities []string         `json:"capabilities"`
	Jobs         map[JobState]int `json:"jobs"`
	LedgerHead   string           `json:"ledger_head"`
	LedgerSeq    uint64           `json:"ledger_seq"`
	Misbehaving  []string         `json:"misbehaving,omitempty"` // test-only misbehaviour switched on in this node's config
	Running      int              `json:"running"`               // jobs this node runs as a provider now
	Dropped      map[string]int64 `json:"dropped"`               // peer messages dropped, by reason
}

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is an error's stable code, message and, for invalid specs, the
// fields at fault.
type ErrorDetail struct {
	Code    string       `json:"code"`
	Message string       `json:"message"`
	Fields  []FieldError `json:"fields,omitempty"`
}

// FieldError names one invalid field of a request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}
