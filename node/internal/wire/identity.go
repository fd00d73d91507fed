package wire

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hayek-market/hayek/internal/canon"
)

// Signer signs with the node's libp2p key. What it signs is remembered
// as verified by its verifier: the node checks its own messages on the way
// back (a published call, a receipt in its ledger) and need not pay for it.
type Signer struct {
	id   string
	key  crypto.PrivKey
	seen *Verifier
}

// NewSigner signs with key. Signatures are remembered by seen, if not nil.
func NewSigner(key crypto.PrivKey, seen *Verifier) (*Signer, error) {
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &Signer{id: id.String(), key: key, seen: seen}, nil
}

// ID is the signer's peer ID.
func (s *Signer) ID() string { return s.id }

// Sign signs msg.
func (s *Signer) Sign(msg []byte) ([]byte, error) {
	sig, err := s.key.Sign(msg)
	if err == nil && s.seen != nil {
		s.seen.remember(verifiedKey(s.id, msg, sig))
	}
	return sig, err
}

// Verifier checks signatures against the public key embedded in Ed25519
// peer IDs, caching extracted keys and recent successful verifications: a
// receipt is checked by the protocol, then by the ledger, then again in an
// attestation, and one check is enough.
type Verifier struct {
	mu   sync.Mutex
	keys map[string]crypto.PubKey
	ok   map[[32]byte]struct{}
	ring [][32]byte // insertion order of ok, for eviction
	next int
}

const verifiedCache = 8192

// maxKeys bounds the extracted keys kept: a flood of fresh IDs must not
// grow memory.
const maxKeys = 100_000

// NewVerifier returns a verifier with empty caches.
func NewVerifier() *Verifier {
	return &Verifier{keys: map[string]crypto.PubKey{}, ok: map[[32]byte]struct{}{}, ring: make([][32]byte, verifiedCache)}
}

func verifiedKey(id string, msg, sig []byte) [32]byte {
	h := sha256.New()
	var n [8]byte
	for _, part := range [][]byte{[]byte(id), msg, sig} {
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
	var key [32]byte
	h.Sum(key[:0])
	return key
}

func (v *Verifier) remember(key [32]byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.ok[key]; ok {
		return
	}
	if old := v.ring[v.next]; old != ([32]byte{}) {
		delete(v.ok, old)
	}
	v.ring[v.next] = key
	v.ok[key] = struct{}{}
	v.next = (v.next + 1) % len(v.ring)
}

// Verify checks sig over msg by the peer named id.
func (v *Verifier) Verify(id string, msg, sig []byte) error {
	key := verifiedKey(id, msg, sig)
	v.mu.Lock()
	_, seen := v.ok[key]
	pk, ok := v.keys[id]
	v.mu.Unlock()
	if seen {
		return nil
	}
	if err := v.verify(id, pk, ok, msg, sig); err != nil {
		return err
	}
	v.remember(key)
	return nil
}

func (v *Verifier) verify(id string, pk crypto.PubKey, ok bool, msg, sig []byte) error {
	if !ok {
		pid, err := peer.Decode(id)
		if err != nil {
			return fmt.Errorf("not a peer ID: %w", err)
		}
		pk, err = pid.ExtractPublicKey()
		if err != nil {
			return fmt.Errorf("peer ID %s does not embed its key: %w", id, err)
		}
		v.mu.Lock()
		if len(v.keys) > maxKeys {
			clear(v.keys)
		}
		v.keys[id] = pk
		v.mu.Unlock()
	}
	ok, err := pk.Verify(msg, sig)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("signature does not verify")
	}
	return nil
}

var (
	_ canon.Signer   = (*Signer)(nil)
	_ canon.Verifier = (*Verifier)(nil)
)

// DecodePeer parses a peer ID.
func DecodePeer(s string) (peer.ID, error) {
	id, err := peer.Decode(s)
	if err != nil {
		return "", fmt.Errorf("node: %q is not a peer ID: %w", s, err)
	}
	return id, nil
}

// ShortID is the tail of a peer ID, for logs and messages.
func ShortID(id string) string {
	if len(id) > 10 {
		return id[len(id)-6:]
	}
	return id
}
