package testnet

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/hayek-market/hayek/node"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestResolveIsDeterministic(t *testing.T) {
	for _, name := range []string{"ci", "medium", "large"} {
		m, err := LoadManifest(filepath.Join("networks", name+".toml"))
		if err != nil {
			t.Fatal(err)
		}
		a, err := Resolve(m)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Resolve(m)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"ci": 5, "medium": 20, "large": 50}[name]
		if len(a.Nodes) != want {
			t.Fatalf("%s: %d nodes, want %d", name, len(a.Nodes), want)
		}
		ids, ips := map[string]bool{}, map[string]bool{}
		for i, n := range a.Nodes {
			if n.PeerID != b.Nodes[i].PeerID || !bytes.Equal(n.Key, b.Nodes[i].Key) {
				t.Errorf("%s: node %s resolved to two identities", name, n.Name)
			}
			if ids[n.PeerID] {
				t.Errorf("%s: peer ID %s twice", name, n.PeerID)
			}
			ids[n.PeerID] = true
			for _, ad := range n.Addrs {
				if ips[ad.IP] {
					t.Errorf("%s: address %s twice", name, ad.IP)
				}
				ips[ad.IP] = true
			}
			// Every node's config.toml must be one the node accepts.
			var buf bytes.Buffer
			if err := toml.NewEncoder(&buf).Encode(n.Config); err != nil {
				t.Fatal(err)
			}
			cfg, err := node.ParseConfig(&buf)
			if err != nil {
				t.Fatalf("%s: node %s: config does not parse: %v", name, n.Name, err)
			}
			if !n.Bootstrap && len(cfg.Network.Bootstrap) == 0 {
				t.Errorf("%s: node %s has no bootstrap peer", name, n.Name)
			}
		}
	}
}

func TestSeedChangesIdentities(t *testing.T) {
	m, err := LoadManifest("networks/ci.toml")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := Resolve(m)
	m.Seed++
	b, _ := Resolve(m)
	if a.Nodes[0].PeerID == b.Nodes[0].PeerID {
		t.Fatal("another seed gave the same peer ID")
	}
}

func TestComposeGolden(t *testing.T) {
	m, err := LoadManifest("networks/ci.toml")
	if err != nil {
		t.Fatal(err)
	}
	tn, err := Resolve(m)
	if err != nil {
		t.Fatal(err)
	}
	tn.Dir, tn.UID, tn.GID = "/tmp/hayek-testnet-ci", 1000, 1000
	got, err := tn.Compose()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "ci.compose.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./testnet -run Golden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("compose differs from %s (review, then go test ./testnet -run Golden -update):\n%s", golden, got)
	}
}

func TestSetupWritesPrivateHomes(t *testing.T) {
	m, err := LoadManifest("networks/ci.toml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tn, err := Setup(m, dir, os.Getuid(), os.Getgid())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range tn.Nodes {
		if err := node.CheckHome(tn.HomeDir(n)); err != nil {
			t.Fatalf("node %s: %v", n.Name, err)
		}
		key, err := node.LoadIdentity(filepath.Join(tn.HomeDir(n), node.IdentityFile))
		if err != nil {
			t.Fatal(err)
		}
		_ = key
	}
	again, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Nodes) != 5 || again.Nodes[3].PeerID != tn.Nodes[3].PeerID {
		t.Fatalf("Open read back %+v", again.Nodes)
	}
	if _, err := Setup(m, dir, 0, 0); !errors.Is(err, ErrExists) {
		t.Fatalf("second setup: %v, want ErrExists", err)
	}
}

func TestManifestErrors(t *testing.T) {
	for _, tc := range []struct{ toml, want string }{
		{`name = "X"`, `name "X"`},
		{"name = \"a\"\nbogus = 1", `unknown key "bogus"`},
		{"name = \"a\"\n[[network]]\nname=\"n\"\nsubnet=\"10.0.0.0/8\"", "want an IPv4 network from /16 to /28"},
		{"name = \"a\"\n[[network]]\nname=\"n\"\nsubnet=\"10.1.0.0/24\"\n[[nodes]]\nname=\"x\"\nnetworks=[\"zz\"]", `network "zz" is not declared`},
		{"name = \"a\"", "no [[mix]]"},
		{"name = \"a\"\n[[network]]\nname=\"n\"\nsubnet=\"10.1.0.0/24\"\nshared=false", "with shared = false: want /16 to /23"},
		{"name = \"a\"\n[[nodes]]\nname=\"x\"\noperator=\"Big Co\"", `operator "Big Co"`},
	} {
		_, err := ParseManifest(strings.NewReader(tc.toml))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrManifest) {
			t.Errorf("%q: %v, want an error containing %q", tc.toml, err, tc.want)
		}
	}
}

func TestARPEstimate(t *testing.T) {
	for name, want := range map[string]int{"ci": 50, "large": 5000} {
		m, err := LoadManifest("networks/" + name + ".toml")
		if err != nil {
			t.Fatal(err)
		}
		tn, err := Resolve(m)
		if err != nil {
			t.Fatal(err)
		}
		if got := arpEntries(tn); got != want {
			t.Errorf("%s: %d neighbour entries, want %d", name, got, want)
		}
	}
}

// TestUnsharedNetworkWhitelist: a network with shared = false is left out
// of every node's gossip whitelist (as its config.toml says), each node
// without an operator has a /24 of its own on it, and one operator's
// nodes share one.
func TestUnsharedNetworkWhitelist(t *testing.T) {
	m, err := ParseManifest(strings.NewReader(`name = "w"
[[network]]
name = "a"
subnet = "10.201.1.0/24"
[[network]]
name = "inet"
subnet = "10.210.0.0/16"
shared = false
[[nodes]]
name = "r"
requester = true
[[nodes]]
name = "p"
count = 2
[[nodes]]
name = "s"
count = 3
networks = ["inet"]
operator = "big"
[[mix]]
name = "hello"
module = "hello"
max_price = 10
`))
	if err != nil {
		t.Fatal(err)
	}
	tn, err := Resolve(m)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{ // node → its address on inet
		"r": "10.210.1.10", "p-0": "10.210.2.10", "p-1": "10.210.3.10",
		"s-0": "10.210.4.10", "s-1": "10.210.4.11", "s-2": "10.210.4.12",
	}
	for _, n := range tn.Nodes {
		var got []string
		for _, ad := range n.Addrs {
			got = append(got, ad.Network+"="+ad.IP)
		}
		wantAddrs := []string{"a=10.201.1." + strconv.Itoa(10+n.Index), "inet=" + want[n.Name]}
		if n.Group == "s" {
			wantAddrs = wantAddrs[1:]
		}
		if strings.Join(got, " ") != strings.Join(wantAddrs, " ") {
			t.Errorf("node %s: addresses %q, want %q", n.Name, got, wantAddrs)
		}
		// The whitelist as the node reads it from its config.toml.
		var buf bytes.Buffer
		if err := toml.NewEncoder(&buf).Encode(n.Config); err != nil {
			t.Fatal(err)
		}
		cfg, err := node.ParseConfig(&buf)
		if err != nil {
			t.Fatalf("node %s: config does not parse: %v", n.Name, err)
		}
		if got, want := strings.Join(cfg.Gossip.Whitelist, " "), "127.0.0.0/8 ::1/128 10.201.1.0/24"; got != want {
			t.Errorf("node %s: gossip whitelist %q, want %q", n.Name, got, want)
		}
	}
	if !tn.Networks[1].Unshared || tn.Networks[0].Unshared {
		t.Errorf("networks %+v: want only inet unshared", tn.Networks)
	}
}
