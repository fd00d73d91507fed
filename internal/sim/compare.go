package sim

import (
	"context"
	"runtime"
	"time"

	"golang.org/x/sync/errgroup"
)

// Variant is one column of the before/after table: a configuration and
// its name.
type Variant struct {
	Name   string
	Config Config
}

// Variants are the columns `hayek sim` prints for cfg: the design before
// issue 10 (legacy reputation parameters, no adaptive verification) under
// each fixed verification a requester could choose (sampling and blanket
// replication), and cfg itself (by default the revised design with
// adaptive verification).
func Variants(cfg Config) []Variant {
	var out []Variant
	for _, v := range []string{"sample:0.1", "replicate:2"} {
		c := cfg
		c.Legacy, c.Verify = true, v
		out = append(out, Variant{Name: "before " + v, Config: c})
	}
	name := "after " + cfg.Verify
	if cfg.Legacy {
		name = "before " + cfg.Verify
	}
	return append(out, Variant{Name: name, Config: cfg})
}

// RunAll runs the variants in parallel, one per CPU, and returns their
// reports in order. Each run is deterministic on its own.
func RunAll(ctx context.Context, vs []Variant) ([]*Report, error) {
	out := make([]*Report, len(vs))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, v := range vs {
		g.Go(func() error {
			start := time.Now()
			r, err := Run(ctx, v.Config)
			if err != nil {
				return err
			}
			r.Name = v.Name
			r.WallSeconds = round(time.Since(start).Seconds(), 2)
			out[i] = r
			return nil
		})
	}
	return out, g.Wait()
}
