package main

import (
	"strings"
	"testing"

	"github.com/hayek-market/hayek/node/api"
)

// TestNegativeAmounts checks that a negative AMOUNT is refused as an
// amount, not as an unknown flag.
func TestNegativeAmounts(t *testing.T) {
	f, sock := startNode(t)
	f.AddAgent(api.AgentCreate{Name: "bot", Budget: 10})
	for _, args := range [][]string{
		{"agent", "fund", "bot", "-5"}, {"agent", "fund", "bot", "-5", "--note", "x"}, {"agent", "fund", "bot", "0"},
		{"ledger", "settle", "999999", "-5"}, {"ledger", "settle", "999999", "-0.5"},
	} {
		r := hayek(t, sock, "", args...)
		r.want(t, ExitUsage, "amounts must be positive", "Try: hayek")
		if strings.Contains(r.stderr, "flag") {
			t.Errorf("hayek %s: the amount is taken for a flag:\n%s", strings.Join(args, " "), r.stderr)
		}
	}
	hayek(t, sock, "", "agent", "fund", "bot", "ten").want(t, ExitUsage, `AMOUNT "ten": want a whole number`)
	hayek(t, sock, "", "agent", "fund", "bot", "5", "-x").want(t, ExitUsage, "unknown shorthand flag: 'x' in -x", "Try: hayek agent fund --help")
	if len(f.Settled()) != 0 {
		t.Errorf("settlements reached the node: %+v", f.Settled())
	}
}
