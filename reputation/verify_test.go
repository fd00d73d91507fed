package reputation

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"
)

func reps(digest string, rs ...float64) []Replica {
	out := make([]Replica, len(rs))
	for i, r := range rs {
		out[i] = Replica{Provider: fmt.Sprintf("%s%d", digest, i), Digest: digest, Reliability: r}
	}
	return out
}

func TestGroupReplicas(t *testing.T) {
	gs := GroupReplicas([]Replica{
		{Provider: "p1", Digest: "B"}, {Provider: "p2", Digest: "A"}, {Provider: "p3", Digest: "B"},
		{Provider: "p1", Digest: "A"}, // p1 again: ignored
	})
	if len(gs) != 2 || gs[0].Digest != "A" || gs[1].Digest != "B" ||
		!slices.Equal(gs[0].Providers(), []string{"p2"}) || !slices.Equal(gs[1].Providers(), []string{"p1", "p3"}) {
		t.Fatalf("GroupReplicas = %+v", gs)
	}
}

func TestCredibilityTable(t *testing.T) {
	for _, c := range []struct {
		name   string
		groups []Group
		want   []float64
	}{
		{"one replica", GroupReplicas(reps("A", 0.9)), []float64{9.0 / 10}},
		{"one stranger at ½", GroupReplicas(reps("A", 0.5)), []float64{0.5}},
		{"three agree", GroupReplicas(reps("A", 0.9, 0.9, 0.9)), []float64{729.0 / 730}},
		{"two against one", GroupReplicas(append(reps("A", 0.9, 0.9), reps("B", 0.9)...)), []float64{81.0 / 91, 9.0 / 91}},
		{"a trusted lone voice", GroupReplicas(append(reps("A", 0.6, 0.6), reps("B", 0.99)...)),
			[]float64{2.25 / (1 + 2.25 + 99), 99 / (1 + 2.25 + 99)}},
		{"certain replicas are clamped", GroupReplicas(append(reps("A", 1), reps("B", 1)...)), []float64{0.5, 0.5}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Credibility(c.groups)
			for i := range got {
				if !near(got[i], c.want[i], 1e-6) {
					t.Fatalf("Credibility = %v, want %v", got, c.want)
				}
			}
		})
	}
}

func TestDecide(t *testing.T) {
	honest := reps("ok", 0.97, 0.97, 0.97)
	mixed := GroupReplicas(append(reps("ok", 0.97, 0.97), Replica{Provider: "cheat", Digest: "bad", Reliability: 0.3}))
	for _, c := range []struct {
		name       string
		groups     []Group
		eps        float64
		max, have  int
		verdict    Verdict
		digest     string
		more       int
		agree, dis []string
	}{
		{"veterans agree", GroupReplicas(honest), 0.01, 5, 3, Accept, "ok", 0, []string{"ok0", "ok1", "ok2"}, nil},
		{"honest majority over a cheat", mixed, 0.01, 5, 3, Accept, "ok", 0, []string{"ok0", "ok1"}, []string{"cheat"}},
		// r = 0.6: odds 1.5 each; three agree: 3.375; credible at odds 99:
		// 1.5^n ≥ 99/3.375 → n = 9, capped at the 2 the cap allows.
		{"low reputations ask for more", GroupReplicas(reps("ok", 0.6, 0.6, 0.6)), 0.01, 5, 3, NeedMore, "ok", 2, nil, nil},
		{"low reputations fail at the cap", GroupReplicas(reps("ok", 0.6, 0.6, 0.6, 0.6, 0.6)), 0.01, 5, 5, Fail, "ok", 0, nil, nil},
		// Strangers at the verification prior 0.9, split two to one:
		// 81·9^n ≥ 99·(1 + 9) → n = 2.
		{"a split among strangers", GroupReplicas(append(reps("A", 0.9, 0.9), reps("B", 0.9)...)), 0.01, 9, 3, NeedMore, "A", 2, nil, nil},
		{"strangers at ½ never convince", GroupReplicas(reps("ok", 0.5, 0.5, 0.5)), 0.01, 9, 3, NeedMore, "ok", 1, nil, nil},
		{"nothing back yet", nil, 0.01, 5, 3, NeedMore, "", 1, nil, nil},
		{"nothing back at the cap", nil, 0.01, 5, 5, Fail, "", 0, nil, nil},
		{"have below the results counts the results", GroupReplicas(reps("ok", 0.6, 0.6, 0.6)), 0.01, 4, 0, NeedMore, "ok", 1, nil, nil},
		{"bad epsilon", GroupReplicas(honest), 0, 5, 3, Fail, "", 0, nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := Decide(c.groups, c.eps, c.max, c.have)
			if d.Verdict != c.verdict || d.Digest != c.digest || d.More != c.more ||
				!reflect.DeepEqual(d.Agree, c.agree) || !reflect.DeepEqual(d.Disagree, c.dis) || d.Reason == "" {
				t.Fatalf("Decide = %+v", d)
			}
		})
	}
}

