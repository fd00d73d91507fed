package market

import (
	"fmt"
	"time"
)

// Envelope kinds of the market's peer messages. Each is signed under its own
// domain ("hayek/<kind>/v1").
const (
	KindCall    = "call"
	KindBid     = "bid"
	KindDecline = "decline"
	KindAward   = "award"
	KindAck     = "ack"
	KindResult  = "result"
	KindData    = "data"
)

// Needs describes a job to providers without revealing its inputs.
type Needs struct {
	Capabilities []Capability `cbor:"caps" json:"capabilities"` // primary first
	MemoryBytes  int64        `cbor:"memory" json:"memory"`
	TimeoutMs    int64        `cbor:"timeout_ms" json:"timeout_ms"`
	Module       string       `cbor:"module" json:"module"` // CID
	ModuleBytes  int64        `cbor:"module_size" json:"module_size"`
	InputBytes   int64        `cbor:"input_size" json:"input_size"`
	MaxPrice     int64        `cbor:"max_price" json:"max_price"`
	ValueOfTime  int64        `cbor:"value_of_time" json:"value_of_time"`
	// Absent when unset, so a call for a job that asks for neither
	// encodes as before they existed.
	CPUMilli int64  `cbor:"cpus,omitempty" json:"cpus_milli,omitempty"`
	GPUs     *GPUs  `cbor:"gpus,omitempty" json:"gpus,omitempty"`
	Image    string `cbor:"image,omitempty" json:"image,omitempty"` // a docker job's image by digest
}

// Runtime is the job's runtime: its primary capability.
func (n Needs) Runtime() Capability {
	if len(n.Capabilities) == 0 {
		return ""
	}
	return n.Capabilities[0]
}

// CallForBids is published on the primary capability's topic. Invitees must
// answer with a Bid or a Decline; other subscribers may bid unasked.
type CallForBids struct {
	Job       string   `cbor:"job"`
	Attempt   uint32   `cbor:"attempt"`
	Requester string   `cbor:"requester"`
	Needs     Needs    `cbor:"needs"`
	Invitees  []string `cbor:"invitees"`
	WindowMs  int64    `cbor:"window_ms"`
	Created   int64    `cbor:"created"` // Unix ms
}

// Sender implements canon.Message.
func (c CallForBids) Sender() string { return c.Requester }

// Validate checks a received call's fields: a call that passes can be
// priced and bid on without surprises.
func (c CallForBids) Validate() error {
	k := &checker{what: "call for bids"}
	if c.Job == "" || len(c.Job) > 64 {
		k.add("job", c.Job, ErrInvalid, "must be 1 to 64 bytes")
	}
	if c.Attempt == 0 || c.Attempt > 100 {
		k.add("attempt", c.Attempt, ErrRange, "must be 1 to 100")
	}
	if c.WindowMs <= 0 || c.WindowMs > time.Minute.Milliseconds() {
		k.add("window_ms", c.WindowMs, ErrRange, "must be between 1ms and 1m")
	}
	if len(c.Invitees) > 256 {
		k.add("invitees", len(c.Invitees), ErrTooLarge, "at most 256")
	}
	n := c.Needs
	if len(n.Capabilities) == 0 || len(n.Capabilities) > 9 {
		k.add("needs.capabilities", len(n.Capabilities), ErrRange, "must name 1 to 9 capabilities")
	}
	for i, cp := range n.Capabilities {
		if err := cp.Validate(); err != nil {
			k.add(fmt.Sprintf("needs.capabilities[%d]", i), cp, ErrInvalid, "%w", err)
		}
	}
	checkResources(k, "needs.", n.Runtime(), n.MemoryBytes, n.CPUMilli, n.GPUs)
	if n.Image != "" {
		checkImage(k, "needs.image", n.Runtime(), n.Image)
	}
	if n.TimeoutMs < 1 || n.TimeoutMs > MaxTimeout.Milliseconds() {
		k.add("needs.timeout_ms", n.TimeoutMs, ErrRange, "")
	}
	if n.ModuleBytes < 0 || n.ModuleBytes > MaxModuleBytes || n.InputBytes < 0 || n.InputBytes > MaxInputBytes {
		k.add("needs.module_size", n.ModuleBytes, ErrRange, "module and input sizes out of range")
	}
	// The same money bounds as a job spec's, so a provider's arithmetic on
	// a call (price, credit, scores in an award) always fits.
	if n.MaxPrice <= 0 || n.MaxPrice > MaxPriceCap {
		k.add("needs.max_price", n.MaxPrice, ErrRange, "must be between 1 and %d", int64(MaxPriceCap))
	}
	if n.ValueOfTime < 0 || n.ValueOfTime > MaxValueOfTime {
		k.add("needs.value_of_time", n.ValueOfTime, ErrRange, "must be between 0 and %d", int64(MaxValueOfTime))
	}
	return k.err()
}

// Invited reports whether peer is named as an invitee.
func (c CallForBids) Invited(peer string) bool {
	for _, p := range c.Invitees {
		if p == peer {
			return true
		}
	}
	return false
}

