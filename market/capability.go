package market

import (
	"fmt"
	"strings"

	"github.com/ipfs/go-cid"

	"github.com/hayek-market/hayek/internal/canon"
)

// Capability is a key naming something a provider sells, such as
// "runtime/wasm" or "gpu/nvidia/h100": lower-case segments of [a-z0-9._-]
// joined by '/'.
type Capability string

// RuntimeWasm is the capability of running WASI preview 1 modules.
const RuntimeWasm Capability = "runtime/wasm"

// Validate checks the key's syntax.
func (c Capability) Validate() error {
	s := string(c)
	if s == "" {
		return fmt.Errorf("market: empty capability; want e.g. %q", RuntimeWasm)
	}
	if len(s) > 128 {
		return fmt.Errorf("market: capability %.20q… is longer than 128 bytes", s)
	}
	segs := strings.Split(s, "/")
	if len(segs) < 2 || len(segs) > 6 {
		return fmt.Errorf("market: capability %q must have 2 to 6 segments separated by '/', e.g. %q", s, RuntimeWasm)
	}
	for _, seg := range segs {
		if seg == "" {
			return fmt.Errorf("market: capability %q has an empty segment", s)
		}
		for _, r := range seg {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
				return fmt.Errorf("market: capability %q has %q; segments use only a-z 0-9 . _ -", s, r)
			}
		}
	}
	return nil
}

// CID is the DHT key under which providers of c are recorded: CIDv1, raw,
// sha2-256 of "hayek/v1/" + key.
func (c Capability) CID() cid.Cid { return canon.BlobCID([]byte("hayek/v1/" + string(c))) }

// Topic is the gossipsub topic on which calls for bids for c are published.
func (c Capability) Topic() string { return "/hayek/auction/1/" + string(c) }
