package sim

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"golang.org/x/sync/errgroup"
)

// MaxSweepSeeds bounds one sweep: forty seeds take about ten minutes on
// two cores, and a typo such as 1-100000 should not start a week's run.
const MaxSweepSeeds = 1000

// ParseSeeds reads a list of seeds and ranges, "1-40" or "1-20,37,40",
// in the order given, without repeats.
func ParseSeeds(s string) ([]uint64, error) {
	var out []uint64
	seen := map[uint64]bool{}
	add := func(n uint64) error {
		if seen[n] {
			return nil
		}
		if len(out) == MaxSweepSeeds {
			return fmt.Errorf("seeds %q: more than %d seeds in one sweep; split it", s, MaxSweepSeeds)
		}
		seen[n] = true
		out = append(out, n)
		return nil
	}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(strings.TrimSpace(lo), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("seeds %q: %q is not a seed or a range like 1-40", s, part)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(strings.TrimSpace(hi), 10, 64); err != nil || b < a {
				return nil, fmt.Errorf("seeds %q: %q is not a range like 1-40 (low-high, low ≤ high)", s, part)
			}
		}
		for n := a; ; n++ {
			if err := add(n); err != nil {
				return nil, err
			}
			if n == b {
				break
			}
		}
	}
	return out, nil
}

// Sweep runs cfg once per seed, one run per CPU, and returns the reports
// in the seeds' order. done, if not nil, is called (one call at a time)
// as each run ends, for progress.
func Sweep(ctx context.Context, cfg Config, seeds []uint64, done func(*Report)) ([]*Report, error) {
	out := make([]*Report, len(seeds))
	var mu sync.Mutex
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, s := range seeds {
		g.Go(func() error {
			c := cfg
			c.Seed = s
			start := time.Now()
			r, err := Run(ctx, c)
			if err != nil {
				return fmt.Errorf("seed %d: %w", s, err)
			}
			r.Name = fmt.Sprintf("seed %d", s)
			r.WallSeconds = round(time.Since(start).Seconds(), 2)
			out[i] = r
			if done != nil {
				mu.Lock()
				done(r)
				mu.Unlock()
			}
			return nil
		})
	}
	return out, g.Wait()
}

// SweepSummary is what a sweep shows over its seeds: the mean and the
// worst of each goal's figure, and which seeds miss which goals.
type SweepSummary struct {
	Seeds    int                 `json:"seeds"`
	MeetAll  int                 `json:"meet_all"` // seeds that meet every goal
	Mean     SweepFigures        `json:"mean"`
	Worst    SweepFigures        `json:"worst"`
	Misses   map[string][]string `json:"misses,omitempty"` // seed → the goals it misses
	Wrong    int                 `json:"wrong_accepted"`   // wrong results accepted, all seeds
	Failed   int                 `json:"failed"`           // failed jobs, all seeds
	MostFail int                 `json:"failed_max"`       // failed jobs, the worst seed
	Complete int                 `json:"completed"`        // completed jobs, all seeds
}

// SweepFigures are the goals' figures: a mean or the worst over seeds.
type SweepFigures struct {
	WrongPer10k         float64 `json:"wrong_per_10k"`
	ReplicasPerJob      float64 `json:"replicas_per_job"`
	DishonestAwardShare float64 `json:"dishonest_award_share"`
	SybilAwardShare     float64 `json:"sybil_award_share"`
	HonestExcludedShare float64 `json:"honest_excluded_share"`
	DetectJobsMax       float64 `json:"detect_jobs_max"`
}

func figures(r *Report) SweepFigures {
	return SweepFigures{r.WrongPer10k, r.ReplicasPerJob, r.DishonestAwardShare, r.SybilAwardShare, r.HonestExcludedShare, float64(r.DetectJobsMax)}
}

