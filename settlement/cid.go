package settlement

import (
	"crypto/sha256"
	"encoding/base32"
)

// docCID is canon.DocCID(b).String() without the general machinery: a
// CIDv1 (cbor 0x51, sha2-256) in multibase base32 ("b" prefix, lower case,
// no padding). Entries are hashed on every append and verified by the
// hundred thousand, so this path is worth keeping short; a test pins it to
// canon.DocCID.
func docCID(b []byte) string {
	var raw [4 + sha256.Size]byte
	raw[0], raw[1], raw[2], raw[3] = 0x01, 0x51, 0x12, 0x20 // v1, cbor, sha2-256, 32 bytes
	sum := sha256.Sum256(b)
	copy(raw[4:], sum[:])
	var out [1 + 58]byte // 36 bytes → 58 base32 characters
	out[0] = 'b'
	cidEncoding.Encode(out[1:], raw[:])
	return string(out[:])
}

var cidEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)
