package requester

import (
	"context"
	"fmt"
	"slices"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/internal/wire"
)

// When a call for bids is gossiped as well as sent to its invitees
// (Config.CallGossip).
const (
	// CallGossipThin gossips a call only when the market is thin: the
	// call names fewer than B invitees because discovery found fewer
	// candidates than that, so providers the DHT has not shown yet may
	// bid unasked. With B or more candidates the B invitees are what the
	// auction needs, and gossip would cost ~7 copies per node for bids
	// that rank below them anyway.
	CallGossipThin = "thin"
	// CallGossipAlways gossips every call, as before direct calls.
	CallGossipAlways = "always"
	// CallGossipNever sends calls to their invitees only.
	CallGossipNever = "never"
)

// CallGossipModes are the values Config.CallGossip takes.
var CallGossipModes = []string{CallGossipThin, CallGossipAlways, CallGossipNever}

// sendCall carries a call for bids to its invitees, each over its own
// stream on /hayek/call/1.0.0 in a goroutine of the task group (at most B
// of them, each bounded by wire.CallTimeout), and gossips it on the
// primary capability's topic too when the rule of Config.CallGossip says
// so. A send that fails is logged and counted, never fatal: that invitee
// does not answer and the auction closes on its window.
func (r *Service) sendCall(ctx context.Context, j *job, env canon.Envelope) {
	var c market.CallForBids
	if err := canon.Unmarshal(env.Body, &c); err != nil {
		// The machine sealed it a moment ago: this is a bug, not a peer.
		r.d.Log.Error("cannot read own call for bids", "job", j.id, "err", err)
		return
	}
	if r.d.Auction != nil {
		r.d.Auction()
	}
	gossiped := r.gossips(j, c) && r.publish(ctx, j, env)
	for _, to := range c.Invitees {
		if to == r.self && gossiped {
			continue // the published call reached this node's own subscriber already
		}
		r.d.Tasks.Go(func() {
			if err := wire.SendCall(ctx, r.d.Host, to, env); err != nil {
				r.d.Drops.Add("call/unsent")
				r.d.Log.Debug("cannot send call for bids", "job", j.id, "invitee", wire.ShortID(to), "err", err)
			}
		})
	}
}

// gossips reports whether call c of job j goes on the gossip topic too.
// A local job never does: nobody else may run it. Nor does a job placed
// on named providers (an allow list) once the call invites every one of
// them: any other provider's bid would be dropped.
func (r *Service) gossips(j *job, c market.CallForBids) bool {
	if j.place.Local {
		return false
	}
	if len(j.place.Allow) > 0 && !slices.ContainsFunc(j.place.Allow, func(p string) bool { return !slices.Contains(c.Invitees, p) }) {
		return false
	}
	switch r.d.CallGossip {
	case CallGossipAlways:
		return true
	case CallGossipNever:
		return false
	}
	return len(c.Invitees) < r.cfg.MaxInvitees
}

// publish gossips env and reports whether it went out.
func (r *Service) publish(ctx context.Context, j *job, env canon.Envelope) bool {
	if err := r.d.Publish(ctx, env, j.spec.Runtime); err != nil {
		r.d.Log.Warn("cannot publish call for bids", "job", j.id, "err", fmt.Errorf("requester: %w", err))
		return false
	}
	return true
}
