package settlement

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"
)

// Filter selects entries; empty fields match everything. An entry is
// under a Job if it holds, releases, pays (receipt), rates (outcome) or
// governs that job; under a Peer if it is a receipt or settlement with that
// peer or an outcome about it; under an Agent if it funds, holds, releases
// for, pays out of (receipt as requester) or governs that agent.
type Filter struct {
	Kind  Kind
	Job   string
	Peer  string
	Agent string
	After uint64 // only entries with Seq > After: page with the last Seq seen
	Limit int    // at most this many; 0 or less: no limit
}

// Entries lists the entries matching f in sequence order, from a
// consistent snapshot. It walks the most selective lookup index (job,
// peer, agent, kind) and checks the other conditions per entry.
func (l *Ledger) Entries(ctx context.Context, f Filter) ([]Entry, error) {
	if err := l.open(); err != nil {
		return nil, err
	}
	defer l.life.RUnlock()
	snap := l.db.NewSnapshot()
	defer snap.Close()

	type cond struct {
		family []byte
		name   string
	}
	var conds []cond
	if f.Job != "" {
		conds = append(conds, cond{prefJob, f.Job})
	}
	if f.Peer != "" {
		conds = append(conds, cond{prefPeer, f.Peer})
	}
	if f.Agent != "" {
		conds = append(conds, cond{prefByAgent, f.Agent})
	}
	if f.Kind != "" {
		conds = append(conds, cond{prefKind, string(f.Kind)})
	}

	var (
		out []Entry
		n   int
	)
	// take fetches entry seq, checks the remaining conditions, and says
	// whether to go on.
	take := func(seq uint64, rest []cond) (bool, error) {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return false, fmt.Errorf("settlement: list entries: %w", err)
			}
		}
		for _, c := range rest {
			k := binary.BigEndian.AppendUint64(lookupPrefix(c.family, c.name), seq)
			ok, err := has(snap, k)
			if err != nil || !ok {
				return err == nil, err
			}
		}
		v, closer, err := snap.Get(entryKey(seq))
		if err != nil {
			if errors.Is(err, pebble.ErrNotFound) {
				return false, corruptf(seq, nil, "an index names entry %d, which is missing", seq)
			}
			return false, fmt.Errorf("settlement: read entry %d: %w", seq, err)
		}
		e, err := decodeEntry(bytes.Clone(v))
		_ = closer.Close()
		if err != nil {
			return false, corruptf(seq, err, "entry %d does not decode", seq)
		}
		out = append(out, e)
		return f.Limit <= 0 || len(out) < f.Limit, nil
	}

	if len(conds) == 0 {
		it, err := snap.NewIter(&pebble.IterOptions{LowerBound: entryKey(f.After + 1), UpperBound: upperBound(prefEntry)})
		if err != nil {
			return nil, fmt.Errorf("settlement: list entries: %w", err)
		}
		defer it.Close()
		for ok := it.First(); ok; ok = it.Next() {
			seq, _ := seqOfEntryKey(it.Key())
			more, err := take(seq, nil)
			if err != nil {
				return nil, err
			}
			if !more {
				break
			}
		}
		return out, it.Error()
	}
	prefix := lookupPrefix(conds[0].family, conds[0].name)
	it, err := snap.NewIter(&pebble.IterOptions{
		LowerBound: binary.BigEndian.AppendUint64(append([]byte(nil), prefix...), f.After+1),
		UpperBound: upperBound(prefix),
	})
	if err != nil {
		return nil, fmt.Errorf("settlement: list entries: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != len(prefix)+8 {
			continue // another name that extends this one's bytes cannot occur, but be safe
		}
		more, err := take(binary.BigEndian.Uint64(k[len(prefix):]), conds[1:])
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
	}
	return out, it.Error()
}

func has(r *pebble.Snapshot, k []byte) (bool, error) {
	_, closer, err := r.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("settlement: read index: %w", err)
	}
	return true, closer.Close()
}
