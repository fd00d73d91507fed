package node

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/audit"
	"github.com/hayek-market/hayek/node/internal/ledgerview"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/settlement"
)

// What the CLI needs of a node's identity and storage without running a
// node: cmd reaches libp2p and pebble only through these.

// NewVerifier checks hayek signatures against the Ed25519 key every peer
// ID embeds, so an export verifies with no node and no key store. It is the
// node's own verifier, with its bounds on what it caches.
func NewVerifier() canon.Verifier { return wire.NewVerifier() }

// VerifyAudit checks an audit bundle offline, against the signatures it
// carries (node/internal/audit), with the node's own verifier.
func VerifyAudit(a api.Audit) api.AuditReport { return audit.Verify(NewVerifier(), a) }

// LedgerLosses shows the losses a ledger or its export declared as the
// node's API does (node/internal/ledgerview), for an export checked
// offline.
func LedgerLosses(ls []settlement.LostRange) []api.LedgerLoss { return ledgerview.Losses(ls) }

// NewSigner signs as the peer whose identity key is key.
func NewSigner(key crypto.PrivKey) (canon.Signer, error) {
	s, err := wire.NewSigner(key, nil)
	if err != nil {
		return nil, fmt.Errorf("node: identity: %w", err)
	}
	return s, nil
}

// NewIdentity generates a fresh Ed25519 identity key, kept nowhere (tests
// and tools; a node's own key is LoadOrCreateIdentity's).
func NewIdentity() (crypto.PrivKey, error) {
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("node: generate identity: %w", err)
	}
	return key, nil
}

// SeededIdentity derives an Ed25519 identity from a 32-byte seed: the
// private key marshalled as identity.key holds it, and its peer ID. For
// testnets whose peer IDs must follow from a manifest's seed; never for a
// node on a real network (anyone who knows the seed has the key).
func SeededIdentity(seed [32]byte) ([]byte, string, error) {
	priv, err := crypto.UnmarshalEd25519PrivateKey(ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		return nil, "", fmt.Errorf("node: seeded identity: %w", err)
	}
	b, err := crypto.MarshalPrivateKey(priv)
	if err != nil {
		return nil, "", fmt.Errorf("node: seeded identity: %w", err)
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		return nil, "", fmt.Errorf("node: seeded identity: %w", err)
	}
	return b, id.String(), nil
}

// PeerIDOf is the peer ID of an identity key, in its canonical form.
func PeerIDOf(key crypto.PrivKey) (string, error) {
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("node: identity: %w", err)
	}
	return id.String(), nil
}

// ParsePeerID checks that s is a peer ID and returns its canonical form.
func ParsePeerID(s string) (string, error) {
	id, err := wire.DecodePeer(s)
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

// SyncedAppendFloor times n raw synced pebble batches of a ledger entry's
// size in a fresh database under dir: the least each synced ledger append
// costs on this disk (the bench's floor).
func SyncedAppendFloor(dir string, n int) ([]time.Duration, error) {
	db, err := pebble.Open(filepath.Join(dir, "append-floor"), &pebble.Options{})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	val := make([]byte, 256)
	var ds []time.Duration
	for i := 0; i < n; i++ {
		b := db.NewBatch()
		b.Set([]byte(fmt.Sprintf("e/%08d", i)), val, nil)
		t0 := time.Now()
		if err := b.Commit(pebble.Sync); err != nil {
			return nil, err
		}
		ds = append(ds, time.Since(t0))
		b.Close()
	}
	return ds, nil
}
