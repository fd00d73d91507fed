package testnet

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Expect is a scenario's [expect] section: what the scenario claims of
// its run, beyond what every run must prove (ledgers, receipts, money, no
// lost job). Check enforces each bound that is set; an unset one is not
// checked.
//
// One bound is set without being written: a scenario whose net has a
// node returning wrong outputs (wrong_output_rate > 0, from the
// scenario's [misbehave.*] or the manifest) and whose jobs are verified
// (the scenario's verify, or any mix entry's other than "none") expects
// no wrong result accepted, since that is what verification is for. The
// file overrides it with its own wrong_accepted_max. Cheaters without
// verification get no default: such a run measures what cheating gets
// through.
type Expect struct {
	// WrongAcceptedMax bounds the completed jobs whose output differs
	// from the majority of their kind (Report.WrongAccepted).
	WrongAcceptedMax *int `toml:"wrong_accepted_max" json:"wrong_accepted_max,omitempty"`
	// AwardShareMax bounds, by tag (or group name), the share of all
	// awards won by the nodes carrying it: 0.5 is half.
	AwardShareMax Shares `toml:"award_share_max" json:"award_share_max,omitempty"`
	// SuccessMin is the least share of submitted jobs that completed
	// (Report.SuccessRate): 0.9 is 90%.
	SuccessMin *float64 `toml:"success_min" json:"success_min,omitempty"`
	// FailedReasons, when set, are the only failure codes a failed job
	// may carry (e.g. "verification_failed"); [] allows no failed job.
	// Not omitempty: testnet.json would drop [] and check would then
	// allow every failure.
	FailedReasons []string `toml:"failed_reasons" json:"failed_reasons"`

	// Scenario names the scenario, for messages.
	Scenario string `toml:"-" json:"scenario"`
	// WrongAcceptedDefault: WrongAcceptedMax is the default above, not
	// the file's.
	WrongAcceptedDefault bool `toml:"-" json:"wrong_accepted_default,omitempty"`
}

// Shares are shares (0 to 1) by tag: award_share_max = { sybil = 0.5 }.
type Shares map[string]float64

// UnmarshalTOML refuses what is not a table of numbers, which the TOML
// decoder would otherwise drop without a word (award_share_max = 0.5).
func (s *Shares) UnmarshalTOML(v any) error {
	tab, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("[expect] award_share_max = %v: want a table of shares by tag, e.g. { sybil = 0.5 }", v)
	}
	*s = Shares{}
	for tag, x := range tab {
		switch n := x.(type) {
		case float64:
			(*s)[tag] = n
		case int64:
			(*s)[tag] = float64(n)
		default:
			return fmt.Errorf("[expect] award_share_max.%s = %v: want a share from 0 to 1", tag, x)
		}
	}
	return nil
}

// ExpectResult is one expectation as Check found it.
type ExpectResult struct {
	Name     string  `json:"name"` // the field: wrong_accepted_max, award_share_max.TAG, success_min, failed_reasons
	Measured float64 `json:"measured"`
	Bound    float64 `json:"bound"`
	OK       bool    `json:"ok"`
	Text     string  `json:"text"` // the figure against the bound, and where the bound comes from
}

// validate names the first field with a value that cannot be a bound.
func (e *Expect) validate() error {
	if e == nil {
		return nil
	}
	if e.WrongAcceptedMax != nil && *e.WrongAcceptedMax < 0 {
		return fmt.Errorf("[expect] wrong_accepted_max = %d: want a count ≥ 0 (0: no wrong result may be accepted)", *e.WrongAcceptedMax)
	}
	for _, tag := range e.tags() {
		if v := e.AwardShareMax[tag]; tag == "" || !(v >= 0 && v <= 1) {
			return fmt.Errorf("[expect] award_share_max.%s = %v: want a tag and a share from 0 to 1 (0.5: at most half the awards)", tag, v)
		}
	}
	if e.SuccessMin != nil && !(*e.SuccessMin >= 0 && *e.SuccessMin <= 1) {
		return fmt.Errorf("[expect] success_min = %v: want a share of jobs from 0 to 1 (0.9: at least 90%% completed)", *e.SuccessMin)
	}
	for i, r := range e.FailedReasons {
		if strings.TrimSpace(r) == "" {
			return fmt.Errorf("[expect] failed_reasons[%d] is empty: want failure codes as jobs report them (e.g. \"verification_failed\")", i)
		}
	}
	return nil
}

