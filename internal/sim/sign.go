package sim

import (
	"bytes"
	"crypto/sha256"
	"errors"

	"github.com/hayek-market/hayek/internal/canon"
)

// keys signs and verifies for simulated peers. A signature is SHA-256 of
// the signer's ID and the message: cheap (the simulator signs hundreds of
// thousands of messages), deterministic, and checked by the same
// canon.Envelope.Open and settlement code paths a node uses. It proves
// nothing cryptographically, which a simulation of one process does not
// need: no simulated peer forges another's messages.
type keys struct{}

type signer string

func (s signer) ID() string { return string(s) }

func (s signer) Sign(msg []byte) ([]byte, error) { return sig(string(s), msg), nil }

func sig(id string, msg []byte) []byte {
	h := sha256.New()
	h.Write([]byte(id))
	h.Write([]byte{0})
	h.Write(msg)
	return h.Sum(nil)[:16]
}

var errBadSig = errors.New("sim: bad signature")

// Verify implements canon.Verifier.
func (keys) Verify(id string, msg, s []byte) error {
	if !bytes.Equal(sig(id, msg), s) {
		return errBadSig
	}
	return nil
}

var (
	_ canon.Signer   = signer("")
	_ canon.Verifier = keys{}
)
