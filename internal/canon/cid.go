package canon

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"io"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// Multicodec codes used by hayek.
const (
	CodecRaw  = 0x55 // blobs: modules, inputs, outputs
	CodecCBOR = 0x51 // canonical CBOR documents
)

// BlobCID is the CIDv1 (raw, sha2-256) of data.
func BlobCID(data []byte) cid.Cid {
	sum := sha256.Sum256(data)
	return cidFromDigest(CodecRaw, sum[:])
}

// DocCID is the CIDv1 (cbor, sha2-256) of an already-encoded document.
func DocCID(encoded []byte) cid.Cid {
	sum := sha256.Sum256(encoded)
	return cidFromDigest(CodecCBOR, sum[:])
}

func cidFromDigest(codec uint64, digest []byte) cid.Cid {
	h, err := mh.Encode(digest, mh.SHA2_256)
	if err != nil {
		panic(err) // only fails for unknown codes or wrong lengths
	}
	return cid.NewCidV1(codec, h)
}

// BlobHasher computes a blob CID incrementally, for streamed uploads.
type BlobHasher struct {
	h hash.Hash
	n int64
}

// NewBlobHasher returns a hasher for a raw blob CID.
func NewBlobHasher() *BlobHasher { return &BlobHasher{h: sha256.New()} }

// Write implements io.Writer.
func (b *BlobHasher) Write(p []byte) (int, error) {
	b.n += int64(len(p))
	return b.h.Write(p)
}

// Size is the number of bytes written so far.
func (b *BlobHasher) Size() int64 { return b.n }

// CID is the CID of everything written so far.
func (b *BlobHasher) CID() cid.Cid { return cidFromDigest(CodecRaw, b.h.Sum(nil)) }

var _ io.Writer = (*BlobHasher)(nil)

// ParseBlobCID parses s and checks that it names a raw sha2-256 blob, the only
// kind hayek stores and serves.
func ParseBlobCID(s string) (cid.Cid, error) {
	c, err := cid.Decode(s)
	if err != nil {
		return cid.Undef, fmt.Errorf("canon: %q is not a CID: %w", s, err)
	}
	if err := CheckBlobCID(c); err != nil {
		return cid.Undef, err
	}
	return c, nil
}

// CheckBlobCID checks that c is a CIDv1 raw sha2-256 CID.
func CheckBlobCID(c cid.Cid) error {
	p := c.Prefix()
	if p.Version != 1 || p.Codec != CodecRaw || p.MhType != mh.SHA2_256 || p.MhLength != sha256.Size {
		return fmt.Errorf("canon: CID %s is not a CIDv1 raw sha2-256 blob CID", c)
	}
	return nil
}
