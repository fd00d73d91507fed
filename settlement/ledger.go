package settlement

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"

	"github.com/hayek-market/hayek/internal/canon"
)

// Ledger is a node's append-only, hash-chained ledger in one pebble
// database. It is safe for concurrent use.
type Ledger struct {
	opts Options
	self string
	dir  string
	db   *pebble.DB

	// head is the head file beside the database (headfile.go). The
	// committer alone writes it. headDirty: its last record has
	// pending ≠ acked. headSerial: write it only after pebble's sync (while
	// recovering, so that a failed recovery cannot overwrite the evidence
	// of the loss).
	head       headFile
	headDirty  bool
	headSerial bool

	// life guards db against Close: every reader holds it shared.
	life   sync.RWMutex
	closed bool

	// mu guards st. The committer holds it from the first apply of a group
	// until the group is synced, so readers only ever see durable state.
	mu     sync.RWMutex
	st     *state
	failed error // set when a group's write failed: appends refused

	q queue
}

// Open opens (creating if needed) the ledger in dir. It checks that the
// database belongs to o.Signer, that it still holds every entry the head
// record beside it says was acknowledged (headfile.go), that the last entry
// is the one the indexes were written for, and loads the indexes; if they
// are missing or stale (or o.RebuildIndexes) it replays the whole chain to
// rebuild them. A damaged database is refused with a CorruptionError
// (IsCorruption); one that lost acknowledged entries with a
// LostWritesError (IsLostWrites), which Recover resolves.
func Open(ctx context.Context, dir string, o Options) (*Ledger, error) {
	l, _, err := open(ctx, dir, o, false)
	return l, err
}

// open is Open; recovering lets a ledger that lost writes open (to append
// the recovery), returning what Open would have refused it for.
func open(ctx context.Context, dir string, o Options, recovering bool) (*Ledger, *LostWritesError, error) {
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, nil, err
	}
	if err := ensureDir(o.FS, dir); err != nil {
		return nil, nil, err
	}
	if err := tightenModes(o.FS, dir); err != nil {
		return nil, nil, err
	}
	db, err := pebble.Open(dir, &pebble.Options{FS: o.FS, Logger: pebbleLogger{o.Logger}})
	if err != nil {
		return nil, nil, fmt.Errorf("settlement: open ledger %s: %w (is another node using this home?)", dir, err)
	}
	l := &Ledger{opts: o, self: o.Signer.ID(), db: db, dir: dir, head: headFile{fs: o.FS, dir: dir}}
	lost, err := l.load(ctx, recovering)
	if err == nil && lost != nil && !recovering {
		err = lost
	}
	if err == nil && o.VerifyOnOpen {
		_, err = l.verify(ctx, false)
	}
	if err != nil {
		_ = l.head.close()
		_ = db.Close()
		return nil, nil, err
	}
	l.q.init()
	if testHookQueue != nil {
		testHookQueue(&l.q)
	}
	go l.commitLoop()
	seq, head := l.Head()
	o.Logger.Info("settlement: ledger open", "dir", dir, "node", l.self, "seq", seq, "head", head)
	return l, lost, nil
}

// testHookQueue lets tests set the queue's knobs before the committer starts.
var testHookQueue func(*queue)

// ensureDir creates dir and syncs its parent, so that a ledger created
// just before a power loss is not lost with the directory entry that names
// it (pebble syncs the directory's contents, not its entry in the parent).
func ensureDir(fs vfs.FS, dir string) error {
	if err := fs.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("settlement: create ledger directory %s: %w", dir, err)
	}
	parent, err := fs.OpenDir(fs.PathDir(dir))
	if err != nil {
		return fmt.Errorf("settlement: open the parent of %s: %w", dir, err)
	}
	err = parent.Sync()
	if cerr := parent.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("settlement: sync the parent of %s: %w", dir, err)
	}
	return nil
}

func (l *Ledger) get(key []byte) ([]byte, bool, error) {
	v, closer, err := l.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("settlement: read %q: %w", key, err)
	}
	out := bytes.Clone(v)
	return out, true, closer.Close()
}

