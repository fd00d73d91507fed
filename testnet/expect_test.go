package testnet

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeScenario(t *testing.T, expect string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "x.toml")
	body := "name = \"x\"\njobs = 10\nrate = 1\n\n[expect]\n" + expect + "\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestExpectParse(t *testing.T) {
	sc, err := LoadScenario(writeScenario(t, `wrong_accepted_max = 0
award_share_max = { sybil = 0.5, p0 = 0.9 }
success_min = 0.9
failed_reasons = ["verification_failed"]`))
	if err != nil {
		t.Fatal(err)
	}
	e := sc.Expect
	if *e.WrongAcceptedMax != 0 || e.AwardShareMax["sybil"] != 0.5 || e.AwardShareMax["p0"] != 0.9 ||
		*e.SuccessMin != 0.9 || len(e.FailedReasons) != 1 {
		t.Errorf("parsed %+v", e)
	}
	if sc, err = LoadScenario(writeScenario(t, `failed_reasons = []`)); err != nil || sc.Expect.FailedReasons == nil {
		t.Errorf("failed_reasons = [] parsed as %#v, %v: want an empty list (no failure allowed), not unset", sc.Expect, err)
	}
	// Check reads the expectations back from testnet.json: [] must
	// survive the round trip, and unset stay unset.
	for _, in := range [][]string{{}, nil} {
		b, err := json.Marshal(&Expect{FailedReasons: in})
		var out Expect
		if err == nil {
			err = json.Unmarshal(b, &out)
		}
		if err != nil || (in == nil) != (out.FailedReasons == nil) {
			t.Errorf("failed_reasons %#v came back from %s as %#v (%v)", in, b, out.FailedReasons, err)
		}
	}
	for _, c := range []struct{ expect, want string }{
		{`wrong_accepted_max = -1`, "wrong_accepted_max = -1: want a count ≥ 0"},
		{`wrong_accepted_max = "none"`, "wrong_accepted_max"},
		{`wrong_accepted_max = 0.5`, "wrong_accepted_max"},
		{`award_share_max = { sybil = 1.5 }`, "award_share_max.sybil = 1.5: want a tag and a share from 0 to 1"},
		{`award_share_max = { sybil = -0.1 }`, "award_share_max.sybil"},
		{`award_share_max = 0.5`, "award_share_max = 0.5: want a table of shares by tag"},
		{`award_share_max = { sybil = "half" }`, "award_share_max.sybil = half: want a share from 0 to 1"},
		{`success_min = 90`, "success_min = 90: want a share of jobs from 0 to 1"},
		{`failed_reasons = ["no_bids", ""]`, "failed_reasons[1] is empty"},
		{`wrong_max = 0`, `unknown key "expect.wrong_max"`},
	} {
		_, err := LoadScenario(writeScenario(t, c.expect))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one saying %q", c.expect, err, c.want)
		}
	}
}

// TestExpectDefaults: cheaters with verification expect no wrong result
// accepted unless the file says otherwise; other scenarios expect
// nothing they do not write.
func TestExpectDefaults(t *testing.T) {
	apply := func(sc *Scenario) (*Manifest, error) {
		m, err := LoadManifest("networks/ci.toml")
		if err != nil {
			t.Fatal(err)
		}
		return m, sc.Apply(m)
	}
	cheat := map[string]Misbehave{"p2": {WrongOutputRate: 0.5}}
	for _, c := range []struct {
		name    string
		sc      Scenario
		want    int // -1: unset
		deflt   bool
		nothing bool // no expectations at all
	}{
		{"cheaters and verification", Scenario{Verify: "replicate:2", Misbehave: cheat}, 0, true, false},
		{"the file overrides", Scenario{Verify: "adaptive", Misbehave: cheat, Expect: &Expect{WrongAcceptedMax: ptr(3)}}, 3, false, false},
		{"cheaters, no verification", Scenario{Misbehave: cheat}, -1, false, true},
		{"verification, no cheaters", Scenario{Verify: "adaptive"}, -1, false, true},
		{"neither", Scenario{}, -1, false, true},
	} {
		c.sc.Name, c.sc.Jobs, c.sc.Rate = "x", 1, 1
		m, err := apply(&c.sc)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		e := m.Expect
		switch {
		case c.nothing:
			if e != nil {
				t.Errorf("%s: expectations %+v, want none", c.name, e)
			}
		case e == nil || e.WrongAcceptedMax == nil || *e.WrongAcceptedMax != c.want || e.WrongAcceptedDefault != c.deflt:
			t.Errorf("%s: expectations %+v, want wrong_accepted_max %d (default %v)", c.name, e, c.want, c.deflt)
		}
	}
	sc := &Scenario{Name: "x", Jobs: 1, Rate: 1, Expect: &Expect{AwardShareMax: map[string]float64{"sybl": 0.5}}}
	if _, err := apply(sc); err == nil || !strings.Contains(err.Error(), `award_share_max.sybl: no node group is called or tagged "sybl"`) {
		t.Errorf("a tag no node has: %v", err)
	}
	m, err := apply(&Scenario{Name: "x", Jobs: 1, Rate: 1, Expect: &Expect{AwardShareMax: map[string]float64{"a": 0.5}}})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := Resolve(m)
	if err != nil || tn.Expect == nil || tn.Expect.AwardShareMax["a"] != 0.5 || tn.Expect.Scenario != "x" {
		t.Errorf("the testnet carries %+v, %v: want the scenario's expectations, for Check", tn.Expect, err)
	}
}

