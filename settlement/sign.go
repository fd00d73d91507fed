package settlement

import (
	"context"
	"fmt"

	"github.com/hayek-market/hayek/internal/canon"
)

// Signature domains (canon.Domain of these): a signature made for one can
// never pass as another.
const (
	domainReceipt    = "receipt"         // requester, over the Receipt
	domainCounter    = "receipt-counter" // provider, over Countersigned
	domainSettle     = "settle"          // creditor, over the Settle
	domainCheckpoint = "checkpoint"      // the node, over the Checkpoint with Sig nil
	domainLost       = "lost"            // the node, over the Lost with Sig nil
)

func signingBytes(domain string, body []byte) []byte {
	d := canon.Domain(domain)
	out := make([]byte, 0, len(d)+len(body))
	return append(append(out, d...), body...)
}

// SignReceipt is the requester's half of the receipt protocol: it checks r
// and signs it with s, which must be r's requester.
func SignReceipt(s canon.Signer, r Receipt) (SignedReceipt, error) {
	if err := checkReceipt(r); err != nil {
		return SignedReceipt{}, err
	}
	if r.Requester != s.ID() {
		return SignedReceipt{}, fmt.Errorf("%w: receipt for job %s names requester %s, signing key is %s", ErrNotParty, r.Job, r.Requester, s.ID())
	}
	body, err := canon.Marshal(r)
	if err != nil {
		return SignedReceipt{}, fmt.Errorf("settlement: encode receipt: %w", err)
	}
	sig, err := s.Sign(signingBytes(domainReceipt, body))
	if err != nil {
		return SignedReceipt{}, fmt.Errorf("settlement: sign receipt for job %s: %w", r.Job, err)
	}
	return SignedReceipt{Body: body, RequesterSig: sig}, nil
}

// Countersign is the provider's half: it checks that the receipt names s as
// its provider and adds s's signature over the body, the requester's
// signature and providerHead (s's own ledger head). It does not check the
// requester's signature: call OpenReceiptRequest first.
func Countersign(s canon.Signer, sr SignedReceipt, providerHead string) (SignedReceipt, error) {
	r, err := decodeAs[Receipt](sr.Body)
	if err != nil {
		return SignedReceipt{}, err
	}
	if err := checkReceipt(r); err != nil {
		return SignedReceipt{}, err
	}
	if r.Provider != s.ID() {
		return SignedReceipt{}, fmt.Errorf("%w: receipt for job %s names provider %s, countersigning key is %s", ErrNotParty, r.Job, r.Provider, s.ID())
	}
	if len(sr.RequesterSig) == 0 {
		return SignedReceipt{}, fmt.Errorf("%w: receipt for job %s is not signed by its requester; the requester signs first", ErrBadSignature, r.Job)
	}
	if err := checkOptName("provider head", providerHead); err != nil {
		return SignedReceipt{}, err
	}
	out := SignedReceipt{Body: sr.Body, RequesterSig: sr.RequesterSig, ProviderHead: providerHead}
	sig, err := s.Sign(signingBytes(domainCounter, counterBody(out)))
	if err != nil {
		return SignedReceipt{}, fmt.Errorf("settlement: countersign receipt for job %s: %w", r.Job, err)
	}
	out.ProviderSig = sig
	return out, nil
}

func counterBody(sr SignedReceipt) []byte {
	return canon.MustMarshal(Countersigned{Body: sr.Body, RequesterSig: sr.RequesterSig, ProviderHead: sr.ProviderHead})
}

// OpenReceiptRequest decodes a receipt the requester has signed and checks
// that signature; the provider calls it before Countersign.
func OpenReceiptRequest(v canon.Verifier, sr SignedReceipt) (Receipt, error) {
	r, err := decodeAs[Receipt](sr.Body)
	if err != nil {
		return Receipt{}, err
	}
	if err := checkReceipt(r); err != nil {
		return Receipt{}, err
	}
	if err := v.Verify(r.Requester, signingBytes(domainReceipt, sr.Body), sr.RequesterSig); err != nil {
		return Receipt{}, fmt.Errorf("%w: receipt for job %s: requester %s's signature: %v", ErrBadSignature, r.Job, r.Requester, err)
	}
	return r, nil
}

// OpenReceipt decodes a countersigned receipt and verifies both signatures:
// the requester's over the body, then the provider's over the body and the
// requester's signature — so the requester necessarily signed first.
func OpenReceipt(v canon.Verifier, sr SignedReceipt) (Receipt, error) {
	o, err := openReceiptBody(sr)
	if err != nil {
		return Receipt{}, err
	}
	if err := checkBody(o); err != nil {
		return Receipt{}, err
	}
	if err := verifyReceipt(v, o); err != nil {
		return Receipt{}, err
	}
	return o.r, nil
}

func verifyReceipt(v canon.Verifier, o openedReceipt) error {
	if err := v.Verify(o.r.Requester, signingBytes(domainReceipt, o.signed.Body), o.signed.RequesterSig); err != nil {
		return fmt.Errorf("%w: receipt for job %s: requester %s's signature: %v", ErrBadSignature, o.r.Job, o.r.Requester, err)
	}
	if err := v.Verify(o.r.Provider, signingBytes(domainCounter, counterBody(o.signed)), o.signed.ProviderSig); err != nil {
		return fmt.Errorf("%w: receipt for job %s: provider %s's countersignature: %v", ErrBadSignature, o.r.Job, o.r.Provider, err)
	}
	return nil
}

