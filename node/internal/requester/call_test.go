package requester

import (
	"testing"

	"github.com/hayek-market/hayek/market"
)

// A call is gossiped as well as sent to its invitees only when the
// configuration says so: with "thin", when it names fewer than B; a
// local job's call never.
func TestCallGossipRule(t *testing.T) {
	two := market.CallForBids{Invitees: []string{"a", "b"}}
	three := market.CallForBids{Invitees: []string{"a", "b", "c"}}
	for _, c := range []struct {
		mode  string
		local bool
		call  market.CallForBids
		want  bool
	}{
		{CallGossipThin, false, two, true},
		{"", false, two, true}, // the zero value is the default
		{CallGossipThin, false, three, false},
		{CallGossipThin, true, two, false},
		{CallGossipAlways, false, three, true},
		{CallGossipAlways, true, three, false},
		{CallGossipNever, false, two, false},
	} {
		r := &Service{d: Deps{Config: Config{CallGossip: c.mode}}, cfg: market.JobConfig{MaxInvitees: 3}}
		j := &job{place: Placement{Local: c.local}}
		if got := r.gossips(j, c.call); got != c.want {
			t.Errorf("mode %q, local %v, %d invitees: gossips = %v, want %v", c.mode, c.local, len(c.call.Invitees), got, c.want)
		}
	}
}
