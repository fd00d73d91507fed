package testnet

import (
	"slices"
	"strings"
	"testing"
)

func TestScenariosApplyToCI(t *testing.T) {
	want := []string{"baseline", "cheaters", "churn", "crash", "partition", "sybil-adaptive", "sybil"} // as the files sort
	if got := strings.Join(Scenarios(), " "); got != strings.Join(want, " ") {
		t.Fatalf("scenarios %q, want %q", got, want)
	}
	for _, name := range want {
		sc, err := LoadScenario(name)
		if err != nil {
			t.Fatal(err)
		}
		m, err := LoadManifest("networks/ci.toml")
		if err != nil {
			t.Fatal(err)
		}
		if err := sc.Apply(m); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		tn, err := Resolve(m)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, st := range sc.Steps {
			for _, sel := range []string{st.Nodes, st.A, st.B} {
				if sel == "" || sel == "busy" || sel == "$prev" {
					continue
				}
				if _, err := tn.Select(sel); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
		}
	}
}

func TestScenarioErrors(t *testing.T) {
	if _, err := LoadScenario("nope"); err == nil || !strings.Contains(err.Error(), "baseline") {
		t.Errorf("unknown scenario: %v, want the list", err)
	}
	s := &Scenario{Name: "x", Jobs: 5, Rate: 1, Steps: []Step{{When: "ended:9", Action: ActKill, Nodes: "p0"}}}
	if err := s.validate(); err == nil || !strings.Contains(err.Error(), "1 ≤ N ≤ 5") {
		t.Errorf("ended beyond the jobs: %v", err)
	}
	s.Steps = []Step{{When: "start", Action: "explode", Nodes: "p0"}}
	if err := s.validate(); err == nil || !strings.Contains(err.Error(), "unknown action") {
		t.Errorf("unknown action: %v", err)
	}
}

func TestSelect(t *testing.T) {
	m, err := LoadManifest("networks/large.toml")
	if err != nil {
		t.Fatal(err)
	}
	tn, err := Resolve(m)
	if err != nil {
		t.Fatal(err)
	}
	for sel, want := range map[string]int{"boot": 1, "r": 4, "r-2": 1, "tag:a": 23, "tag:b": 23, "pa-0,pb-0,boot": 3} {
		got, err := tn.Select(sel)
		if err != nil || len(got) != want {
			t.Errorf("Select(%q) = %d nodes, %v; want %d", sel, len(got), err, want)
		}
	}
	if _, err := tn.Select("nobody"); err == nil {
		t.Error("Select(nobody) found someone")
	}
}

// TestSybilAdaptiveCohorts: on ci.toml the scenario's sybils are one
// operator on a network no node whitelists, where each honest node has
// a /24 of its own, so requesters can tell the sybils' runs apart.
func TestSybilAdaptiveCohorts(t *testing.T) {
	sc, err := LoadScenario("sybil-adaptive")
	if err != nil {
		t.Fatal(err)
	}
	m, err := LoadManifest("networks/ci.toml")
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Apply(m); err != nil {
		t.Fatal(err)
	}
	tn, err := Resolve(m)
	if err != nil {
		t.Fatal(err)
	}
	blocks := map[string][]string{} // /24 on inet → its nodes
	for _, n := range tn.Nodes {
		for _, ad := range n.Addrs {
			if ad.Network == "inet" {
				b := ad.IP[:strings.LastIndex(ad.IP, ".")]
				blocks[b] = append(blocks[b], n.Name)
			} else if n.Sybil {
				t.Errorf("sybil %s is on network %s: a connection there would hide its /24", n.Name, ad.Network)
			}
		}
		if slices.Contains(n.Config.Gossip.Whitelist, "10.210.0.0/16") {
			t.Errorf("node %s whitelists inet", n.Name)
		}
	}
	if got := blocks["10.210.6"]; strings.Join(got, " ") != "sybil-0 sybil-1 sybil-2 sybil-3 sybil-4" {
		t.Errorf("the sybils' /24 holds %q", got)
	}
	if len(blocks) != 6 {
		t.Errorf("inet /24s %v: want one per honest node and one for the sybils", blocks)
	}
}