// load checks the database's identity and its head file, and loads or
// rebuilds the in-memory state. A ledger that lost writes is returned as
// lost, and loaded only when recovering.
func (l *Ledger) load(ctx context.Context, recovering bool) (lost *LostWritesError, err error) {
	format, formatOK, err := l.get(keyFormat)
	if err != nil {
		return nil, err
	}
	last, err := l.lastEntry()
	if err != nil {
		return nil, err
	}
	if formatOK {
		if string(format) != formatVersion {
			return nil, fmt.Errorf("settlement: ledger format %q, this build reads %q: upgrade hayek", format, formatVersion)
		}
		node, _, err := l.get(keyNode)
		if err != nil {
			return nil, err
		}
		if string(node) != l.self {
			return nil, fmt.Errorf("%w: the ledger is %s's, opened with the key of %s (use that node's home and key)", ErrWrongNode, node, l.self)
		}
	} else if last != nil {
		return nil, corruptf(0, nil, "entries without a format marker")
	}
	var lastSeq uint64
	var lastCID string
	if last != nil {
		lastSeq, lastCID = last.entry.Seq, last.cid
	}
	hr, hrOK, err := l.indexHead(lastSeq, lastCID)
	if err != nil {
		return nil, err
	}
	if lost, err = l.openHead(lastSeq, lastCID, recovering); err != nil || (lost != nil && !recovering) {
		return lost, err
	}
	if !formatOK {
		b := l.db.NewBatch()
		_ = b.Set(keyFormat, []byte(formatVersion), nil)
		_ = b.Set(keyNode, []byte(l.self), nil)
		_ = b.Set(keyHeadFile, nil, nil)
		if err := b.Commit(pebble.Sync); err != nil {
			return lost, fmt.Errorf("settlement: initialise ledger: %w", err)
		}
		l.st = newState(l.self, l)
		return lost, nil
	}
	if hrOK && hr.Seq < lastSeq {
		hrOK = false // stale: rebuild
	}
	return lost, l.loadState(ctx, hr, hrOK)
}

// loadState loads the indexes m/head (hr, if ok) says are current, or
// rebuilds them from the chain.
func (l *Ledger) loadState(ctx context.Context, hr headRecord, ok bool) error {
	if !ok || l.opts.RebuildIndexes {
		return l.rebuild(ctx)
	}
	st := newState(l.self, l)
	st.seq, st.head, st.time, st.lastCheckpoint, st.totals = hr.Seq, hr.Head, hr.Time, hr.LastCheckpoint, hr.Totals
	if err := l.loadIndexes(st); err != nil {
		return err
	}
	if err := st.recount(); err != nil {
		return corruptf(0, err, "the indexes do not add up (reopen with RebuildIndexes)")
	}
	l.st = st
	return nil
}

// indexHead reads m/head, the entry the indexes were written for, and
// checks it against the chain's last entry. Both are written in one batch,
// so a database that disagrees with itself is damaged inside (an altered or
// deleted entry): corruption, as opposed to writes lost whole, which leave
// the two in step and only the head file can reveal.
func (l *Ledger) indexHead(lastSeq uint64, lastCID string) (headRecord, bool, error) {
	var hr headRecord
	hv, ok, err := l.get(keyHead)
	if err != nil || !ok {
		return hr, ok, err
	}
	if err := canon.Unmarshal(hv, &hr); err != nil {
		return hr, ok, corruptf(0, err, "head record does not decode")
	}
	switch {
	case hr.Seq > lastSeq:
		return hr, ok, corruptf(lastSeq+1, nil, "the indexes reflect entry %d, the chain ends at %d: entries are missing", hr.Seq, lastSeq)
	case hr.Seq == lastSeq && hr.Head != lastCID:
		return hr, ok, corruptf(lastSeq, nil, "entry %d is not the entry the indexes were written for", lastSeq)
	}
	return hr, ok, nil
}

// lastEntry decodes the entry with the highest key, nil if there is none.
func (l *Ledger) lastEntry() (*prepared, error) {
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: prefEntry, UpperBound: upperBound(prefEntry)})
	if err != nil {
		return nil, fmt.Errorf("settlement: read head: %w", err)
	}
	defer it.Close()
	if !it.Last() {
		return nil, it.Error()
	}
	seq, ok := seqOfEntryKey(it.Key())
	if !ok {
		return nil, corruptf(0, nil, "malformed entry key %x", it.Key())
	}
	x := item{raw: bytes.Clone(it.Value()), keySeq: seq}
	decodeStored(&x, nil, false)
	return x.p, x.err
}

