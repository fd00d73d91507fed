package reputation

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// Standing is what this node believes about a peer on one capability, as
// far as an auction or a credit decision needs it.
type Standing struct {
	Eligible   bool    `json:"eligible"`         // LowerBound ≥ the minimum asked for
	Reason     string  `json:"reason,omitempty"` // why not, when not eligible
	Newcomer   bool    `json:"newcomer"`         // Evidence < Params.NewcomerEvidence
	Score      float64 `json:"score"`            // breaks ties, higher is better: the posterior mean
	Mean       float64 `json:"mean"`
	LowerBound float64 `json:"lower_bound"`
	Evidence   float64 `json:"evidence"` // α + β − 2, decayed
	// Against is this node's own evidence against the peer on the
	// capability, decayed: β − 1 of the first-hand posterior (a wrong
	// result weighs Weights.WrongResult). Reports from others never
	// count in it, so no attestation can bar a peer from probation.
	Against float64 `json:"against,omitempty"`
	// CheckBound is LowerBound with this node's own timeouts of the peer
	// taken out of β, up to Params.LapseShare of its first-hand positive
	// evidence: what CheckPolicy.Rate reads for a peer at its Trusted
	// bound. A lost message delivered nothing to accept, so it costs
	// standing and eligibility, not checks of what is delivered; a peer
	// that times out often is not excused.
	CheckBound float64 `json:"check_bound,omitempty"`
	// Wrong is the part of Against that wrong results weigh: this node's
	// own catches, decayed, without the timeouts and failures an honest
	// provider collects from lost messages.
	Wrong float64 `json:"wrong,omitempty"`
}

// Standing returns peer's standing on capability at the book's clock,
// eligible when the lower credible bound is at least minReputation (with
// minReputation ≤ 0 every peer is eligible, strangers included). This
// node's own standing is eligible and not a newcomer: it trusts itself.
func (b *Book) Standing(peer, capability string, minReputation float64) Standing {
	b.mu.Lock()
	defer b.mu.Unlock()
	if peer == b.self {
		pr := Prior()
		return Standing{Eligible: true, Score: pr.Mean(), Mean: pr.Mean(), LowerBound: pr.LowerBound(b.p.Quantile)}
	}
	v := b.views(peer)[capability]
	post := v.posterior()
	st := Standing{
		Mean:       post.Mean(),
		LowerBound: post.LowerBound(b.p.Quantile),
		Evidence:   post.Evidence(),
		Against:    v.direct.Neg,
		Wrong:      v.direct.Wrong,
	}
	st.CheckBound = st.LowerBound
	if ex := math.Min(v.lapses, b.p.LapseShare*v.direct.Pos); ex > 0 {
		st.CheckBound = Posterior{Alpha: post.Alpha, Beta: math.Max(1, post.Beta-ex)}.LowerBound(b.p.Quantile)
	}
	st.Score = st.Mean
	st.Newcomer = st.Evidence < b.p.NewcomerEvidence
	st.Eligible = minReputation <= 0 || st.LowerBound >= minReputation
	// Only this node's own record excludes: attestations can warn (they
	// move the bound a job's minimum is checked against), never bar.
	if rel := b.reliability(v.direct.posterior()); v.firstHand() >= b.p.NewcomerEvidence && rel < b.p.MinReliability {
		st.Eligible = false
		st.Reason = fmt.Sprintf("record too poor: reliability %.2f below %.2f over %.1f observations on %s (a wrong result or repeated failures)",
			rel, b.p.MinReliability, st.Evidence, capability)
		return st
	}
	if !st.Eligible {
		if st.Newcomer {
			st.Reason = fmt.Sprintf("no record on %s yet: reputation %.2f below the minimum %.2f", capability, st.LowerBound, minReputation)
		} else {
			st.Reason = fmt.Sprintf("reputation %.2f below the minimum %.2f (lower bound over %.1f observations on %s, mean %.2f)",
				st.LowerBound, minReputation, st.Evidence, capability, st.Mean)
		}
	}
	return st
}

