package sim

import "testing"

// BenchmarkRun measures the simulator on the default setting (adaptive
// verification, ledgers on) with 2,000 jobs per iteration; jobs/s is
// what `hayek sim` reaches per core.
func BenchmarkRun(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Jobs = 2000
	for b.Loop() {
		if _, err := Run(b.Context(), cfg); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cfg.Jobs*b.N)/b.Elapsed().Seconds(), "jobs/s")
}
