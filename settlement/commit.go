package settlement

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/hayek-market/hayek/internal/canon"
)

// Group commit. Appenders decode, check and verify the signatures of their
// drafts on their own goroutines, then queue them. One committer goroutine
// takes everything queued (up to MaxBatch entries), assigns sequence
// numbers, applies each request to the state (rolling back a request that
// breaks a rule, so AppendAll is all or nothing), seals the group with one
// signed checkpoint, writes entries, indexes and checkpoint in one pebble
// batch with Sync, and only then answers every appender. While it syncs,
// the next group queues up, so throughput grows with concurrency instead of
// collapsing to one fsync per entry.

type request struct {
	drafts  []*prepared
	entries []Entry
	err     error
	done    chan struct{}

	taken, abandoned bool // guarded by queue.mu
}

type queue struct {
	mu      sync.Mutex
	reqs    []*request
	closing bool
	wake    chan struct{}
	stopped chan struct{}

	// Testing knobs: pushed sees the queue's length after each push (under
	// mu); beforeTake runs before the committer takes a group.
	pushed     func(n int)
	beforeTake func()
}

func (q *queue) init() {
	q.wake = make(chan struct{}, 1)
	q.stopped = make(chan struct{})
}

func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *queue) push(r *request) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closing {
		return ErrClosed
	}
	q.reqs = append(q.reqs, r)
	if q.pushed != nil {
		q.pushed(len(q.reqs))
	}
	q.signal()
	return nil
}

// take removes the requests of the next group: at least one, then more
// while they fit in maxEntries. stop is true once closing and drained.
func (q *queue) take(maxEntries int) (group []*request, stop bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n, i := 0, 0
	for ; i < len(q.reqs); i++ {
		r := q.reqs[i]
		if r.abandoned {
			continue
		}
		if len(group) > 0 && n+len(r.drafts) > maxEntries {
			break
		}
		r.taken = true
		group = append(group, r)
		n += len(r.drafts)
	}
	rest := copy(q.reqs, q.reqs[i:])
	clear(q.reqs[rest:])
	q.reqs = q.reqs[:rest]
	return group, len(group) == 0 && q.closing
}

// abandon withdraws r if the committer has not taken it yet.
func (q *queue) abandon(r *request) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if r.taken {
		return false
	}
	r.abandoned = true
	return true
}

func (q *queue) close() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closing {
		return false
	}
	q.closing = true
	q.signal()
	return true
}

// Append appends one entry and returns it once it is durable. body is the
// kind's body type (see Draft). A rule violation returns the rule's
// sentinel (ErrBudgetExceeded, ErrOverHold, ...) and appends nothing.
func (l *Ledger) Append(ctx context.Context, kind Kind, body any) (Entry, error) {
	es, err := l.AppendAll(ctx, Draft{Kind: kind, Body: body})
	if err != nil {
		return Entry{}, err
	}
	return es[0], nil
}

// AppendAll appends drafts atomically — all of them, consecutively, or none
// — and returns their entries once durable. If ctx ends before the
// committer takes the request, nothing is appended and ctx's error is
// returned; once taken, the request is answered after its group's write.
func (l *Ledger) AppendAll(ctx context.Context, drafts ...Draft) ([]Entry, error) {
	if len(drafts) == 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("settlement: append: %w (nothing was appended)", err)
	}
	ps := make([]*prepared, len(drafts))
	for i, d := range drafts {
		p, err := l.prepare(d)
		if err != nil {
			return nil, annotate(err, i, len(drafts))
		}
		ps[i] = p
	}
	return l.appendPrepared(ctx, ps)
}

// appendPrepared is AppendAll for drafts already prepared (Recover
// prepares its lost entry itself: no Draft can carry one).
func (l *Ledger) appendPrepared(ctx context.Context, ps []*prepared) ([]Entry, error) {
	r := &request{drafts: ps, done: make(chan struct{})}
	if err := l.q.push(r); err != nil {
		return nil, err
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		if l.q.abandon(r) {
			return nil, fmt.Errorf("settlement: append: %w (nothing was appended)", ctx.Err())
		}
		<-r.done // taken: its group is being written; the answer is near
	}
	return r.entries, r.err
}

