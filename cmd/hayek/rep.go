package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node/api"
)

func newRepCmd(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "rep [PEER]",
		Short: "Show what this node believes of its peers, per capability",
		Long: `Show this node's Bayesian reputation of each peer per capability: a Beta(α, β)
posterior starting from Beta(1, 1), its mean, its lower credible bound (what
a job's --min-reputation is compared with) and the evidence behind it —
first-hand (receipts this node is a party to, verification outcomes) and
third-party (attestations, weighted by what this node knows of their authors,
capped). Evidence decays toward the prior with age. Operator only.

CHECKED marks a suspect: a peer another requester caught returning a wrong
result, with a proof backed by a checker this node trusts. Until the time
shown this node checks every adaptive result of that peer; the catch is not
part of the posterior.

PEER is a peer ID, or any start or end of one that names a single peer the
node knows (its short form 12D3…eSTcZ6, or eSTcZ6, will do).`,
		Example: "  hayek rep\n  hayek rep eSTcZ6\n  hayek rep 12D3KooW… --json",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErrorf("%s takes at most one PEER, got %d arguments\nTry: hayek rep, for every peer", c.CommandPath(), len(args))
			}
			return nil
		},
		ValidArgsFunction: completePeers(g, 0),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := connect(g)
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx := c.Context()
			peer := ""
			if len(args) == 1 {
				if peer, err = resolvePeer(ctx, cl, args[0]); err != nil {
					return err
				}
			}
			rows, err := cl.Reputation(ctx, peer)
			if err != nil {
				return clientError(err)
			}
			if asJSON {
				return writeJSON(g.Stdout, rows)
			}
			if len(rows) == 0 {
				what := "any peer"
				if peer != "" {
					what = shortPeer(peer)
				}
				_, err := fmt.Fprintf(g.Stderr, "no evidence about %s yet: reputation grows with paid jobs and verified results\n", what)
				return err
			}
			now := time.Now()
			return writeTable(g.Stdout, "PEER\tCAPABILITY\tα\tβ\tMEAN\tLOWER BOUND\tEVIDENCE\t(FIRST-HAND / THIRD-PARTY)\tCHECKED", rows, func(t io.Writer, r api.RepRow) {
				fmt.Fprintf(t, "%s\t%s\t%.2f\t%.2f\t%.3f\t%.3f\t%.1f\t(%.1f / %.1f)\t%s\n", shortPeer(r.Peer), r.Capability, r.Alpha, r.Beta,
					r.Mean, r.LowerBound, r.Evidence, r.FirstHand, r.ThirdParty, suspectNote(r.SuspectUntil, now))
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the rows as a JSON array, with full peer IDs")
	return c
}

// suspectNote says whether every result of a peer is being checked here
// because of another requester's catch, and until when: "-" for a peer in
// good standing. The time is local, with the date only when it is not
// within the next day, so an operator reads it at a glance.
func suspectNote(until *time.Time, now time.Time) string {
	if until == nil || !until.After(now) {
		return "-"
	}
	layout := "15:04"
	if until.Sub(now) >= 24*time.Hour {
		layout = "2006-01-02 15:04"
	}
	return "until " + until.Local().Format(layout) + " (a shared catch)"
}