func (e *Expect) tags() []string {
	var tags []string
	for t := range e.AwardShareMax {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	return tags
}

// expectations are the scenario's [expect] with the default applied, for
// a net of groups whose jobs are mix; nil when nothing is expected.
func (s *Scenario) expectations(groups []NodeGroup, mix []MixEntry) (*Expect, error) {
	var e Expect
	if s.Expect != nil {
		e = *s.Expect
	}
	e.Scenario = s.Name
	for _, tag := range e.tags() {
		if !slices.ContainsFunc(groups, func(g NodeGroup) bool { return g.Name == tag || slices.Contains(g.Tags, tag) }) {
			return nil, fmt.Errorf("testnet: scenario %s: [expect] award_share_max.%s: no node group is called or tagged %q, so no award can count; name a group or a tag of the manifest or the scenario", s.Name, tag, tag)
		}
	}
	cheats := slices.ContainsFunc(groups, func(g NodeGroup) bool { return g.Misbehave.WrongOutputRate > 0 })
	verified := slices.ContainsFunc(mix, func(m MixEntry) bool { return m.Verify != "" && m.Verify != "none" })
	if e.WrongAcceptedMax == nil && cheats && verified {
		zero := 0
		e.WrongAcceptedMax, e.WrongAcceptedDefault = &zero, true
	}
	if e.WrongAcceptedMax == nil && e.AwardShareMax == nil && e.SuccessMin == nil && e.FailedReasons == nil {
		return nil, nil
	}
	return &e, nil
}

// Evaluate measures each expectation set against the run's report and
// check: the report gives wrong results, awards and success, the check
// the failure reasons.
func (e *Expect) Evaluate(t *Testnet, rep *Report, chk *CheckResult) []ExpectResult {
	if e == nil {
		return nil
	}
	var out []ExpectResult
	from := func(field string) string { return fmt.Sprintf("(%s's [expect] %s)", e.Scenario, field) }
	if e.WrongAcceptedMax != nil {
		src := from("wrong_accepted_max")
		if e.WrongAcceptedDefault {
			src = fmt.Sprintf("(%s's default: it has cheaters and verifies; set [expect] wrong_accepted_max to allow more)", e.Scenario)
		}
		n, bound := rep.WrongAccepted, *e.WrongAcceptedMax
		out = append(out, ExpectResult{Name: "wrong_accepted_max", Measured: float64(n), Bound: float64(bound), OK: n <= bound,
			Text: fmt.Sprintf("wrong results accepted %d %s %d %s", n, rel(n <= bound, "≤", ">"), bound, src)})
	}
	total := 0
	for _, n := range rep.Awards {
		total += n
	}
	for _, tag := range e.tags() {
		won := 0
		for _, n := range t.Nodes {
			if n.Has(tag) {
				won += rep.Awards[n.Name]
			}
		}
		share, bound := 0.0, e.AwardShareMax[tag]
		if total > 0 {
			share = float64(won) / float64(total)
		}
		ok := share <= bound
		out = append(out, ExpectResult{Name: "award_share_max." + tag, Measured: share, Bound: bound, OK: ok,
			Text: fmt.Sprintf("%s award share %.1f%% (%d of %d awards) %s %.1f%% %s", tag, 100*share, won, total,
				rel(ok, "≤", ">"), 100*bound, from("award_share_max."+tag))})
	}
	if e.SuccessMin != nil {
		ok := rep.SuccessRate >= *e.SuccessMin
		out = append(out, ExpectResult{Name: "success_min", Measured: rep.SuccessRate, Bound: *e.SuccessMin, OK: ok,
			Text: fmt.Sprintf("success %.1f%% (%d of %d jobs completed) %s %.1f%% %s", 100*rep.SuccessRate, rep.Completed, rep.Jobs,
				rel(ok, "≥", "<"), 100**e.SuccessMin, from("success_min"))})
	}
	if e.FailedReasons != nil {
		var bad []string
		n := 0
		for _, code := range sortedKeys(chk.Reasons) {
			if !slices.Contains(e.FailedReasons, code) {
				bad = append(bad, fmt.Sprintf("%s: %d", code, chk.Reasons[code]))
				n += chk.Reasons[code]
			}
		}
		allowed := "none"
		if len(e.FailedReasons) > 0 {
			allowed = strings.Join(e.FailedReasons, ", ")
		}
		text := fmt.Sprintf("jobs failed for a reason not allowed 0 %s", from("failed_reasons: "+allowed))
		if n > 0 {
			text = fmt.Sprintf("jobs failed for a reason not allowed %d (%s) > 0 %s", n, strings.Join(bad, ", "), from("failed_reasons: "+allowed))
		}
		out = append(out, ExpectResult{Name: "failed_reasons", Measured: float64(n), OK: n == 0, Text: text})
	}
	return out
}

func rel(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}

func sortedKeys(m map[string]int) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
