package reputation

import (
	"errors"
	"fmt"
	"time"
)

// Attest takes a third party's attestation, already verified by the
// caller (signature, freshness, and each report's receipt: that it is
// countersigned and that the reporter is a party to it). It returns how
// many reports added evidence.
//
// The whole attestation is refused with ErrMissing (no reporter), ErrSelf
// (this node's own attestation come back) or ErrStale (Created older than
// EvidenceMemory). Otherwise each malformed report is refused with a
// *ReportError (joined into err) wrapping ErrMissing, ErrOutcome,
// ErrSelfReport (the reporter reports on itself) or ErrNoReceipt (a
// positive report without its receipt), and the other reports still count.
// Some reports are skipped without error, being normal in gossip: those
// about this node (it does not let others tell it about itself), those
// already counted, and all reports of a reporter that weighs zero now (a
// stranger) — they are not stored either, so a sybil swarm costs no memory.
//
// Reports are stored unweighted; the reporter's weight is applied when the
// book is read, with its first-hand standing then (see views).
func (b *Book) Attest(now time.Time, att Attestation) (accepted int, err error) {
	switch {
	case att.Reporter == "":
		return 0, fmt.Errorf("%w: attestation without reporter", ErrMissing)
	case att.Reporter == b.self:
		return 0, fmt.Errorf("%w: our own attestation %d", ErrSelf, att.Seq)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now = b.advance(now)
	if att.Created != 0 && now.Sub(time.UnixMilli(att.Created)) > b.p.EvidenceMemory {
		return 0, fmt.Errorf("%w: attestation %d from %s created %s", ErrStale, att.Seq, short(att.Reporter),
			time.UnixMilli(att.Created).UTC().Format(time.RFC3339))
	}
	var errs []error
	valid := make([]int, 0, len(att.Reports))
	for i, r := range att.Reports {
		if e := checkReport(att.Reporter, r); e != nil {
			errs = append(errs, &ReportError{Index: i, Subject: r.Subject, Err: e})
			continue
		}
		if r.Subject != b.self {
			valid = append(valid, i)
		}
	}
	if len(valid) == 0 || b.trust(att.Reporter) == 0 {
		return 0, errors.Join(errs...)
	}
	for _, i := range valid {
		r := att.Reports[i]
		k := evKey{Subject: r.Subject, Evidence: r.Evidence}
		if len(r.Receipt) == 0 {
			k.Reporter = att.Reporter
		}
		d := b.count(k, r.Outcome.Positive(), b.p.Weights.Of(r.Outcome), now)
		if d == 0 {
			continue
		}
		e := b.entry(r.Subject, r.Capability)
		t := e.third[att.Reporter]
		if t == nil {
			t = &tally{}
			e.third[att.Reporter] = t
		}
		t.add(now, b.p.HalfLife, r.Outcome.Positive(), d)
		accepted++
	}
	return accepted, errors.Join(errs...)
}

// checkReport is what every receiver refuses in a report from reporter,
// whatever it thinks of the reporter. The Batcher applies it too, so a
// node never signs what others would refuse.
func checkReport(reporter string, r Report) error {
	switch {
	case r.Subject == "" || r.Capability == "" || r.Evidence == "":
		return fmt.Errorf("%w: subject %q, capability %q and evidence %q are all required", ErrMissing, r.Subject, r.Capability, r.Evidence)
	case r.Subject == reporter:
		return ErrSelfReport
	case !r.Outcome.fits(r.Capability):
		return fmt.Errorf("%w: %q on %q", ErrOutcome, r.Outcome, r.Capability)
	case r.Outcome.Positive() && len(r.Receipt) == 0:
		return fmt.Errorf("%w: %s %s", ErrNoReceipt, r.Outcome, r.Evidence)
	}
	return nil
}