func (l *Ledger) loadIndexes(st *state) error {
	err := l.scan(prefAgent, func(k, v []byte) error {
		var a Account
		if err := canon.Unmarshal(v, &a); err != nil || a.Name != string(k[len(prefAgent):]) {
			return corruptf(0, err, "agent index %q does not decode (reopen with RebuildIndexes)", k)
		}
		st.agents[a.Name] = a
		return nil
	})
	if err != nil {
		return err
	}
	err = l.scan(prefBalance, func(k, v []byte) error {
		b, err := decodeBalance(v)
		if err != nil {
			return corruptf(0, err, "balance index %q does not decode (reopen with RebuildIndexes)", k)
		}
		st.balances[string(k[len(prefBalance):])] = b
		return nil
	})
	if err != nil {
		return err
	}
	// Only open holds live in memory; i/o/ lists them.
	return l.scan(prefOpen, func(k, _ []byte) error {
		job := string(k[len(prefOpen):])
		h, ok, err := l.hold(job)
		switch {
		case err != nil:
			return err
		case !ok || h.Closed:
			return corruptf(0, nil, "open-hold index names job %s, whose hold is missing or closed (reopen with RebuildIndexes)", job)
		}
		st.holds[job] = h
		return nil
	})
}

type reader interface {
	NewIter(*pebble.IterOptions) (*pebble.Iterator, error)
}

func (l *Ledger) scan(prefix []byte, fn func(k, v []byte) error) error {
	return scan(l.db, prefix, fn)
}

func scan(r reader, prefix []byte, fn func(k, v []byte) error) error {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: upperBound(prefix)})
	if err != nil {
		return fmt.Errorf("settlement: scan %q: %w", prefix, err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		if err := fn(it.Key(), it.Value()); err != nil {
			_ = it.Close()
			return err
		}
	}
	if err := it.Error(); err != nil {
		_ = it.Close()
		return fmt.Errorf("settlement: scan %q: %w", prefix, err)
	}
	return it.Close()
}

// hold and seen implement coldReader: what the state evicted is on disk.
func (l *Ledger) hold(job string) (HoldState, bool, error) {
	v, ok, err := l.get(nameKey(prefHold, job))
	if err != nil || !ok {
		return HoldState{}, false, err
	}
	var h HoldState
	if err := canon.Unmarshal(v, &h); err != nil {
		return HoldState{}, false, corruptf(0, err, "hold index of job %s does not decode (reopen with RebuildIndexes)", job)
	}
	return h, true, nil
}

func (l *Ledger) seen(id string) (uint64, bool, error) {
	v, ok, err := l.get(nameKey(prefSeen, id))
	if err != nil || !ok {
		return 0, false, err
	}
	seq, err := decodeSeq(v)
	if err != nil {
		return 0, false, corruptf(0, err, "receipt index %s does not decode (reopen with RebuildIndexes)", id)
	}
	return seq, true, nil
}

// rebuild replays the chain into a fresh state and rewrites every index
// from it. It replays twice: first only to check the chain, so that a
// damaged chain is refused with its indexes untouched; then to write.
func (l *Ledger) rebuild(ctx context.Context) error {
	l.opts.Logger.Info("settlement: rebuilding indexes from the chain")
	snap := l.db.NewSnapshot()
	defer snap.Close()
	if _, _, err := replay(ctx, snap, l.self, l.opts.Verifier, false, nil); err != nil {
		return err
	}
	first := l.db.NewBatch()
	_ = first.Delete(keyHead, nil)
	_ = first.DeleteRange(prefIndex, upperBound(prefIndex), nil)
	_ = first.DeleteRange(prefLookup, upperBound(prefLookup), nil)
	if err := first.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("settlement: rebuild indexes: %w", err)
	}
	var (
		b   = l.db.NewBatch()
		buf []byte
		err error
	)
	flush := func(force bool) error {
		if !force && b.Len() < 4<<20 {
			return nil
		}
		if err := b.Commit(pebble.NoSync); err != nil {
			return fmt.Errorf("settlement: rebuild indexes: %w", err)
		}
		b = l.db.NewBatch()
		return nil
	}
	st, _, err := replay(ctx, snap, l.self, l.opts.Verifier, false, func(p *prepared) error {
		buf = lookupKeys(p, buf, func(k []byte) { _ = b.Set(k, nil, nil) })
		return flush(false)
	})
	if err != nil {
		return err
	}
	for _, a := range st.agents {
		_ = b.Set(nameKey(prefAgent, a.Name), canon.MustMarshal(a), nil)
	}
	for _, h := range st.holds {
		_ = b.Set(nameKey(prefHold, h.Job), canon.MustMarshal(h), nil)
		if !h.Closed {
			_ = b.Set(nameKey(prefOpen, h.Job), nil, nil)
		}
	}
	for peer, v := range st.balances {
		_ = b.Set(nameKey(prefBalance, peer), encodeBalance(v), nil)
	}
	for id, seq := range st.seen {
		_ = b.Set(nameKey(prefSeen, id), encodeSeq(seq), nil)
		if err := flush(false); err != nil {
			return err
		}
	}
	_ = b.Set(keyHead, canon.MustMarshal(st.headRecord()), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("settlement: rebuild indexes: %w", err)
	}
	// Keep only what the ledger keeps in memory.
	for job, h := range st.holds {
		if h.Closed {
			delete(st.holds, job)
		}
	}
	clear(st.seen)
	st.cold = l
	l.st = st
	l.opts.Logger.Info("settlement: indexes rebuilt", "seq", st.seq)
	return nil
}

