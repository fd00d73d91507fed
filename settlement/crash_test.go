package settlement

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// workerDrafts is one operation of a crash-test appender: mostly valid
// funds, holds, releases, atomic hold+release pairs and receipts as
// provider, all on the worker's own agent and jobs.
func workerDrafts(e *env, r *rand.Rand, w, i int, tag string) []Draft {
	agent := fmt.Sprintf("w%d", w)
	job := fmt.Sprintf("%s-w%d-%d", tag, w, i)
	switch r.IntN(5) {
	case 0:
		return []Draft{{KindFund, Fund{Agent: agent, Amount: 1 + r.Int64N(100)}}}
	case 1:
		return []Draft{{KindHold, Hold{Job: job, Agent: agent, Amount: 1 + r.Int64N(20)}}}
	case 2:
		return []Draft{{KindFund, Fund{Agent: agent, Amount: 50}},
			{KindHold, Hold{Job: job, Agent: agent, Amount: 30}},
			{KindRelease, Release{Job: job, Amount: 30}}}
	case 3:
		return []Draft{{KindReceipt, e.signedReceipt(receipt(testPeers[r.IntN(len(testPeers))], self, job, 0, 1+r.Int64N(50)))}}
	default:
		return []Draft{{KindOutcome, Outcome{Peer: testPeers[w%len(testPeers)], Outcome: "success", Job: job}}}
	}
}

// TestCrash appends from concurrent writers on a strict in-memory file
// system, "crashes" at a random point (syncs stop counting, then
// everything unsynced is thrown away), reopens, and checks that every
// acknowledged entry is there with its CID, the chain verifies deeply and
// the money adds up. Several rounds crash the same ledger again and again.
func TestCrash(t *testing.T) {
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, 2))
	e := newEnv(t)
	var signMu sync.Mutex // env.signedReceipt's head counters are not concurrent
	acked := map[uint64]string{}
	const writers = 8
	for round := range 6 {
		target := 20 + r.IntN(300)
		var (
			mu      sync.Mutex
			crashed bool
			acks    []Entry
			reached = make(chan struct{})
			wg      sync.WaitGroup
		)
		ctx, cancel := context.WithCancel(e.ctx)
		for w := range writers {
			wr := rand.New(rand.NewPCG(seed, uint64(round*writers+w)))
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ctx.Err() == nil; i++ {
					signMu.Lock()
					drafts := workerDrafts(e, wr, w, i, fmt.Sprintf("r%d", round))
					signMu.Unlock()
					es, err := e.l.AppendAll(ctx, drafts...)
					switch {
					case ctx.Err() != nil || errors.Is(err, ErrClosed):
						return
					case errors.Is(err, ErrBudgetExceeded):
						continue
					case err != nil:
						t.Errorf("round %d writer %d: %v", round, w, err)
						return
					}
					mu.Lock()
					if !crashed {
						acks = append(acks, es...)
						if len(acks) >= target && len(acks)-len(es) < target {
							close(reached)
						}
					}
					mu.Unlock()
				}
			}()
		}
		<-reached
		// The crash: from here no sync persists anything, so no append
		// acknowledged after this point may count.
		mu.Lock()
		e.fs.SetIgnoreSyncs(true)
		crashed = true
		mu.Unlock()
		cancel()
		wg.Wait()
		_ = e.l.Close() // may fail: the disk is "gone"
		e.l = nil
		e.fs.ResetToSyncedState()
		e.fs.SetIgnoreSyncs(false)
		e.open()

		for _, en := range acks {
			acked[en.Seq] = en.CID()
		}
		head, _ := e.l.Head()
		for seq, cid := range acked {
			if seq > head {
				t.Fatalf("round %d: acknowledged entry %d lost: head is %d", round, seq, head)
			}
			es, err := e.l.Entries(e.ctx, Filter{After: seq - 1, Limit: 1})
			if err != nil || len(es) != 1 || es[0].CID() != cid {
				t.Fatalf("round %d: acknowledged entry %d: %v %+v, want CID %s", round, seq, err, es, cid)
			}
		}
		rep, err := e.l.Verify(e.ctx, true)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		checkInvariants(t, e.l)
		t.Logf("round %d: crashed after %d acks (target %d); reopened at entry %d; %d acknowledged so far all present; unsealed %d",
			round, len(acks), target, head, len(acked), rep.Unsealed)
	}
}

// TestKill9 runs appenders in a child process (this test binary, running
// TestKill9Child), reads the acknowledgements it prints, kills it with
// SIGKILL at a random point, and checks the ledger it leaves behind.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, 3))
	dir := t.TempDir()
	acked := map[uint64]string{}
	for round := range 3 {
		target := 50 + r.IntN(500)
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestKill9Child$")
		cmd.Env = append(os.Environ(), "SETTLEMENT_KILL9_DIR="+dir, fmt.Sprintf("SETTLEMENT_KILL9_TAG=k%d", round))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		n := 0
		for n < target && sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 3 || f[0] != "ack" {
				continue
			}
			seq, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			acked[seq] = f[2]
			n++
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if n < target {
			t.Fatalf("child stopped after %d acks: %s", n, stderr.String())
		}
		keys := testKeyring()
		l, err := Open(t.Context(), dir, Options{Signer: keys.Signer(self), Verifier: keys})
		if err != nil {
			t.Fatalf("round %d: reopen after kill -9: %v", round, err)
		}
		head, _ := l.Head()
		for seq, cid := range acked {
			es, err := l.Entries(t.Context(), Filter{After: seq - 1, Limit: 1})
			if err != nil || len(es) != 1 || es[0].CID() != cid {
				t.Fatalf("round %d: acknowledged entry %d (head %d): %v, want CID %s", round, seq, head, err, cid)
			}
		}
		if _, err := l.Verify(t.Context(), true); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		checkInvariants(t, l)
		e := l.Close()
		if e != nil {
			t.Fatal(e)
		}
		t.Logf("round %d: killed after %d acks; head %d; all %d acknowledged entries present", round, n, head, len(acked))
	}
}

// TestKill9Child is the process TestKill9 kills: it appends until killed,
// printing "ack <seq> <cid>" for each acknowledged entry.
func TestKill9Child(t *testing.T) {
	dir := os.Getenv("SETTLEMENT_KILL9_DIR")
	if dir == "" {
		t.Skip("run by TestKill9")
	}
	keys := testKeyring()
	l, err := Open(t.Context(), dir, Options{Signer: keys.Signer(self), Verifier: keys})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	e := &env{t: t, ctx: t.Context(), keys: keys, heads: map[string]int{}, l: l}
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	for wi := range 8 {
		go func() {
			r := rand.New(rand.NewPCG(uint64(wi), 9))
			for i := 0; ; i++ {
				mu.Lock()
				drafts := workerDrafts(e, r, wi, i, os.Getenv("SETTLEMENT_KILL9_TAG"))
				mu.Unlock()
				es, err := l.AppendAll(t.Context(), drafts...)
				if errors.Is(err, ErrBudgetExceeded) {
					continue
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				mu.Lock()
				for _, en := range es {
					fmt.Fprintf(w, "ack %d %s\n", en.Seq, en.CID())
				}
				_ = w.Flush()
				mu.Unlock()
			}
		}()
	}
	select {}
}