// Reliability is the probability that peer's next result on capability is
// right, for the odds rule of Credibility: the posterior mean under the
// verification prior, Beta with mean VerifyPriorMean and strength
// VerifyPriorStrength, instead of the uniform prior:
//
//	r = (α − 1 + m·s) / (α + β − 2 + s)
//
// A stranger is worth m (0.9 by default): at worst a share 1 − m of
// providers is assumed faulty. With the uniform prior a stranger would be
// worth ½, and agreeing strangers would never be credible.
func (b *Book) Reliability(peer, capability string) float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.reliability(b.views(peer)[capability].posterior())
}

// DirectReliability is Reliability from this node's first-hand evidence
// alone: what a check by peer is worth (JudgeCheck). Praise from third
// parties can make a peer look reliable; it cannot make its checks count.
func (b *Book) DirectReliability(peer, capability string) float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.reliability(b.views(peer)[capability].direct.posterior())
}

func (b *Book) reliability(post Posterior) float64 {
	m, s := b.p.VerifyPriorMean, b.p.VerifyPriorStrength
	return (post.Alpha - 1 + m*s) / (post.Evidence() + s)
}

// CreditLimit is how much debt a provider lets requester peer run up,
// from its standing as a requester (capability CapRequester) with lower
// bound L and the quantile q:
//
//	no evidence:            base
//	L ≥ q:                  base + (max − base) · min(1, (L − q) / (CreditFullTrust − q))
//	L < q (a bad record):   base · L / q
//
// rounded to the nearest unit. A negative base counts as 0 and a max
// below base as base.
func (b *Book) CreditLimit(peer string, base, max int64) int64 {
	base = maxInt64(base, 0)
	max = maxInt64(max, base)
	st := b.Standing(peer, CapRequester, 0)
	if st.Evidence == 0 {
		return base
	}
	q := b.p.Quantile
	if st.LowerBound < q {
		return int64(math.Round(float64(base) * st.LowerBound / q))
	}
	f := (st.LowerBound - q) / (b.p.CreditFullTrust - q)
	add := math.Round(float64(max-base) * f)
	if add >= float64(max-base) { // also keeps int64 conversion in range
		return max
	}
	return base + int64(add)
}

func maxInt64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// Row is one line of `hayek rep`: a (peer, capability) with its posterior
// and where its evidence came from.
type Row struct {
	Peer       string    `json:"peer"`
	Capability string    `json:"capability"`
	Alpha      float64   `json:"alpha"`
	Beta       float64   `json:"beta"`
	Mean       float64   `json:"mean"`
	LowerBound float64   `json:"lower_bound"`
	Evidence   float64   `json:"evidence"`    // α + β − 2 = FirstHand + ThirdParty
	FirstHand  float64   `json:"first_hand"`  // observations from this node's receipts and verifications
	ThirdParty float64   `json:"third_party"` // weighted, capped observations from attestations
	Reporters  int       `json:"reporters"`   // reporters whose reports count now
	Newcomer   bool      `json:"newcomer"`
	Updated    time.Time `json:"updated"` // last evidence added
}

// Snapshot returns every (peer, capability) the book holds evidence on, at
// the book's clock, sorted by peer then capability.
func (b *Book) Snapshot() []Row {
	b.mu.Lock()
	defer b.mu.Unlock()
	var rows []Row
	for _, peer := range slices.Sorted(maps.Keys(b.peers)) {
		vs := b.views(peer)
		for _, c := range slices.Sorted(maps.Keys(vs)) {
			v := vs[c]
			post := v.posterior()
			rows = append(rows, Row{
				Peer: peer, Capability: c, Alpha: post.Alpha, Beta: post.Beta,
				Mean: post.Mean(), LowerBound: post.LowerBound(b.p.Quantile), Evidence: post.Evidence(),
				FirstHand: v.firstHand(), ThirdParty: v.thirdParty(), Reporters: v.reporters,
				Newcomer: post.Evidence() < b.p.NewcomerEvidence, Updated: v.updated,
			})
		}
	}
	return rows
}

// String renders a row for logs and scripts.
func (r Row) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s %s α=%.3f β=%.3f mean=%.3f lb=%.3f ev=%.3f first=%.3f third=%.3f",
		r.Peer, r.Capability, r.Alpha, r.Beta, r.Mean, r.LowerBound, r.Evidence, r.FirstHand, r.ThirdParty)
	if r.Reporters > 0 {
		fmt.Fprintf(&sb, " reporters=%d", r.Reporters)
	}
	if r.Newcomer {
		sb.WriteString(" newcomer")
	}
	return sb.String()
}
