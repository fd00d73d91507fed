package testnet

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// arpThreshFile is the kernel's hard limit on neighbour (ARP) entries.
// The table is shared by every network namespace on the host, so every
// container's entries count against it: a net where each node talks to
// every other on two networks needs about nodes × (nodes−1) × networks.
// Beyond the limit the kernel drops entries ("neighbor table overflow"),
// and dials between containers time out.
const arpThreshFile = "/proc/sys/net/ipv4/neigh/default/gc_thresh3"

// checkARP fails when the testnet needs more neighbour entries than the
// local kernel keeps. It checks only a local engine (no DOCKER_HOST).
func (t *Testnet) checkARP() error {
	if os.Getenv("DOCKER_HOST") != "" {
		return nil
	}
	b, err := os.ReadFile(arpThreshFile)
	if err != nil {
		return nil // not Linux, or not readable: nothing to say
	}
	limit, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return nil
	}
	need := arpEntries(t)
	if need <= limit {
		return nil
	}
	want := 1024
	for want < 2*need {
		want *= 2
	}
	return fmt.Errorf("testnet: %d nodes on %d networks need about %d neighbour (ARP) entries, above this host's limit of %d (net.ipv4.neigh.default.gc_thresh3, shared by all containers); "+
		"dials between containers would time out. Raise it (as root): sysctl -w net.ipv4.neigh.default.gc_thresh1=%d net.ipv4.neigh.default.gc_thresh2=%d net.ipv4.neigh.default.gc_thresh3=%d",
		len(t.Nodes), len(t.Networks), need, limit, want/4, want/2, want)
}

// arpEntries estimates the neighbour entries of a full mesh: each node
// knows every other node sharing a network, on each shared network, and
// its gateways.
func arpEntries(t *Testnet) int {
	n := 0
	for _, net := range t.Networks {
		on := 0
		for _, nd := range t.Nodes {
			for _, a := range nd.Addrs {
				if a.Network == net.Name {
					on++
				}
			}
		}
		n += on * on // on × (on−1) peers, plus a gateway each
	}
	return n
}

// checkNetworks fails when a network the testnet would create exists
// already with another subnet (left by an earlier run, say): compose would
// reuse it and fail on the first fixed address.
func (t *Testnet) checkNetworks(ctx context.Context) error {
	for _, n := range t.Networks {
		out, err := docker(ctx, "network", "inspect", "--format", "{{range .IPAM.Config}}{{.Subnet}} {{end}}", n.Docker)
		if err != nil {
			continue // absent: compose creates it
		}
		if got := strings.TrimSpace(out); got != n.Subnet {
			return fmt.Errorf("testnet: Docker network %s exists already with subnet %s, not %s (left by an earlier run?); remove it: docker network rm %s", n.Docker, got, n.Subnet, n.Docker)
		}
	}
	return nil
}
