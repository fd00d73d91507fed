package evidence

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/internal/canon/canontest"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/reputation"
)

// The receiving side of shared catches, driven without a network: frames
// in through checkCatch (the topic's validator), valid ones handed to
// receiveCatch (the receiving loop), the clock injected.

var catchNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

const (
	cReporter = "reqA"  // the requester that caught the cheat
	cSelf     = "reqB"  // the receiving requester
	cCheat    = "cheat" // the accused
	cJob      = "job-1"
)

// anyIDs verifies any name: keys derive from names, as a libp2p peer ID
// carries its public key.
type anyIDs struct{ *canontest.Keyring }

func (k anyIDs) Verify(id string, msg, sig []byte) error {
	k.Signer(id)
	return k.Keyring.Verify(id, msg, sig)
}

type catchRig struct {
	t     testing.TB
	ids   anyIDs
	now   time.Time
	drops *wire.Drops
	s     *Service
}

func newCatchRig(t testing.TB, window time.Duration) *catchRig {
	t.Helper()
	r := &catchRig{t: t, ids: anyIDs{canontest.NewKeyring()}, now: catchNow, drops: wire.NewDrops()}
	s, err := New(Deps{Signer: r.ids.Signer(cSelf), Verifier: r.ids, Drops: r.drops,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return r.now },
		Config: Config{HalfLife: 14 * 24 * time.Hour, AttestEvery: time.Minute, Freshness: 30 * time.Second, Epsilon: 0.01,
			CreditLimit: 100, CreditMax: 1000, CatchWindow: window, CatchTrust: reputation.DefaultCheckPolicy().Trusted}})
	if err != nil {
		t.Fatal(err)
	}
	r.s = s
	return r
}

// pay gives this node first-hand evidence that p ran n jobs right.
func (r *catchRig) pay(p string, n int) {
	for i := range n {
		r.s.Record(p, string(market.RuntimeWasm), reputation.Success, fmt.Sprintf("rc-%s-%d", p, i))
	}
}

func (r *catchRig) seal(kind string, m canon.Message) []byte {
	r.t.Helper()
	env, err := canon.Seal(r.ids.Signer(m.Sender()), kind, m)
	if err != nil {
		r.t.Fatal(err)
	}
	return env.Encode()
}

var catchModule = canon.BlobCID([]byte("module")).String()

// run is provider's run of job under the reporter's award, with stdout
// out.
func (r *catchRig) run(job, provider, out string) market.CaughtRun {
	a := market.Award{Job: job, Attempt: 1, Requester: cReporter, Provider: provider, Price: 10,
		Run:     market.RunSpec{Module: market.Blob{CID: catchModule, Size: 6}, Args: []string{"x"}, TimeoutMs: 1000},
		Created: r.now.UnixMilli()}
	ab := r.seal(market.KindAward, a)
	env, _ := canon.DecodeEnvelope(ab)
	res := market.Result{Job: job, Attempt: 1, Award: env.CID(), Provider: provider, Requester: cReporter,
		Status: market.StatusOK, Stdout: market.Stream{Blob: market.Blob{CID: canon.BlobCID([]byte(out)).String(), Size: int64(len(out))}},
		Created: r.now.UnixMilli()}
	return market.CaughtRun{Award: ab, Result: r.seal(market.KindResult, res)}
}

// catch is the reporter's catch of cCheat by checkers, each answering
// "right".
func (r *catchRig) catch(checkers ...string) market.Catch {
	c := market.Catch{Job: cJob, Reporter: cReporter, Accused: r.run(cJob, cCheat, "wrong"), Created: r.now.UnixMilli()}
	for i, p := range checkers {
		c.Checkers = append(c.Checkers, r.run(fmt.Sprintf("%s-s%d", cJob, i+1), p, "right"))
	}
	c.Spec = market.SpecDigest(market.RunSpec{Module: market.Blob{CID: catchModule, Size: 6}, Args: []string{"x"}})
	return c
}

// deliver feeds a frame to the validator and, if it passes, to the
// receiving loop.
func (r *catchRig) deliver(b []byte) pubsub.ValidationResult {
	cm, res := r.s.checkCatch(b)
	if res == pubsub.ValidationAccept && cm != nil {
		r.s.receiveCatch(cm)
	}
	return res
}

