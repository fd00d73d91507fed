package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/hayek-market/hayek/node/api"
)

// This file holds the one short form of a peer ID people see, and how a
// peer given on the command line is found among the peers the node knows.

// shortPeer abbreviates a peer ID for people: its first 4 characters, so
// it reads as a peer ID (every Ed25519 one starts 12D3KooW), and its last
// 6, which tell peers apart. The node's own messages use the same form,
// and resolvePeer accepts it back. --json output keeps full IDs.
func shortPeer(id string) string {
	if len(id) <= 12 {
		return id
	}
	return id[:4] + "…" + id[len(id)-6:]
}

// resolvePeer finds the one peer ID arg names among those the node knows:
// arg may be the whole ID, any start or end of it, or its short form. A
// whole peer ID the node has not met is taken as it is (the node judges
// it). An ambiguous arg is a usage error and an unknown one is not found;
// both list the candidates.
func resolvePeer(ctx context.Context, cl *api.Client, arg string) (string, error) {
	arg = strings.TrimSpace(arg)
	if arg == "" {
		return "", usageErrorf("an empty peer ID\nTry: hayek peers")
	}
	known, err := knownPeers(ctx, cl)
	if err != nil {
		return "", err
	}
	matches := matchPeers(known, arg)
	switch {
	case len(matches) == 1:
		return matches[0], nil
	case len(matches) > 1:
		return "", usageErrorf("%q could be any of %d peers: %s\nTry: more of its start or end, e.g. %s",
			arg, len(matches), listPeers(matches), matches[0][len(matches[0])-10:])
	case looksLikePeerID(arg):
		return arg, nil
	case len(known) == 0:
		return "", withCode(ExitNotFound, fmt.Errorf("no peer matches %q: this node knows no peers yet\nTry: hayek peers", arg))
	}
	return "", withCode(ExitNotFound, fmt.Errorf("no peer this node knows matches %q; it knows %s\nTry: hayek peers", arg, listPeers(known)))
}

// matchPeers returns the IDs among known that arg names: the ID itself
// alone if it is there, else every ID that starts or ends with arg, or,
// for a short form such as 12D3…eSTcZ6, both.
func matchPeers(known []string, arg string) []string {
	if slices.Contains(known, arg) {
		return []string{arg}
	}
	head, tail, short := strings.Cut(arg, "…")
	if !short {
		head, tail, short = strings.Cut(arg, "...")
	}
	var out []string
	for _, id := range known {
		var ok bool
		if short {
			ok = len(head)+len(tail) < len(id) && strings.HasPrefix(id, head) && strings.HasSuffix(id, tail)
		} else {
			ok = strings.HasPrefix(id, arg) || strings.HasSuffix(id, arg)
		}
		if ok {
			out = append(out, id)
		}
	}
	return out
}

// knownPeers are the peer IDs the node knows of, sorted: its peers, the
// providers of its offers, and the peers its ledger balances and
// reputation name (those two are the operator's; an agent is refused).
func knownPeers(ctx context.Context, cl *api.Client) ([]string, error) {
	peers, err := cl.Peers(ctx)
	if err != nil {
		return nil, clientError(err)
	}
	set := map[string]bool{}
	for _, p := range peers {
		set[p.PeerID] = true
	}
	offers, err := cl.Offers(ctx)
	if err != nil {
		return nil, clientError(err)
	}
	for _, o := range offers {
		if !o.Self {
			set[o.Provider] = true
		}
	}
	bal, err := cl.LedgerBalance(ctx)
	if err != nil {
		return nil, clientError(err)
	}
	for _, p := range bal.Peers {
		set[p.Peer] = true
	}
	rows, err := cl.Reputation(ctx, "")
	if err != nil {
		return nil, clientError(err)
	}
	for _, r := range rows {
		set[r.Peer] = true
	}
	delete(set, "")
	known := make([]string, 0, len(set))
	for id := range set {
		known = append(known, id)
	}
	slices.Sort(known)
	return known, nil
}

// looksLikePeerID reports whether s could be a whole peer ID: an Ed25519
// one (12D3KooW…, 52 characters) or an older RSA one (Qm…, 46), in base58.
func looksLikePeerID(s string) bool {
	if len(s) < 46 || !strings.HasPrefix(s, "12D3KooW") && !strings.HasPrefix(s, "Qm") {
		return false
	}
	const base58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
	return strings.Trim(s, base58) == ""
}

// listPeers names at most 8 peers in the short form, which resolvePeer
// accepts back.
func listPeers(ids []string) string {
	const most = 8
	short := make([]string, 0, min(len(ids), most))
	for _, id := range ids[:min(len(ids), most)] {
		short = append(short, shortPeer(id))
	}
	s := strings.Join(short, ", ")
	if len(ids) > most {
		s += fmt.Sprintf(" and %d more", len(ids)-most)
	}
	return s
}
