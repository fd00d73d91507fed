package requester

import (
	"testing"

	"github.com/hayek-market/hayek/market"
)

// A call is gossiped as well as sent to its invitees only when the
// configuration says so: with "thin", when it names fewer than B; a
// local job's call never, nor one placed on named providers who are all
// invited.
func TestCallGossipRule(t *testing.T) {
	two := market.CallForBids{Invitees: []string{"a", "b"}}
	three := market.CallForBids{Invitees: []string{"a", "b", "c"}}
	for _, c := range []struct {
		mode  string
		local bool
		allow []string
		call  market.CallForBids
		want  bool
	}{
		{CallGossipThin, false, nil, two, true},
		{"", false, nil, two, true}, // the zero value is the default
		{CallGossipThin, false, nil, three, false},
		{CallGossipThin, true, nil, two, false},
		{CallGossipAlways, false, nil, three, true},
		{CallGossipAlways, true, nil, three, false},
		{CallGossipNever, false, nil, two, false},
		// Placed on named providers, all invited: nobody else may bid.
		{CallGossipThin, false, []string{"a"}, two, false},
		{CallGossipAlways, false, []string{"a", "b"}, two, false},
		// One of them not found by discovery: gossip may reach it.
		{CallGossipThin, false, []string{"a", "z"}, two, true},
	} {
		r := &Service{d: Deps{Config: Config{CallGossip: c.mode}}, cfg: market.JobConfig{MaxInvitees: 3}}
		j := &job{place: Placement{Local: c.local, Allow: c.allow}}
		if got := r.gossips(j, c.call); got != c.want {
			t.Errorf("mode %q, local %v, allow %v, %d invitees: gossips = %v, want %v", c.mode, c.local, c.allow, len(c.call.Invitees), got, c.want)
		}
	}
}
