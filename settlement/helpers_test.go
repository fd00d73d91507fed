package settlement

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/internal/canon/canontest"
)

// self is the node whose ledger the tests keep; peers and agents have
// short readable names (canontest derives their keys from them).
const self = "node"

var testPeers = []string{"p1", "p2", "p3", "p4"}

// fakeClock steps one millisecond per reading, from a fixed instant, so
// entry times (and so CIDs) are reproducible.
type fakeClock struct{ ms atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ms.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli())
	return c
}

func (c *fakeClock) Now() time.Time { return time.UnixMilli(c.ms.Add(1)) }

func testKeyring() *canontest.Keyring {
	keys := canontest.NewKeyring()
	keys.Signer(self)
	for _, p := range testPeers {
		keys.Signer(p)
	}
	return keys
}

// env is a ledger on a strict in-memory file system, with the identities
// to sign for its peers.
type env struct {
	t     testing.TB
	ctx   context.Context
	keys  *canontest.Keyring
	fs    *vfs.MemFS
	dir   string
	clock *fakeClock
	opts  Options
	l     *Ledger
	heads map[string]int // peer → counter, for distinct provider heads
}

func newEnv(t testing.TB) *env { return newEnvAs(t, self, newFakeClock()) }

// newEnvAs is newEnv for the ledger of node, one of self and testPeers,
// reading clock (which several ledgers may share).
func newEnvAs(t testing.TB, node string, clock *fakeClock) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), keys: testKeyring(), fs: vfs.NewStrictMem(), dir: "/ledger", clock: clock, heads: map[string]int{}}
	if tt, ok := t.(*testing.T); ok {
		e.ctx = tt.Context()
	}
	e.opts = Options{Signer: e.keys.Signer(node), Verifier: e.keys, FS: e.fs, Now: e.clock.Now}
	e.open()
	t.Cleanup(func() {
		if e.l != nil {
			_ = e.l.Close()
		}
	})
	return e
}

func (e *env) open() {
	e.t.Helper()
	l, err := Open(e.ctx, e.dir, e.opts)
	if err != nil {
		e.t.Fatalf("open: %v", err)
	}
	e.l = l
}

func (e *env) reopen(mut func(*Options)) {
	e.t.Helper()
	if err := e.l.Close(); err != nil {
		e.t.Fatalf("close: %v", err)
	}
	e.l = nil
	o := e.opts
	if mut != nil {
		mut(&o)
	}
	l, err := Open(e.ctx, e.dir, o)
	if err != nil {
		e.t.Fatalf("reopen: %v", err)
	}
	e.l = l
}

func (e *env) append(kind Kind, body any) error {
	_, err := e.l.Append(e.ctx, kind, body)
	return err
}

func (e *env) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) fund(agent string, amount int64) error {
	return e.append(KindFund, Fund{Agent: agent, Amount: amount})
}

func (e *env) hold(job, agent string, amount int64) error {
	return e.append(KindHold, Hold{Job: job, Agent: agent, Amount: amount})
}

func (e *env) release(job string, amount int64) error {
	return e.append(KindRelease, Release{Job: job, Amount: amount, Reason: "test"})
}

// signedReceipt is a receipt signed by its requester and countersigned by
// its provider, each with their own key.
func (e *env) signedReceipt(r Receipt) SignedReceipt {
	e.t.Helper()
	sr, err := SignReceipt(e.keys.Signer(r.Requester), r)
	if err != nil {
		e.t.Fatal(err)
	}
	e.heads[r.Provider]++
	sr, err = Countersign(e.keys.Signer(r.Provider), sr, canon.DocCID([]byte{byte(e.heads[r.Provider])}).String())
	if err != nil {
		e.t.Fatal(err)
	}
	return sr
}

func receipt(requester, provider, job string, attempt uint32, price int64) Receipt {
	return Receipt{Job: job, Attempt: attempt, Requester: requester, Provider: provider, Capability: "runtime/wasm",
		Price: price, Result: "bafyresult", Outcome: "success", RequesterHead: "bafyhead", Created: 1767225600000}
}

func (e *env) signedSettle(signer string, s Settle) SignedSettle {
	e.t.Helper()
	body := canon.MustMarshal(s)
	sig, err := e.keys.Signer(signer).Sign(signingBytes(domainSettle, body))
	if err != nil {
		e.t.Fatal(err)
	}
	return SignedSettle{Body: body, Sig: sig}
}

// checkInvariants asserts the money invariants on the ledger's totals and
// on a recount of its in-memory state.
func checkInvariants(t testing.TB, l *Ledger) {
	t.Helper()
	if err := l.Totals().check(); err != nil {
		t.Fatal(err)
	}
	l.mu.RLock()
	err := l.st.recount()
	l.mu.RUnlock()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t testing.TB, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("error %v, want %v", err, want)
	}
}

// snapshotState renders everything the ledger exposes, for comparing two
// ledgers (or one before and after a reopen).
func snapshotState(l *Ledger) string {
	var b strings.Builder
	seq, head := l.Head()
	fmt.Fprintf(&b, "head %d %s\ntotals %+v\n", seq, head, l.Totals())
	for _, a := range l.Agents() {
		pol := a.Policy
		a.Policy = nil
		fmt.Fprintf(&b, "agent %+v policy %+v\n", a, pol) // the policy's contents, not its address
	}
	bals := l.Balances()
	for _, p := range slices.Sorted(maps.Keys(bals)) {
		fmt.Fprintf(&b, "balance %s %d\n", p, bals[p])
	}
	l.mu.RLock()
	jobs := slices.Sorted(maps.Keys(l.st.holds))
	l.mu.RUnlock()
	for _, j := range jobs {
		h, _ := l.Hold(j)
		fmt.Fprintf(&b, "hold %+v\n", h)
	}
	return b.String()
}

func benchLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

var seedFlag = flag.Uint64("seed", 0, "seed for the randomized tests (0: pick one and print it)")

// testSeed is -seed, or a fresh seed; either way it is logged with the
// command that replays it.
func testSeed(t testing.TB) uint64 {
	t.Helper()
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay: go test ./settlement -run '^%s$' -seed %d)", seed, strings.Split(t.Name(), "/")[0], seed)
	return seed
}
