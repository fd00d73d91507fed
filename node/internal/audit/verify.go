package audit

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/settlement"
)

// Verify checks an audit bundle offline, against the signatures it
// carries: every signed message and countersigned receipt must verify and
// match its CID, and every bid, decline, award, price and result the
// bundle states must be the one its signer signed. It reports the facts
// proven and by whose signature, what is only the auditing node's word,
// and every failure, naming it.
func Verify(verifier canon.Verifier, a api.Audit) api.AuditReport {
	v := &auditCheck{a: a, verifier: verifier, bids: map[answerKey]market.Bid{}, declines: map[answerKey]market.Decline{},
		awards: map[answerKey]market.Award{}, calls: map[uint32]market.CallForBids{}, results: map[string]market.Result{}, resultCIDs: map[string]string{}}
	if a.Format != api.AuditFormat {
		v.fail("format %q is not %s", a.Format, api.AuditFormat)
	}
	for i, s := range a.Signed {
		v.signed(i, s)
	}
	v.claims()
	for _, e := range a.Entries {
		v.entry(e)
	}
	v.payments()
	v.rep.Unproven = append(v.rep.Unproven,
		"the intent: the spec, the agent, its limits and policy, the approval (the node's own ledger entries, listed with their CIDs)",
		"discovery: which offers the node saw",
		"the timeline and the event times",
		"which bids were eligible and the scores' ranking (recomputed from the signed bids, the eligibility by reputation is the node's)")
	v.rep.OK = len(v.rep.Failures) == 0
	if v.rep.Proven == nil {
		v.rep.Proven = []api.AuditFact{}
	}
	return v.rep
}

type answerKey struct {
	attempt uint32
	peer    string
}

type auditCheck struct {
	a          api.Audit
	verifier   canon.Verifier
	rep        api.AuditReport
	calls      map[uint32]market.CallForBids
	bids       map[answerKey]market.Bid
	declines   map[answerKey]market.Decline
	awards     map[answerKey]market.Award
	results    map[string]market.Result // by provider, the latest
	resultCIDs map[string]string
	receipts   map[string]int64 // CID of each countersigned receipt of the job → its price
}

func (v *auditCheck) fail(format string, args ...any) {
	v.rep.Failures = append(v.rep.Failures, fmt.Sprintf(format, args...))
}

func (v *auditCheck) prove(by, cid, format string, args ...any) {
	v.rep.Proven = append(v.rep.Proven, api.AuditFact{Fact: fmt.Sprintf(format, args...), By: by, CID: cid})
}

// signed checks one signed message: its CID, its canonical encoding, its
// signature, and that it is about this job and this node.
func (v *auditCheck) signed(i int, s api.SignedMessage) {
	what := fmt.Sprintf("signed %s #%d (%s)", s.Kind, i, s.CID)
	if got := canon.DocCID(s.Envelope).String(); got != s.CID {
		v.fail("%s: its bytes hash to %s, not its CID", what, got)
		return
	}
	env, err := canon.DecodeEnvelope(s.Envelope)
	if err != nil || !bytes.Equal(env.Encode(), s.Envelope) {
		v.fail("%s: not a canonical envelope (%v)", what, err)
		return
	}
	var m interface {
		canon.Message
	}
	var job, requester string
	switch env.Kind {
	case market.KindCall:
		var c market.CallForBids
		if err = env.Open(v.verifier, env.Kind, &c); err == nil {
			v.calls[c.Attempt] = c
			v.prove(c.Requester, s.CID, "attempt %d's call for bids invited %d providers: %s", c.Attempt, len(c.Invitees), strings.Join(c.Invitees, ", "))
		}
		m, job, requester = c, c.Job, c.Requester
	case market.KindBid:
		var b market.Bid
		if err = env.Open(v.verifier, env.Kind, &b); err == nil {
			v.bids[answerKey{b.Attempt, b.Provider}] = b
			v.prove(b.Provider, s.CID, "%s bid %d on attempt %d, to start within %dms", b.Provider, b.Price, b.Attempt, b.StartWithinMs)
		}
		m, job, requester = b, b.Job, b.Requester
	case market.KindDecline:
		var d market.Decline
		if err = env.Open(v.verifier, env.Kind, &d); err == nil {
			v.declines[answerKey{d.Attempt, d.Provider}] = d
			v.prove(d.Provider, s.CID, "%s declined attempt %d: %s", d.Provider, d.Attempt, d.Reason)
		}
		m, job, requester = d, d.Job, d.Requester
	case market.KindAward:
		var aw market.Award
		if err = env.Open(v.verifier, env.Kind, &aw); err == nil {
			v.awards[answerKey{aw.Attempt, aw.Provider}] = aw
			v.prove(aw.Requester, s.CID, "attempt %d was awarded to %s at price %d (rule %s, winner's score %d, runner-up's %d)",
				aw.Attempt, aw.Provider, aw.Price, aw.Ranking.Rule, aw.Ranking.WinnerScore, aw.Ranking.RunnerUpScore)
		}
		m, job, requester = aw, aw.Job, aw.Requester
	case market.KindResult:
		var r market.Result
		if err = env.Open(v.verifier, env.Kind, &r); err == nil {
			v.results[r.Provider], v.resultCIDs[r.Provider] = r, s.CID
			v.prove(r.Provider, s.CID, "%s ran attempt %d of the module: status %s, exit code %d, %d outputs, %dµs, %d bytes of memory",
				r.Provider, r.Attempt, r.Status, r.ExitCode, len(r.Outputs), r.Usage.WallUs, r.Usage.MemoryBytes)
		}
		m, job, requester = r, r.Job, r.Requester
	default:
		v.fail("%s: unknown kind %q", what, env.Kind)
		return
	}
	switch {
	case err != nil:
		v.fail("%s: %v", what, err)
	case m.Sender() != s.Signer:
		v.fail("%s: signed by %s, the bundle says %s", what, m.Sender(), s.Signer)
	case job != v.a.Job.ID && !strings.HasPrefix(job, v.a.Job.ID+"-s"):
		v.fail("%s: about job %s, not %s", what, job, v.a.Job.ID)
	case requester != v.a.Node:
		v.fail("%s: names requester %s, the bundle's node is %s", what, requester, v.a.Node)
	}
}

