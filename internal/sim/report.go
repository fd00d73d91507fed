package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is what one run shows. Its JSON form is what `hayek sim --json`
// prints; shares are fractions, "after burn-in" unless named _all.
type Report struct {
	Name        string `json:"name,omitempty"`
	Seed        uint64 `json:"seed"`
	Design      string `json:"design"` // legacy: reputation before issue 10; revised: after
	Verify      string `json:"verify"`
	Jobs        int    `json:"jobs"`
	Completed   int    `json:"completed"`
	Failed      int    `json:"failed"`
	VirtualTime string `json:"virtual_time"`

	WrongPer10k      float64 `json:"wrong_per_10k"` // wrong results accepted per 10,000 completed jobs
	WrongPer10kAfter float64 `json:"wrong_per_10k_after_burn_in"`
	WrongAccepted    int     `json:"wrong_accepted"`

	DishonestAwardShare    float64 `json:"dishonest_award_share"`
	DishonestAwardShareAll float64 `json:"dishonest_award_share_all"`
	// DishonestAwardSharePaying is DishonestAwardShare over the awards of
	// requesters that pay: a non-paying requester's jobs go mostly to
	// whoever still extends it credit, and that is rarely an honest
	// provider's loss.
	DishonestAwardSharePaying float64 `json:"dishonest_award_share_paying"`
	DishonestPaidShare        float64 `json:"dishonest_paid_share"`
	DishonestPaidShareAll     float64 `json:"dishonest_paid_share_all"`
	SybilAwardShare           float64 `json:"sybil_award_share"`
	HonestExcludedShare       float64 `json:"honest_excluded_share"`   // honest providers some paying requester will not let win (their own record there)
	HonestBadmouthedShare     float64 `json:"honest_badmouthed_share"` // honest providers some paying requester believes worse than a stranger
	ReplicasPerJob            float64 `json:"replicas_per_job"`        // runs awarded per job submitted, sample re-runs included

	DetectJobsMax    int    `json:"detect_jobs_max"` // an always-cheater's runs for one requester until it ranks below every honest provider there
	DetectJobsMedian int    `json:"detect_jobs_median"`
	DetectTimeMax    string `json:"detect_time_max"`
	Undetected       int    `json:"undetected"`      // (always-cheater, requester) pairs never detected that could still win there or slipped a wrong result through
	BarredUnjudged   int    `json:"barred_unjudged"` // pairs never judged (checks without a verdict) but barred there, no wrong result accepted

	AttackerCostPerWrong float64 `json:"attacker_cost_per_wrong"` // honest work dishonest identities paid for, per wrong result accepted
	PriceToHonestCost    float64 `json:"price_to_honest_cost"`    // what requesters paid honest providers over what their runs cost them
	NonPayingDebt        int64   `json:"non_paying_debt"`         // providers' unsettled claims on non-paying requesters at the end
	NonPayingMaxExposure int64   `json:"non_paying_max_exposure"` // the most one provider is owed by one non-paying requester

	AwardsByKind      map[string]int `json:"awards_by_kind"`
	AwardsAfterByKind map[string]int `json:"awards_after_burn_in_by_kind"`
	WrongByKind       map[string]int `json:"wrong_by_kind"` // the kind of provider whose wrong result was accepted, and whether it was checked
	FailCodes         map[string]int `json:"fail_codes"`
	SampleRuns        int            `json:"sample_runs"`
	// CheckRuns: adaptive verification's re-runs (SampleRuns) by cause.
	// A check's first run by where the winner stood with the requester
	// on reputation.CheckPolicy's scale — probation (below Trusted,
	// always checked), trusted (below Proven, always checked), ramp (from
	// Proven to Settled), settled — or forced (checked at rate 1 while an
	// earlier result of it was under check there, or another requester
	// caught it, when its standing alone gave less); tie_break: every
	// later run of a check whose runs had no verdict yet.
	CheckRuns    map[string]int `json:"check_runs,omitempty"`
	MessagesLost int            `json:"messages_lost"`
	WallSeconds  float64        `json:"wall_seconds,omitempty"`

	detectTime time.Duration
	detectJobs []int
	series     []map[string]int
	traj       map[string][]float64
}

// WriteJSON writes reports as one JSON object (one report) or an array.
func WriteJSON(w io.Writer, rs ...*Report) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	if len(rs) == 1 {
		return e.Encode(rs[0])
	}
	return e.Encode(rs)
}

// Goals are issue 10's targets; Check says which a report misses.
type Goals struct {
	WrongPer10k         float64 // at most
	ReplicasPerJob      float64 // at most
	DetectJobsMax       int     // at most
	DishonestAwardShare float64 // at most, after burn-in
	SybilAwardShare     float64 // at most
	HonestExcludedShare float64 // at most
}

// DefaultGoals are the issue's.
func DefaultGoals() Goals {
	return Goals{WrongPer10k: 1, ReplicasPerJob: 1.3, DetectJobsMax: 10, DishonestAwardShare: 0.02,
		SybilAwardShare: 0.05, HonestExcludedShare: 0.01}
}

