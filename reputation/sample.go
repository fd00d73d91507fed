package reputation

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// ShouldSample decides whether job is re-run elsewhere under sample:P. The
// draw is u = the first 8 bytes of SHA-256("hayek/sample/v1" ‖ secret ‖
// job) as a fraction of 2⁶⁴, and the job is sampled when u < p: the same
// job always gets the same answer (restarts and replays agree), and a
// provider cannot tell which jobs will be checked as long as secret stays
// the requester's (the node derives it from its key or keeps a random one
// in its home). p ≤ 0 never samples; p ≥ 1 always does.
func ShouldSample(secret []byte, job string, p float64) bool {
	if !(p > 0) {
		return false
	}
	h := sha256.New()
	h.Write([]byte("hayek/sample/v1"))
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(secret)))
	h.Write(n[:]) // length-prefixed, so (secret, job) splits one way only
	h.Write(secret)
	h.Write([]byte(job))
	u := float64(binary.BigEndian.Uint64(h.Sum(nil)[:8])>>11) / (1 << 53)
	return u < p
}

// SampleRun is one run of a sampled job: the first is the delivery the
// requester already accepted and paid, the next ones re-runs on other
// providers.
type SampleRun struct {
	Provider string
	Digest   string
}

// SampleVerdict is what JudgeSample concludes.
type SampleVerdict int

const (
	// SampleRerun: no re-run yet; run the job on another provider.
	SampleRerun SampleVerdict = iota + 1
	// SampleAgree: the re-run agrees; nothing to record beyond the
	// receipts.
	SampleAgree
	// SampleTieBreak: the re-run disagrees; run it a third time on a
	// provider that is neither.
	SampleTieBreak
	// SampleResolved: two of three runs agree; the odd one out
	// (SampleDecision.Wrong) gets WrongResult.
	SampleResolved
	// SampleUnresolved: three runs, three results; nobody can be blamed.
	SampleUnresolved
)

func (v SampleVerdict) String() string {
	switch v {
	case SampleRerun:
		return "rerun"
	case SampleAgree:
		return "agree"
	case SampleTieBreak:
		return "tie-break"
	case SampleResolved:
		return "resolved"
	case SampleUnresolved:
		return "unresolved"
	}
	return fmt.Sprintf("SampleVerdict(%d)", int(v))
}

// SampleDecision is JudgeSample's verdict.
type SampleDecision struct {
	Verdict SampleVerdict
	Digest  string   // SampleAgree, SampleResolved: the digest that stands
	Wrong   []string // SampleResolved: the provider to record WrongResult against
	// OriginalWrong: the delivered result was the wrong one. The agent
	// has it already and was not protected; the node tells it.
	OriginalWrong bool
	// Outvoted: SampleUnresolved (JudgeCheck), the providers whose runs
	// returned a digest less credible than the most credible one — the
	// likelier liars of a check that reached no verdict. Nobody is blamed
	// for it unless CheckPolicy.Contradicted says so.
	Outvoted []string
	// Outnumbered: SampleUnresolved (JudgeCheck), the providers whose runs
	// returned a digest that fewer cohorts returned than another, which at
	// least two did — a veteran's run can outweigh three agreeing
	// strangers, so a wrong result of its ends without a verdict where a
	// right one is settled by one checker. Nobody is blamed for it; the
	// requester checks their results every time for a day (reputation's
	// doc, "Design choices", 20).
	Outnumbered []string
	Reason      string
}

