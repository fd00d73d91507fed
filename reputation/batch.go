package reputation

import (
	"errors"
	"fmt"
	"time"
)

// BatchParams bound an attestation batch.
type BatchParams struct {
	MaxReports int           // a batch is emitted when it holds this many reports
	MaxDelay   time.Duration // … or when its oldest report has waited this long
	MaxBytes   int           // … or before a report would take it past this size (estimated)
}

// DefaultBatchParams: 64 reports, one minute, 64 KiB.
func DefaultBatchParams() BatchParams {
	return BatchParams{MaxReports: 64, MaxDelay: time.Minute, MaxBytes: 64 << 10}
}

// Validate checks that every bound is positive.
func (p BatchParams) Validate() error {
	var e ParamsError
	if p.MaxReports < 1 {
		e.Fields = append(e.Fields, &FieldError{Field: "max_reports", Value: p.MaxReports, Err: errors.New("must be at least 1")})
	}
	if p.MaxDelay <= 0 {
		e.Fields = append(e.Fields, &FieldError{Field: "max_delay", Value: p.MaxDelay, Err: errors.New("must be positive")})
	}
	if p.MaxBytes < 1<<10 {
		e.Fields = append(e.Fields, &FieldError{Field: "max_bytes", Value: p.MaxBytes, Err: errors.New("must be at least 1KiB")})
	}
	if len(e.Fields) > 0 {
		return &e
	}
	return nil
}

// Batcher collects this node's reports and cuts them into attestations,
// so that gossip carries one signed message per batch, not one per job. It
// is pure: fed Add and Tick with the time, it returns the batches to sign
// (with canon, kind "attestation") and publish, each with the next
// sequence number. It is not safe for concurrent use.
type Batcher struct {
	reporter string
	p        BatchParams
	seq      uint64
	pending  []Report
	size     int
	since    time.Time // when the oldest pending report was added
}

// reportOverhead approximates a report's CBOR framing: the map header,
// the field names and the string headers.
const reportOverhead = 48

func reportSize(r Report) int {
	return reportOverhead + len(r.Subject) + len(r.Capability) + len(r.Outcome) + len(r.Evidence) + len(r.Receipt)
}

// NewBatcher returns a batcher for reporter (this node's peer ID) whose
// first batch has sequence number lastSeq+1: the node keeps the last
// sequence it published (in its ledger's attestation entries) so that
// sequence numbers keep growing across restarts.
func NewBatcher(reporter string, p BatchParams, lastSeq uint64) (*Batcher, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if reporter == "" {
		return nil, fmt.Errorf("%w: the batcher's reporter", ErrMissing)
	}
	return &Batcher{reporter: reporter, p: p, seq: lastSeq}, nil
}

// Add queues a report and returns the batches it completes (none or
// one). It refuses, with the same errors as Attest, a report any receiver
// would refuse, and with ErrTooLarge one that alone exceeds MaxBytes.
func (b *Batcher) Add(now time.Time, r Report) ([]Attestation, error) {
	if err := checkReport(b.reporter, r); err != nil {
		return nil, &ReportError{Index: -1, Subject: r.Subject, Err: err}
	}
	n := reportSize(r)
	if n > b.p.MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, n, b.p.MaxBytes)
	}
	var out []Attestation
	if len(b.pending) > 0 && b.size+n > b.p.MaxBytes {
		out = append(out, b.cut(now))
	}
	if len(b.pending) == 0 {
		b.since = now
	}
	b.pending = append(b.pending, r)
	b.size += n
	if len(b.pending) >= b.p.MaxReports {
		out = append(out, b.cut(now))
	}
	return out, nil
}

// Tick returns the pending batch when its oldest report has waited
// MaxDelay.
func (b *Batcher) Tick(now time.Time) []Attestation {
	if len(b.pending) == 0 || now.Sub(b.since) < b.p.MaxDelay {
		return nil
	}
	return []Attestation{b.cut(now)}
}

// Flush returns whatever is pending, for a node that is stopping.
func (b *Batcher) Flush(now time.Time) []Attestation {
	if len(b.pending) == 0 {
		return nil
	}
	return []Attestation{b.cut(now)}
}

// NextTimer is when Tick will next emit a batch, if anything is pending.
func (b *Batcher) NextTimer() (time.Time, bool) {
	if len(b.pending) == 0 {
		return time.Time{}, false
	}
	return b.since.Add(b.p.MaxDelay), true
}

// Pending is the number of reports waiting.
func (b *Batcher) Pending() int { return len(b.pending) }

// LastSeq is the sequence number of the last batch emitted.
func (b *Batcher) LastSeq() uint64 { return b.seq }

func (b *Batcher) cut(now time.Time) Attestation {
	b.seq++
	a := Attestation{Reporter: b.reporter, Reports: b.pending, Created: now.UnixMilli(), Seq: b.seq}
	b.pending, b.size, b.since = nil, 0, time.Time{}
	return a
}