func annotate(err error, i, n int) error {
	if n == 1 {
		return err
	}
	return fmt.Errorf("%w (draft %d of %d; nothing was appended)", err, i+1, n)
}

// prepare is the stateless half of an append, run on the appender's
// goroutine: encode, decode strictly as a replay would, check, and verify
// the signatures the body carries.
func (l *Ledger) prepare(d Draft) (*prepared, error) {
	raw, err := draftBody(d.Kind, d.Body)
	if err != nil {
		return nil, err
	}
	body, err := parseBody(d.Kind, raw)
	if err != nil {
		return nil, err
	}
	if err := verifySigs(l.opts.Verifier, body); err != nil {
		return nil, err
	}
	return &prepared{entry: Entry{Kind: d.Kind, Body: raw}, body: body}, nil
}

func (l *Ledger) commitLoop() {
	defer close(l.q.stopped)
	for {
		if l.q.beforeTake != nil {
			l.q.beforeTake()
		}
		group, stop := l.q.take(l.opts.MaxBatch)
		if stop {
			return
		}
		if len(group) == 0 {
			l.idle()
			continue
		}
		l.commit(group)
	}
}

// confirmAfter is how long the committer waits idle before it confirms
// the last group in the head file: long enough that a busy ledger never
// pays for it, short enough that a crash soon after the last append is
// the only window in which losing that group could go unnoticed.
const confirmAfter = 100 * time.Millisecond

// idle waits for work, confirming the head file if nothing comes soon.
func (l *Ledger) idle() {
	if !l.headDirty {
		<-l.q.wake
		return
	}
	t := time.NewTimer(confirmAfter)
	defer t.Stop()
	select {
	case <-l.q.wake:
	case <-t.C:
		l.confirmHead()
	}
}

func (l *Ledger) commit(group []*request) {
	now := l.opts.Now().UnixMilli()
	l.mu.Lock()
	err := l.commitLocked(group, now)
	l.mu.Unlock()
	for _, r := range group {
		if err != nil && r.err == nil {
			r.err = err
		}
		if r.err != nil {
			r.entries = nil
		}
		close(r.done)
	}
}

func (l *Ledger) commitLocked(group []*request, now int64) error {
	if l.failed != nil {
		return l.failed
	}
	st := l.st
	st.beginGroup()
	start := st.save()
	t := max(now, st.time)
	var applied []*prepared
	for _, r := range group {
		sp := st.save()
		for i, p := range r.drafts {
			p.entry.Seq, p.entry.Prev, p.entry.Time = st.seq+1, st.head, t
			p.enc = encodeEntry(p.entry)
			p.cid = docCID(p.enc)
			if err := st.apply(p); err != nil {
				st.rollback(sp)
				r.err = annotate(err, i, len(r.drafts))
				break
			}
		}
		if r.err == nil {
			applied = append(applied, r.drafts...)
		}
	}
	if len(applied) == 0 {
		st.endGroup(false)
		return nil
	}
	cp, err := l.seal(st, t)
	if err != nil {
		st.rollback(start)
		st.endGroup(false)
		return err
	}
	b := l.db.NewBatch()
	defer b.Close()
	l.writeGroup(b, st, append(applied, cp))
	if err := l.writeDurably(b, start, cp); err != nil {
		st.rollback(start)
		st.endGroup(false)
		l.failed = fmt.Errorf("%w: %v", ErrFailed, err)
		l.opts.Logger.Error("settlement: group commit failed; appends refused until reopened", "err", err)
		return fmt.Errorf("%w: writing entries %d..%d: %v (whether they reached the disk is unknown: reopen and look them up)", ErrFailed, applied[0].entry.Seq, cp.entry.Seq, err)
	}
	st.endGroup(true)
	for _, r := range group {
		if r.err != nil {
			continue
		}
		r.entries = make([]Entry, len(r.drafts))
		for i, p := range r.drafts {
			r.entries[i] = p.entry
		}
	}
	return nil
}

