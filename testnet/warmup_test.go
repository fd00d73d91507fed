package testnet

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestScenarioWarmUp(t *testing.T) {
	sc, err := LoadScenario("baseline")
	if err != nil {
		t.Fatal(err)
	}
	if sc.WarmUp != WarmProviders {
		t.Errorf("baseline warm_up %q, want %q: the scale scenario measures a warm market", sc.WarmUp, WarmProviders)
	}
	for _, name := range []string{"cheaters", "churn", "crash", "partition", "sybil", "sybil-adaptive"} {
		sc, err := LoadScenario(name)
		if err != nil {
			t.Fatal(err)
		}
		if sc.WarmUp != "" {
			t.Errorf("%s warm_up %q, want the default", name, sc.WarmUp)
		}
	}
	dir := t.TempDir()
	for _, c := range []struct{ value, err string }{
		{`"requesters"`, ""},
		{`"providers"`, ""},
		{`"provider"`, `warm_up = "provider": want "requesters" (the default) or "providers"`},
		{`"all"`, `warm_up = "all"`},
	} {
		path := filepath.Join(dir, "s.toml")
		body := fmt.Sprintf("name = \"s\"\njobs = 3\nrate = 1\nwarm_up = %s\n", c.value)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadScenario(path)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("warm_up = %s: %v", c.value, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("warm_up = %s: error %v, want one containing %q", c.value, err, c.err)
		}
	}
}

func TestWarmUpPlan(t *testing.T) {
	m, err := LoadManifest("networks/ci.toml")
	if err != nil {
		t.Fatal(err)
	}
	tn, err := Resolve(m)
	if err != nil {
		t.Fatal(err)
	}
	plan := WarmUpPlan(tn, tn.Mix)
	var got []string
	for _, w := range plan {
		got = append(got, fmt.Sprintf("%s %s %s by %s", w.Provider, w.Module, w.Mix.Name, strings.Join(w.Requesters, ",")))
		if w.Mix.Verify != "" {
			t.Errorf("%s on %s verifies %q: a job pinned to one provider has no replicas", w.Module, w.Provider, w.Mix.Verify)
		}
	}
	// Every seller, in manifest order, each module once; never bought by
	// itself; the requesters rotate.
	want := []string{
		"r0 hello warmup-hello by r1",
		"r0 toolbox warmup-primes by r1",
		"r1 hello warmup-hello by r0",
		"r1 toolbox warmup-primes by r0",
		"p0 hello warmup-hello by r0,r1",
		"p0 toolbox warmup-primes by r0,r1",
		"p1 hello warmup-hello by r1,r0",
		"p1 toolbox warmup-primes by r1,r0",
		"p2 hello warmup-hello by r0,r1",
		"p2 toolbox warmup-primes by r0,r1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The same manifest gives the same plan.
	tn2, err := Resolve(m)
	if err != nil {
		t.Fatal(err)
	}
	again := WarmUpPlan(tn2, tn2.Mix)
	if fmt.Sprint(again) != fmt.Sprint(plan) {
		t.Errorf("a second resolve planned otherwise:\n%v\n%v", again, plan)
	}

	m, err = LoadManifest("networks/large.toml")
	if err != nil {
		t.Fatal(err)
	}
	if tn, err = Resolve(m); err != nil {
		t.Fatal(err)
	}
	sellers := 0
	for _, n := range tn.Nodes {
		if n.Sell {
			sellers++
		}
	}
	if plan := WarmUpPlan(tn, tn.Mix); len(plan) != 2*sellers {
		t.Errorf("large.toml: %d warm-up jobs, want 2 modules × %d sellers", len(plan), sellers)
	}
}
