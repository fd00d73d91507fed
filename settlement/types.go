package settlement

import "github.com/hayek-market/hayek/internal/canon"

// Kind names what an entry records.
type Kind string

// Entry kinds.
const (
	KindFund        Kind = "fund"        // the operator adds to an agent's budget
	KindHold        Kind = "hold"        // a job's max cost is set aside from its agent's budget
	KindRelease     Kind = "release"     // an unspent hold returns to its agent's budget
	KindReceipt     Kind = "receipt"     // a countersigned receipt: a job was run and is owed for
	KindSettle      Kind = "settle"      // a creditor acknowledges payment made outside the ledger
	KindAttestation Kind = "attestation" // a signed batch of reputation reports this node issued
	KindOutcome     Kind = "outcome"     // first-hand reputation evidence about a peer
	KindGovernance  Kind = "governance"  // an agent created, limited, revoked; a job approved, rejected
	KindCheckpoint  Kind = "checkpoint"  // the node's signature over the chain's head
	KindLost        Kind = "lost"        // the node declares acknowledged entries lost (written by Recover)
)

// Entry is one link of the chain. Its CID (canon.DocCID of its canonical
// encoding) is what the next entry's Prev names; Body is the canonical CBOR
// of the kind's body type below.
type Entry struct {
	Seq  uint64 `cbor:"seq" json:"seq"`   // 1, 2, 3, ...
	Prev string `cbor:"prev" json:"prev"` // CID of entry Seq-1; "" for Seq 1
	Time int64  `cbor:"time" json:"time"` // Unix ms
	Kind Kind   `cbor:"kind" json:"kind"`
	Body []byte `cbor:"body" json:"body"`
}

// CID is the entry's content identifier.
func (e Entry) CID() string { return canon.DocCID(canon.MustMarshal(e)).String() }

// Fund adds Amount to Agent's budget.
type Fund struct {
	Agent  string `cbor:"agent" json:"agent"`
	Amount int64  `cbor:"amount" json:"amount"`
	Note   string `cbor:"note" json:"note"`
}

// Hold sets aside Amount of Agent's budget for Job before it is auctioned.
type Hold struct {
	Job    string `cbor:"job" json:"job"`
	Agent  string `cbor:"agent" json:"agent"`
	Amount int64  `cbor:"amount" json:"amount"`
}

// Release returns Amount of Job's hold to its agent's budget.
type Release struct {
	Job    string `cbor:"job" json:"job"`
	Amount int64  `cbor:"amount" json:"amount"`
	Reason string `cbor:"reason" json:"reason"`
}

// Receipt says Provider ran Job for Requester at Price, with the result
// named by Result, when the requester's ledger had head RequesterHead.
type Receipt struct {
	Job           string `cbor:"job" json:"job"`
	Attempt       uint32 `cbor:"attempt" json:"attempt"`
	Requester     string `cbor:"requester" json:"requester"`
	Provider      string `cbor:"provider" json:"provider"`
	Capability    string `cbor:"cap" json:"cap"`
	Price         int64  `cbor:"price" json:"price"`
	Result        string `cbor:"result" json:"result"`   // CID of the provider's signed result
	Outcome       string `cbor:"outcome" json:"outcome"` // the run's status as the requester accepted it
	RequesterHead string `cbor:"requester_head" json:"requester_head"`
	Created       int64  `cbor:"created" json:"created"`
}

// Sender implements canon.Message: the requester issues receipts.
func (r Receipt) Sender() string { return r.Requester }

// SignedReceipt is a receipt signed by the requester (domain "receipt",
// over Body) and countersigned by the provider (domain "receipt-counter",
// over the canonical CBOR of Countersigned{Body, RequesterSig,
// ProviderHead}), ProviderHead being the provider's ledger head when it
// countersigned. Both ledgers append the same SignedReceipt, so each party
// holds the other's head: a rewritten history is detectable.
type SignedReceipt struct {
	Body         []byte `cbor:"body" json:"body"`
	RequesterSig []byte `cbor:"requester_sig" json:"requester_sig"`
	ProviderHead string `cbor:"provider_head" json:"provider_head"`
	ProviderSig  []byte `cbor:"provider_sig" json:"provider_sig"`
}

// Countersigned is what the provider's signature covers.
type Countersigned struct {
	Body         []byte `cbor:"body" json:"body"`
	RequesterSig []byte `cbor:"requester_sig" json:"requester_sig"`
	ProviderHead string `cbor:"provider_head" json:"provider_head"`
}

// Settle records that Debtor paid Creditor Amount outside the ledger. Only
// the creditor's signature makes it valid: the payment rail (none yet)
// plugs in behind PaymentRail.
type Settle struct {
	Debtor    string `cbor:"debtor" json:"debtor"`
	Creditor  string `cbor:"creditor" json:"creditor"`
	Amount    int64  `cbor:"amount" json:"amount"`
	Reference string `cbor:"reference" json:"reference"` // the rail's own reference, if any
	Created   int64  `cbor:"created" json:"created"`
}

// Sender implements canon.Message: creditors sign settlements.
func (s Settle) Sender() string { return s.Creditor }