func (r *catchRig) wantDrop(reason string, n int64) {
	r.t.Helper()
	if got := r.drops.Snapshot()[reason]; got != n {
		r.t.Errorf("drops %s = %d, want %d (all: %v)", reason, got, n, r.drops.Snapshot())
	}
}

func TestCatchActedOnWhenACheckerIsTrusted(t *testing.T) {
	r := newCatchRig(t, 24*time.Hour)
	r.pay("c1", 10)
	if r.s.Suspect(cCheat) {
		t.Fatal("a suspect before any catch")
	}
	before := r.s.Book().Posterior(cCheat, string(market.RuntimeWasm))
	if res := r.deliver(r.seal(market.KindCatch, r.catch("c1", "c2"))); res != pubsub.ValidationAccept {
		t.Fatalf("valid catch: %v", res)
	}
	if !r.s.Suspect(cCheat) {
		t.Fatal("the accused is no suspect after a catch backed by a trusted checker")
	}
	if st := r.s.CatchStats(); st.Received != 1 || st.Acted != 1 {
		t.Errorf("stats %+v, want 1 received, 1 acted", st)
	}
	if after := r.s.Book().Posterior(cCheat, string(market.RuntimeWasm)); after != before {
		t.Errorf("the catch changed the accused's record: %+v → %+v", before, after)
	}
	r.pay(cCheat, 1) // a row for the accused
	if rows := r.s.Rows(cCheat); len(rows) != 1 || rows[0].SuspectUntil == nil || !rows[0].SuspectUntil.Equal(r.now.Add(24*time.Hour)) {
		t.Errorf("rows %+v, want the suspicion's end shown", rows)
	}
	r.now = r.now.Add(24*time.Hour - time.Second)
	if !r.s.Suspect(cCheat) {
		t.Fatal("suspicion ended before the window")
	}
	r.now = r.now.Add(time.Second)
	if r.s.Suspect(cCheat) {
		t.Fatal("suspicion outlived the window")
	}
}

func TestCatchIgnoredWithoutFirstHandTrust(t *testing.T) {
	r := newCatchRig(t, 24*time.Hour)
	r.pay(cReporter, 10) // trusting the reporter is not enough
	r.pay("c2", 1)       // nor having paid a checker once: not trusted yet
	if res := r.deliver(r.seal(market.KindCatch, r.catch("c1", "c2"))); res != pubsub.ValidationAccept {
		t.Fatalf("valid catch: %v (it is forwarded, for whoever trusts its checkers)", res)
	}
	if r.s.Suspect(cCheat) {
		t.Fatal("acted on a catch whose checkers this node has no first-hand trust in")
	}
	if st := r.s.CatchStats(); st.Received != 1 || st.Acted != 0 {
		t.Errorf("stats %+v, want 1 received, 0 acted", st)
	}
}

