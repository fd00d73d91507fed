// Package canontest provides in-memory Ed25519 identities for tests of
// packages that sign and verify messages without libp2p (market,
// settlement, reputation). IDs are short readable names, so test traces
// stay legible; real nodes use libp2p peer IDs.
package canontest

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"

	"github.com/hayek-market/hayek/internal/canon"
)

// Keyring holds named test identities; its keys are derived from the names,
// so traces are reproducible.
type Keyring struct {
	mu   sync.Mutex
	keys map[string]ed25519.PrivateKey
}

// NewKeyring returns an empty keyring.
func NewKeyring() *Keyring { return &Keyring{keys: map[string]ed25519.PrivateKey{}} }

// Signer returns the signer named id, creating its key on first use.
func (k *Keyring) Signer(id string) canon.Signer {
	k.mu.Lock()
	defer k.mu.Unlock()
	key, ok := k.keys[id]
	if !ok {
		seed := sha256.Sum256([]byte("canontest/" + id))
		key = ed25519.NewKeyFromSeed(seed[:])
		k.keys[id] = key
	}
	return signer{id: id, key: key}
}

// Verify implements canon.Verifier for identities created by Signer.
func (k *Keyring) Verify(id string, msg, sig []byte) error {
	k.mu.Lock()
	key, ok := k.keys[id]
	k.mu.Unlock()
	if !ok {
		return fmt.Errorf("canontest: unknown identity %q", id)
	}
	if !ed25519.Verify(key.Public().(ed25519.PublicKey), msg, sig) {
		return errors.New("canontest: signature does not verify")
	}
	return nil
}

type signer struct {
	id  string
	key ed25519.PrivateKey
}

func (s signer) ID() string                      { return s.id }
func (s signer) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(s.key, msg), nil }
