package node

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sync"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hayek-market/hayek/internal/canon"
)

// IdentityFile is the name of the node's key in its home.
const IdentityFile = "identity.key"

// LoadOrCreateIdentity reads the Ed25519 key at <home>/identity.key,
// creating it (mode 0600, in a 0700 home) when absent. It never overwrites
// an existing key, and refuses a key file others can read.
func LoadOrCreateIdentity(home string) (crypto.PrivKey, bool, error) {
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, false, fmt.Errorf("node: create home %s: %w", home, err)
	}
	path := filepath.Join(home, IdentityFile)
	key, err := LoadIdentity(path)
	if err == nil {
		return key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("node: generate identity: %w", err)
	}
	b, err := crypto.MarshalPrivateKey(priv)
	if err != nil {
		return nil, false, fmt.Errorf("node: encode identity: %w", err)
	}
	// O_EXCL: a key that appeared meanwhile is never overwritten.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("node: create identity %s: %w", path, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("node: write identity %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("node: sync identity %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, false, fmt.Errorf("node: close identity %s: %w", path, err)
	}
	return priv, true, nil
}

// LoadIdentity reads an existing key file.
func LoadIdentity(path string) (crypto.PrivKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("node: identity: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("node: identity %s is accessible by other users (mode %04o); run: chmod 600 %s", path, st.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("node: read identity: %w", err)
	}
	key, err := crypto.UnmarshalPrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("node: identity %s is not a libp2p private key: %w", path, err)
	}
	if key.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("node: identity %s is a %v key; hayek uses Ed25519", path, key.Type())
	}
	return key, nil
}

// signer signs with the node's libp2p key. What it signs is remembered
// as verified by its verifier: the node checks its own messages on the way
// back (a published call, a receipt in its ledger) and need not pay for it.
type signer struct {
	id   string
	key  crypto.PrivKey
	seen *verifier
}

func newSigner(key crypto.PrivKey) (*signer, error) {
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &signer{id: id.String(), key: key}, nil
}

func (s *signer) ID() string { return s.id }
func (s *signer) Sign(msg []byte) ([]byte, error) {
	sig, err := s.key.Sign(msg)
	if err == nil && s.seen != nil {
		s.seen.remember(verifiedKey(s.id, msg, sig))
	}
	return sig, err
}

// verifier checks signatures against the public key embedded in Ed25519
// peer IDs, caching extracted keys and recent successful verifications: a
// receipt is checked by the protocol, then by the ledger, then again in an
// attestation, and one check is enough.
type verifier struct {
	mu   sync.Mutex
	keys map[string]crypto.PubKey
	ok   map[[32]byte]struct{}
	ring [][32]byte // insertion order of ok, for eviction
	next int
}

const verifiedCache = 8192

func newVerifier() *verifier {
	return &verifier{keys: map[string]crypto.PubKey{}, ok: map[[32]byte]struct{}{}, ring: make([][32]byte, verifiedCache)}
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

func (v *verifier) remember(key [32]byte) {
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

func (v *verifier) Verify(id string, msg, sig []byte) error {
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

func (v *verifier) verify(id string, pk crypto.PubKey, ok bool, msg, sig []byte) error {
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
		if len(v.keys) > 100_000 { // bounded: a flood of fresh IDs must not grow memory
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
	_ canon.Signer   = (*signer)(nil)
	_ canon.Verifier = (*verifier)(nil)
)

func parsePrefix(s string) (netip.Prefix, error) { return netip.ParsePrefix(s) }