func TestCatchRefusals(t *testing.T) {
	type tc struct {
		name   string
		frame  func(r *catchRig) []byte
		reason string
		res    pubsub.ValidationResult
	}
	for _, c := range []tc{
		{"forged inner result", func(r *catchRig) []byte {
			k := r.catch("c1")
			env, _ := canon.DecodeEnvelope(k.Checkers[0].Result)
			env.Sig = bytes.Clone(env.Sig)
			env.Sig[0] ^= 1
			k.Checkers[0].Result = env.Encode()
			return r.seal(market.KindCatch, k)
		}, "catch/forged", pubsub.ValidationReject},
		{"forged accused result", func(r *catchRig) []byte {
			k := r.catch("c1")
			// The reporter signs a "wrong" result in the accused's name.
			env, _ := canon.DecodeEnvelope(k.Accused.Result)
			env.Sig, _ = r.ids.Signer(cReporter).Sign(env.Body)
			k.Accused.Result = env.Encode()
			return r.seal(market.KindCatch, k)
		}, "catch/forged", pubsub.ValidationReject},
		{"accused is a checker", func(r *catchRig) []byte {
			return r.seal(market.KindCatch, r.catch("c1", cCheat))
		}, "catch/bad_proof", pubsub.ValidationReject},
		{"reporter is a checker", func(r *catchRig) []byte {
			k := r.catch("c1")
			k.Checkers = append(k.Checkers, r.run(cJob+"-s2", cReporter, "right"))
			return r.seal(market.KindCatch, k)
		}, "catch/bad_proof", pubsub.ValidationReject},
		{"checkers disagree", func(r *catchRig) []byte {
			k := r.catch("c1")
			k.Checkers = append(k.Checkers, r.run(cJob+"-s2", "c2", "other"))
			return r.seal(market.KindCatch, k)
		}, "catch/bad_proof", pubsub.ValidationReject},
		{"accused agrees with the checkers", func(r *catchRig) []byte {
			k := r.catch("c1")
			k.Accused = r.run(cJob, cCheat, "right")
			return r.seal(market.KindCatch, k)
		}, "catch/bad_proof", pubsub.ValidationReject},
		{"checker ran another spec", func(r *catchRig) []byte {
			k := r.catch("c1")
			k.Spec = market.SpecDigest(market.RunSpec{Module: market.Blob{CID: catchModule}, Args: []string{"y"}})
			return r.seal(market.KindCatch, k)
		}, "catch/bad_proof", pubsub.ValidationReject},
		{"result answers another award", func(r *catchRig) []byte {
			k := r.catch("c1")
			k.Checkers[0].Award = r.run(cJob+"-s9", "c1", "right").Award
			return r.seal(market.KindCatch, k)
		}, "catch/bad_proof", pubsub.ValidationReject},
		{"stale", func(r *catchRig) []byte {
			k := r.catch("c1")
			k.Created = r.now.Add(-time.Minute).UnixMilli()
			return r.seal(market.KindCatch, k)
		}, "catch/stale", pubsub.ValidationIgnore},
		{"oversized", func(r *catchRig) []byte {
			return make([]byte, maxCatch+1)
		}, "catch/oversized", pubsub.ValidationReject},
		{"reporter's signature", func(r *catchRig) []byte {
			env, _ := canon.DecodeEnvelope(r.seal(market.KindCatch, r.catch("c1")))
			env.Sig[1] ^= 1
			return env.Encode()
		}, "catch/bad_signature", pubsub.ValidationReject},
		{"not canonical CBOR", func(r *catchRig) []byte {
			return []byte{0xa3, 0x01}
		}, "catch/malformed", pubsub.ValidationReject},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newCatchRig(t, 24*time.Hour)
			r.pay("c1", 10)
			r.pay("c2", 10)
			if res := r.deliver(c.frame(r)); res != c.res {
				t.Errorf("result %v, want %v", res, c.res)
			}
			r.wantDrop(c.reason, 1)
			if r.s.Suspect(cCheat) {
				t.Error("acted on a refused catch")
			}
		})
	}
}

func TestCatchReplayAndRate(t *testing.T) {
	r := newCatchRig(t, 24*time.Hour)
	r.pay("c1", 10)
	b := r.seal(market.KindCatch, r.catch("c1"))
	if res := r.deliver(b); res != pubsub.ValidationAccept {
		t.Fatalf("first: %v", res)
	}
	if res := r.deliver(b); res != pubsub.ValidationIgnore {
		t.Errorf("replay: %v", res)
	}
	// Signed again later, for the same job and accused: still a replay.
	r.now = r.now.Add(time.Second)
	k := r.catch("c1")
	k.Created = r.now.UnixMilli()
	if res := r.deliver(r.seal(market.KindCatch, k)); res != pubsub.ValidationIgnore {
		t.Errorf("re-signed replay: %v", res)
	}
	r.wantDrop("catch/replayed", 2)
	// Other accused: the reporter's burst, then its rate.
	for i := range catchBurst + 1 {
		k := r.catch("c1")
		k.Accused = r.run(cJob, fmt.Sprintf("cheat-%d", i), "wrong")
		r.deliver(r.seal(market.KindCatch, k))
	}
	r.wantDrop("catch/rate", 2) // the first catch took one of the burst
	if st := r.s.CatchStats(); st.Received != catchBurst {
		t.Errorf("received %d, want %d", st.Received, catchBurst)
	}
	r.now = r.now.Add(catchEvery)
	k = r.catch("c1")
	k.Accused = r.run(cJob, "cheat-late", "wrong")
	k.Created = r.now.UnixMilli()
	if res := r.deliver(r.seal(market.KindCatch, k)); res != pubsub.ValidationAccept {
		t.Errorf("after the rate's interval: %v", res)
	}
}

