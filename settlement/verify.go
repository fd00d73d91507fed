package settlement

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"runtime"
	"sync"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/hayek-market/hayek/internal/canon"
)

// Report says what a verification covered.
type Report struct {
	Node        string        // whose ledger: the signer of its checkpoints
	Seq         uint64        // the last entry verified
	Head        string        // its CID
	Entries     uint64        // entries verified (links, bodies, rules)
	Checkpoints uint64        // checkpoints whose head and signature verified
	Unsealed    uint64        // entries after the last checkpoint: not signed by the node
	Receipts    uint64        // deep: receipts whose two signatures verified
	Settles     uint64        // deep: settlements whose creditor signature verified
	Deep        bool          // receipts' and settlements' signatures were checked
	Indexes     bool          // the stored indexes were recomputed and matched
	Totals      Totals        // the money, recounted from the chain
	Lost        []LostRange   // every loss the ledger declared (lost entries), in order
	Trailer     bool          // exports: it ended with its node's signed trailer, naming its last entry
	Exported    int64         // exports: when, by the trailer, Unix ms
	Duration    time.Duration // wall time
}

// LostRange is one loss a ledger declared: a lost entry and what it says.
type LostRange struct {
	Seq       uint64 // the lost entry
	Reason    string // LostBehind, LostDiverged, LostHeadMissing, LostHeadCorrupt
	Kept      uint64 // the last entry that survived
	Want      uint64 // the last acknowledged before the loss (0: unknown)
	WantHead  string
	Reapplied int   // receipts and settlements re-appended from counterparties' exports
	Covered   int64 // funded to pay re-appended receipts whose holds were lost
	Time      int64 // of the lost entry, Unix ms
}

// Missing is how many acknowledged entries were lost at least (0 when it
// cannot be known).
func (r LostRange) Missing() uint64 {
	if r.Want > r.Kept {
		return r.Want - r.Kept
	}
	return 0
}

// Verify checks the whole chain from a consistent snapshot: every entry
// decodes canonically and links to the one before, every body passes the
// rules against the state the entries before it left, every checkpoint
// seals the head before it and carries the node's signature, and the money
// invariants hold, recounted from scratch. It then recomputes every index
// and compares it with the stored one. With deep, it also verifies both
// signatures of every receipt and the creditor's of every settlement.
// Decoding, hashing and signature checks run on all cores.
//
// A failure is a CorruptionError whose Seq is the first entry that cannot
// be trusted (0 for a damaged index: reopen with RebuildIndexes).
func (l *Ledger) Verify(ctx context.Context, deep bool) (Report, error) {
	if err := l.open(); err != nil {
		return Report{}, err
	}
	defer l.life.RUnlock()
	return l.verify(ctx, deep)
}

func (l *Ledger) verify(ctx context.Context, deep bool) (Report, error) {
	start := time.Now()
	snap := l.db.NewSnapshot()
	defer snap.Close()
	var digest lookupDigest
	st, rep, err := replay(ctx, snap, l.self, l.opts.Verifier, deep, func(p *prepared) error {
		digest.addEntry(p)
		return nil
	})
	if err != nil {
		return rep, err
	}
	if err := compareIndexes(snap, st, &digest); err != nil {
		return rep, err
	}
	rep.Indexes = true
	rep.Duration = time.Since(start)
	return rep, nil
}

// replay runs the chain in r (a DB or snapshot) through a fresh state,
// calling each applied entry's prepared form into applied. Checkpoint
// signatures are always verified; receipts' and settlements' with deep.
func replay(ctx context.Context, r reader, self string, v canon.Verifier, deep bool, applied func(*prepared) error) (*state, Report, error) {
	rep := Report{Node: self, Deep: deep}
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: prefEntry, UpperBound: upperBound(prefEntry)})
	if err != nil {
		return nil, rep, fmt.Errorf("settlement: read entries: %w", err)
	}
	defer it.Close()
	valid := it.First()
	next := func(buf []item) ([]item, error) {
		for ; valid && len(buf) < cap(buf); valid = it.Next() {
			seq, ok := seqOfEntryKey(it.Key())
			if !ok {
				return buf, corruptf(0, nil, "malformed entry key %x", it.Key())
			}
			buf = append(buf, item{raw: bytes.Clone(it.Value()), keySeq: seq})
		}
		if !valid {
			if err := it.Error(); err != nil {
				return buf, fmt.Errorf("settlement: read entries: %w", err)
			}
		}
		return buf, nil
	}
	decode := func(x *item) { decodeStored(x, v, deep) }
	st := newState(self, nil)
	c := &checker{st: st, rep: &rep, applied: applied}
	err = pipeline(ctx, next, decode, c.apply)
	if err == nil {
		err = c.finish()
	}
	return st, rep, err
}

// item is one entry travelling through the verification pipeline.
type item struct {
	raw     []byte // stored entry bytes, or an export line
	keySeq  uint64 // the sequence number its key or line position says
	p       *prepared
	trailer *ExportTrailer // an export's trailer line
	err     error
}

