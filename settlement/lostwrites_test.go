package settlement

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble"
)

// diskEnv is an env on a real directory: the write-ahead log that the
// lost-write tests damage is pebble's own file.
func diskEnv(t *testing.T, node string, clock *fakeClock) *env {
	t.Helper()
	keys := testKeyring()
	e := &env{t: t, ctx: t.Context(), keys: keys, dir: filepath.Join(t.TempDir(), "ledger"), clock: clock, heads: map[string]int{}}
	e.opts = Options{Signer: keys.Signer(node), Verifier: keys, Now: clock.Now}
	e.open()
	t.Cleanup(func() {
		if e.l != nil {
			_ = e.l.Close()
		}
	})
	return e
}

func (e *env) close() {
	e.t.Helper()
	e.must(e.l.Close())
	e.l = nil
}

// lossScenario is the reproduction: a first session that pebble
// flushes to a table on reopen, then a second session of 65 entries, six
// of them receipts countersigned by p1 and p2, that live only in the log.
// It returns the head as acknowledged.
func lossScenario(e *env) (seq uint64, head string) {
	e.must(e.append(KindGovernance, Governance{Action: ActionAgentCreate, Agent: "alice"}))
	e.must(e.fund("alice", 10_000))
	e.must(e.append(KindReceipt, e.signedReceipt(receipt("p1", self, "early", 0, 7))))
	e.close()
	e.open() // pebble replays and flushes the first session's log
	for i := range 6 {
		job := fmt.Sprintf("j%d", i)
		e.must(e.hold(job, "alice", 100))
		provider := testPeers[i%2]
		e.must(e.append(KindReceipt, e.signedReceipt(receipt(self, provider, job, 0, 60))))
		e.must(e.release(job, 40))
		e.must(e.append(KindOutcome, Outcome{Peer: provider, Outcome: "success", Job: job}))
	}
	for i := range 10 {
		e.must(e.fund("alice", int64(i+1)))
	}
	seq, head = e.l.Head()
	return seq, head
}

// walFile is the newest non-empty write-ahead log in dir.
func walFile(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	best := ""
	for _, en := range ents {
		if fi, _ := en.Info(); strings.HasSuffix(en.Name(), ".log") && fi.Size() > 0 && en.Name() > best {
			best = en.Name()
		}
	}
	if best == "" {
		t.Fatalf("no write-ahead log in %s", dir)
	}
	return filepath.Join(dir, best)
}

// walDamage is each way the issue damaged the log.
var walDamage = []struct {
	name   string
	damage func(t *testing.T, path string)
}{
	{"byte flipped", func(t *testing.T, path string) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0x40
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}},
	{"truncated", func(t *testing.T, path string) {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, fi.Size()/3); err != nil {
			t.Fatal(err)
		}
	}},
	{"deleted", func(t *testing.T, path string) {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}},
}

// TestLostWritesDetected: with the log damaged each way, Open refuses the
// ledger with a LostWritesError that says how many entries are missing
// and what to do, every time it is tried, and appends nothing.
func TestLostWritesDetected(t *testing.T) {
	for _, d := range walDamage {
		t.Run(d.name, func(t *testing.T) {
			e := diskEnv(t, self, newFakeClock())
			seq, head := lossScenario(e)
			e.close()
			d.damage(t, walFile(t, e.dir))
			for range 2 { // refused again: the first refusal changed nothing
				_, err := Open(e.ctx, e.dir, e.opts)
				var le *LostWritesError
				if !errors.As(err, &le) || !IsLostWrites(err) || IsCorruption(err) {
					t.Fatalf("open after the log was %s: %v, want a LostWritesError", d.name, err)
				}
				if le.Reason != LostBehind || le.Want != seq || le.WantHead != head || le.Have >= seq || le.Missing() != seq-le.Have {
					t.Fatalf("lost writes %+v, want behind %d %s", le, seq, head)
				}
				for _, want := range []string{fmt.Sprintf("%d acknowledged entries are missing", seq-le.Have), "hayek ledger recover", "must not append"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("message lacks %q: %v", want, err)
					}
				}
				t.Logf("log %s: %d of %d entries left: %v", d.name, le.Have, seq, err)
			}
		})
	}
}