// SignSettle signs a settlement with s, which must be its creditor: only
// the party owed can say a debt was paid.
func SignSettle(s canon.Signer, st Settle) (SignedSettle, error) {
	if err := checkSettle(st); err != nil {
		return SignedSettle{}, err
	}
	if st.Creditor != s.ID() {
		return SignedSettle{}, fmt.Errorf("%w: settlement names creditor %s, signing key is %s (only the creditor signs)", ErrNotParty, st.Creditor, s.ID())
	}
	body, err := canon.Marshal(st)
	if err != nil {
		return SignedSettle{}, fmt.Errorf("settlement: encode settlement: %w", err)
	}
	sig, err := s.Sign(signingBytes(domainSettle, body))
	if err != nil {
		return SignedSettle{}, fmt.Errorf("settlement: sign settlement: %w", err)
	}
	return SignedSettle{Body: body, Sig: sig}, nil
}

// OpenSettle decodes a settlement and verifies its creditor's signature.
func OpenSettle(v canon.Verifier, ss SignedSettle) (Settle, error) {
	o, err := openSettleBody(ss)
	if err != nil {
		return Settle{}, err
	}
	if err := checkBody(o); err != nil {
		return Settle{}, err
	}
	if err := verifySettle(v, o); err != nil {
		return Settle{}, err
	}
	return o.s, nil
}

func verifySettle(v canon.Verifier, o openedSettle) error {
	if err := v.Verify(o.s.Creditor, signingBytes(domainSettle, o.signed.Body), o.signed.Sig); err != nil {
		return fmt.Errorf("%w: settlement of %d from %s: creditor %s's signature: %v", ErrBadSignature, o.s.Amount, o.s.Debtor, o.s.Creditor, err)
	}
	return nil
}

func signCheckpoint(s canon.Signer, c Checkpoint) (Checkpoint, error) {
	c.Sig = nil
	sig, err := s.Sign(signingBytes(domainCheckpoint, canon.MustMarshal(c)))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("settlement: sign the checkpoint sealing entry %d: %w", c.Seq, err)
	}
	c.Sig = sig
	return c, nil
}

func verifyCheckpoint(v canon.Verifier, c Checkpoint) error {
	sig := c.Sig
	c.Sig = nil
	if err := v.Verify(c.Node, signingBytes(domainCheckpoint, canon.MustMarshal(c)), sig); err != nil {
		return fmt.Errorf("%w: checkpoint sealing entry %d, by %s: %v", ErrBadSignature, c.Seq, c.Node, err)
	}
	return nil
}

func signLost(s canon.Signer, b Lost) (Lost, error) {
	b.Sig = nil
	sig, err := s.Sign(signingBytes(domainLost, canon.MustMarshal(b)))
	if err != nil {
		return Lost{}, fmt.Errorf("settlement: sign the record of the loss after entry %d: %w", b.Kept, err)
	}
	b.Sig = sig
	return b, nil
}

func verifyLost(v canon.Verifier, b Lost) error {
	sig := b.Sig
	b.Sig = nil
	if err := v.Verify(b.Node, signingBytes(domainLost, canon.MustMarshal(b)), sig); err != nil {
		return fmt.Errorf("%w: the record of the loss after entry %d, by %s: %v", ErrBadSignature, b.Kept, b.Node, err)
	}
	return nil
}

// verifySigs checks the signatures a body carries: receipts (both),
// settlements (the creditor's), checkpoints and lost entries (the node's).
func verifySigs(v canon.Verifier, body any) error {
	switch b := body.(type) {
	case openedReceipt:
		return verifyReceipt(v, b)
	case openedSettle:
		return verifySettle(v, b)
	case Checkpoint:
		return verifyCheckpoint(v, b)
	case Lost:
		return verifyLost(v, b)
	}
	return nil
}

// PaymentRail is where a real payment system plugs in; the ledger builds
// none. The debtor's node pays through it and hands the reference to the
// creditor; the creditor, once it sees the money, signs a Settle carrying
// that reference (SignSettle) and both nodes append it. Until a rail
// exists, payment happens outside hayek and the creditor's signed Settle
// is the only record of it.
type PaymentRail interface {
	// Pay sends amount (smallest unit) to the peer named to and returns the
	// rail's own reference for the payment.
	Pay(ctx context.Context, to string, amount int64) (reference string, err error)
}

// OpenReceiptBy decodes a countersigned receipt and verifies only the
// signature of party, which must be its requester or its provider. A
// reputation report about party, signed by the other party, needs nothing
// more: the report's own signature vouches for the reporter's side, and one
// Ed25519 check per report is what gossiped evidence can afford.
func OpenReceiptBy(v canon.Verifier, sr SignedReceipt, party string) (Receipt, error) {
	o, err := openReceiptBody(sr)
	if err != nil {
		return Receipt{}, err
	}
	if err := checkBody(o); err != nil {
		return Receipt{}, err
	}
	switch party {
	case o.r.Requester:
		if err := v.Verify(o.r.Requester, signingBytes(domainReceipt, o.signed.Body), o.signed.RequesterSig); err != nil {
			return Receipt{}, fmt.Errorf("%w: receipt for job %s: requester %s's signature: %v", ErrBadSignature, o.r.Job, o.r.Requester, err)
		}
	case o.r.Provider:
		if err := v.Verify(o.r.Provider, signingBytes(domainCounter, counterBody(o.signed)), o.signed.ProviderSig); err != nil {
			return Receipt{}, fmt.Errorf("%w: receipt for job %s: provider %s's countersignature: %v", ErrBadSignature, o.r.Job, o.r.Provider, err)
		}
	default:
		return Receipt{}, fmt.Errorf("%w: %s is neither party of the receipt for job %s", ErrNotParty, party, o.r.Job)
	}
	return o.r, nil
}
