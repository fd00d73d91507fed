package api

import (
	"encoding/json"
	"time"
)

// AuditFormat names the audit bundle's format.
const AuditFormat = "hayek-audit/1"

// Audit is the record of one job, as GET /v1/jobs/{id}/audit returns it:
// what was asked (intent), who was found (discovery), every auction with
// its bids and declines and why the winner won, the run, its verification,
// the ledger entries, and a readable timeline. Signed holds the signed
// messages themselves and Entries the ledger entries in their canonical
// encoding, so that VerifyAudit (hayek audit verify) can check offline
// which facts each peer's signature proves and which are only this node's
// word.
type Audit struct {
	Format       string          `json:"format"`
	Node         string          `json:"node"` // the requester: this node's peer ID
	MadeAt       time.Time       `json:"made_at"`
	Intent       AuditIntent     `json:"intent"`
	Discovery    []OfferSeen     `json:"discovery"`
	Auctions     []AuditAuction  `json:"auctions"`
	Execution    *AuditExecution `json:"execution,omitempty"`
	Verification *Verification   `json:"verification,omitempty"`
	Settlement   *Settlement     `json:"settlement,omitempty"`
	Timeline     []string        `json:"timeline"`
	Job          Job             `json:"job"`
	Signed       []SignedMessage `json:"signed"`
	Entries      []AuditEntry    `json:"entries"`
}

// AuditIntent is what was asked, by whom, under which limits.
type AuditIntent struct {
	Agent   string          `json:"agent"`
	Spec    json.RawMessage `json:"spec"`     // the job spec as the node validated it
	SpecCID string          `json:"spec_cid"` // CID of its canonical CBOR
	// Limits and Policy are the agent's as the ledger stood when the job
	// was held: the latest agent_create/agent_limits and agent_policy
	// governance entries before it (their CIDs are in Governance).
	Limits     *Agent       `json:"limits,omitempty"`
	Policy     *AgentPolicy `json:"policy,omitempty"`
	Placement  *Placement   `json:"placement,omitempty"`
	Governance []string     `json:"governance"`         // CIDs of the entries Limits, Policy and the approval rest on
	Approval   string       `json:"approval,omitempty"` // "approved by the operator at …", or why none was needed
}

// OfferSeen is a provider discovery found for the job.
type OfferSeen struct {
	Provider  string `json:"provider"`
	Seq       uint64 `json:"seq"`
	Withdrawn bool   `json:"withdrawn,omitempty"`
	Permitted bool   `json:"permitted"` // by the job's placement
}

// AuditAuction is one auction: the call, every answer, and the award.
type AuditAuction struct {
	Attempt  uint32         `json:"attempt"`
	Call     string         `json:"call,omitempty"` // CID of the signed call for bids
	Invitees []string       `json:"invitees"`
	Bids     []AuditBid     `json:"bids"`
	Declines []AuditDecline `json:"declines"`
	Silent   []string       `json:"silent,omitempty"`
	Winners  []string       `json:"winners,omitempty"`
	Price    int64          `json:"price,omitempty"`
	Why      string         `json:"why,omitempty"`    // why the winner won and its price
	Awards   []string       `json:"awards,omitempty"` // CIDs of the signed awards
	Fault    string         `json:"fault,omitempty"`
}

// AuditBid is a bid with its score (price + value of time × start).
type AuditBid struct {
	Provider      string `json:"provider"`
	Price         int64  `json:"price"`
	StartWithinMs int64  `json:"start_within_ms"`
	Score         int64  `json:"score"`
	Won           bool   `json:"won,omitempty"`
	CID           string `json:"cid,omitempty"` // of the signed bid
}

// AuditDecline is a decline with its reason.
type AuditDecline struct {
	Provider string `json:"provider"`
	Reason   string `json:"reason"`
	Detail   string `json:"detail,omitempty"`
	CID      string `json:"cid,omitempty"` // of the signed decline
}

// AuditExecution is the accepted run.
type AuditExecution struct {
	Provider  string   `json:"provider"`
	Module    string   `json:"module"` // CID
	Inputs    []Blob   `json:"inputs"` // stdin first, if any
	Outputs   []Output `json:"outputs"`
	Status    string   `json:"status"`
	ExitCode  *int32   `json:"exit_code"`
	Usage     *Usage   `json:"usage,omitempty"`
	ResultCID string   `json:"result"` // CID of the provider's signed result
}

// SignedMessage is a signed message of the job as this node sent or
// received it: a call, bid, decline, award or result envelope.
type SignedMessage struct {
	Kind     string    `json:"kind"`
	CID      string    `json:"cid"`
	Signer   string    `json:"signer"`
	At       time.Time `json:"at"`
	Envelope []byte    `json:"envelope"` // canonical CBOR, base64 in JSON
}

// AuditEntry is a ledger entry of the job: its readable form and its
// canonical encoding, whose CID the verifier recomputes.
type AuditEntry struct {
	LedgerEntry
	Raw []byte `json:"raw"`
}

// AuditReport is what VerifyAudit found: the facts proven by a signature
// (and whose), those that are only the auditing node's word, and what
// failed.
type AuditReport struct {
	OK       bool        `json:"ok"`
	Proven   []AuditFact `json:"proven"`
	Unproven []string    `json:"unproven"` // this node's word
	Failures []string    `json:"failures,omitempty"`
}

// AuditFact is a fact and the peer whose signature proves it.
type AuditFact struct {
	Fact string `json:"fact"`
	By   string `json:"by"`  // peer ID of the signer (two for a countersigned receipt, joined by " + ")
	CID  string `json:"cid"` // of the signed message or entry
}