// TestHeadFileDamage: a missing head file on a ledger written with one,
// or one whose both slots are damaged, is refused; one torn slot is not
// (the other holds the record before it).
func TestHeadFileDamage(t *testing.T) {
	setup := func(t *testing.T) *env {
		e := diskEnv(t, self, newFakeClock())
		lossScenario(e)
		e.close()
		return e
	}
	headPath := func(e *env) string { return filepath.Join(e.dir, headFileName) }
	t.Run("missing", func(t *testing.T) {
		e := setup(t)
		e.must(os.Remove(headPath(e)))
		_, err := Open(e.ctx, e.dir, e.opts)
		var le *LostWritesError
		if !errors.As(err, &le) || le.Reason != LostHeadMissing {
			t.Fatalf("open without HEAD: %v", err)
		}
	})
	t.Run("both slots damaged", func(t *testing.T) {
		e := setup(t)
		b, err := os.ReadFile(headPath(e))
		e.must(err)
		b[20] ^= 1
		b[headSlot+20] ^= 1
		e.must(os.WriteFile(headPath(e), b, 0o600))
		_, err = Open(e.ctx, e.dir, e.opts)
		var le *LostWritesError
		if !errors.As(err, &le) || le.Reason != LostHeadCorrupt {
			t.Fatalf("open with HEAD damaged: %v", err)
		}
	})
	t.Run("one slot torn", func(t *testing.T) {
		e := setup(t)
		b, err := os.ReadFile(headPath(e))
		e.must(err)
		m, _, _ := readHead(diskFS(nil), e.dir)
		off := int(m.Gen%2) * headSlot // the newest slot
		for i := off + 10; i < off+100; i++ {
			b[i] = 0
		}
		e.must(os.WriteFile(headPath(e), b, 0o600))
		e.open()
		e.must(e.fund("alice", 1))
	})
	t.Run("diverged", func(t *testing.T) {
		// The record names another entry where the chain has one: lost
		// writes with others written in their place. Recover declares it.
		e := setup(t)
		m, _, err := readHead(diskFS(nil), e.dir)
		e.must(err)
		h := headFile{fs: diskFS(nil), dir: e.dir}
		e.must(h.open(m.Gen, m))
		m.AckedHead, m.PendingHead = "bafyother", "bafyother"
		e.must(h.write(m))
		e.must(h.close())
		_, err = Open(e.ctx, e.dir, e.opts)
		var le *LostWritesError
		if !errors.As(err, &le) || le.Reason != LostDiverged || le.Want != m.Acked || !strings.Contains(err.Error(), "not the one acknowledged") {
			t.Fatalf("open: %v", err)
		}
		rep, err := Recover(e.ctx, e.dir, e.opts, RecoverOptions{})
		e.must(err)
		if rep.Lost.Seq != m.Acked+1 {
			t.Fatalf("lost entry at %d, want %d", rep.Lost.Seq, m.Acked+1)
		}
		e.open()
	})
	t.Run("older build", func(t *testing.T) {
		// A ledger written before head files: none, and no m/headfile.
		e := setup(t)
		e.must(os.Remove(headPath(e)))
		db, err := pebble.Open(e.dir, &pebble.Options{FS: diskFS(nil)})
		e.must(err)
		e.must(db.Delete(keyHeadFile, pebble.Sync))
		e.must(db.Close())
		e.open()
		seq, _ := e.l.Head()
		e.close()
		if m, hs, _ := readHead(diskFS(nil), e.dir); hs != headValid || m.Acked != seq {
			t.Fatalf("adopted head file %+v (state %d), want acked %d", m, hs, seq)
		}
		e.open()
	})
}