func ptr[T any](v T) *T { return &v }

// TestExpectEvaluate measures each kind of expectation against a made-up
// report: all hold, then each fails with its figure and its bound.
func TestExpectEvaluate(t *testing.T) {
	tn := &Testnet{Nodes: []*Node{
		{Name: "p0", Group: "p0", Tags: []string{"a"}},
		{Name: "sybil-0", Group: "sybil", Tags: []string{"sybil"}},
		{Name: "sybil-1", Group: "sybil", Tags: []string{"sybil"}},
	}}
	rep := &Report{Jobs: 32, Completed: 30, SuccessRate: 30.0 / 32, WrongAccepted: 0,
		Awards: map[string]int{"p0": 20, "sybil-0": 8, "sybil-1": 4}}
	chk := &CheckResult{Reasons: map[string]int{"verification_failed": 2}}
	e := &Expect{Scenario: "sybil-adaptive", WrongAcceptedMax: ptr(0), AwardShareMax: map[string]float64{"sybil": 0.5},
		SuccessMin: ptr(0.9), FailedReasons: []string{"verification_failed"}}
	res := e.Evaluate(tn, rep, chk)
	if len(res) != 4 {
		t.Fatalf("%d results, want 4: %+v", len(res), res)
	}
	for _, r := range res {
		if !r.OK {
			t.Errorf("%s failed: %s", r.Name, r.Text)
		}
	}
	if got := res[1]; got.Name != "award_share_max.sybil" || got.Measured != 12.0/32 || got.Bound != 0.5 {
		t.Errorf("award share %+v, want 12 of 32 against 0.5", got)
	}

	rep.WrongAccepted = 6
	rep.Awards = map[string]int{"p0": 6, "sybil-0": 20, "sybil-1": 6}
	rep.Completed, rep.SuccessRate = 25, 25.0/32
	chk.Reasons["fault_limit"] = 3
	want := []string{
		"wrong results accepted 6 > 0 (sybil-adaptive's [expect] wrong_accepted_max)",
		"sybil award share 81.2% (26 of 32 awards) > 50.0% (sybil-adaptive's [expect] award_share_max.sybil)",
		"success 78.1% (25 of 32 jobs completed) < 90.0% (sybil-adaptive's [expect] success_min)",
		"jobs failed for a reason not allowed 3 (fault_limit: 3) > 0 (sybil-adaptive's [expect] failed_reasons: verification_failed)",
	}
	res = e.Evaluate(tn, rep, chk)
	for i, r := range res {
		if r.OK || r.Text != want[i] {
			t.Errorf("%s: ok %v, %q\nwant failed, %q", r.Name, r.OK, r.Text, want[i])
		}
	}

	e = &Expect{Scenario: "cheaters", WrongAcceptedMax: ptr(0), WrongAcceptedDefault: true}
	if res := e.Evaluate(tn, rep, chk); len(res) != 1 || !strings.Contains(res[0].Text, "cheaters's default") ||
		!strings.Contains(res[0].Text, "set [expect] wrong_accepted_max") {
		t.Errorf("a default bound: %+v, want it named as the default and how to change it", res)
	}
	if res := (*Expect)(nil).Evaluate(tn, rep, chk); res != nil {
		t.Errorf("no expectations gave %+v", res)
	}
}

// TestCheckEnforcesExpect: Check reads the expectations from the
// collected testnet, fails on one that does not hold, and records each.
func TestCheckEnforcesExpect(t *testing.T) {
	for _, c := range []struct {
		name string
		e    Expect
		ok   bool
		fail string
	}{
		{"holds", Expect{WrongAcceptedMax: ptr(0), SuccessMin: ptr(1.0), FailedReasons: []string{}}, true, ""},
		{"share", Expect{AwardShareMax: map[string]float64{"b": 0}}, false, "expect: b award share "},
		{"success", Expect{SuccessMin: ptr(1.0)}, true, ""},
	} {
		dir := copyRun(t)
		path := filepath.Join(dir, collectedDir, StateFile)
		var tn Testnet
		if err := readJSON(path, &tn); err != nil {
			t.Fatal(err)
		}
		c.e.Scenario = "crash"
		tn.Expect = &c.e
		if err := writeJSON(path, &tn); err != nil {
			t.Fatal(err)
		}
		res, err := Check(t.Context(), dir)
		if err != nil {
			t.Fatal(err)
		}
		if res.OK != c.ok || len(res.Expectations) == 0 {
			t.Errorf("%s: ok %v, want %v:\n%s", c.name, res.OK, c.ok, res.Summary())
		}
		if c.fail != "" && !strings.Contains(strings.Join(res.Failures, "\n"), c.fail) {
			t.Errorf("%s: failures %q, want one saying %q", c.name, res.Failures, c.fail)
		}
		if !strings.Contains(res.Summary(), "expectations: ") {
			t.Errorf("%s: summary lacks the expectations:\n%s", c.name, res.Summary())
		}
		if err := writeJSON(filepath.Join(dir, "check.json"), res); err != nil {
			t.Fatal(err)
		}
		if _, err := WriteReport(dir); err != nil {
			t.Fatal(err)
		}
		md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
		if !strings.Contains(string(md), "## Expectations") {
			t.Errorf("%s: report.md lists no expectations:\n%s", c.name, md)
		}
	}
}
