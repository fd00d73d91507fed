package reputation

// Outcome is what one job says about a counterparty.
type Outcome string

// Outcomes about providers (as seen by requesters) and about requesters
// (as seen by providers).
const (
	Success     Outcome = "success"      // delivered a result that was accepted
	Failure     Outcome = "failure"      // refused or dropped an award, or reported its own fault
	Timeout     Outcome = "timeout"      // no acknowledgement or no result in time
	WrongResult Outcome = "wrong_result" // a result that verification rejected
	MissedStart Outcome = "missed_start" // started later than it committed to
	Paid        Outcome = "paid"         // a requester countersigned and acknowledged its debt
	Disputed    Outcome = "disputed"     // a requester refused to sign for a delivered result
	Settled     Outcome = "settled"      // a requester settled its debt
)

// Report is one piece of evidence in an attestation: what Outcome the
// reporter saw from Subject on Capability, resting on Evidence — the CID of
// a countersigned receipt the reporter was party to (verified by the
// caller before it reaches the Book), or for receiptless negative outcomes
// the job ID.
type Report struct {
	Subject    string  `cbor:"subject"`
	Capability string  `cbor:"cap"`
	Outcome    Outcome `cbor:"outcome"`
	Evidence   string  `cbor:"evidence"`
	Receipt    []byte  `cbor:"receipt"` // the countersigned receipt itself (for settled: the settle entry); required for positive outcomes
}

// Attestation is a signed batch of reports, gossiped on /hayek/reputation/1
// (envelope kind "attestation").
type Attestation struct {
	Reporter string   `cbor:"reporter"`
	Reports  []Report `cbor:"reports"`
	Created  int64    `cbor:"created"`
	Seq      uint64   `cbor:"seq"` // grows with every batch from this reporter
}

// Sender implements canon.Message.
func (a Attestation) Sender() string { return a.Reporter }
