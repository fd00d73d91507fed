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
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
)

func newOffersCmd(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "offers",
		Short: "List the providers' offers this node knows",
		Long: `List the signed offers this node has fetched from providers: the runtimes
each sells (wasm, process: static executables, docker: container images),
its machine (cores and architecture, memory), its GPUs (count × model, memory
of each), its price formula and limits, and when the offer expires. Prices are
in the smallest money unit; a job's price is
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
			return writeTable(g.Stdout, "PROVIDER\tRUNTIMES\tCPUS\tMEMORY\tGPUS\tPRICING\tLIMITS\tEXPIRES", offers, func(t io.Writer, o api.OfferInfo) {
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
				m := machineOf(o)
				fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", who, m.runtimes, m.cpus, m.memory, m.gpus,
					flat(o.Pricing), flat(o.Limits), expires)
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the offers as a JSON array, with full peer IDs")
	return c
}

// machine is what an offer's table row says of the runtimes and the
// machine.
type machine struct{ runtimes, cpus, memory, gpus string }

// machineOf reads an offer's capabilities and resources: runtimes by
// their short names, with any capability that is neither a runtime nor a
// GPU after them; "-" for what the offer does not state.
func machineOf(o api.OfferInfo) machine {
	m := machine{cpus: "-", memory: "-", gpus: "-"}
	var rts []string
	for _, c := range o.Capabilities {
		switch {
		case strings.HasPrefix(c, "runtime/"):
			rts = append(rts, strings.TrimPrefix(c, "runtime/"))
		case strings.HasPrefix(c, market.GPUCapabilityPrefix):
		default:
			rts = append(rts, c)
		}
	}
	m.runtimes = orDash(strings.Join(rts, ","))
	var r market.Resources
	if len(o.Resources) == 0 || json.Unmarshal(o.Resources, &r) != nil {
		return m
	}
	m.cpus = fmt.Sprintf("%d %s", r.CPUs, r.Arch)
	m.memory = units.FormatSize(r.MemoryBytes)
	var gs []string
	for _, g := range r.GPUs {
		gs = append(gs, fmt.Sprintf("%d×%s %s", g.Count, g.Model, units.FormatSize(g.VRAMMiB<<20)))
	}
	if len(gs) > 0 {
		m.gpus = strings.Join(gs, ",")
	}
	return m
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
