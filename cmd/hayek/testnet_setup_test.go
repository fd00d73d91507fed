package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hayek-market/hayek/testnet"
)

const ciManifest = "../../testnet/networks/ci.toml"

// A net set up stage by stage with --scenario carries what run's would:
// the scenario's nodes in the compose file and its [expect] in
// testnet.json, which check enforces. Setup only renders: no Docker.
func TestTestnetSetupScenario(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "net")
	res := runCLI(t, "testnet", "setup", ciManifest, "--scenario", "sybil-adaptive", "--dir", dir)
	res.want(t, ExitOK)
	for _, s := range []string{"sybil-0", "sybil-4", "scenario sybil-adaptive: 4 expectations", "--jobs 30 --rate 2"} {
		if !strings.Contains(res.stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, res.stdout)
		}
	}
	tn, err := testnet.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := tn.Expect
	if e == nil || e.Scenario != "sybil-adaptive" || e.WrongAcceptedMax == nil || *e.WrongAcceptedMax != 0 ||
		e.AwardShareMax["sybil"] != 0.6 || e.SuccessMin == nil || *e.SuccessMin != 0.75 ||
		len(e.FailedReasons) != 1 || e.FailedReasons[0] != "verification_failed" {
		t.Errorf("testnet.json expect = %+v, want sybil-adaptive's [expect]", e)
	}
	var sybils int
	for _, n := range tn.Nodes {
		if n.Has("sybil") {
			sybils++
			if len(n.Misbehave) == 0 {
				t.Errorf("%s: no misbehaviour, want the scenario's wrong_output_rate", n.Name)
			}
		}
	}
	if sybils != 5 {
		t.Errorf("%d sybil nodes in testnet.json, want the scenario's 5", sybils)
	}
	compose, err := os.ReadFile(filepath.Join(dir, testnet.ComposeFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"hostname: sybil-0", "hostname: sybil-4", "10.210."} {
		if !strings.Contains(string(compose), s) {
			t.Errorf("%s lacks %q", testnet.ComposeFile, s)
		}
	}
}

func TestTestnetSetupWithoutScenarioExpectsNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "net")
	res := runCLI(t, "testnet", "setup", ciManifest, "--dir", dir)
	res.want(t, ExitOK)
	if strings.Contains(res.stdout, "scenario") {
		t.Errorf("stdout speaks of a scenario:\n%s", res.stdout)
	}
	tn, err := testnet.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tn.Expect != nil {
		t.Errorf("expect = %+v, want none", tn.Expect)
	}
}

func TestTestnetSetupBadScenario(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "net")
	res := runCLI(t, "testnet", "setup", ciManifest, "--scenario", "sybil-adaptiv", "--dir", dir)
	res.want(t, ExitUsage)
	for _, s := range []string{`no scenario "sybil-adaptiv"`, "Try: hayek testnet setup", "baseline", "sybil-adaptive"} {
		if !strings.Contains(res.stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, res.stderr)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("a bad scenario left %s behind (%v)", dir, err)
	}
}