// decodeStored turns stored bytes into a prepared entry, verifying
// signatures as asked; errors are CorruptionErrors at the entry.
func decodeStored(x *item, v canon.Verifier, deep bool) {
	e, err := decodeEntry(x.raw)
	if err != nil {
		x.err = corruptf(x.keySeq, err, "entry %d does not decode", x.keySeq)
		return
	}
	if e.Seq != x.keySeq {
		x.err = corruptf(min(e.Seq, x.keySeq), nil, "entry stored as %d says it is %d", x.keySeq, e.Seq)
		return
	}
	x.p, x.err = prepareEntry(e, x.raw, v, deep)
}

// prepareEntry checks e's body and the signatures asked for.
func prepareEntry(e Entry, enc []byte, v canon.Verifier, deep bool) (*prepared, error) {
	body, err := parseBody(e.Kind, e.Body)
	if err != nil {
		return nil, corruptf(e.Seq, err, "entry %d's %s body", e.Seq, e.Kind)
	}
	if v != nil {
		_, isCheckpoint := body.(Checkpoint)
		_, isLost := body.(Lost)
		if deep || isCheckpoint || isLost {
			if err := verifySigs(v, body); err != nil {
				return nil, corruptf(e.Seq, err, "entry %d's %s signature", e.Seq, e.Kind)
			}
		}
	}
	return &prepared{entry: e, enc: enc, cid: docCID(enc), body: body}, nil
}

// checker applies decoded entries in order and counts what it saw.
type checker struct {
	st      *state
	rep     *Report
	applied func(*prepared) error
}

func (c *checker) apply(x *item) error {
	if x.err != nil {
		// An entry that does not decode when one was expected earlier is
		// reported at the expected seq by the state's link check.
		if ce := (*CorruptionError)(nil); errors.As(x.err, &ce) && ce.Seq > c.st.seq+1 {
			return corruptf(c.st.seq+1, nil, "expected entry %d, found entry %d (missing or out of order)", c.st.seq+1, ce.Seq)
		}
		return x.err
	}
	p := x.p
	if err := c.st.apply(p); err != nil {
		if _, ok := CorruptSeq(err); ok {
			return err
		}
		return corruptf(p.entry.Seq, err, "entry %d (%s) breaks the rules", p.entry.Seq, p.entry.Kind)
	}
	c.rep.Entries++
	switch b := p.body.(type) {
	case Checkpoint:
		c.rep.Checkpoints++
	case Lost:
		c.rep.Lost = append(c.rep.Lost, LostRange{Seq: p.entry.Seq, Reason: b.Reason, Kept: b.Kept, Want: b.Want, WantHead: b.WantHead,
			Reapplied: len(b.Reapplied), Covered: b.Covered, Time: p.entry.Time})
	case openedReceipt:
		if c.rep.Deep {
			c.rep.Receipts++
		}
	case openedSettle:
		if c.rep.Deep {
			c.rep.Settles++
		}
	}
	if c.applied != nil {
		return c.applied(p)
	}
	return nil
}

func (c *checker) finish() error {
	c.rep.Seq, c.rep.Head = c.st.seq, c.st.head
	c.rep.Unsealed = c.st.seq - c.st.lastCheckpoint
	c.rep.Totals = c.st.totals
	if err := c.st.recount(); err != nil {
		return corruptf(c.st.seq, err, "recounting the chain")
	}
	return nil
}

// pipeline feeds chunks of items from next through decode on every core
// and hands them to apply in order. It stops at the first error, which is
// the error of the earliest failing item.
func pipeline(ctx context.Context, next func([]item) ([]item, error), decode func(*item), apply func(*item) error) error {
	type chunk struct {
		items []item
		done  chan struct{}
	}
	const chunkSize = 256
	workers := runtime.GOMAXPROCS(0)
	work := make(chan *chunk, workers)
	ordered := make(chan *chunk, 2*workers)
	stop := make(chan struct{})
	var (
		wg     sync.WaitGroup
		srcErr error
	)
	wg.Add(1)
	go func() { // producer
		defer wg.Done()
		defer close(ordered)
		defer close(work)
		for {
			items, err := next(make([]item, 0, chunkSize))
			if len(items) > 0 {
				c := &chunk{items: items, done: make(chan struct{})}
				select {
				case ordered <- c:
				case <-stop:
					return
				}
				select {
				case work <- c:
				case <-stop:
					return
				}
			}
			if err != nil {
				srcErr = err
				return
			}
			if len(items) == 0 {
				return
			}
		}
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				for i := range c.items {
					decode(&c.items[i])
				}
				close(c.done)
			}
		}()
	}
	var err error
	for c := range ordered {
		if err == nil {
			err = ctx.Err()
		}
		if err == nil {
			select {
			case <-c.done:
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		for i := 0; err == nil && i < len(c.items); i++ {
			err = apply(&c.items[i])
		}
		if err != nil {
			break
		}
	}
	close(stop)
	for range ordered { // let the producer finish
	}
	wg.Wait()
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return fmt.Errorf("settlement: verify: %w", err)
		}
		return err
	}
	return srcErr
}

