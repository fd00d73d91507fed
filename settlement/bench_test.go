package settlement

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"

	"github.com/hayek-market/hayek/internal/canon/canontest"
)

// The benchmarks report figures and assert nothing. Durable ones run on a
// real directory (b.TempDir), since fsync is what they measure.
//
//	go test ./settlement -run '^$' -bench . -benchtime 2s
//
// BenchmarkAppend runs our appends and, in the same run and directory
// kind, raw pebble synced batches of the same bytes (what a one-entry
// group writes: entry, lookup keys, index records, checkpoint, head), one
// batch per append, with the same number of concurrent writers. It reports
// both rates and their ratio.

func benchOptions(keys *canontest.Keyring) Options {
	return Options{Signer: keys.Signer(self), Verifier: keys, FS: vfs.Default, Now: newFakeClock().Now}
}

func BenchmarkAppend(b *testing.B) {
	for _, writers := range []int{1, 64} {
		b.Run(fmt.Sprintf("appenders=%d", writers), func(b *testing.B) {
			keys := testKeyring()
			ctx := context.Background()
			l, err := Open(ctx, b.TempDir(), benchOptions(keys))
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			// The bytes of one one-entry group, for the raw run.
			batch := captureGroup(b, l)

			b.ResetTimer()
			start := time.Now()
			runConcurrently(b.N, writers, func(w, i int) error {
				_, err := l.Append(ctx, KindFund, Fund{Agent: agentName(w), Amount: 1 + int64(i%100), Note: "bench"})
				return err
			})
			ours := float64(b.N) / time.Since(start).Seconds()
			b.StopTimer()

			raw := rawPebble(b, batch, b.N, writers)
			b.ReportMetric(ours, "appends/s")
			b.ReportMetric(raw, "raw-batches/s")
			b.ReportMetric(ours/raw, "our/raw")
			seq, _ := l.Head()
			b.ReportMetric(float64(seq-uint64(b.N))/float64(b.N), "checkpoints/append")
		})
	}
}

func agentName(w int) string { return fmt.Sprintf("agent-%02d", w%16) }

// runConcurrently runs n calls of fn across writers goroutines.
func runConcurrently(n, writers int, fn func(w, i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(w, i); err != nil {
					panic(err)
				}
			}
		}()
	}
	wg.Wait()
}

// captureGroup appends one entry alone and returns the batch its group
// wrote, read back from the database.
func captureGroup(b *testing.B, l *Ledger) [][2][]byte {
	seq0, _ := l.Head()
	if _, err := l.Append(context.Background(), KindFund, Fund{Agent: "agent-00", Amount: 1, Note: "bench"}); err != nil {
		b.Fatal(err)
	}
	var kvs [][2][]byte
	add := func(k []byte) {
		v, ok, err := l.get(k)
		if err != nil || !ok {
			b.Fatalf("read back %q: %v", k, err)
		}
		kvs = append(kvs, [2][]byte{k, v})
	}
	for seq := seq0 + 1; seq <= seq0+2; seq++ {
		add(entryKey(seq))
	}
	l.mu.RLock()
	p := &prepared{entry: Entry{Seq: seq0 + 1, Kind: KindFund}, refs: refs{agent: "agent-00"}}
	cp := &prepared{entry: Entry{Seq: seq0 + 2, Kind: KindCheckpoint}}
	l.mu.RUnlock()
	var buf []byte
	for _, q := range []*prepared{p, cp} {
		buf = lookupKeys(q, buf, func(k []byte) { add(append([]byte(nil), k...)) })
	}
	add(nameKey(prefAgent, "agent-00"))
	add(keyHead)
	return kvs
}

// rawPebble commits n synced batches of kvs (keys made distinct per batch)
// from writers goroutines into a fresh database, and returns batches/s.
func rawPebble(b *testing.B, kvs [][2][]byte, n, writers int) float64 {
	db, err := pebble.Open(b.TempDir(), &pebble.Options{Logger: pebbleLogger{benchLogger()}})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	start := time.Now()
	runConcurrently(n, writers, func(_, i int) error {
		batch := db.NewBatch()
		defer batch.Close()
		for _, kv := range kvs {
			k := append(append([]byte(nil), kv[0]...), byte(i>>24), byte(i>>16), byte(i>>8), byte(i))
			_ = batch.Set(k, kv[1], nil)
		}
		return batch.Commit(pebble.Sync)
	})
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkVerify verifies a ledger of entries (funds, holds, receipts as
// both parties, releases, checkpoints every 64 entries), reporting
// entries/s; deep also checks every receipt's two signatures, reporting
// receipts/s and receipts/s per core.
func BenchmarkVerify(b *testing.B) {
	const groups = 800 // × 64 entries + checkpoints
	keys := testKeyring()
	ctx := context.Background()
	l, err := Open(ctx, b.TempDir(), benchOptions(keys))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	e := &env{t: b, ctx: ctx, keys: keys, heads: map[string]int{}}
	receipts := 0
	for g := range groups {
		drafts := []Draft{{KindFund, Fund{Agent: agentName(g), Amount: 1000}}}
		for j := range 21 {
			job := fmt.Sprintf("job-%d-%d", g, j)
			drafts = append(drafts,
				Draft{KindHold, Hold{Job: job, Agent: agentName(g), Amount: 40}},
				Draft{KindReceipt, e.signedReceipt(receipt(self, testPeers[j%4], job, 1, 30))},
				Draft{KindReceipt, e.signedReceipt(receipt(testPeers[j%4], self, job, 1, 30))})
			receipts += 2
		}
		if _, err := l.AppendAll(ctx, drafts...); err != nil {
			b.Fatal(err)
		}
	}
	seq, _ := l.Head()
	for _, deep := range []bool{false, true} {
		b.Run(fmt.Sprintf("deep=%t", deep), func(b *testing.B) {
			for b.Loop() {
				rep, err := l.Verify(ctx, deep)
				if err != nil {
					b.Fatal(err)
				}
				if rep.Entries != seq {
					b.Fatalf("verified %d entries of %d", rep.Entries, seq)
				}
			}
			s := b.Elapsed().Seconds()
			b.ReportMetric(float64(seq)*float64(b.N)/s, "entries/s")
			if deep {
				rs := float64(receipts) * float64(b.N) / s
				b.ReportMetric(rs, "receipts/s")
				b.ReportMetric(rs/float64(runtime.GOMAXPROCS(0)), "receipts/s/core")
			}
		})
	}
}