// claims checks what the bundle states about auctions and the run against
// the signed messages.
func (v *auditCheck) claims() {
	for _, au := range v.a.Auctions {
		at := fmt.Sprintf("attempt %d", au.Attempt)
		if c, ok := v.calls[au.Attempt]; !ok {
			v.fail("%s: no signed call for bids in the bundle", at)
		} else if !slices.Equal(sorted(c.Invitees), sorted(au.Invitees)) {
			v.fail("%s: the bundle lists invitees %v, the signed call %v", at, au.Invitees, c.Invitees)
		}
		for _, b := range au.Bids {
			sb, ok := v.bids[answerKey{au.Attempt, b.Provider}]
			switch {
			case !ok:
				v.fail("%s: the bid by %s (price %d) has no signed bid in the bundle", at, b.Provider, b.Price)
			case sb.Price != b.Price || sb.StartWithinMs != b.StartWithinMs:
				v.fail("%s: the bundle says %s bid %d within %dms, its signed bid says %d within %dms", at, b.Provider, b.Price, b.StartWithinMs, sb.Price, sb.StartWithinMs)
			}
		}
		for _, d := range au.Declines {
			sd, ok := v.declines[answerKey{au.Attempt, d.Provider}]
			switch {
			case !ok:
				v.fail("%s: the decline by %s (%s) has no signed decline in the bundle", at, d.Provider, d.Reason)
			case string(sd.Reason) != d.Reason:
				v.fail("%s: the bundle says %s declined for %s, its signed decline says %s", at, d.Provider, d.Reason, sd.Reason)
			}
		}
		for _, w := range au.Winners {
			aw, ok := v.awards[answerKey{au.Attempt, w}]
			switch {
			case !ok:
				v.fail("%s: winner %s has no signed award in the bundle", at, w)
			case aw.Price != au.Price:
				v.fail("%s: the bundle says %s was paid %d, the signed award says %d", at, w, au.Price, aw.Price)
			default:
				v.awardBids(at, au, aw)
			}
		}
	}
	j := v.a.Job
	if j.Provider != "" && j.Price != 0 {
		if !slices.ContainsFunc(keys(v.awards), func(k answerKey) bool { return k.peer == j.Provider && v.awards[k].Price == j.Price }) {
			v.fail("job: the bundle says %s was paid %d, and no signed award says so", j.Provider, j.Price)
		}
	}
	v.votes()
	if ex := v.a.Execution; ex != nil {
		r, ok := v.results[ex.Provider]
		switch {
		case !ok:
			v.fail("execution: no signed result by %s in the bundle", ex.Provider)
		case v.resultCIDs[ex.Provider] != ex.ResultCID:
			v.fail("execution: the bundle names result %s, %s signed %s", ex.ResultCID, ex.Provider, v.resultCIDs[ex.Provider])
		case string(r.Status) != ex.Status || (ex.ExitCode != nil && *ex.ExitCode != r.ExitCode):
			v.fail("execution: the bundle says status %s, %s signed status %s exit %d", ex.Status, ex.Provider, r.Status, r.ExitCode)
		default:
			signed := map[string]string{}
			for _, o := range r.Outputs {
				signed[o.Name] = o.CID
			}
			for _, o := range ex.Outputs {
				if signed[o.Name] != o.CID {
					v.fail("execution: output %s is %s in the bundle, %s in the signed result", o.Name, o.CID, signed[o.Name])
				}
			}
		}
	}
}