// Bid is a provider's signed offer to run one job for a price.
type Bid struct {
	Job           string `cbor:"job"`
	Attempt       uint32 `cbor:"attempt"`
	Call          string `cbor:"call"` // CID of the call's envelope
	Provider      string `cbor:"provider"`
	Requester     string `cbor:"requester"`
	Price         int64  `cbor:"price"`
	StartWithinMs int64  `cbor:"start_within_ms"` // committed start time
	Load          uint16 `cbor:"load"`            // permille of slots in use
	Created       int64  `cbor:"created"`
}

// Sender implements canon.Message.
func (b Bid) Sender() string { return b.Provider }

// DeclineReason is a stable code saying why a provider will not bid.
type DeclineReason string

// Decline reasons.
const (
	DeclineRuntime    DeclineReason = "runtime_missing"    // does not sell the job's runtime
	DeclineCapability DeclineReason = "capability_missing" // does not sell a capability the job requires
	DeclineNoGPU      DeclineReason = "no_gpu"             // the job wants GPUs; this provider has none
	DeclineGPUModel   DeclineReason = "gpu_model"          // not enough GPUs of the model asked for
	DeclineVRAM       DeclineReason = "vram"               // not enough GPUs with the memory asked for
	DeclineImage      DeclineReason = "image_not_allowed"  // the job's image is not on the provider's allow-list
	DeclineBusy       DeclineReason = "busy"               // all slots (or the GPUs the job needs) in use
	DeclinePrice      DeclineReason = "price_floor"        // its price is above the max price
	DeclineTooLarge   DeclineReason = "too_large"          // beyond its memory/time/size limits
	DeclineRequester  DeclineReason = "requester_limit"    // requester over credit or below reputation limit
	DeclineWithdrawn  DeclineReason = "withdrawn"          // stopping, not taking work
	DeclineExpired    DeclineReason = "expired"            // the call arrived too late to bid, or the award too late to take
)

// Decline is a provider's signed refusal, kept by the requester so "why no
// bids" can be answered.
type Decline struct {
	Job       string        `cbor:"job"`
	Attempt   uint32        `cbor:"attempt"`
	Call      string        `cbor:"call"`
	Provider  string        `cbor:"provider"`
	Requester string        `cbor:"requester"`
	Reason    DeclineReason `cbor:"reason"`
	Detail    string        `cbor:"detail"`
	Created   int64         `cbor:"created"`
}

// Sender implements canon.Message.
func (d Decline) Sender() string { return d.Provider }

// Ranking records the inputs of the winner's price so it can check it.
type Ranking struct {
	ValueOfTime int64     `cbor:"value_of_time"`
	MaxPrice    int64     `cbor:"max_price"`
	Rule        PriceRule `cbor:"rule"`         // which rule set the price
	WinnerScore int64     `cbor:"winner_score"` // price + value of time × start
	// RunnerUpScore is the score of the bid that set the price under
	// PriceSecond, 0 otherwise.
	RunnerUpScore int64 `cbor:"runner_up_score"`
	Bids          int   `cbor:"bids"`     // eligible bids ranked
	Replicas      int   `cbor:"replicas"` // winners of this auction
	// Pool is how many of the best bids the winners were drawn from: 1 for
	// one run, up to twice the replicas needed under replication.
	Pool int `cbor:"pool"`
}

// RunSpec is what the winner needs to run the job. Runtime, CPUMilli and
// GPUs are absent from a wasm job's encoding (Runtime "" is wasm), so it
// encodes as before they existed.
type RunSpec struct {
	Runtime        Capability        `cbor:"runtime,omitempty"`
	CPUMilli       int64             `cbor:"cpus,omitempty"`
	GPUs           *GPUs             `cbor:"gpus,omitempty"`
	Module         Blob              `cbor:"module"`
	Stdin          *Blob             `cbor:"stdin"`
	Inputs         []Input           `cbor:"inputs"`
	Args           []string          `cbor:"args"`
	Env            map[string]string `cbor:"env"`
	MemoryBytes    int64             `cbor:"memory"`
	TimeoutMs      int64             `cbor:"timeout_ms"`
	MaxOutputBytes int64             `cbor:"max_output"`
}

// Award tells the winner it has the job at Price. It carries the winner's
// own bid and the signed bid that set the price (encoded envelopes), with
// the rule in Ranking, so the winner can check its price.
type Award struct {
	Job        string `cbor:"job"`
	Attempt    uint32 `cbor:"attempt"`
	Requester  string `cbor:"requester"`
	Provider   string `cbor:"provider"`
	Price      int64  `cbor:"price"`
	WinningBid []byte `cbor:"bid"`
	// PriceBid is the signed bid that set Price: the runner-up's (or the
	// best bid outside the replica pool) under PriceSecond, the highest
	// winning bid under PriceHighestWinning — nil when that is WinningBid.
	PriceBid []byte  `cbor:"price_bid"`
	Ranking  Ranking `cbor:"ranking"`
	Run      RunSpec `cbor:"run"`
	ResultBy int64   `cbor:"result_by"` // Unix ms: deliver the result by then
	Created  int64   `cbor:"created"`
}

