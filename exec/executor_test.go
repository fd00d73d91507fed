package exec

import "testing"

func TestCPUQuota(t *testing.T) {
	for _, tc := range []struct{ job, limit, want float64 }{
		{0, 0, 0},        // neither: no quota
		{0.5, 0, 0.5},    // the job's own
		{0, 2, 2},        // the executor's cap
		{0.5, 2, 0.5},    // the smaller
		{4, 2, 2},        // the smaller
		{0.001, 0, 0.01}, // at least MinCPUs
		{-1, 1.5, 1.5},   // a nonsense job value leaves the cap
		{0.001, 2, 0.01}, // at least MinCPUs under a cap too
		{3, 0.005, 0.01}, // and a tiny cap rounds up the same
	} {
		if got := CPUQuota(tc.job, tc.limit); got != tc.want {
			t.Errorf("CPUQuota(%v, %v) = %v, want %v", tc.job, tc.limit, got, tc.want)
		}
	}
}
