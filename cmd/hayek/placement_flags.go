package main

import (
	"github.com/spf13/pflag"

	"github.com/hayek-market/hayek/node/api"
)

// placementFlags are where a job may run (hayek job submit) or an agent's
// jobs may (hayek agent policy).
type placementFlags struct {
	placement   string
	allow, deny []string
	minRep      float64
}

func addPlacementFlags(fl *pflag.FlagSet, p *placementFlags, whose string) {
	fl.StringVar(&p.placement, "placement", "", "`local` keeps "+whose+" on this node's own provider: nothing leaves the node")
	fl.StringArrayVar(&p.allow, "allow", nil, "only this provider `PEER` may run "+whose+" (repeatable)")
	fl.StringArrayVar(&p.deny, "deny", nil, "provider `PEER` never runs "+whose+" (repeatable)")
	fl.Float64Var(&p.minRep, "min-rep", 0, "providers whose reputation (lower credible bound, 0 to 1) is below this are never invited to run "+whose)
}

// value is the placement the flags describe; try is the usage hint.
func (p placementFlags) value(try string) (api.Placement, error) {
	switch p.placement {
	case "", "any":
	case "local":
	default:
		return api.Placement{}, usageErrorf("--placement %q: want local (only this node's own provider) or any%s", p.placement, try)
	}
	if !(p.minRep >= 0 && p.minRep <= 1) {
		return api.Placement{}, usageErrorf("--min-rep %g: want a number from 0 to 1%s", p.minRep, try)
	}
	return api.Placement{Local: p.placement == "local", Allow: p.allow, Deny: p.deny, MinReputation: p.minRep}, nil
}
