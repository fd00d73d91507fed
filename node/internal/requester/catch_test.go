package requester

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/internal/canon/canontest"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/reputation"
)

// veteran: every provider has a settled record here, so its results are
// checked at MinRate.
type veteran struct{ *fakeRep }

func (*veteran) BookStanding(string, string, float64) reputation.Standing {
	return reputation.Standing{Eligible: true, LowerBound: 0.99}
}

// TestSuspectCheckedEveryTime: a provider another requester caught
// (Deps.Suspect) has its result checked even where its record would
// have it spot-checked.
func TestSuspectCheckedEveryTime(t *testing.T) {
	suspects := map[string]bool{}
	r := &Service{self: "me", secret: []byte("secret"), policy: reputation.DefaultCheckPolicy(),
		d: Deps{Rep: &veteran{&fakeRep{}}, Now: time.Now, Suspect: func(p string) bool { return suspects[p] }}}
	r.prob = newProbation(r.d.Rep, r.policy, time.Now)
	id := ""
	for i := 0; id == ""; i++ {
		if c := fmt.Sprintf("j%d", i); !reputation.ShouldSample(r.secret, c, 0.05) {
			id = c
		}
	}
	o := &market.Outcome{Paid: []market.ReplicaResult{{Provider: "vet"}}}
	j := &job{id: id, spec: market.JobSpec{Runtime: market.RuntimeWasm, MaxPrice: 10}}
	r.decideCheck(j, o)
	if j.sampling != nil {
		t.Fatal("a veteran's result was checked by a draw that should skip it")
	}
	suspects["vet"] = true
	j = &job{id: id, spec: market.JobSpec{Runtime: market.RuntimeWasm, MaxPrice: 10}}
	r.decideCheck(j, o)
	if j.sampling == nil {
		t.Fatal("a suspect's result was not checked")
	}
	if len(j.events) == 0 {
		t.Error("no event says the check is the catch's")
	}
}

// TestShareCatchesProof: the catch a verdict sends carries a proof a
// receiver accepts — the wrong run's and the agreeing checkers' signed
// awards and results.
func TestShareCatchesProof(t *testing.T) {
	ids := canontest.NewKeyring()
	seal := func(kind string, m canon.Message) []byte {
		env, err := canon.Seal(ids.Signer(m.Sender()), kind, m)
		if err != nil {
			t.Fatal(err)
		}
		return env.Encode()
	}
	s := &sampling{adaptive: true, awards: map[string][]byte{}} // the awards as the jobs kept them
	run := func(job, p, out string) market.ReplicaResult {
		a := market.Award{Job: job, Attempt: 1, Requester: "me", Provider: p,
			Run: market.RunSpec{Module: market.Blob{CID: canon.BlobCID([]byte("m")).String()}, TimeoutMs: 100}}
		ab := seal(market.KindAward, a)
		env, _ := canon.DecodeEnvelope(ab)
		s.awards[env.CID()] = ab
		res := market.Result{Job: job, Attempt: 1, Award: env.CID(), Provider: p, Requester: "me", Status: market.StatusOK,
			Stdout: market.Stream{Blob: market.Blob{CID: canon.BlobCID([]byte(out)).String()}}}
		return market.ReplicaResult{Provider: p, Digest: res.Digest(), Result: res, Env: seal(market.KindResult, res)}
	}
	var sent []market.Catch
	r := &Service{self: "me", d: Deps{ShareCatch: func(_ context.Context, c market.Catch) { sent = append(sent, c) }}}
	orig, c1, c2 := run("j", "cheat", "wrong"), run("j-s1", "c1", "right"), run("j-s2", "c2", "right")
	s.original = orig
	parent := &job{id: "j", sampling: s}
	r.shareCatches(t.Context(), parent, []market.ReplicaResult{orig, c1, c2}, c1.Digest, []string{"cheat"})
	if len(sent) != 1 {
		t.Fatalf("%d catches sent, want 1", len(sent))
	}
	c := sent[0]
	c.Reporter = "me" // the reputation service signs it as this node
	p, err := market.OpenCatch(ids, c)
	if err != nil {
		t.Fatalf("the catch sent does not prove itself: %v", err)
	}
	if p.Accused != "cheat" || len(p.Checkers) != 2 {
		t.Fatalf("proof %+v, want cheat contradicted by c1 and c2", p)
	}
}
