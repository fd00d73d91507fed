package canon

import (
	"errors"
	"fmt"
)

// Signer signs with a peer's identity key. ID is the signer's peer ID in its
// canonical string form.
type Signer interface {
	ID() string
	Sign(msg []byte) ([]byte, error)
}

// Verifier checks a signature by the peer named id.
type Verifier interface {
	Verify(id string, msg, sig []byte) error
}

// Message is a signable document that names its sender.
type Message interface {
	Sender() string
}

// Envelope is the signed form every peer message travels in. Body is the
// canonical CBOR of the message; Sig is the sender's signature over
// Domain(Kind) followed by Body, so a signature for one kind of message can
// never pass as another.
type Envelope struct {
	Kind string `cbor:"k"`
	Body []byte `cbor:"b"`
	Sig  []byte `cbor:"s"`
}

// Errors reported by Open. Callers count drops by these.
var (
	ErrWrongKind    = errors.New("canon: wrong message kind")
	ErrBadSignature = errors.New("canon: bad signature")
)

// Domain is the domain-separation prefix for a message kind.
func Domain(kind string) string { return "hayek/" + kind + "/v1" }

func signingBytes(kind string, body []byte) []byte {
	d := Domain(kind)
	out := make([]byte, 0, len(d)+len(body))
	out = append(out, d...)
	return append(out, body...)
}

// Seal encodes m canonically and signs it as kind.
func Seal(s Signer, kind string, m Message) (Envelope, error) {
	if m.Sender() != s.ID() {
		return Envelope{}, fmt.Errorf("canon: sealing %s from %s with the key of %s", kind, m.Sender(), s.ID())
	}
	body, err := Marshal(m)
	if err != nil {
		return Envelope{}, err
	}
	sig, err := s.Sign(signingBytes(kind, body))
	if err != nil {
		return Envelope{}, fmt.Errorf("canon: sign %s: %w", kind, err)
	}
	return Envelope{Kind: kind, Body: body, Sig: sig}, nil
}

// Encode is the canonical encoding of the envelope itself.
func (e Envelope) Encode() []byte { return MustMarshal(e) }

// CID is the content identifier of the signed envelope.
func (e Envelope) CID() string { return DocCID(e.Encode()).String() }

// DecodeEnvelope strictly decodes an envelope from the wire.
func DecodeEnvelope(data []byte) (Envelope, error) {
	var e Envelope
	if err := Unmarshal(data, &e); err != nil {
		return Envelope{}, err
	}
	return e, nil
}

// Open checks that e is of the wanted kind, decodes its body strictly into
// m, and verifies the signature against the sender m names.
func (e Envelope) Open(v Verifier, kind string, m Message) error {
	if e.Kind != kind {
		return fmt.Errorf("%w: got %q, want %q", ErrWrongKind, e.Kind, kind)
	}
	if err := Unmarshal(e.Body, m); err != nil {
		return err
	}
	if m.Sender() == "" {
		return fmt.Errorf("canon: %s names no sender", kind)
	}
	if err := v.Verify(m.Sender(), signingBytes(kind, e.Body), e.Sig); err != nil {
		return fmt.Errorf("%w: %s from %s: %v", ErrBadSignature, kind, m.Sender(), err)
	}
	return nil
}

// CIDOrEmpty is the envelope's CID, or "" for the zero envelope.
func (e Envelope) CIDOrEmpty() string {
	if e.Kind == "" {
		return ""
	}
	return e.CID()
}
