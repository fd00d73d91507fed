package market

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/hayek-market/hayek/internal/canon"
)

// Verification is how a job's result is checked.
type Verification struct {
	Mode string  // "none", "replicate", "sample" or "adaptive"
	K    int     // replicate: replicas that must agree at first
	P    float64 // sample: probability of re-running after delivery
}

// Verification modes.
const (
	VerifyNone      = "none"
	VerifyReplicate = "replicate"
	VerifySample    = "sample"
	VerifyAdaptive  = "adaptive"
)

// MaxCheckRuns bounds the runs of one adaptively checked job, the
// delivery included: the check and up to three tie-breakers
// (reputation.JudgeCheck's maxRuns).
const MaxCheckRuns = 5

// MaxReplicas bounds replicate:K.
const MaxReplicas = 9

// ParseVerify reads "none", "replicate:K" (2 ≤ K ≤ 9), "sample:P"
// (0 < P ≤ 1) or "adaptive" (one run, checked on other providers before
// it is accepted at a rate the winner's record sets: the caller's, like
// sampling; reputation.CheckPolicy).
func ParseVerify(s string) (Verification, error) {
	switch {
	case s == "" || s == VerifyNone:
		return Verification{Mode: VerifyNone, K: 1}, nil
	case s == VerifyAdaptive:
		return Verification{Mode: VerifyAdaptive, K: 1}, nil
	case strings.HasPrefix(s, VerifyReplicate+":"):
		k, err := strconv.Atoi(strings.TrimPrefix(s, VerifyReplicate+":"))
		if err != nil || k < 2 || k > MaxReplicas {
			return Verification{}, fmt.Errorf("market: %q: want replicate:K with K from 2 to %d", s, MaxReplicas)
		}
		return Verification{Mode: VerifyReplicate, K: k}, nil
	case strings.HasPrefix(s, VerifySample+":"):
		p, err := strconv.ParseFloat(strings.TrimPrefix(s, VerifySample+":"), 64)
		if err != nil || !(p > 0 && p <= 1) {
			return Verification{}, fmt.Errorf("market: %q: want sample:P with 0 < P ≤ 1, e.g. sample:0.1", s)
		}
		return Verification{Mode: VerifySample, K: 1, P: p}, nil
	}
	return Verification{}, fmt.Errorf("market: verify %q: want none, adaptive, replicate:K or sample:P", s)
}

// String is the spec form.
func (v Verification) String() string {
	switch v.Mode {
	case VerifyReplicate:
		return fmt.Sprintf("replicate:%d", v.K)
	case VerifySample:
		return "sample:" + strconv.FormatFloat(v.P, 'g', -1, 64)
	case VerifyAdaptive:
		return VerifyAdaptive
	}
	return VerifyNone
}

// MaxRuns is how many runs a job's hold must cover: the replicas and the
// extra ones verification may ask for, or a sample and its tie-breaker.
func (v Verification) MaxRuns() int {
	switch v.Mode {
	case VerifyReplicate:
		return v.K + max(2, v.K/2)
	case VerifySample:
		return 3
	case VerifyAdaptive:
		return MaxCheckRuns
	}
	return 1
}

// Digest names what honest replicas of a job must agree on byte for byte:
// status, exit code, stdout and every output. Stderr and usage may differ.
func (r Result) Digest() string {
	type digest struct {
		Status  Status   `cbor:"status"`
		Exit    int32    `cbor:"exit"`
		Stdout  string   `cbor:"stdout"`
		Outputs []Output `cbor:"outputs"`
	}
	outs := append([]Output(nil), r.Outputs...)
	sort.Slice(outs, func(i, j int) bool { return outs[i].Name < outs[j].Name })
	return canon.DocCID(canon.MustMarshal(digest{r.Status, r.ExitCode, r.Stdout.CID, outs})).String()
}

// LimitHit reports whether the run stopped at a limit: such runs agree
// with others only when every replica hit a limit, since where a limit
// bites depends on the machine.
func (s Status) LimitHit() bool {
	return s == StatusTimeout || s == StatusMemoryLimit || s == StatusOutputLimit
}

// Vote is one replica's result as a decider sees it.
type Vote struct {
	Provider   string
	Capability Capability
	Digest     string
	Standing   Standing
}

// Decision is a decider's verdict on a replica group.
type Decision struct {
	Accept string // the digest accepted, if any
	More   int    // replicas to add before deciding again
	Fail   string // why the group cannot be decided
}

// Decider decides which digest, if any, a group of replica votes
// establishes. have is the number of runs so far, max the cap.
type Decider interface {
	Decide(votes []Vote, want, have, max int) Decision
}

// MajorityDecider accepts a digest when all votes agree, or when a strict
// majority of at least want replicas agrees; otherwise it asks for one more
// replica until the cap. The reputation package provides the odds rule that
// weighs each replica by its provider's standing.
type MajorityDecider struct{}

// Decide implements Decider.
func (MajorityDecider) Decide(votes []Vote, want, have, max int) Decision {
	count := map[string]int{}
	best, bestN := "", 0
	for _, v := range votes {
		count[v.Digest]++
		if n := count[v.Digest]; n > bestN || (n == bestN && v.Digest < best) {
			best, bestN = v.Digest, n
		}
	}
	if len(votes) > 0 && (bestN == len(votes) && bestN >= want || bestN >= want && 2*bestN > len(votes)) {
		return Decision{Accept: best}
	}
	if have < max {
		return Decision{More: 1}
	}
	return Decision{Fail: fmt.Sprintf("replicas disagree: %d results in %d groups after %d runs", len(votes), len(count), have)}
}