// Credibilities are probabilities that leave room for "none is right";
// agreement with a better-than-even provider raises a group's
// credibility; and NeedMore asks for enough: if the replicas it asks for
// agree with the leader at the average reliability, the leader is
// accepted.
func TestCredibilityProperty(t *testing.T) {
	rng := propRand(t)
	for range 3000 {
		var rs []Replica
		n := 1 + rng.IntN(7)
		for i := range n {
			rs = append(rs, Replica{Provider: fmt.Sprint("p", i), Digest: fmt.Sprint("d", rng.IntN(3)), Reliability: 0.05 + 0.9*rng.Float64()})
		}
		gs := GroupReplicas(rs)
		cred := Credibility(gs)
		sum := 0.0
		for _, c := range cred {
			if c < 0 || c > 1 || math.IsNaN(c) {
				t.Fatalf("credibility %v of %+v", c, gs)
			}
			sum += c
		}
		if sum >= 1 {
			t.Fatalf("credibilities sum to %v ≥ 1: %v", sum, cred)
		}
		g := rng.IntN(len(gs))
		r := 0.5 + 0.49*rng.Float64()
		more := append(slices.Clone(rs), Replica{Provider: "extra", Digest: gs[g].Digest, Reliability: r})
		gs2 := GroupReplicas(more)
		for i, c := range Credibility(gs2) {
			if gs2[i].Digest == gs[g].Digest && c < cred[g]-1e-12 {
				t.Fatalf("an agreeing replica at %v lowered credibility %v → %v", r, cred[g], c)
			}
		}

		eps := []float64{0.1, 0.01, 0.001}[rng.IntN(3)]
		d := Decide(gs, eps, 100, len(rs))
		if d.Verdict != NeedMore || d.More == 100-len(rs) { // capped: no promise
			continue
		}
		avg := 0.0
		for _, r := range rs {
			avg += r.Reliability
		}
		avg /= float64(len(rs))
		if avg <= 0.5 {
			continue
		}
		grown := slices.Clone(rs)
		for i := range d.More {
			grown = append(grown, Replica{Provider: fmt.Sprint("new", i), Digest: d.Digest, Reliability: avg})
		}
		if d2 := Decide(GroupReplicas(grown), eps, 100, len(grown)); d2.Verdict != Accept || d2.Digest != d.Digest {
			t.Fatalf("asked for %d more at %v, got %+v after they agreed (was %+v)", d.More, avg, d2, d)
		}
	}
}

// JudgeCheck weighs runs by their providers' records: a pair of
// strangers does not condemn a veteran without a tie-breaker, strangers
// alone need three agreeing runs at ε = 0.01, and a veteran's check
// settles a stranger's result in two. Agreeing runs of one cohort (a
// subnet) are one voice.
func TestJudgeCheck(t *testing.T) {
	const eps = 0.01
	for _, c := range []struct {
		name  string
		runs  []Replica
		want  SampleVerdict
		dig   string
		wrong []string
	}{
		{"one run", []Replica{{"a", "x", 0.9, ""}}, SampleRerun, "", nil},
		{"two strangers agree", []Replica{{"a", "x", 0.9, ""}, {"b", "x", 0.9, ""}}, SampleTieBreak, "", nil},
		{"three strangers agree", []Replica{{"a", "x", 0.9, ""}, {"b", "x", 0.9, ""}, {"c", "x", 0.9, ""}}, SampleAgree, "x", nil},
		{"veteran checks a stranger", []Replica{{"a", "x", 0.9, ""}, {"v", "x", 0.99, ""}}, SampleAgree, "x", nil},
		{"pair against a veteran", []Replica{{"v", "y", 0.99, ""}, {"a", "x", 0.9, ""}, {"b", "x", 0.9, ""}}, SampleTieBreak, "", nil},
		{"veterans condemn a stranger", []Replica{{"a", "x", 0.9, ""}, {"v", "y", 0.995, ""}, {"w", "y", 0.995, ""}}, SampleResolved, "y", []string{"a"}},
		{"a veteran alone condemns nobody", []Replica{{"a", "x", 0.9, ""}, {"v", "y", 0.999, ""}}, SampleTieBreak, "", nil},
		{"cap", []Replica{{"a", "x", 0.9, ""}, {"b", "y", 0.9, ""}, {"c", "z", 0.9, ""}, {"d", "x", 0.9, ""}, {"e", "y", 0.9, ""}}, SampleUnresolved, "", nil},
		{"a provider counts once", []Replica{{"a", "x", 0.9, ""}, {"a", "x", 0.9, ""}, {"a", "x", 0.9, ""}}, SampleRerun, "", nil},
		// Sybils on one subnet drawn as each other's checkers: one voice.
		{"a cohort is one voice", []Replica{{"s1", "bad", 0.9, "net1"}, {"s2", "bad", 0.9, "net1"}, {"s3", "bad", 0.9, "net1"}}, SampleTieBreak, "", nil},
		{"a trusted cohort-mate is one voice", []Replica{{"s1", "bad", 0.9, "net1"}, {"s2", "bad", 0.995, "net1"}}, SampleTieBreak, "", nil},
		{"cohort against strangers", []Replica{{"s1", "bad", 0.9, "net1"}, {"s2", "bad", 0.9, "net1"}, {"a", "ok", 0.9, "net2"}, {"b", "ok", 0.9, "net3"}, {"c", "ok", 0.9, "net4"}}, SampleUnresolved, "", nil},
		{"two cohorts condemn a sybil pair", []Replica{{"s1", "bad", 0.9, "net1"}, {"s2", "bad", 0.9, "net1"}, {"v", "ok", 0.995, "net2"}, {"w", "ok", 0.995, "net3"}}, SampleResolved, "ok", []string{"s1", "s2"}},
		{"cohort-mates that disagree are two voices", []Replica{{"s1", "bad", 0.9, "net1"}, {"s2", "ok", 0.995, "net1"}, {"w", "ok", 0.995, "net2"}}, SampleResolved, "ok", []string{"s1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := JudgeCheck(c.runs, eps, 5)
			if d.Verdict != c.want || d.Digest != c.dig || !slices.Equal(d.Wrong, c.wrong) {
				t.Fatalf("JudgeCheck = %v %q wrong %v (%s), want %v %q wrong %v", d.Verdict, d.Digest, d.Wrong, d.Reason, c.want, c.dig, c.wrong)
			}
		})
	}
}