// votes proves, for a replicated job, which replicas' signed results
// carry the same outputs as the accepted one.
func (v *auditCheck) votes() {
	vf, ex := v.a.Verification, v.a.Execution
	if vf == nil || ex == nil || len(vf.Replicas) == 0 {
		return
	}
	accepted, ok := v.results[ex.Provider]
	if !ok {
		return // claims reports the missing result
	}
	for _, p := range vf.Replicas {
		r, ok := v.results[p]
		switch {
		case !ok:
			v.fail("verification: replica %s has no signed result in the bundle", p)
		case sameOutputs(r, accepted):
			v.prove(p, v.resultCIDs[p], "replica %s's result agrees with the accepted one (stdout %s, %d outputs)", p, r.Stdout.CID, len(r.Outputs))
		default:
			v.prove(p, v.resultCIDs[p], "replica %s's result differs from the accepted one", p)
		}
	}
}

func sameOutputs(a, b market.Result) bool {
	return a.Stdout.CID == b.Stdout.CID && a.Status == b.Status && a.ExitCode == b.ExitCode &&
		slices.EqualFunc(a.Outputs, b.Outputs, func(x, y market.Output) bool { return x.Name == y.Name && x.CID == y.CID })
}

// awardBids checks the bids an award rests on against the auction the
// bundle shows: the signed award counts the bids it ranked and carries the
// bid that set the price, so a bid dropped from the bundle, row and
// envelope both, is still noticed.
func (v *auditCheck) awardBids(at string, au api.AuditAuction, aw market.Award) {
	if n := aw.Ranking.Bids; n > len(au.Bids) {
		v.fail("%s: the signed award ranked %d bids, the bundle lists %d", at, n, len(au.Bids))
	}
	for _, raw := range [][]byte{aw.WinningBid, aw.PriceBid} {
		if len(raw) == 0 {
			continue
		}
		env, err := canon.DecodeEnvelope(raw)
		var b market.Bid
		if err == nil {
			err = env.Open(v.verifier, market.KindBid, &b)
		}
		if err != nil {
			v.fail("%s: a bid inside the signed award: %v", at, err)
			continue
		}
		if !slices.ContainsFunc(au.Bids, func(x api.AuditBid) bool { return x.Provider == b.Provider && x.Price == b.Price }) {
			v.fail("%s: the signed award rests on %s's bid of %d, which the bundle does not list", at, b.Provider, b.Price)
		}
	}
}

// entry checks a ledger entry's CID against its encoding and, for a
// receipt, both parties' signatures.
func (v *auditCheck) entry(e api.AuditEntry) {
	what := fmt.Sprintf("ledger entry %d (%s)", e.Seq, e.Kind)
	var se settlement.Entry
	if err := canon.Unmarshal(e.Raw, &se); err != nil {
		v.fail("%s: cannot decode: %v", what, err)
		return
	}
	if se.CID() != e.CID || se.Seq != e.Seq || string(se.Kind) != e.Kind {
		v.fail("%s: its encoding is entry %d (%s) %s, not %s", what, se.Seq, se.Kind, se.CID(), e.CID)
		return
	}
	body, err := se.Decode()
	if err != nil {
		v.fail("%s: %v", what, err)
		return
	}
	sr, ok := body.(settlement.SignedReceipt)
	if !ok {
		v.rep.Unproven = append(v.rep.Unproven, fmt.Sprintf("%s %s: the node's own record (its CID matches its content)", what, e.CID))
		return
	}
	r, err := settlement.OpenReceipt(v.verifier, sr)
	if err != nil {
		v.fail("%s: %v", what, err)
		return
	}
	if r.Job != v.a.Job.ID && !strings.HasPrefix(r.Job, v.a.Job.ID+"-s") {
		v.fail("%s: a receipt for job %s, not %s", what, r.Job, v.a.Job.ID)
		return
	}
	if res, ok := v.resultCIDs[r.Provider]; ok && r.Result != "" && r.Result != res && r.Job == v.a.Job.ID {
		v.fail("%s: the receipt pays for result %s, %s's signed result in the bundle is %s", what, r.Result, r.Provider, res)
	}
	if r.Job == v.a.Job.ID {
		if v.receipts == nil {
			v.receipts = map[string]int64{}
		}
		v.receipts[canon.DocCID(canon.MustMarshal(sr)).String()] = r.Price
	}
	v.prove(r.Requester+" + "+r.Provider, e.CID, "%s owes %s %d for job %s attempt %d (result %s), countersigned", r.Requester, r.Provider, r.Price, r.Job, r.Attempt, r.Result)
}

// payments checks what the job says it paid against the countersigned
// receipts in the bundle: each receipt it names must be there, and they
// must add up to what it says was paid.
func (v *auditCheck) payments() {
	st := v.a.Settlement
	if st == nil {
		return
	}
	var sum int64
	for _, c := range st.Receipts {
		price, ok := v.receipts[c]
		if !ok {
			v.fail("settlement: receipt %s has no countersigned receipt in the bundle", c)
			continue
		}
		sum += price
	}
	if sum != st.Paid && len(st.Receipts) > 0 {
		v.fail("settlement: the bundle says %d was paid, its receipts add up to %d", st.Paid, sum)
	}
}

func sorted(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

func keys[K comparable, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
