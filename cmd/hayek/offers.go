package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/internal/units"
	"github.com/hayek-market/hayek/node/api"
)

func newOffersCmd(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "offers",
		Short: "List the providers' offers this node knows",
		Long: `List the signed offers this node has fetched from providers: what each
sells, its price formula and limits, and when the offer expires. Prices are in
the smallest money unit; a job's price is
  base + per_second × timeout(s) + per_gib_second × memory(GiB) × timeout(s).`,
		Example: `  hayek offers
  hayek offers --json | jq '.[].pricing'`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			offers, err := ask(c, g, (*api.Client).Offers)
			if err != nil {
				return clientError(err)
			}
			if asJSON {
				return writeJSON(g.Stdout, offers)
			}
			if len(offers) == 0 {
				_, err := fmt.Fprintln(g.Stderr, "no offers known yet: is this node connected to peers? (hayek peers)")
				return err
			}
			return writeTable(g.Stdout, "PROVIDER\tCAPABILITIES\tPRICING\tLIMITS\tEXPIRES", offers, func(t io.Writer, o api.OfferInfo) {
				who := shortPeer(o.Provider)
				if o.Self {
					who += " (self)"
				}
				expires := "in " + time.Until(o.ExpiresAt).Round(time.Second).String()
				if o.Withdrawn {
					expires = "withdrawn"
				} else if time.Until(o.ExpiresAt) <= 0 {
					expires = "expired"
				}
				fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\n", who, strings.Join(o.Capabilities, ","), flat(o.Pricing), flat(o.Limits), expires)
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the offers as a JSON array, with full peer IDs")
	return c
}

// flat renders a JSON object as "k=v k=v", keys sorted, for a table cell.
func flat(raw json.RawMessage) string {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // 1073741824, not 1.073741824e+09
	if len(raw) == 0 || dec.Decode(&m) != nil {
		return orDash(string(raw))
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		v := fmt.Sprint(m[k])
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			switch {
			case k == "max_timeout_ms":
				k, v = "max_timeout", (time.Duration(n) * time.Millisecond).String()
			case strings.HasPrefix(k, "max_"):
				v = units.FormatSize(n)
			}
		}
		parts[i] = k + "=" + v
	}
	return strings.Join(parts, " ")
}
