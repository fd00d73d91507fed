package settlement

import (
	"encoding/binary"
	"fmt"

	"github.com/hayek-market/hayek/internal/canon"
)

// The ledger's pebble keyspace. Entries are the truth; everything under i/
// and x/ is derived from them and rewritten together with them in every
// group commit, so the two never disagree on disk. m/head names the entry
// the indexes reflect.
//
//	m/format               formatVersion
//	m/node                 the node's ID: the only signer of its checkpoints
//	m/head                 headRecord (canonical CBOR)
//	m/headfile             empty: this ledger keeps a head file (HEAD)
//	                       beside the database, so a missing one is a loss
//	e/<seq>                an entry's canonical CBOR: the bytes its CID hashes
//	i/a/<agent>            Account
//	i/h/<job>              HoldState
//	i/o/<job>              empty: the job's hold is open (what Open loads)
//	i/b/<peer>             bilateral balance (canonical CBOR integer)
//	i/s/<id>               seq of the receipt or settlement whose body has CID id
//	x/k/<kind>\x00<seq>    lookup keys, empty values
//	x/j/<n><job><seq>      (n: uvarint length of the name, so that
//	x/p/<n><peer><seq>      no name is a prefix of another's keys)
//	x/a/<n><agent><seq>
//
// <seq> is 8 bytes big-endian, so keys sort by sequence.
const formatVersion = "1"

var (
	keyFormat   = []byte("m/format")
	keyNode     = []byte("m/node")
	keyHead     = []byte("m/head")
	keyHeadFile = []byte("m/headfile")
	prefEntry   = []byte("e/")
	prefAgent   = []byte("i/a/")
	prefHold    = []byte("i/h/")
	prefOpen    = []byte("i/o/")
	prefBalance = []byte("i/b/")
	prefSeen    = []byte("i/s/")
	prefIndex   = []byte("i/")
	prefLookup  = []byte("x/")
	prefKind    = []byte("x/k/")
	prefJob     = []byte("x/j/")
	prefPeer    = []byte("x/p/")
	prefByAgent = []byte("x/a/")
)

// headRecord is m/head: where the indexes stand.
type headRecord struct {
	Seq            uint64 `cbor:"seq"`
	Head           string `cbor:"head"`
	Time           int64  `cbor:"time"`
	LastCheckpoint uint64 `cbor:"last_checkpoint"`
	Totals         Totals `cbor:"totals"`
}

func (s *state) headRecord() headRecord {
	return headRecord{Seq: s.seq, Head: s.head, Time: s.time, LastCheckpoint: s.lastCheckpoint, Totals: s.totals}
}

func entryKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append(make([]byte, 0, 10), prefEntry...), seq)
}

func seqOfEntryKey(k []byte) (uint64, bool) {
	if len(k) != len(prefEntry)+8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[len(prefEntry):]), true
}

func nameKey(prefix []byte, name string) []byte {
	return append(append(make([]byte, 0, len(prefix)+len(name)), prefix...), name...)
}

// upperBound is the smallest key greater than every key with prefix p.
func upperBound(p []byte) []byte {
	out := append([]byte(nil), p...)
	for i := len(out) - 1; i >= 0; i-- {
		if out[i] < 0xff {
			out[i]++
			return out[:i+1]
		}
	}
	return nil
}

// lookupPrefix is the prefix of the lookup keys under name in an x/j, x/p
// or x/a family, or of kind's in x/k.
func lookupPrefix(family []byte, name string) []byte {
	k := append(make([]byte, 0, len(family)+binary.MaxVarintLen64+len(name)), family...)
	if family[2] == 'k' {
		return append(append(k, name...), 0)
	}
	k = binary.AppendUvarint(k, uint64(len(name)))
	return append(k, name...)
}

// lookupKeys calls fn with each lookup key of p (buf is reused: fn must
// copy what it keeps).
func lookupKeys(p *prepared, buf []byte, fn func([]byte)) []byte {
	seq := p.entry.Seq
	one := func(family []byte, name string) {
		buf = binary.BigEndian.AppendUint64(append(buf[:0], lookupPrefix(family, name)...), seq)
		fn(buf)
	}
	one(prefKind, string(p.entry.Kind))
	if p.refs.job != "" {
		one(prefJob, p.refs.job)
	}
	if p.refs.peer != "" {
		one(prefPeer, p.refs.peer)
	}
	if p.refs.agent != "" {
		one(prefByAgent, p.refs.agent)
	}
	return buf
}

func encodeSeq(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func decodeSeq(v []byte) (uint64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("settlement: sequence value of %d bytes", len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

func encodeBalance(v int64) []byte { return canon.MustMarshal(v) }

func decodeBalance(b []byte) (int64, error) {
	var v int64
	err := canon.Unmarshal(b, &v)
	return v, err
}
