package reputation

import (
	"fmt"
	"reflect"
	"testing"
)

func TestShouldSample(t *testing.T) {
	secret := []byte("requester secret")
	for _, p := range []float64{0.05, 0.1, 0.5} {
		n := 0
		for i := range 20000 {
			job := fmt.Sprint("job", i)
			s := ShouldSample(secret, job, p)
			if s != ShouldSample(secret, job, p) {
				t.Fatalf("ShouldSample is not deterministic for %s", job)
			}
			if s {
				n++
			}
		}
		// Binomial: 5 standard deviations.
		if rate, sd := float64(n)/20000, 5*sqrt(p*(1-p)/20000); rate < p-sd || rate > p+sd {
			t.Errorf("sample rate %v for p=%v", rate, p)
		}
	}
	differ := 0
	for i := range 1000 {
		job := fmt.Sprint("job", i)
		if ShouldSample(secret, job, 0.5) != ShouldSample([]byte("another"), job, 0.5) {
			differ++
		}
	}
	if differ < 400 {
		t.Errorf("the secret barely matters: %d of 1000 decisions differ", differ)
	}
	for i := range 1000 {
		job := fmt.Sprint("job", i)
		if ShouldSample(secret, job, 0) || !ShouldSample(secret, job, 1) {
			t.Fatalf("p=0 sampled or p=1 did not, for %s", job)
		}
	}
}

func sqrt(x float64) float64 {
	r := x
	for range 50 {
		r = (r + x/r) / 2
	}
	return r
}

func TestJudgeSample(t *testing.T) {
	run := func(p, d string) SampleRun { return SampleRun{Provider: p, Digest: d} }
	for _, c := range []struct {
		name     string
		runs     []SampleRun
		verdict  SampleVerdict
		digest   string
		wrong    []string
		original bool
	}{
		{"delivered only", []SampleRun{run("a", "X")}, SampleRerun, "", nil, false},
		{"re-run agrees", []SampleRun{run("a", "X"), run("b", "X")}, SampleAgree, "X", nil, false},
		{"re-run disagrees", []SampleRun{run("a", "X"), run("b", "Y")}, SampleTieBreak, "", nil, false},
		{"same provider twice is not a re-run", []SampleRun{run("a", "X"), run("a", "Y")}, SampleRerun, "", nil, false},
		{"the delivery was wrong", []SampleRun{run("a", "X"), run("b", "Y"), run("c", "Y")}, SampleResolved, "Y", []string{"a"}, true},
		{"the re-run was wrong", []SampleRun{run("a", "X"), run("b", "Y"), run("c", "X")}, SampleResolved, "X", []string{"b"}, false},
		{"nobody agrees", []SampleRun{run("a", "X"), run("b", "Y"), run("c", "Z")}, SampleUnresolved, "", nil, false},
		{"a fourth run is ignored", []SampleRun{run("a", "X"), run("b", "Y"), run("c", "Z"), run("d", "X")}, SampleUnresolved, "", nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := JudgeSample(c.runs)
			if d.Verdict != c.verdict || d.Digest != c.digest || !reflect.DeepEqual(d.Wrong, c.wrong) || d.OriginalWrong != c.original || d.Reason == "" {
				t.Fatalf("JudgeSample = %+v", d)
			}
		})
	}
}

// JudgeRuns agrees with JudgeSample on three runs, and settles what
// JudgeSample cannot with a fourth.
func TestJudgeRuns(t *testing.T) {
	rng := propRand(t)
	for range 2000 {
		n := 1 + rng.IntN(3)
		runs := make([]SampleRun, n)
		for i := range runs {
			runs[i] = SampleRun{Provider: fmt.Sprint("p", rng.IntN(4)), Digest: fmt.Sprint("d", rng.IntN(3))}
		}
		a, b := JudgeSample(runs), JudgeRuns(runs, 3)
		if a.Verdict != b.Verdict || a.Digest != b.Digest || fmt.Sprint(a.Wrong) != fmt.Sprint(b.Wrong) || a.OriginalWrong != b.OriginalWrong {
			t.Fatalf("%v: JudgeSample %+v, JudgeRuns %+v", runs, a, b)
		}
	}
	runs := []SampleRun{{"a", "x"}, {"b", "y"}, {"c", "z"}}
	if d := JudgeRuns(runs, 5); d.Verdict != SampleTieBreak {
		t.Fatalf("three results of three runs, cap 5: %+v, want another run", d)
	}
	d := JudgeRuns(append(runs, SampleRun{"d", "z"}), 5)
	if d.Verdict != SampleResolved || d.Digest != "z" || fmt.Sprint(d.Wrong) != "[a b]" || !d.OriginalWrong {
		t.Fatalf("fourth run agrees with the third: %+v", d)
	}
}