// SignedSettle is a settlement with the creditor's signature over the
// canonical body, domain "settle".
type SignedSettle struct {
	Body []byte `cbor:"body" json:"body"`
	Sig  []byte `cbor:"sig" json:"sig"`
}

// Attestation is a signed batch of reputation reports this node issued;
// the ledger keeps the envelope as sent (its format is the reputation
// package's).
type Attestation struct {
	Envelope []byte `cbor:"envelope" json:"envelope"`
}

// Outcome is first-hand evidence about Peer's behaviour on Capability,
// from a job this node was a party to.
type Outcome struct {
	Peer       string `cbor:"peer" json:"peer"`
	Capability string `cbor:"cap" json:"cap"`
	Outcome    string `cbor:"outcome" json:"outcome"` // success, failure, timeout, wrong_result, missed_start, paid, disputed, settled
	Job        string `cbor:"job" json:"job"`
	Receipt    string `cbor:"receipt" json:"receipt"` // CID of the receipt it rests on, if any
}

// Governance records an operator's or a policy's decision.
type Governance struct {
	Action string `cbor:"action" json:"action"` // agent_create, agent_limits, agent_policy, agent_revoke, job_approve, job_reject, job_expire, job_cancel
	Agent  string `cbor:"agent" json:"agent"`
	Job    string `cbor:"job" json:"job"`
	// For agent_create and agent_limits:
	TokenHash    []byte `cbor:"token_hash" json:"token_hash"`       // sha256 of the bearer token; the token itself is never stored
	MaxJobPrice  int64  `cbor:"max_job_price" json:"max_job_price"` // 0: no cap beyond the budget
	ApproveAbove int64  `cbor:"approve_above" json:"approve_above"` // 0: never ask
	RatePerHour  int64  `cbor:"rate_per_hour" json:"rate_per_hour"` // 0: unlimited
	Detail       string `cbor:"detail" json:"detail"`
	// For agent_policy: the whole policy from now on (empty: none).
	Policy *Policy `cbor:"policy,omitempty" json:"policy,omitempty"`
}

// Policy is where an operator lets an agent's jobs run and what they may
// use; agent_policy entries set it, so every change is on the chain with
// its time. Zero values mean no rule.
type Policy struct {
	Local                bool     `cbor:"local" json:"local"`                     // only this node's own provider
	Allow                []string `cbor:"allow" json:"allow"`                     // only these providers (peer IDs)
	Deny                 []string `cbor:"deny" json:"deny"`                       // never these providers
	MinReputationPermill int64    `cbor:"min_rep_permill" json:"min_rep_permill"` // lower credible bound ×1000 (no floats in the ledger)
	MaxPrice             int64    `cbor:"max_price" json:"max_price"`             // per run
	Capabilities         []string `cbor:"caps" json:"caps"`                       // the runtime and capabilities its jobs may ask for
	MaxInputBytes        int64    `cbor:"max_input_bytes" json:"max_input_bytes"` // inputs and stdin that may leave the node
}

// Checkpoint is the node's signature over the chain up to and including
// entry Seq (whose CID is Head). One is appended per group commit.
type Checkpoint struct {
	Node string `cbor:"node" json:"node"`
	Head string `cbor:"head" json:"head"`
	Seq  uint64 `cbor:"seq" json:"seq"`
	Time int64  `cbor:"time" json:"time"`
	Sig  []byte `cbor:"sig" json:"sig"` // over the canonical body with Sig empty, domain "checkpoint"
}

// RecoveredAgent is the account Recover charges for payments it re-applies
// whose hold was lost with the entries that named its agent: the money was
// paid (the provider holds both signatures), but nothing says out of whose
// budget. No agent the node creates can have this name.
const RecoveredAgent = "~recovered"

// Lost is the node's signed statement that entries it once acknowledged are
// gone from its ledger, appended by Recover right after the last entry
// that survived. It keeps the history honest: the entries after it, up to
// the group's checkpoint, are what Recover could rebuild (Reapplied, from
// counterparties' exports) and the releases of holds whose jobs died; the
// rest of what the lost range held (funds, holds, outcomes, governance) is
// gone for good.
type Lost struct {
	Node      string   `cbor:"node" json:"node"`           // this node, the signer
	Reason    string   `cbor:"reason" json:"reason"`       // LostBehind, LostDiverged, LostHeadMissing, LostHeadCorrupt
	Kept      uint64   `cbor:"kept" json:"kept"`           // the last entry that survived; this entry follows it
	KeptHead  string   `cbor:"kept_head" json:"kept_head"` // its CID
	Want      uint64   `cbor:"want" json:"want"`           // the last entry acknowledged before the loss (0: unknown)
	WantHead  string   `cbor:"want_head" json:"want_head"` // its CID, as the head file named it ("" unknown)
	Sources   []string `cbor:"sources" json:"sources"`     // nodes whose exports Recover read
	Reapplied []string `cbor:"reapplied" json:"reapplied"` // IDs of the receipts and settlements re-appended after this entry
	Covered   int64    `cbor:"covered" json:"covered"`     // funded to pay re-appended receipts whose holds were lost (see Recover)
	Detail    string   `cbor:"detail" json:"detail"`
	Sig       []byte   `cbor:"sig" json:"sig"` // the node's, domain "lost", over the body with Sig empty
}
