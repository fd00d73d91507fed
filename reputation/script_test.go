package reputation

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestScripts runs the readable traces in testdata/: a book driven by
// record, attest, tick and read commands, and the verification rules.
// Regenerate with `go test ./reputation -run Scripts -rewrite` after a
// deliberate change and review the diff.
//
//	record at=DUR peer=P cap=C outcome=O ev=E
//	attest at=DUR reporter=R [created=DUR]      reports, one a line: subject cap outcome evidence [receipt]
//	tick at=DUR
//	standing peer=P cap=C [min=X]
//	weight reporter=R
//	credit peer=P base=N max=N
//	rep                                          the snapshot
//	decide eps=X max=N [have=N]                  replicas, one a line: provider digest reliability
//	sample                                       runs, one a line: provider digest
//
// Times (at=, created=) are offsets from 2026-01-01 12:00 UTC, e.g. 14d
// or 3h (d is 24h).
func TestScripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		b := newBook(t)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return runScript(t, b, d)
		})
	})
}

func scriptArg(d *datadriven.TestData, key, def string) string {
	if a, ok := d.Arg(key); ok {
		return strings.Join(a.Vals, ",")
	}
	return def
}

func scriptTime(t *testing.T, d *datadriven.TestData, key string, def time.Time) time.Time {
	s := scriptArg(d, key, "")
	if s == "" {
		return def
	}
	var days time.Duration
	if i := strings.Index(s, "d"); i >= 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil {
			d.Fatalf(t, "%s: %v", key, err)
		}
		days, s = time.Duration(n)*24*time.Hour, s[i+1:]
	}
	var v time.Duration
	if s != "" {
		var err error
		if v, err = time.ParseDuration(s); err != nil {
			d.Fatalf(t, "%s: %v", key, err)
		}
	}
	return t0.Add(days + v)
}

func scriptFloat(t *testing.T, d *datadriven.TestData, key string, def float64) float64 {
	s := scriptArg(d, key, "")
	if s == "" {
		return def
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		d.Fatalf(t, "%s: %v", key, err)
	}
	return v
}

func scriptInt(t *testing.T, d *datadriven.TestData, key string, def int) int {
	return int(scriptFloat(t, d, key, float64(def)))
}

func runScript(t *testing.T, b *Book, d *datadriven.TestData) string {
	var out strings.Builder
	switch d.Cmd {
	case "record":
		err := b.Record(scriptTime(t, d, "at", b.Now()), scriptArg(d, "peer", ""), scriptArg(d, "cap", wasm),
			Outcome(scriptArg(d, "outcome", "")), scriptArg(d, "ev", ""))
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		return "ok\n"
	case "attest":
		now := scriptTime(t, d, "at", b.Now())
		att := Attestation{Reporter: scriptArg(d, "reporter", ""), Created: scriptTime(t, d, "created", now).UnixMilli()}
		for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			f := strings.Fields(line)
			if len(f) < 4 {
				continue
			}
			r := Report{Subject: f[0], Capability: f[1], Outcome: Outcome(f[2]), Evidence: f[3]}
			if len(f) > 4 && f[4] == "receipt" {
				r.Receipt = []byte("receipt")
			}
			att.Reports = append(att.Reports, r)
		}
		n, err := b.Attest(now, att)
		fmt.Fprintf(&out, "accepted %d of %d\n", n, len(att.Reports))
		if err != nil {
			for _, l := range strings.Split(err.Error(), "\n") {
				fmt.Fprintf(&out, "error: %s\n", l)
			}
		}
	case "tick":
		b.Tick(scriptTime(t, d, "at", b.Now()))
		fmt.Fprintf(&out, "now +%s\n", b.Now().Sub(t0))
	case "standing":
		st := b.Standing(scriptArg(d, "peer", ""), scriptArg(d, "cap", wasm), scriptFloat(t, d, "min", 0))
		fmt.Fprintf(&out, "eligible=%v newcomer=%v score=%.3f mean=%.3f lb=%.3f ev=%.3f\n",
			st.Eligible, st.Newcomer, st.Score, st.Mean, st.LowerBound, st.Evidence)
		if st.Reason != "" {
			fmt.Fprintf(&out, "reason: %s\n", st.Reason)
		}
	case "weight":
		fmt.Fprintf(&out, "%.4f\n", b.ReporterWeight(scriptArg(d, "reporter", "")))
	case "credit":
		fmt.Fprintf(&out, "%d\n", b.CreditLimit(scriptArg(d, "peer", ""), int64(scriptInt(t, d, "base", 0)), int64(scriptInt(t, d, "max", 0))))
	case "rep":
		for _, r := range b.Snapshot() {
			fmt.Fprintln(&out, r)
		}
		if out.Len() == 0 {
			return "(empty)\n"
		}
	case "decide":
		var rs []Replica
		for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			f := strings.Fields(line)
			if len(f) != 3 {
				continue
			}
			r, err := strconv.ParseFloat(f[2], 64)
			if err != nil {
				d.Fatalf(t, "%s: %v", line, err)
			}
			rs = append(rs, Replica{Provider: f[0], Digest: f[1], Reliability: r})
		}
		gs := GroupReplicas(rs)
		for i, c := range Credibility(gs) {
			fmt.Fprintf(&out, "group %s %v credibility %.4f\n", gs[i].Digest, gs[i].Providers(), c)
		}
		dc := Decide(gs, scriptFloat(t, d, "eps", 0.01), scriptInt(t, d, "max", 5), scriptInt(t, d, "have", len(rs)))
		fmt.Fprintf(&out, "%s", dc.Verdict)
		switch dc.Verdict {
		case Accept:
			fmt.Fprintf(&out, " %s agree=%v disagree=%v", dc.Digest, dc.Agree, dc.Disagree)
		case NeedMore:
			fmt.Fprintf(&out, " %d", dc.More)
		}
		fmt.Fprintf(&out, "\nreason: %s\n", dc.Reason)
	case "sample":
		var runs []SampleRun
		for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			if f := strings.Fields(line); len(f) == 2 {
				runs = append(runs, SampleRun{Provider: f[0], Digest: f[1]})
			}
		}
		sd := JudgeSample(runs)
		fmt.Fprintf(&out, "%s", sd.Verdict)
		if sd.Digest != "" {
			fmt.Fprintf(&out, " %s", sd.Digest)
		}
		if len(sd.Wrong) > 0 {
			fmt.Fprintf(&out, " wrong=%v original-wrong=%v", sd.Wrong, sd.OriginalWrong)
		}
		fmt.Fprintf(&out, "\nreason: %s\n", sd.Reason)
	default:
		d.Fatalf(t, "unknown command %q", d.Cmd)
	}
	return out.String()
}
