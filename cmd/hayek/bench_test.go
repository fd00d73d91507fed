package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestBenchSaysHowManyJobsEachPhaseRan checks that the report's header and
// rows give each phase's own job count, as runPhases runs them.
func TestBenchSaysHowManyJobsEachPhaseRan(t *testing.T) {
	r := &BenchReport{Nodes: 10, Jobs: 1000, GoJobs: goPhaseJobs(1000), Concurrency: 8, GoModuleBytes: 3_200_000, GoVersion: "go1.26", CPUs: 2}
	var out bytes.Buffer
	printBench(&out, r)
	s := out.String()
	if !strings.HasPrefix(s, "hayek bench: 10 nodes, 1000 jobs per trivial-module phase and 250 per Go-module phase, 8 in flight") {
		t.Errorf("header:\n%s", s)
	}
	for _, row := range []string{"trivial module, one at a time        1000", "Go module, 8 in flight                250"} {
		if !strings.Contains(s, row) {
			t.Errorf("report lacks %q:\n%s", row, s)
		}
	}
	// A phase not measured (--modules trivial) prints no row of zeros.
	r.Modules = []string{"trivial"}
	out.Reset()
	printBench(&out, r)
	if strings.Contains(out.String(), "Go module") {
		t.Errorf("--modules trivial printed the Go-module rows:\n%s", out.String())
	}
	if goPhaseJobs(12) != 10 {
		t.Errorf("a Go-module phase runs at least 10 jobs, not %d", goPhaseJobs(12))
	}
	runCLI(t, "bench", "--jobs", "5").want(t, ExitUsage, "--jobs ≥ 10")
}