// Summarize sums up a sweep against the goals.
func (g Goals) Summarize(rs []*Report) SweepSummary {
	s := SweepSummary{Seeds: len(rs)}
	if len(rs) == 0 {
		return s
	}
	var sum SweepFigures
	for i, r := range rs {
		f := figures(r)
		sum.WrongPer10k += f.WrongPer10k
		sum.ReplicasPerJob += f.ReplicasPerJob
		sum.DishonestAwardShare += f.DishonestAwardShare
		sum.SybilAwardShare += f.SybilAwardShare
		sum.HonestExcludedShare += f.HonestExcludedShare
		sum.DetectJobsMax += f.DetectJobsMax
		if i == 0 {
			s.Worst = f
		}
		s.Worst.WrongPer10k = max(s.Worst.WrongPer10k, f.WrongPer10k)
		s.Worst.ReplicasPerJob = max(s.Worst.ReplicasPerJob, f.ReplicasPerJob)
		s.Worst.DishonestAwardShare = max(s.Worst.DishonestAwardShare, f.DishonestAwardShare)
		s.Worst.SybilAwardShare = max(s.Worst.SybilAwardShare, f.SybilAwardShare)
		s.Worst.HonestExcludedShare = max(s.Worst.HonestExcludedShare, f.HonestExcludedShare)
		s.Worst.DetectJobsMax = max(s.Worst.DetectJobsMax, f.DetectJobsMax)
		s.Wrong += r.WrongAccepted
		s.Failed += r.Failed
		s.MostFail = max(s.MostFail, r.Failed)
		s.Complete += r.Completed
		if m := g.Misses(r); len(m) > 0 {
			if s.Misses == nil {
				s.Misses = map[string][]string{}
			}
			s.Misses[strconv.FormatUint(r.Seed, 10)] = m
		} else {
			s.MeetAll++
		}
	}
	n := float64(len(rs))
	s.Mean = SweepFigures{round(sum.WrongPer10k/n, 3), round(sum.ReplicasPerJob/n, 4), round(sum.DishonestAwardShare/n, 4),
		round(sum.SybilAwardShare/n, 4), round(sum.HonestExcludedShare/n, 4), round(sum.DetectJobsMax/n, 2)}
	return s
}

// WriteSweep writes one row per seed with the goals' figures and what
// the seed misses, then the mean and the worst, and the seeds that miss.
func WriteSweep(w io.Writer, g Goals, rs []*Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "seed\twrong_per_10k\treplicas_per_job\tdishonest_award_share\tsybil_award_share\thonest_excluded_share\tdetect_jobs_max\tfailed\t")
	fmt.Fprintf(tw, "goal\t≤ %g\t≤ %g\t≤ %g\t≤ %g\t≤ %g\t≤ %d\t\t\n", g.WrongPer10k, g.ReplicasPerJob, g.DishonestAwardShare, g.SybilAwardShare, g.HonestExcludedShare, g.DetectJobsMax)
	row := func(name string, f SweepFigures, failed string) {
		fmt.Fprintf(tw, "%s\t%.2f\t%.3f\t%.4f\t%.4f\t%.4f\t%g\t%s\t\n", name, f.WrongPer10k, f.ReplicasPerJob, f.DishonestAwardShare, f.SybilAwardShare, f.HonestExcludedShare, f.DetectJobsMax, failed)
	}
	for _, r := range rs {
		name := strconv.FormatUint(r.Seed, 10)
		if len(g.Misses(r)) > 0 {
			name = "*" + name
		}
		row(name, figures(r), strconv.Itoa(r.Failed))
	}
	s := g.Summarize(rs)
	row("mean", s.Mean, "")
	row("worst", s.Worst, strconv.Itoa(s.MostFail))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%d of %d seeds meet every goal; over all of them %d wrong results accepted in %d completed jobs (%.2f per 10,000), %d jobs failed\n",
		s.MeetAll, s.Seeds, s.Wrong, s.Complete, per10k(s.Wrong, s.Complete), s.Failed)
	keys := make([]string, 0, len(s.Misses))
	for k := range s.Misses {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		x, _ := strconv.ParseUint(a, 10, 64)
		y, _ := strconv.ParseUint(b, 10, 64)
		return cmp.Compare(x, y)
	})
	for _, k := range keys {
		fmt.Fprintf(w, "seed %s misses: %s\n", k, strings.Join(s.Misses[k], "; "))
	}
	return nil
}

func per10k(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) * 10_000 / float64(of)
}
