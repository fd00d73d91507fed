package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node/api"
)

func newJobQuoteCmd(g *globals) *cobra.Command {
	var f submitFlags
	c := &cobra.Command{
		Use:   "quote --wasm FILE|--exec FILE|--image REF|--image-file FILE [flags] [-- ARGS...]",
		Short: "Ask what a job would cost and who could run it, without submitting it",
		Long: `Ask the market what a job would cost, without submitting it.

The flags are hayek job submit's. The node finds the providers of the job's
runtime, checks their signed offers and reputation as an auction would, and
asks the rest what they would bid now; each answers with a signed price and
committed start, or the reason it would decline. Nothing is held from the
budget, nothing is written to any ledger and no provider reserves anything;
the module and files are uploaded to the local node, so submitting next is
quick.

The answer is a funnel — found, fit, eligible, asked, reachable, would bid —
with the price range, the expected start, and why each other provider would
not run the job. Prices follow providers' load: a quote holds for 30s.

Exits 0 when some provider would bid, 3 when none would.`,
		Example: `  hayek job quote --wasm hello.wasm
  hayek job quote --wasm job.wasm --max-price 40 --memory 2GiB
  hayek job quote --wasm job.wasm --min-reputation 0.8 --json
  hayek job quote --exec ./solver --cpus 4 --gpus 1 --gpu-model a100`,
		RunE: func(c *cobra.Command, args []string) error { return runQuote(c, g, &f, args) },
	}
	fl := c.Flags()
	addSpecFlags(fl, &f)
	fl.BoolVar(&f.json, "json", false, "print the quote as JSON")
	return c
}

func runQuote(c *cobra.Command, g *globals, f *submitFlags, args []string) error {
	ctx := c.Context()
	cl, req, err := flagsSpec(c, g, f, args)
	if err != nil {
		return err
	}
	defer cl.Close()
	q, err := cl.Quote(ctx, req)
	if err != nil {
		var e *api.Error
		if errors.As(err, &e) && e.Code == api.CodeRateLimited {
			return withCode(ExitNotRun, err)
		}
		return submitError(ctx, cl, err)
	}
	if f.json {
		err = writeJSON(g.Stdout, q)
	} else {
		err = printQuote(g.Stdout, q, f.maxPrice)
	}
	if err == nil && q.WouldBid == 0 {
		return withCode(ExitNotRun, errors.New("no provider would bid on this job now; the reasons are above"))
	}
	return err
}

// printQuote writes a quote for people: the funnel, the prices, who would
// bid, and why the others would not, grouped by reason.
func printQuote(w io.Writer, q api.Quote, maxPrice int64) error {
	fmt.Fprintf(w, "quote for %s, max price %d, valid until %s\n", strings.Join(q.Capabilities, " + "), maxPrice,
		q.ValidUntil.Local().Format(time.TimeOnly))
	fmt.Fprintf(w, "  found %d → fit %d → eligible %d → asked %d → reachable %d → would bid %d\n",
		q.Found, q.Fit, q.Eligible, q.Asked, q.Reachable, q.WouldBid)
	if q.Price != nil && q.StartWithinMs != nil {
		fmt.Fprintf(w, "  price %s, starting within %s (expected %s)\n", span(q.Price.Min, q.Price.Max, amount),
			span(q.StartWithinMs.Min, q.StartWithinMs.Max, ms), ms(q.ExpectedStartMs))
	}
	var bids, others []api.QuoteProvider
	for _, p := range q.Providers {
		if p.Stage == api.StageBid {
			bids = append(bids, p)
		} else {
			others = append(others, p)
		}
	}
	slices.SortFunc(bids, func(a, b api.QuoteProvider) int { return cmp.Compare(a.Price, b.Price) })
	if len(bids) > 0 {
		fmt.Fprintln(w, "\nwould bid:")
		t := newTable(w)
		for _, p := range bids {
			fmt.Fprintf(t, "  %s\t%d\tstart within %s\tload %d%%\n", shortPeer(p.Provider), p.Price, ms(p.StartWithinMs), p.Load/10)
		}
		t.Flush()
	}
	if len(others) > 0 {
		fmt.Fprintln(w, "\nwould not:")
		slices.SortStableFunc(others, func(a, b api.QuoteProvider) int {
			return cmp.Or(-cmp.Compare(q.Reasons[a.Reason], q.Reasons[b.Reason]), cmp.Compare(a.Reason, b.Reason))
		})
		t := newTable(w)
		for _, p := range others {
			fmt.Fprintf(t, "  %s\t%s\t%s\n", p.Reason, shortPeer(p.Provider), p.Detail)
		}
		t.Flush()
	}
	if q.Found == 0 {
		fmt.Fprintf(w, "\nno provider of %s is known: is the node connected? (hayek peers, hayek offers)\n", strings.Join(q.Capabilities, ", "))
	}
	return nil
}

// span is "lo–hi", or one value when they are equal.
func span(lo, hi int64, f func(int64) string) string {
	if lo == hi {
		return f(lo)
	}
	return f(lo) + "–" + f(hi)
}

func amount(v int64) string { return strconv.FormatInt(v, 10) }

func ms(v int64) string { return (time.Duration(v) * time.Millisecond).String() }
