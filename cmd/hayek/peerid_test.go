package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hayek-market/hayek/node/api"
)

// The fake node's peers (node/api/apitest).
const (
	fakeProviderOne = "12D3KooWProviderOneAAAAAAAAAAAAAAAAAAAAAAAA11111111"
	fakeProviderTwo = "12D3KooWProviderTwoBBBBBBBBBBBBBBBBBBBBBBBB22222222"
	fakeRequester   = "12D3KooWRequesterZZZZZZZZZZZZZZZZZZZZZZZZZZZZ99999999"
)

func TestShortPeerIsOneForm(t *testing.T) {
	if got := shortPeer("12D3KooWDQtD5sKqyGgNvLxnQ8528g2BuErR9YbE6LxdZjcEDkgA"); got != "12D3…cEDkgA" {
		t.Errorf("shortPeer = %q", got)
	}
	if got := shortPeer("node-1"); got != "node-1" {
		t.Errorf("a short name is kept: %q", got)
	}
}

func TestMatchPeers(t *testing.T) {
	known := []string{fakeProviderOne, fakeProviderTwo, fakeRequester}
	for arg, want := range map[string][]string{
		fakeProviderOne:    {fakeProviderOne},
		"111111":           {fakeProviderOne},
		"…11111111":        {fakeProviderOne}, // the old table form
		"12D3…222222":      {fakeProviderTwo}, // the short form, copied from a table
		"12D3...222222":    {fakeProviderTwo},
		"12D3KooWReq":      {fakeRequester},
		"12D3KooWProvider": {fakeProviderOne, fakeProviderTwo},
		"12D3":             known,
		"12D3…333333":      nil,
		"nonsense":         nil,
	} {
		if got := matchPeers(known, arg); !slices.Equal(got, want) {
			t.Errorf("matchPeers(%q) = %v, want %v", arg, got, want)
		}
	}
}

// TestPeerArguments checks that rep, ledger --peer and ledger settle take
// any unambiguous start or end of a peer ID the node knows, and refuse an
// ambiguous or unknown one with the candidates, rather than answer nothing.
func TestPeerArguments(t *testing.T) {
	f, sock := startNode(t)
	f.SetReputation(api.RepRow{Peer: fakeProviderOne, Capability: "runtime/wasm", Alpha: 3, Beta: 1, Mean: 0.75, LowerBound: 0.3, Evidence: 2, FirstHand: 2},
		api.RepRow{Peer: fakeProviderTwo, Capability: "gpu/nvidia/h100", Alpha: 1, Beta: 2, Mean: 0.33})

	r := hayek(t, sock, "", "rep", "111111")
	r.want(t, ExitOK)
	r.stdoutHas(t, "12D3…111111  runtime/wasm  3.00")
	hayek(t, sock, "", "rep", "12D3…111111").want(t, ExitOK)
	// A peer the node knows without evidence about it is a fair answer.
	hayek(t, sock, "", "rep", "999999").want(t, ExitOK, "no evidence about 12D3…999999 yet")
	// So is a whole peer ID it has never met: the node judges it.
	stranger := "12D3KooWH3uVF6wv47WnArKHk5p6cvgCJEb74UTmxztmQDc298L3"
	hayek(t, sock, "", "rep", stranger).want(t, ExitOK, "no evidence about "+shortPeer(stranger)+" yet")

	r = hayek(t, sock, "", "rep", "12D3KooWProvider")
	r.want(t, ExitUsage, `"12D3KooWProvider" could be any of 2 peers: 12D3…111111, 12D3…222222`, "Try: more of its start or end")
	r = hayek(t, sock, "", "rep", "eneSTcZ6")
	r.want(t, ExitNotFound, `no peer this node knows matches "eneSTcZ6"; it knows 12D3…111111, 12D3…222222, 12D3…999999`, "Try: hayek peers")

	hayek(t, sock, "", "ledger", "settle", "999999", "20").want(t, ExitOK)
	hayek(t, sock, "", "ledger", "settle", "12D3…999999", "20").want(t, ExitOK)
	if s := f.Settled(); len(s) != 2 || s[0].Peer != fakeRequester || s[1].Peer != fakeRequester {
		t.Errorf("settlements %+v, want two with %s", s, fakeRequester)
	}
	r = hayek(t, sock, "", "ledger", "settle", "nonsense", "5")
	r.want(t, ExitNotFound, `no peer this node knows matches "nonsense"`)
	if strings.Contains(r.stderr, "owes") {
		t.Errorf("an unknown peer is not a debtor:\n%s", r.stderr)
	}
	if len(f.Settled()) != 2 {
		t.Error("a settlement with an unknown peer reached the node")
	}

	r = hayek(t, sock, "", "ledger", "--peer", "999999", "--limit", "1", "--kind", "settle")
	r.want(t, ExitOK, "more may follow: hayek ledger --kind settle --peer 999999 --limit 1 --after 1\n")
	r.stdoutHas(t, "debtor=12D3…999999")
	if got := f.LastLedgerFilter().Peer; got != fakeRequester {
		t.Errorf("the node was asked about peer %q, want %q", got, fakeRequester)
	}
	hayek(t, sock, "", "ledger", "--peer", "eneSTcZ6").want(t, ExitNotFound, `no peer this node knows matches "eneSTcZ6"`)

	// An agent may not see the ledger, whatever the peer.
	tok := f.AddAgent(api.AgentCreate{Name: "crawler", Budget: 10})
	hayekEnv(t, sock, map[string]string{"HAYEK_TOKEN": tok}, "ledger", "--peer", "111111").want(t, ExitDenied, "forbidden")
	hayek(t, filepath.Join(t.TempDir(), "none.sock"), "", "rep", "111111").want(t, ExitNotRun, "cannot reach")
}

// TestPeersInOneShortForm checks that what a person reads names peers in
// one short form: no whole IDs, no other abbreviation.
func TestPeersInOneShortForm(t *testing.T) {
	f, sock := startNode(t)
	f.SetReputation(api.RepRow{Peer: fakeProviderTwo, Capability: "runtime/wasm", Alpha: 1, Beta: 1, Mean: 0.5})
	wasm := filepath.Join(files(t, "m.wasm", "\x00asm"), "m.wasm")
	seen := ""
	for _, args := range [][]string{
		{"job", "submit", "--wasm", wasm, "--wait"}, {"job", "status", "j1"}, {"job", "list"}, {"job", "watch", "j1"},
		{"offers"}, {"peers"}, {"rep"}, {"ledger", "balance"}, {"ledger", "settle", "999999", "1"}, {"ledger"},
	} {
		r := hayek(t, sock, "", args...)
		r.want(t, ExitOK)
		out := r.stdout + r.stderr
		for _, id := range []string{fakeProviderOne, fakeProviderTwo, fakeRequester} {
			if strings.Contains(out, id[:12]) || strings.Contains(out, "…"+id[len(id)-8:]) {
				t.Errorf("hayek %s names a peer other than as %s:\n%s", strings.Join(args, " "), shortPeer(id), out)
			}
		}
		seen += out
	}
	for _, id := range []string{fakeProviderOne, fakeProviderTwo, fakeRequester} {
		if !strings.Contains(seen, shortPeer(id)) {
			t.Errorf("no command showed %s", shortPeer(id))
		}
	}
}