// JudgeSample applies the sampling rule to the runs of a sampled job so
// far (the delivery first). Sampling is a majority of three, without
// reputations: one re-run that agrees settles it; one that disagrees
// calls for a third run on a third provider, and the digest two runs share
// stands. Runs beyond the first three, and repeated providers, are
// ignored. Sampling detects cheating after the fact: the cheater was paid
// for the delivery and loses reputation.
func JudgeSample(runs []SampleRun) SampleDecision {
	var rs []SampleRun
	seen := map[string]bool{}
	for _, r := range runs {
		if len(rs) == 3 {
			break
		}
		if !seen[r.Provider] {
			seen[r.Provider] = true
			rs = append(rs, r)
		}
	}
	switch len(rs) {
	case 0, 1:
		return SampleDecision{Verdict: SampleRerun, Reason: "sampled: re-run on another provider"}
	case 2:
		if rs[0].Digest == rs[1].Digest {
			return SampleDecision{Verdict: SampleAgree, Digest: rs[0].Digest, Reason: "sampled: the re-run agrees"}
		}
		return SampleDecision{Verdict: SampleTieBreak,
			Reason: fmt.Sprintf("sampled: %s and %s disagree, a third run breaks the tie", short(rs[0].Provider), short(rs[1].Provider))}
	}
	for odd := range 3 {
		a, b := rs[(odd+1)%3], rs[(odd+2)%3]
		if a.Digest == b.Digest {
			if rs[odd].Digest == a.Digest {
				return SampleDecision{Verdict: SampleAgree, Digest: a.Digest, Reason: "sampled: all three runs agree"}
			}
			return SampleDecision{Verdict: SampleResolved, Digest: a.Digest, Wrong: []string{rs[odd].Provider},
				OriginalWrong: odd == 0,
				Reason:        fmt.Sprintf("sampled: two runs agree, %s returned a wrong result", short(rs[odd].Provider))}
		}
	}
	return SampleDecision{Verdict: SampleUnresolved, Reason: "sampled: three runs, three different results; nobody blamed"}
}

// JudgeRuns generalises JudgeSample to up to maxRuns runs of one job (the
// delivery or the result under check first, then checks on other
// providers): the first digest two runs share stands, and every run with
// another digest is wrong; with no two runs agreeing yet it asks for one
// more run, until maxRuns, then blames nobody. Three runs with three
// results — two colluding or independent cheats against one honest
// provider — no longer end the question: a fourth run finds the digest
// that stands. With maxRuns 3 it is JudgeSample.
func JudgeRuns(runs []SampleRun, maxRuns int) SampleDecision {
	rs := firstDistinct(runs, func(r SampleRun) string { return r.Provider }, maxRuns)
	count := map[string]int{}
	stands := ""
	for _, r := range rs {
		if count[r.Digest]++; count[r.Digest] == 2 && stands == "" {
			stands = r.Digest
		}
	}
	switch {
	case stands != "":
		d := SampleDecision{Verdict: SampleAgree, Digest: stands}
		for _, r := range rs {
			if r.Digest != stands {
				d.Wrong = append(d.Wrong, r.Provider)
			}
		}
		if len(d.Wrong) > 0 {
			d.Verdict, d.OriginalWrong = SampleResolved, rs[0].Digest != stands
			d.Reason = fmt.Sprintf("checked: %d runs agree, %d returned wrong results", count[stands], len(d.Wrong))
		} else {
			d.Reason = "checked: the runs agree"
		}
		return d
	case len(rs) < 2:
		return SampleDecision{Verdict: SampleRerun, Reason: "checked: run on another provider"}
	case len(rs) < maxRuns:
		return SampleDecision{Verdict: SampleTieBreak, Reason: fmt.Sprintf("checked: %d runs, %d results: one more", len(rs), len(count))}
	}
	return SampleDecision{Verdict: SampleUnresolved, Reason: fmt.Sprintf("checked: %d runs, no two agree; nobody blamed", len(rs))}
}

// firstDistinct keeps the first run of each provider, at most max of
// them: a provider that answered twice does not get two votes, and runs
// beyond the cap do not count.
func firstDistinct[T any](runs []T, provider func(T) string, max int) []T {
	var out []T
	seen := map[string]bool{}
	for _, r := range runs {
		if len(out) == max {
			break
		}
		if p := provider(r); !seen[p] {
			seen[p] = true
			out = append(out, r)
		}
	}
	return out
}