// lookupDigest sums a hash of every lookup key, so the stored x/ keyspace
// can be compared with the one the chain implies in one pass, whatever the
// order.
type lookupDigest struct {
	n   uint64
	sum uint64
	buf []byte
}

func keyHash(k []byte) uint64 {
	h := fnv.New64a()
	_, _ = h.Write(k)
	return h.Sum64()
}

func (d *lookupDigest) addEntry(p *prepared) {
	d.buf = lookupKeys(p, d.buf, func(k []byte) { d.add(k) })
}

func (d *lookupDigest) add(k []byte) {
	d.n++
	d.sum += keyHash(k)
}

// compareIndexes checks the stored indexes in r against st, recomputed
// from the chain.
func compareIndexes(r reader, st *state, want *lookupDigest) error {
	bad := func(format string, args ...any) error {
		return corruptf(0, nil, "index "+format+" (reopen with RebuildIndexes)", args...)
	}
	var hr headRecord
	found := false
	if err := scan(r, keyHead, func(k, v []byte) error {
		if !bytes.Equal(k, keyHead) {
			return nil
		}
		found = true
		return canon.Unmarshal(v, &hr)
	}); err != nil {
		return bad("head record: %v", err)
	}
	if !found && st.seq > 0 {
		return bad("head record is missing")
	}
	if found && hr != st.headRecord() {
		if hr.Seq == st.seq && hr.Head != st.head {
			return corruptf(st.seq, nil, "entry %d is not the entry the indexes were written for", st.seq)
		}
		if hr.Seq > st.seq {
			return corruptf(st.seq+1, nil, "the indexes reflect entry %d, the chain ends at %d: entries are missing", hr.Seq, st.seq)
		}
		return bad("head record %+v, the chain says %+v", hr, st.headRecord())
	}
	// Every stored record must be the recomputed one, and none missing.
	seenAgents, seenHolds, seenBalances, seenIDs, seenOpen := 0, 0, 0, 0, 0
	checks := []struct {
		prefix []byte
		check  func(name string, v []byte) error
	}{
		{prefAgent, func(name string, v []byte) error {
			a, ok := st.agents[name]
			if !ok || !bytes.Equal(v, canon.MustMarshal(a)) {
				return bad("of agent %s differs from the chain", name)
			}
			seenAgents++
			return nil
		}},
		{prefHold, func(name string, v []byte) error {
			h, ok := st.holds[name]
			if !ok || !bytes.Equal(v, canon.MustMarshal(h)) {
				return bad("of the hold of job %s differs from the chain", name)
			}
			seenHolds++
			return nil
		}},
		{prefOpen, func(name string, _ []byte) error {
			if h, ok := st.holds[name]; !ok || h.Closed {
				return bad("lists job %s as open", name)
			}
			seenOpen++
			return nil
		}},
		{prefBalance, func(name string, v []byte) error {
			b, ok := st.balances[name]
			if !ok || !bytes.Equal(v, encodeBalance(b)) {
				return bad("of the balance with %s differs from the chain", name)
			}
			seenBalances++
			return nil
		}},
		{prefSeen, func(name string, v []byte) error {
			seq, ok := st.seen[name]
			if got, err := decodeSeq(v); !ok || err != nil || got != seq {
				return bad("of receipt or settlement %s differs from the chain", name)
			}
			seenIDs++
			return nil
		}},
	}
	for _, c := range checks {
		if err := scan(r, c.prefix, func(k, v []byte) error { return c.check(string(k[len(c.prefix):]), v) }); err != nil {
			return err
		}
	}
	open := 0
	for _, h := range st.holds {
		if !h.Closed {
			open++
		}
	}
	switch {
	case seenAgents != len(st.agents):
		return bad("has %d agents, the chain %d", seenAgents, len(st.agents))
	case seenHolds != len(st.holds):
		return bad("has %d holds, the chain %d", seenHolds, len(st.holds))
	case seenOpen != open:
		return bad("has %d open holds, the chain %d", seenOpen, open)
	case seenBalances != len(st.balances):
		return bad("has %d balances, the chain %d", seenBalances, len(st.balances))
	case seenIDs != len(st.seen):
		return bad("has %d receipts and settlements, the chain %d", seenIDs, len(st.seen))
	}
	var got lookupDigest
	if err := scan(r, prefLookup, func(k, _ []byte) error { got.add(k); return nil }); err != nil {
		return err
	}
	if got.n != want.n || got.sum != want.sum {
		return bad("has %d lookup keys (digest %x), the chain implies %d (%x)", got.n, got.sum, want.n, want.sum)
	}
	return nil
}
