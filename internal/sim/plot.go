package sim

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// WritePlots draws a report into dir as PNGs: the award share of each
// population over the run, the tracked providers' lower bounds in the
// first requester's book, and how many runs always-cheaters got before
// detection. It returns the files written.
func WritePlots(dir string, r *Report) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sim: plots: %w", err)
	}
	tag := strings.NewReplacer(" ", "-", ":", "", "/", "-").Replace(r.Name)
	if tag == "" {
		tag = r.Design
	}
	var files []string
	save := func(p *plot.Plot, name string) error {
		f := filepath.Join(dir, tag+"-"+name+".png")
		if err := p.Save(8*vg.Inch, 5*vg.Inch, f); err != nil {
			return fmt.Errorf("sim: plot %s: %w", f, err)
		}
		files = append(files, f)
		return nil
	}
	x := func(i, n int) float64 { return float64(i+1) * 100 / float64(n) }

	// Award share per population kind, per bucket of jobs.
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Award share by population (%s, seed %d)", r.Name, r.Seed)
	p.X.Label.Text = "% of jobs submitted"
	p.Y.Label.Text = "share of awards"
	kindSet := map[string]bool{}
	for _, b := range r.series {
		for k := range b {
			kindSet[k] = true
		}
	}
	var lines []any
	for _, k := range slices.Sorted(maps.Keys(kindSet)) {
		pts := make(plotter.XYs, len(r.series))
		for i, b := range r.series {
			tot := 0
			for _, v := range b {
				tot += v
			}
			pts[i].X = x(i, len(r.series))
			if tot > 0 {
				pts[i].Y = float64(b[k]) / float64(tot)
			}
		}
		lines = append(lines, k, pts)
	}
	if err := plotutil.AddLines(p, lines...); err != nil {
		return nil, err
	}
	if err := save(p, "award-share"); err != nil {
		return nil, err
	}

	// Reputation trajectories.
	p = plot.New()
	p.Title.Text = "Lower credible bound in the first requester's book (each population's busiest identity)"
	p.X.Label.Text = "% of jobs submitted"
	p.Y.Label.Text = "lower bound (q = 0.05)"
	lines = nil
	for _, name := range slices.Sorted(maps.Keys(r.traj)) {
		t := r.traj[name]
		pts := make(plotter.XYs, len(t))
		for i, v := range t {
			pts[i].X, pts[i].Y = x(i, len(t)), v
		}
		lines = append(lines, name, pts)
	}
	if err := plotutil.AddLines(p, lines...); err != nil {
		return nil, err
	}
	if err := save(p, "reputation"); err != nil {
		return nil, err
	}

	// Detection: runs an always-cheater got from one requester before it
	// ranked below every honest provider there.
	p = plot.New()
	p.Title.Text = "Always-cheaters: runs before detection, per requester"
	p.X.Label.Text = "runs"
	p.Y.Label.Text = "(cheater, requester) pairs"
	if len(r.detectJobs) > 0 {
		vs := make(plotter.Values, len(r.detectJobs))
		for i, v := range r.detectJobs {
			vs[i] = float64(v)
		}
		h, err := plotter.NewHist(vs, max(1, min(20, r.detectJobs[len(r.detectJobs)-1])))
		if err != nil {
			return nil, err
		}
		p.Add(h)
	}
	if err := save(p, "detection"); err != nil {
		return nil, err
	}
	return files, nil
}
