// Package wiretest holds what the services' tests share: identities made
// from a seed, so that every test names the same peers run after run, and
// a mocknet of linked peers.
package wiretest

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/hayek-market/hayek/node/internal/wire"
)

// Identity is the key and signer made from seed: the same peer every run.
func Identity(tb testing.TB, seed byte) (crypto.PrivKey, *wire.Signer) {
	tb.Helper()
	key, err := crypto.UnmarshalEd25519PrivateKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32)))
	if err != nil {
		tb.Fatal(err)
	}
	sg, err := wire.NewSigner(key, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return key, sg
}

// Peers are linked hosts of a mocknet, one per seed, with their signers;
// the mocknet closes with the test.
func Peers(tb testing.TB, seeds ...byte) (mocknet.Mocknet, []host.Host, []*wire.Signer) {
	tb.Helper()
	mn := mocknet.New()
	tb.Cleanup(func() { mn.Close() })
	var hs []host.Host
	var sgs []*wire.Signer
	for i, seed := range seeds {
		key, sg := Identity(tb, seed)
		h, err := mn.AddPeer(key, ma.StringCast(fmt.Sprintf("/ip4/10.0.0.%d/tcp/4001", i+1)))
		if err != nil {
			tb.Fatal(err)
		}
		hs, sgs = append(hs, h), append(sgs, sg)
	}
	if err := mn.LinkAll(); err != nil {
		tb.Fatal(err)
	}
	return mn, hs, sgs
}
