package testnet

import (
	"fmt"
	"image/color"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// drawPlots writes the report's PNGs into out and returns their names.
func drawPlots(out string, t *Testnet, r *Report, reps []RepSample) ([]string, error) {
	var names []string
	for _, p := range []struct {
		file string
		draw func() (*plot.Plot, error)
	}{
		{"latency_cdf.png", func() (*plot.Plot, error) { return latencyCDF(r) }},
		{"completed_over_time.png", func() (*plot.Plot, error) { return completedOverTime(r) }},
		{"reputation.png", func() (*plot.Plot, error) { return reputationOverTime(t, r, reps) }},
		{"award_share.png", func() (*plot.Plot, error) { return awardShare(r) }},
	} {
		pl, err := p.draw()
		if err != nil {
			return nil, fmt.Errorf("testnet: plot %s: %w", p.file, err)
		}
		if err := pl.Save(7*vg.Inch, 4*vg.Inch, filepath.Join(out, p.file)); err != nil {
			return nil, fmt.Errorf("testnet: plot %s: %w", p.file, err)
		}
		names = append(names, p.file)
	}
	return names, nil
}

func latencyCDF(r *Report) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Submit-to-result latency (completed jobs)"
	p.X.Label.Text = "latency (s)"
	p.Y.Label.Text = "fraction of jobs"
	var xs []float64
	for _, tl := range r.Timelines {
		if tl.State == "completed" && tl.Result > 0 {
			xs = append(xs, tl.Result/1000)
		}
	}
	sort.Float64s(xs)
	pts := plotter.XYs{}
	for i, x := range xs {
		pts = append(pts, plotter.XY{X: x, Y: float64(i+1) / float64(len(xs))})
	}
	if len(pts) == 0 {
		pts = append(pts, plotter.XY{})
	}
	return p, plotutil.AddLines(p, "CDF", pts)
}

// start is the earliest submission: time zero of the time plots.
func (r *Report) start() time.Time {
	var s time.Time
	for _, tl := range r.Timelines {
		if s.IsZero() || tl.Submit.Before(s) {
			s = tl.Submit
		}
	}
	return s
}

func completedOverTime(r *Report) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Jobs completed over time (dashed: faults injected)"
	p.X.Label.Text = "time since first submission (s)"
	p.Y.Label.Text = "jobs"
	t0 := r.start()
	var done, failed []float64
	for _, tl := range r.Timelines {
		at := tl.Submit.Sub(t0).Seconds() + tl.Finished/1000
		switch tl.State {
		case "completed":
			done = append(done, at)
		case "failed":
			failed = append(failed, at)
		}
	}
	cum := func(xs []float64) plotter.XYs {
		sort.Float64s(xs)
		pts := plotter.XYs{{X: 0, Y: 0}}
		for i, x := range xs {
			pts = append(pts, plotter.XY{X: x, Y: float64(i + 1)})
		}
		return pts
	}
	if err := plotutil.AddLines(p, "completed", cum(done), "failed", cum(failed)); err != nil {
		return nil, err
	}
	top := float64(max(len(done), 1))
	for _, pt := range r.Perturbations {
		if pt.Action == "up" || pt.Time.Before(t0) {
			continue
		}
		x := pt.Time.Sub(t0).Seconds()
		l, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: top}})
		if err != nil {
			return nil, err
		}
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		l.Color = color.RGBA{R: 200, A: 255}
		p.Add(l)
		lbl, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: x, Y: top}}, Labels: []string{pt.Action}})
		if err != nil {
			return nil, err
		}
		p.Add(lbl)
	}
	return p, nil
}

func reputationOverTime(t *Testnet, r *Report, reps []RepSample) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Providers' reputation over time (mean, averaged over requesters)"
	p.X.Label.Text = "time since first submission (s)"
	p.Y.Label.Text = "posterior mean"
	p.Y.Min, p.Y.Max = 0, 1
	t0 := r.start()
	names := t.PeerName()
	series := map[string]plotter.XYs{}
	// Average each provider's mean over the requesters sampled at the
	// same tick (samples of one tick share a second).
	type key struct {
		tick int64
		peer string
	}
	sum, cnt := map[key]float64{}, map[key]int{}
	for _, s := range reps {
		for peer, m := range s.Mean {
			k := key{s.Time.Unix(), peer}
			sum[k] += m
			cnt[k]++
		}
	}
	var keys []key
	for k := range sum {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].tick < keys[j].tick })
	for _, k := range keys {
		name := nameOf(names, k.peer)
		x := time.Unix(k.tick, 0).Sub(t0).Seconds()
		series[name] = append(series[name], plotter.XY{X: x, Y: sum[k] / float64(cnt[k])})
	}
	var vs []any
	var provs []string
	for n := range series {
		provs = append(provs, n)
	}
	slices.Sort(provs)
	for _, n := range provs {
		vs = append(vs, n, series[n])
	}
	if len(vs) == 0 {
		vs = append(vs, "no samples", plotter.XYs{{}})
	}
	return p, plotutil.AddLines(p, vs...)
}

func awardShare(r *Report) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Award share per provider"
	p.Y.Label.Text = "share of awards"
	var provs []string
	total := 0
	for n, c := range r.Awards {
		provs = append(provs, n)
		total += c
	}
	slices.Sort(provs)
	vals := plotter.Values{}
	for _, n := range provs {
		vals = append(vals, float64(r.Awards[n])/float64(max(total, 1)))
	}
	if len(vals) == 0 {
		vals, provs = plotter.Values{0}, []string{"none"}
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(18))
	if err != nil {
		return nil, err
	}
	bars.Color = plotutil.Color(0)
	p.Add(bars)
	p.NominalX(provs...)
	return p, nil
}
