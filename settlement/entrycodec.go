package settlement

import (
	"encoding/binary"
	"errors"
	"unicode/utf8"
)

// Entries are encoded on every append and decoded by the hundred thousand
// in every verification, so the ledger encodes and decodes the five-field
// Entry map by hand. The bytes are exactly canon.Marshal's (RFC 8949 core
// deterministic: keys in bytewise order of their encodings, shortest
// heads), and decodeEntry accepts exactly what canon.Unmarshal accepts for
// an Entry whose Body is not null; tests pin both to canon on random
// entries and on mutations of them.

var (
	keySeqEnc  = []byte{0x63, 's', 'e', 'q'}
	keyBodyEnc = []byte{0x64, 'b', 'o', 'd', 'y'}
	keyKindEnc = []byte{0x64, 'k', 'i', 'n', 'd'}
	keyPrevEnc = []byte{0x64, 'p', 'r', 'e', 'v'}
	keyTimeEnc = []byte{0x64, 't', 'i', 'm', 'e'}
)

func appendHead(b []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(b, m|byte(n))
	case n <= 0xff:
		return append(b, m|24, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(n))
	case n <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, m|27), n)
}

// encodeEntry is canon.MustMarshal(e).
func encodeEntry(e Entry) []byte {
	b := make([]byte, 0, 40+len(e.Prev)+len(e.Kind)+len(e.Body)+12)
	b = append(b, 0xa5)
	b = appendHead(append(b, keySeqEnc...), 0, e.Seq)
	b = append(b, keyBodyEnc...)
	if e.Body == nil {
		b = append(b, 0xf6)
	} else {
		b = append(appendHead(b, 2, uint64(len(e.Body))), e.Body...)
	}
	b = append(appendHead(append(b, keyKindEnc...), 3, uint64(len(e.Kind))), e.Kind...)
	b = append(appendHead(append(b, keyPrevEnc...), 3, uint64(len(e.Prev))), e.Prev...)
	b = append(b, keyTimeEnc...)
	if e.Time >= 0 {
		b = appendHead(b, 0, uint64(e.Time))
	} else {
		b = appendHead(b, 1, uint64(-1-e.Time))
	}
	return b
}

var errEntryEncoding = errors.New("not the canonical encoding of an entry")

// entryDecoder reads one canonical Entry; any deviation is an error.
type entryDecoder struct {
	b   []byte
	err bool
}

func (d *entryDecoder) lit(p []byte) {
	if d.err || len(d.b) < len(p) || string(d.b[:len(p)]) != string(p) {
		d.err = true
		return
	}
	d.b = d.b[len(p):]
}

// head reads a head of the given major type in its shortest form.
func (d *entryDecoder) head(major byte) uint64 {
	if d.err || len(d.b) == 0 || d.b[0]>>5 != major {
		d.err = true
		return 0
	}
	info := d.b[0] & 0x1f
	var n, least uint64 // least: the smallest value that needs this size
	var size int
	switch {
	case info < 24:
		d.b = d.b[1:]
		return uint64(info)
	case info == 24:
		size, least = 1, 24
	case info == 25:
		size, least = 2, 1<<8
	case info == 26:
		size, least = 4, 1<<16
	case info == 27:
		size, least = 8, 1<<32
	default:
		d.err = true
		return 0
	}
	if len(d.b) < 1+size {
		d.err = true
		return 0
	}
	for _, c := range d.b[1 : 1+size] {
		n = n<<8 | uint64(c)
	}
	if n < least { // not the shortest form

		d.err = true
		return 0
	}
	d.b = d.b[1+size:]
	return n
}

func (d *entryDecoder) bytes(major byte) []byte {
	n := d.head(major)
	if d.err || uint64(len(d.b)) < n {
		d.err = true
		return nil
	}
	out := d.b[:n:n]
	d.b = d.b[n:]
	return out
}

func (d *entryDecoder) text() string {
	t := d.bytes(3)
	if !d.err && !utf8.Valid(t) {
		d.err = true
	}
	return string(t)
}

// decodeEntry decodes a canonically encoded entry. Body aliases b.
func decodeEntry(b []byte) (Entry, error) {
	d := entryDecoder{b: b}
	var e Entry
	d.lit([]byte{0xa5})
	d.lit(keySeqEnc)
	e.Seq = d.head(0)
	d.lit(keyBodyEnc)
	e.Body = d.bytes(2)
	d.lit(keyKindEnc)
	e.Kind = Kind(d.text())
	d.lit(keyPrevEnc)
	e.Prev = d.text()
	d.lit(keyTimeEnc)
	if !d.err && len(d.b) > 0 && d.b[0]>>5 == 1 {
		n := d.head(1)
		if n > 1<<63-1 {
			d.err = true
		}
		e.Time = -1 - int64(n)
	} else {
		n := d.head(0)
		if n > 1<<63-1 {
			d.err = true
		}
		e.Time = int64(n)
	}
	if d.err || len(d.b) != 0 {
		return Entry{}, errEntryEncoding
	}
	return e, nil
}
