package testnet

import (
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
