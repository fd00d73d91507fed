package sim

import (
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/reputation"
)

// adaptive picks a job's verification from the requester's book.
func (r *requester) adaptive(root *rootJob, spec market.JobSpec) string {
	return "replicate:2"
}

func legacyParams() reputation.Params { return reputation.DefaultParams() }
