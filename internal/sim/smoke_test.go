package sim

import (
	"reflect"
	"testing"
)

// The same configuration and seed give the same report.
func TestDeterministic(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Jobs = 600
	cfg.Verify = "sample:0.2"
	t.Logf("seed %d", cfg.Seed)
	a, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("two runs with seed %d differ:\n%+v\n%+v", cfg.Seed, a, b)
	}
	if a.Completed == 0 || a.Jobs != cfg.Jobs {
		t.Fatalf("ran %d jobs, %d completed", a.Jobs, a.Completed)
	}
}
