package settlement

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// holdCommitter makes the next ledger opened in e hold its committer
// until release is closed, and signals queued once n requests wait.
func holdCommitter(t *testing.T, n int) (queued, release chan struct{}) {
	queued, release = make(chan struct{}), make(chan struct{})
	var once, first sync.Once
	testHookQueue = func(q *queue) {
		q.pushed = func(k int) {
			if k >= n {
				once.Do(func() { close(queued) })
			}
		}
		q.beforeTake = func() { first.Do(func() { <-release }) }
	}
	t.Cleanup(func() { testHookQueue = nil })
	return queued, release
}

// 64 appenders queued while the committer is busy go out as one group:
// one batch, one sync, one checkpoint.
func TestGroupCommit(t *testing.T) {
	const n = 64
	queued, release := holdCommitter(t, n)
	e := newEnv(t)
	testHookQueue = nil
	seq0, _ := e.l.Head()
	var wg sync.WaitGroup
	results := make([]Entry, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			en, err := e.l.Append(e.ctx, KindFund, Fund{Agent: agentName(i), Amount: int64(i + 1)})
			if err != nil {
				t.Error(err)
			}
			results[i] = en
		}()
	}
	<-queued
	close(release)
	wg.Wait()
	seq, _ := e.l.Head()
	if seq != seq0+n+1 {
		t.Fatalf("head %d after %d appends from %d: want one checkpoint for the group", seq, n, seq0)
	}
	seen := map[uint64]bool{}
	for _, en := range results {
		if en.Seq <= seq0 || en.Seq > seq0+n || seen[en.Seq] {
			t.Fatalf("entry seq %d out of range or repeated", en.Seq)
		}
		seen[en.Seq] = true
	}
	rep, err := e.l.Verify(e.ctx, false)
	if err != nil || rep.Checkpoints != 1 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	checkInvariants(t, e.l)
}

// Within one group, a request that breaks a rule is rolled back alone:
// the others commit, and AppendAll stays all or nothing.
func TestGroupCommitRollsBackOneRequest(t *testing.T) {
	e := newEnv(t)
	e.must(e.fund("alice", 100))
	queued, release := holdCommitter(t, 3)
	e.reopen(nil)
	testHookQueue = nil
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i, drafts := range [][]Draft{
		{{KindHold, Hold{Job: "a", Agent: "alice", Amount: 60}}},
		{{KindHold, Hold{Job: "b", Agent: "alice", Amount: 30}}, {KindHold, Hold{Job: "c", Agent: "alice", Amount: 30}}}, // 60+30+30 > 100
		{{KindFund, Fund{Agent: "bob", Amount: 5}}},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.l.AppendAll(e.ctx, drafts...)
		}()
	}
	<-queued
	close(release)
	wg.Wait()
	failed := 0
	for _, err := range errs {
		if errors.Is(err, ErrBudgetExceeded) {
			failed++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if failed != 1 {
		t.Fatalf("errors %v: want exactly one request refused", errs)
	}
	if _, ok := e.l.Hold("b"); ok {
		if _, ok := e.l.Hold("c"); !ok {
			t.Fatal("half of an AppendAll committed")
		}
	}
	if a, _ := e.l.Agent("bob"); a.Budget != 5 {
		t.Fatalf("bob %+v", a)
	}
	checkInvariants(t, e.l)
	if _, err := e.l.Verify(e.ctx, false); err != nil {
		t.Fatal(err)
	}
}

// An append whose context ends before the committer takes it appends
// nothing and says so.
func TestAppendCanceledBeforeCommit(t *testing.T) {
	queued, release := holdCommitter(t, 1)
	e := newEnv(t)
	testHookQueue = nil
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error)
	go func() {
		_, err := e.l.Append(ctx, KindFund, Fund{Agent: "a", Amount: 1})
		done <- err
	}()
	<-queued
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	close(release)
	e.must(e.fund("b", 1)) // goes through the committer after the abandoned one
	if a, ok := e.l.Agent("a"); ok {
		t.Fatalf("canceled append applied: %+v", a)
	}
	if seq, _ := e.l.Head(); seq != 2 {
		t.Fatalf("head %d, want 2 (one fund, one checkpoint)", seq)
	}
}

func TestClose(t *testing.T) {
	e := newEnv(t)
	e.must(e.fund("a", 1))
	e.must(e.l.Close())
	if err := e.l.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second close: %v", err)
	}
	if err := e.fund("a", 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	if _, err := e.l.Verify(e.ctx, false); !errors.Is(err, ErrClosed) {
		t.Fatalf("verify after close: %v", err)
	}
	e.l = nil
}

func TestOptions(t *testing.T) {
	keys := testKeyring()
	for _, c := range []struct {
		field string
		o     Options
	}{
		{"Signer", Options{Verifier: keys}},
		{"Verifier", Options{Signer: keys.Signer(self)}},
		{"MaxBatch", Options{Signer: keys.Signer(self), Verifier: keys, MaxBatch: -1}},
	} {
		c.o.EnsureDefaults()
		var oe *OptionsError
		if err := c.o.Validate(); !errors.As(err, &oe) || oe.Field != c.field || !errors.Is(err, ErrOptions) {
			t.Fatalf("%s: %v", c.field, err)
		}
		if _, err := Open(t.Context(), t.TempDir(), c.o); !errors.As(err, &oe) {
			t.Fatalf("Open accepted bad options: %v", err)
		}
	}
	o := Options{Signer: keys.Signer(self), Verifier: keys}
	o.EnsureDefaults()
	if err := o.Validate(); err != nil || o.MaxBatch != DefaultMaxBatch || o.String() == "" {
		t.Fatalf("defaults: %v %+v", err, o)
	}
}

func TestWrongNode(t *testing.T) {
	e := newEnv(t)
	e.must(e.fund("a", 1))
	e.must(e.l.Close())
	e.l = nil
	o := e.opts
	o.Signer = e.keys.Signer("p1")
	if _, err := Open(e.ctx, e.dir, o); !errors.Is(err, ErrWrongNode) {
		t.Fatalf("opened another node's ledger: %v", err)
	}
	e.open()
}