// Sender implements canon.Message.
func (a Award) Sender() string { return a.Requester }

// Ack is the winner's answer to an award.
type Ack struct {
	Job       string `cbor:"job"`
	Attempt   uint32 `cbor:"attempt"`
	Award     string `cbor:"award"` // CID of the award's envelope
	Provider  string `cbor:"provider"`
	Requester string `cbor:"requester"`
	Accept    bool   `cbor:"accept"`
	// Code says why an award was refused, as a decline would: busy and
	// withdrawn (full, or shutting down) are not held against the provider.
	Code    DeclineReason `cbor:"code"`
	Reason  string        `cbor:"reason"`
	Created int64         `cbor:"created"`
}

// Sender implements canon.Message.
func (a Ack) Sender() string { return a.Provider }

// Status is how a run ended. The job's own failures (everything but the
// provider-fault statuses) are results and are paid for.
type Status string

// Run statuses.
const (
	StatusOK          Status = "ok"           // exit code 0
	StatusExit        Status = "exit"         // non-zero exit code
	StatusTrap        Status = "trap"         // the module trapped
	StatusTimeout     Status = "timeout"      // wall-time limit
	StatusMemoryLimit Status = "memory_limit" // memory limit
	StatusOutputLimit Status = "output_limit" // output size limit
	StatusBadModule   Status = "bad_module"   // not a valid WASI module
	// Provider faults: not paid, the job is re-auctioned.
	StatusFetchFailed Status = "fetch_failed" // could not fetch module or inputs
	StatusInternal    Status = "internal"     // the provider's executor failed
)

// ProviderFault reports whether the status is the provider's fault rather
// than the job's.
func (s Status) ProviderFault() bool { return s == StatusFetchFailed || s == StatusInternal }

// Known reports whether s is a status this version understands.
func (s Status) Known() bool {
	switch s {
	case StatusOK, StatusExit, StatusTrap, StatusTimeout, StatusMemoryLimit, StatusOutputLimit,
		StatusBadModule, StatusFetchFailed, StatusInternal:
		return true
	}
	return false
}

// Output is a named output file collected from /out.
type Output struct {
	Name string `cbor:"name" json:"name"`
	Blob
}

// Stream is a captured stdout or stderr.
type Stream struct {
	Blob
	Truncated bool `cbor:"truncated"`
}

// Usage is what a run consumed, as measured by the provider.
type Usage struct {
	WallUs      int64 `cbor:"wall_us"`
	MemoryBytes int64 `cbor:"memory"` // peak linear memory
}

// Result is the winner's signed report of a run.
type Result struct {
	Job              string   `cbor:"job"`
	Attempt          uint32   `cbor:"attempt"`
	Award            string   `cbor:"award"` // CID of the award's envelope
	Provider         string   `cbor:"provider"`
	Requester        string   `cbor:"requester"`
	Status           Status   `cbor:"status"`
	ExitCode         int32    `cbor:"exit_code"`
	Error            string   `cbor:"error"`
	Stdout           Stream   `cbor:"stdout"`
	Stderr           Stream   `cbor:"stderr"`
	Outputs          []Output `cbor:"outputs"`
	OutputsTruncated bool     `cbor:"outputs_truncated"`
	Usage            Usage    `cbor:"usage"`
	StartedAfterMs   int64    `cbor:"started_after_ms"` // from award to start
	StartHeld        bool     `cbor:"start_held"`       // started within the committed time
	Created          int64    `cbor:"created"`
}

// Sender implements canon.Message.
func (r Result) Sender() string { return r.Provider }

// Blobs lists every blob the result names.
func (r Result) Blobs() []Blob {
	out := []Blob{r.Stdout.Blob, r.Stderr.Blob}
	for _, o := range r.Outputs {
		out = append(out, o.Blob)
	}
	return out
}

// DataRequest asks a peer for one blob of a job. Module and inputs are
// served only to the peer holding the job's award, outputs only to its
// requester.
type DataRequest struct {
	Job     string `cbor:"job"`
	From    string `cbor:"from"`
	CID     string `cbor:"cid"`
	Offset  int64  `cbor:"offset"`
	Created int64  `cbor:"created"`
}

// Sender implements canon.Message.
func (d DataRequest) Sender() string { return d.From }

// Fresh checks a message's creation time against the receiver's clock.
func Fresh(created int64, now time.Time, window time.Duration) error {
	d := now.Sub(time.UnixMilli(created))
	if d > window || d < -window {
		return fmt.Errorf("market: message created %v from now, outside the ±%v freshness window", -d.Round(time.Millisecond), window)
	}
	return nil
}

// KindCancel is the envelope kind of cancellations.
const KindCancel = "cancel"

// Cancel tells an awarded provider to stop: the requester cancelled the job
// or dropped the provider. Only the requester that signed the award can
// cancel it.
type Cancel struct {
	Job       string `cbor:"job"`
	Attempt   uint32 `cbor:"attempt"`
	Award     string `cbor:"award"`
	Requester string `cbor:"requester"`
	Created   int64  `cbor:"created"`
}

// Sender implements canon.Message.
func (c Cancel) Sender() string { return c.Requester }
