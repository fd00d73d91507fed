package sim

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestParseSeeds(t *testing.T) {
	for in, want := range map[string][]uint64{
		"7":           {7},
		"1-3":         {1, 2, 3},
		"1-3,2,9":     {1, 2, 3, 9},
		" 5 , 1 - 2 ": {5, 1, 2},
		"0-0":         {0},
	} {
		got, err := ParseSeeds(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseSeeds(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "3-1", "1-", "-4", "1,,2", "1-1001"} {
		if got, err := ParseSeeds(in); err == nil {
			t.Errorf("ParseSeeds(%q) = %v, want an error", in, got)
		}
	}
	if got, err := ParseSeeds("1-1000"); err != nil || len(got) != MaxSweepSeeds {
		t.Errorf("ParseSeeds(1-1000) = %d seeds, %v", len(got), err)
	}
}

// A sweep's summary: means and worsts over the seeds, and which seeds
// miss which goals.
func TestSummarize(t *testing.T) {
	rs := []*Report{
		{Seed: 1, WrongPer10k: 0, ReplicasPerJob: 1.2, DishonestAwardShare: 0.01, DetectJobsMax: 3, Completed: 10_000, Failed: 5},
		{Seed: 2, WrongPer10k: 2, WrongAccepted: 2, ReplicasPerJob: 1.4, DishonestAwardShare: 0.03, DetectJobsMax: 5, Completed: 10_000, Failed: 50},
		{Seed: 3, WrongPer10k: 0, ReplicasPerJob: 1.0, SybilAwardShare: 0.001, DetectJobsMax: 1, Completed: 10_000},
	}
	g := DefaultGoals()
	s := g.Summarize(rs)
	if s.Seeds != 3 || s.MeetAll != 2 || s.Wrong != 2 || s.Failed != 55 || s.MostFail != 50 || s.Complete != 30_000 {
		t.Errorf("counts: %+v", s)
	}
	if s.Mean.ReplicasPerJob != 1.2 || s.Worst.ReplicasPerJob != 1.4 || s.Worst.DishonestAwardShare != 0.03 || s.Worst.DetectJobsMax != 5 || s.Mean.DetectJobsMax != 3 {
		t.Errorf("figures: mean %+v worst %+v", s.Mean, s.Worst)
	}
	if len(s.Misses) != 1 || len(s.Misses["2"]) != 3 {
		t.Errorf("misses %v, want seed 2's wrong results, runs and share", s.Misses)
	}
	var b bytes.Buffer
	if err := WriteSweep(&b, g, rs); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"*2", "mean", "worst", "2 of 3 seeds meet every goal", "2 wrong results accepted in 30000 completed jobs (0.67 per 10,000)", "seed 2 misses: wrong_per_10k 2.00 > 1.00"} {
		if !strings.Contains(out, want) {
			t.Errorf("sweep table lacks %q:\n%s", want, out)
		}
	}
}