// Misses lists the goals r does not meet.
func (g Goals) Misses(r *Report) []string {
	var out []string
	if r.WrongPer10k > g.WrongPer10k {
		out = append(out, fmt.Sprintf("wrong_per_10k %.2f > %.2f", r.WrongPer10k, g.WrongPer10k))
	}
	if r.ReplicasPerJob > g.ReplicasPerJob {
		out = append(out, fmt.Sprintf("replicas_per_job %.3f > %.2f", r.ReplicasPerJob, g.ReplicasPerJob))
	}
	if r.DetectJobsMax > g.DetectJobsMax {
		out = append(out, fmt.Sprintf("detect_jobs_max %d > %d", r.DetectJobsMax, g.DetectJobsMax))
	}
	if r.Undetected > 0 {
		out = append(out, fmt.Sprintf("%d (always-cheater, requester) pairs undetected", r.Undetected))
	}
	if r.DishonestAwardShare > g.DishonestAwardShare {
		out = append(out, fmt.Sprintf("dishonest_award_share %.4f > %.2f", r.DishonestAwardShare, g.DishonestAwardShare))
	}
	if r.SybilAwardShare > g.SybilAwardShare {
		out = append(out, fmt.Sprintf("sybil_award_share %.4f > %.2f", r.SybilAwardShare, g.SybilAwardShare))
	}
	if r.HonestExcludedShare > g.HonestExcludedShare {
		out = append(out, fmt.Sprintf("honest_excluded_share %.4f > %.2f", r.HonestExcludedShare, g.HonestExcludedShare))
	}
	return out
}

// WriteTable writes reports side by side, one column per report, with
// the goal of each row.
func WriteTable(w io.Writer, rs ...*Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	g := DefaultGoals()
	row := func(name, goal string, f func(r *Report) string) {
		cells := []string{name}
		for _, r := range rs {
			cells = append(cells, f(r))
		}
		cells = append(cells, goal)
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	head := func(r *Report) string {
		if r.Name != "" {
			return r.Name
		}
		return r.Design + " " + r.Verify
	}
	row("metric", "goal", head)
	row("seed", "", func(r *Report) string { return fmt.Sprint(r.Seed) })
	row("jobs (completed)", "", func(r *Report) string { return fmt.Sprintf("%d (%d)", r.Jobs, r.Completed) })
	row("wrong_per_10k", fmt.Sprintf("≤ %g", g.WrongPer10k), func(r *Report) string { return fmt.Sprintf("%.2f", r.WrongPer10k) })
	row("replicas_per_job", fmt.Sprintf("≤ %g", g.ReplicasPerJob), func(r *Report) string { return fmt.Sprintf("%.3f", r.ReplicasPerJob) })
	row("detect_jobs_max (median)", fmt.Sprintf("≤ %d", g.DetectJobsMax), func(r *Report) string {
		s := fmt.Sprintf("%d (%d)", r.DetectJobsMax, r.DetectJobsMedian)
		if r.Undetected > 0 {
			s += fmt.Sprintf(" %d undetected", r.Undetected)
		}
		if r.BarredUnjudged > 0 {
			s += fmt.Sprintf(" %d barred unjudged", r.BarredUnjudged)
		}
		return s
	})
	row("dishonest_award_share", fmt.Sprintf("≤ %g", g.DishonestAwardShare), func(r *Report) string { return fmt.Sprintf("%.4f", r.DishonestAwardShare) })
	row("dishonest_award_share_all", "", func(r *Report) string { return fmt.Sprintf("%.4f", r.DishonestAwardShareAll) })
	row("dishonest_award_share_paying", "", func(r *Report) string { return fmt.Sprintf("%.4f", r.DishonestAwardSharePaying) })
	row("dishonest_paid_share", "", func(r *Report) string { return fmt.Sprintf("%.4f", r.DishonestPaidShare) })
	row("sybil_award_share", fmt.Sprintf("≤ %g", g.SybilAwardShare), func(r *Report) string { return fmt.Sprintf("%.4f", r.SybilAwardShare) })
	row("honest_excluded_share", fmt.Sprintf("≤ %g", g.HonestExcludedShare), func(r *Report) string { return fmt.Sprintf("%.4f", r.HonestExcludedShare) })
	row("honest_badmouthed_share", "", func(r *Report) string { return fmt.Sprintf("%.4f", r.HonestBadmouthedShare) })
	row("attacker_cost_per_wrong", "", func(r *Report) string { return fmt.Sprintf("%.1f", r.AttackerCostPerWrong) })
	row("price_to_honest_cost", "", func(r *Report) string { return fmt.Sprintf("%.3f", r.PriceToHonestCost) })
	row("non_paying_debt", "", func(r *Report) string { return fmt.Sprint(r.NonPayingDebt) })
	row("failed jobs", "", func(r *Report) string { return fmt.Sprint(r.Failed) })
	return tw.Flush()
}