func TestCatchSuspectsBounded(t *testing.T) {
	r := newCatchRig(t, time.Hour)
	r.pay("c1", 10)
	r.s.catch.suspects = map[string]time.Time{}
	for i := range maxSuspects {
		r.s.catch.suspects[fmt.Sprintf("old-%d", i)] = r.now.Add(time.Duration(i+1) * time.Minute)
	}
	r.deliver(r.seal(market.KindCatch, r.catch("c1")))
	if !r.s.Suspect(cCheat) {
		t.Fatal("a full suspect set refused a new suspect")
	}
	if n := len(r.s.catch.suspects); n != maxSuspects {
		t.Errorf("%d suspects, want the cap %d", n, maxSuspects)
	}
	if r.s.Suspect("old-0") {
		t.Error("the suspicion ending first was kept over the new one")
	}
}

// TestSealCatchFits: a catch over the frame cap sheds checkers until it
// fits, and still proves itself to a receiver.
func TestSealCatchFits(t *testing.T) {
	// The reporter's own rig: catches are sealed as this node's.
	r := newCatchRig(t, 24*time.Hour)
	s, err := New(Deps{Signer: r.ids.Signer(cReporter), Verifier: r.ids, Drops: wire.NewDrops(), Log: r.s.d.Log,
		Now: func() time.Time { return r.now }, Config: r.s.d.Config})
	if err != nil {
		t.Fatal(err)
	}
	k := r.catch("c1", "c2", "c3", "c4")
	if b := s.sealCatch(k); b == nil || r.deliver(b) != pubsub.ValidationAccept {
		t.Fatal("a small catch was not sealed whole, or not accepted")
	}
	one := len(k.Checkers[0].Award) + len(k.Checkers[0].Result)
	k.Job = "job-2"
	k.Accused.Award = bytes.Repeat([]byte{0}, maxCatch-2*one) // an accused award that leaves room for one checker
	b := s.sealCatch(k)
	if b == nil || len(b) > maxCatch {
		t.Fatalf("sealed %d bytes, want a catch within %d", len(b), maxCatch)
	}
	env, _ := canon.DecodeEnvelope(b)
	var got market.Catch
	if err := canon.Unmarshal(env.Body, &got); err != nil || len(got.Checkers) == 0 || len(got.Checkers) >= len(k.Checkers) {
		t.Fatalf("%d checkers kept of %d (%v), want fewer but some", len(got.Checkers), len(k.Checkers), err)
	}
	k.Accused.Award = bytes.Repeat([]byte{0}, maxCatch)
	if s.sealCatch(k) != nil {
		t.Fatal("sealed a catch that cannot fit")
	}
}

func TestCatchWindowZeroSharesNothing(t *testing.T) {
	r := newCatchRig(t, 0)
	r.s.ShareCatch(t.Context(), r.catch("c1")) // no topic joined: a no-op
	if st := r.s.CatchStats(); st.Sent != 0 {
		t.Errorf("sent %d with sharing off", st.Sent)
	}
}

// FuzzCatch feeds arbitrary frames to the catch validator and, when one
// passes, to the receiving loop. A body that decodes as a catch but does
// not verify is re-sealed under its reporter's key and fed too, so the
// proof's checks meet arbitrary fields, not only the seeds'.
func FuzzCatch(f *testing.F) {
	seedRig := newCatchRig(f, 24*time.Hour)
	valid := seedRig.catch("c1", "c2")
	f.Add(seedRig.seal(market.KindCatch, valid))
	bad := seedRig.catch("c1", cCheat)
	f.Add(seedRig.seal(market.KindCatch, bad))
	f.Add(canon.MustMarshal(valid))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := newCatchRig(t, 24*time.Hour)
		r.pay("c1", 10)
		r.deliver(b)
		env, err := canon.DecodeEnvelope(b)
		if err != nil || env.Kind != market.KindCatch {
			return
		}
		var c market.Catch
		if canon.Unmarshal(env.Body, &c) != nil || c.Reporter == "" || c.Reporter == cSelf {
			return
		}
		c.Created = r.now.UnixMilli()
		res := r.deliver(r.seal(market.KindCatch, c))
		if res == pubsub.ValidationAccept && r.s.Suspect(cCheat) {
			// Acted on: the proof must hold.
			if _, err := market.OpenCatch(r.ids, c); err != nil {
				t.Fatalf("acted on a catch whose proof fails: %v", err)
			}
		}
	})
}