// Close waits for queued appends to finish and closes the database.
func (l *Ledger) Close() error {
	if !l.q.close() {
		return ErrClosed
	}
	<-l.q.stopped
	l.confirmHead()
	l.life.Lock()
	defer l.life.Unlock()
	l.closed = true
	herr := l.head.close()
	if err := l.db.Close(); err != nil {
		return fmt.Errorf("settlement: close ledger: %w", err)
	}
	if herr != nil {
		return fmt.Errorf("settlement: close the head file: %w", herr)
	}
	return nil
}

// open takes a shared hold on the database, failing once closed.
func (l *Ledger) open() error {
	l.life.RLock()
	if l.closed {
		l.life.RUnlock()
		return ErrClosed
	}
	return nil
}

// Head is the last entry's sequence number and CID ("" for an empty
// ledger). After every group commit the last entry is a checkpoint, so the
// head is always signed.
func (l *Ledger) Head() (seq uint64, cid string) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.st.seq, l.st.head
}

// Totals is the ledger's money in sums.
func (l *Ledger) Totals() Totals {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.st.totals
}

// Agent is the account of the agent named name.
func (l *Ledger) Agent(name string) (Account, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	a, ok := l.st.agents[name]
	a.TokenHash = bytes.Clone(a.TokenHash)
	return a, ok
}

// Agents lists every account by name.
func (l *Ledger) Agents() []Account {
	l.mu.RLock()
	out := slices.Collect(maps.Values(l.st.agents))
	l.mu.RUnlock()
	for i := range out {
		out[i].TokenHash = bytes.Clone(out[i].TokenHash)
	}
	slices.SortFunc(out, func(a, b Account) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// Hold is job's budget hold, open or closed.
func (l *Ledger) Hold(job string) (HoldState, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if h, ok := l.st.holds[job]; ok {
		return h, true
	}
	if err := l.open(); err != nil {
		return HoldState{}, false
	}
	defer l.life.RUnlock()
	h, ok, err := l.hold(job)
	if err != nil {
		l.opts.Logger.Error("settlement: read hold", "job", job, "err", err)
		return HoldState{}, false
	}
	return h, ok
}

// OpenHolds lists the open holds, by job. They live in memory: this is
// cheap, unlike scanning hold entries.
func (l *Ledger) OpenHolds() []HoldState {
	l.mu.RLock()
	out := make([]HoldState, 0, len(l.st.holds))
	for _, h := range l.st.holds {
		if !h.Closed {
			out = append(out, h)
		}
	}
	l.mu.RUnlock()
	slices.SortFunc(out, func(a, b HoldState) int { return cmp.Compare(a.Job, b.Job) })
	return out
}

// Balance is the bilateral balance with peer: > 0 the peer owes us, < 0 we
// owe the peer.
func (l *Ledger) Balance(peer string) int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.st.balances[peer]
}

// Balances is every bilateral balance by peer (settled peers show 0).
func (l *Ledger) Balances() map[string]int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return maps.Clone(l.st.balances)
}

// pebbleLogger sends pebble's messages to the ledger's logger.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error("pebble: fatal: " + msg)
	panic("pebble: " + msg)
}