// writeDurably commits the group's batch with Sync and records its head in
// the head file (HEAD). The two syncs run side by side: the record names the
// group as pending and the head before it (prev) as acknowledged, which
// stays true whichever sync a crash interrupts. Only once both are done is
// the group acknowledged. While recovering, the record is written after
// the batch instead, naming only what is durable.
func (l *Ledger) writeDurably(b *pebble.Batch, prev savepoint, cp *prepared) error {
	mark := headMark{Node: l.self, Acked: prev.seq, AckedHead: prev.head, Pending: cp.entry.Seq, PendingHead: cp.cid}
	if l.headSerial {
		if err := b.Commit(pebble.Sync); err != nil {
			return err
		}
		mark.Acked, mark.AckedHead = mark.Pending, mark.PendingHead
		if err := l.head.write(mark); err != nil {
			return err
		}
		l.headSerial, l.headDirty = false, false
		return nil
	}
	headErr := make(chan error, 1)
	go func() { headErr <- l.head.write(mark) }()
	err := b.Commit(pebble.Sync)
	if herr := <-headErr; err == nil {
		err = herr
	}
	l.headDirty = true
	return err
}

// confirmHead writes a head file record whose pending group is acknowledged
// too, so that losing the last group is noticed as well. The committer
// calls it when idle, and Close after the committer stopped.
func (l *Ledger) confirmHead() {
	if !l.headDirty || l.failed != nil {
		return
	}
	l.mu.RLock()
	seq, head := l.st.seq, l.st.head
	l.mu.RUnlock()
	if err := l.head.write(headMark{Node: l.self, Acked: seq, AckedHead: head, Pending: seq, PendingHead: head}); err != nil {
		l.mu.Lock()
		l.failed = fmt.Errorf("%w: %v", ErrFailed, err)
		l.mu.Unlock()
		l.opts.Logger.Error("settlement: writing the head file failed; appends refused until reopened", "err", err)
		return
	}
	l.headDirty = false
}

// seal signs and applies the checkpoint of the group just applied.
func (l *Ledger) seal(st *state, t int64) (*prepared, error) {
	c, err := signCheckpoint(l.opts.Signer, Checkpoint{Node: l.self, Head: st.head, Seq: st.seq, Time: t})
	if err != nil {
		return nil, err
	}
	p := &prepared{entry: Entry{Seq: st.seq + 1, Prev: st.head, Time: t, Kind: KindCheckpoint, Body: canon.MustMarshal(c)}, body: c}
	p.enc = encodeEntry(p.entry)
	p.cid = docCID(p.enc)
	return p, st.apply(p)
}

// writeGroup puts the group's entries, their lookup keys, every index
// record the group changed and the head record into b.
func (l *Ledger) writeGroup(b *pebble.Batch, st *state, ps []*prepared) {
	var buf []byte
	for _, p := range ps {
		_ = b.Set(entryKey(p.entry.Seq), p.enc, nil)
		buf = lookupKeys(p, buf, func(k []byte) { _ = b.Set(k, nil, nil) })
	}
	// A change rolled back within the group may have left its name in the
	// dirty sets: rewrite what is there, skip what is gone.
	for name := range st.dirty.agents {
		if a, ok := st.agents[name]; ok {
			_ = b.Set(nameKey(prefAgent, name), canon.MustMarshal(a), nil)
		}
	}
	for job := range st.dirty.holds {
		h, ok := st.holds[job]
		if !ok {
			continue
		}
		_ = b.Set(nameKey(prefHold, job), canon.MustMarshal(h), nil)
		if h.Closed {
			_ = b.Delete(nameKey(prefOpen, job), nil)
		} else {
			_ = b.Set(nameKey(prefOpen, job), nil, nil)
		}
	}
	for peer := range st.dirty.balances {
		if v, ok := st.balances[peer]; ok {
			_ = b.Set(nameKey(prefBalance, peer), encodeBalance(v), nil)
		}
	}
	for _, id := range st.dirty.seen {
		if seq, ok := st.seen[id]; ok {
			_ = b.Set(nameKey(prefSeen, id), encodeSeq(seq), nil)
		}
	}
	_ = b.Set(keyHead, canon.MustMarshal(st.headRecord()), nil)
}
