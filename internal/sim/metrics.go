package sim

import (
	"maps"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/hayek-market/hayek/market"
)

// metrics collects what a run shows as it goes.
type metrics struct {
	w          *world
	open       int // market.Jobs not finished
	lost       int // messages the network lost
	dropped    int // inputs a Job refused (late, duplicate)
	sampleRuns int
	checkRuns  map[string]int // adaptive check runs by cause (Report.CheckRuns)

	jobs, done, failedN int
	doneAfter           int // completed after burn-in
	wrong, wrongAfter   int // wrong results accepted (delivered to the agent)
	runs                int // awards: runs paid for or attempted
	awards, awardsAfter map[string]int
	awardsAfterPaying   map[string]int // awardsAfter, by requesters that pay
	paidBy, paidAfter   map[string]int64
	failCodes           map[string]int
	wrongBy             map[string]int // wrong results accepted, by the kind of provider that delivered them

	attackerCost int64 // what dishonest identities spent on honest runs
	honestPaid   int64 // paid for honest providers' runs
	honestCost   int64 // what those runs cost them

	det     map[detKey]*detState
	buckets int
	series  []map[string]int     // awards per population kind, per bucket of jobs
	lbs     map[string][]float64 // lower bound in the first requester's book, per bucket, by provider
	snaps   int
	byID    map[string]int // awards by provider
	last    int            // last bucket recorded
}

type detKey struct{ provider, requester string }

type detState struct {
	jobs     int
	first    time.Time
	detected bool
	after    time.Duration
	slipped  int // its wrong results this requester accepted
}

func newMetrics(w *world) *metrics {
	m := &metrics{w: w, checkRuns: map[string]int{}, awards: map[string]int{}, awardsAfter: map[string]int{}, awardsAfterPaying: map[string]int{}, paidBy: map[string]int64{},
		paidAfter: map[string]int64{}, failCodes: map[string]int{}, wrongBy: map[string]int{}, det: map[detKey]*detState{},
		buckets: 50, lbs: map[string][]float64{}, byID: map[string]int{}, last: -1}
	m.series = make([]map[string]int, m.buckets)
	for i := range m.series {
		m.series[i] = map[string]int{}
	}
	return m
}

func (m *metrics) afterBurnIn(root *rootJob) bool {
	return float64(root.index) >= m.w.cfg.BurnIn*float64(m.w.cfg.Jobs)
}

func (m *metrics) bucket(root *rootJob) int {
	return min(m.buckets-1, root.index*m.buckets/m.w.cfg.Jobs)
}

func (m *metrics) submitted(root *rootJob) {
	m.jobs++
	if b := m.bucket(root); b != m.last {
		m.last = b
		m.snapshot()
	}
}

// snapshot records every provider's lower bound in the first
// requester's book; the report keeps, per population, the identity that
// won most.
func (m *metrics) snapshot() {
	w := m.w
	r := w.reqs[0]
	for _, p := range w.provs {
		t := m.lbs[p.id]
		for len(t) < m.snaps {
			t = append(t, w.reps.Quantile) // not there yet: a stranger's bound
		}
		m.lbs[p.id] = append(t, r.rep.standing(p.id, 0).LowerBound)
	}
	m.snaps++
}

func (m *metrics) awarded(root *rootJob, p *provider, price int64) {
	m.runs++
	m.byID[p.id]++
	m.awards[p.pop.Kind]++
	if m.afterBurnIn(root) {
		m.awardsAfter[p.pop.Kind]++
		if !root.req.nonPaying {
			m.awardsAfterPaying[p.pop.Kind]++
		}
	}
	m.series[m.bucket(root)][p.pop.Kind]++
}

func (m *metrics) paid(root *rootJob, p *provider, price int64) {
	m.paidBy[p.pop.Kind] += price
	if m.afterBurnIn(root) {
		m.paidAfter[p.pop.Kind] += price
	}
	if p.pop.Kind == KindHonest {
		m.honestPaid += price
		m.honestCost += p.cost
	}
}

func (m *metrics) delivered(p *provider, root *rootJob, wrong bool) {
	if Dishonest(p.pop.Kind) && !wrong {
		m.attackerCost += p.cost
	}
	if p.pop.Kind != KindCheat {
		return
	}
	k := detKey{p.id, root.req.id}
	d := m.det[k]
	if d == nil {
		d = &detState{first: m.w.clk.now}
		m.det[k] = d
	}
	if !d.detected {
		d.jobs++
	}
}

// slipped: root's requester accepted p's wrong result.
func (m *metrics) slipped(p *provider, root *rootJob) {
	if d := m.det[detKey{p.id, root.req.id}]; d != nil {
		d.slipped++
	}
}

func (m *metrics) completed(root *rootJob, wrong bool) {
	m.done++
	after := m.afterBurnIn(root)
	if after {
		m.doneAfter++
	}
	if wrong {
		m.wrong++
		if after {
			m.wrongAfter++
		}
	}
}

func (m *metrics) failed(root *rootJob, code string) {
	m.failedN++
	m.failCodes[code]++
}

// evidence: requester r recorded evidence about p. An always-cheater is
// detected by r once its lower bound is below every honest provider's.
func (m *metrics) evidence(r *requester, p *provider) {
	if p.pop.Kind != KindCheat {
		return
	}
	d := m.det[detKey{p.id, r.id}]
	if d == nil || d.detected {
		return
	}
	lb := r.rep.standing(p.id, 0).LowerBound
	for _, h := range m.w.provs {
		if h.pop.Kind == KindHonest && r.rep.standing(h.id, 0).LowerBound <= lb {
			return
		}
	}
	d.detected, d.after = true, m.w.clk.now.Sub(d.first)
}

// report computes the run's figures.
func (m *metrics) report() *Report {
	w := m.w
	cfg := w.cfg
	rep := &Report{Seed: cfg.Seed, Jobs: m.jobs, Completed: m.done, Failed: m.failedN, Verify: cfg.Verify,
		Design: "revised", FailCodes: m.failCodes, VirtualTime: w.clk.now.Sub(epoch).Round(time.Second).String()}
	if cfg.Legacy {
		rep.Design = "legacy"
	}
	sum := func(mp map[string]int, pred func(string) bool) int {
		n := 0
		for k, v := range mp {
			if pred(k) {
				n += v
			}
		}
		return n
	}
	sum64 := func(mp map[string]int64, pred func(string) bool) int64 {
		var n int64
		for k, v := range mp {
			if pred(k) {
				n += v
			}
		}
		return n
	}
	all := func(string) bool { return true }
	isSybil := func(k string) bool { return k == KindSybil }
	share := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	rep.WrongPer10k = round(share(float64(m.wrong), float64(m.done))*1e4, 2)
	rep.WrongPer10kAfter = round(share(float64(m.wrongAfter), float64(m.doneAfter))*1e4, 2)
	rep.WrongAccepted = m.wrong
	rep.DishonestAwardShare = round(share(float64(sum(m.awardsAfter, Dishonest)), float64(sum(m.awardsAfter, all))), 4)
	rep.DishonestAwardSharePaying = round(share(float64(sum(m.awardsAfterPaying, Dishonest)), float64(sum(m.awardsAfterPaying, all))), 4)
	rep.DishonestAwardShareAll = round(share(float64(sum(m.awards, Dishonest)), float64(sum(m.awards, all))), 4)
	rep.DishonestPaidShare = round(share(float64(sum64(m.paidAfter, Dishonest)), float64(sum64(m.paidAfter, all))), 4)
	rep.DishonestPaidShareAll = round(share(float64(sum64(m.paidBy, Dishonest)), float64(sum64(m.paidBy, all))), 4)
	rep.SybilAwardShare = round(share(float64(sum(m.awardsAfter, isSybil)), float64(sum(m.awardsAfter, all))), 4)
	rep.ReplicasPerJob = round(share(float64(m.runs), float64(m.jobs)), 3)
	rep.AwardsByKind = maps.Clone(m.awards)
	rep.AwardsAfterByKind = maps.Clone(m.awardsAfter)
	rep.WrongByKind = maps.Clone(m.wrongBy)
	if m.wrong > 0 {
		rep.AttackerCostPerWrong = round(float64(m.attackerCost)/float64(m.wrong), 1)
	}
	rep.PriceToHonestCost = round(share(float64(m.honestPaid), float64(m.honestCost)), 3)
	// Detection of always-cheaters, per requester that dealt with them.
	var detJobs []int
	for _, k := range slices.SortedFunc(maps.Keys(m.det), func(a, b detKey) int {
		if a.provider != b.provider {
			return cmpStr(a.provider, b.provider)
		}
		return cmpStr(a.requester, b.requester)
	}) {
		d := m.det[k]
		detJobs = append(detJobs, d.jobs)
		if !d.detected && d.slipped == 0 && !w.reqByID(k.requester).rep.Standing(k.provider, market.RuntimeWasm, 0).Eligible {
			// Never judged here — its checks ended without a verdict, so
			// this requester holds no evidence on it — but none of its
			// wrong results was accepted and it cannot win here (the
			// subnet guard bars it): nothing slipped.
			rep.BarredUnjudged++
		} else if !d.detected {
			rep.Undetected++
		} else if d.after > rep.detectTime {
			rep.detectTime = d.after
		}
	}
	sort.Ints(detJobs)
	rep.detectJobs = detJobs
	if len(detJobs) > 0 {
		rep.DetectJobsMax = detJobs[len(detJobs)-1]
		rep.DetectJobsMedian = detJobs[len(detJobs)/2]
	}
	rep.DetectTimeMax = rep.detectTime.Round(time.Second).String()
	// Honest providers pushed out: some paying requester would not let
	// them win a job without a minimum reputation (their first-hand
	// record there is too poor). Bad-mouthed: some paying requester
	// believes them worse than a stranger (posterior mean below ½), which
	// costs them ties and jobs with a minimum.
	honest, excluded, badmouthed := 0, 0, 0
	for _, p := range w.provs {
		if p.pop.Kind != KindHonest {
			continue
		}
		honest++
		ex, bm := false, false
		for _, r := range w.reqs {
			if r.nonPaying {
				continue
			}
			st := r.rep.standing(p.id, 0)
			ex = ex || !st.Eligible
			bm = bm || st.Evidence > 0 && st.Mean < 0.5
		}
		if ex {
			excluded++
		}
		if bm {
			badmouthed++
		}
	}
	rep.HonestBadmouthedShare = round(share(float64(badmouthed), float64(honest)), 4)
	rep.HonestExcludedShare = round(share(float64(excluded), float64(honest)), 4)
	// Non-paying requesters: what providers lost to them, and how many of
	// their calls were answered.
	var unpaid int64
	for _, r := range w.reqs {
		if r.nonPaying {
			for _, v := range r.owes {
				unpaid += v
			}
		}
	}
	rep.NonPayingDebt = unpaid
	for _, p := range w.provs {
		for _, r := range w.reqs {
			if r.nonPaying {
				rep.NonPayingMaxExposure = max(rep.NonPayingMaxExposure, p.owed[r.id])
			}
		}
	}
	rep.MessagesLost = m.lost
	rep.SampleRuns = m.sampleRuns
	if len(m.checkRuns) > 0 {
		rep.CheckRuns = maps.Clone(m.checkRuns)
	}
	// Trajectories: per population, the identity that won most awards.
	best := map[string]*provider{}
	for _, p := range w.provs {
		if b := best[p.pop.Name]; b == nil || m.byID[p.id] > m.byID[b.id] {
			best[p.pop.Name] = p
		}
	}
	rep.traj = map[string][]float64{}
	for name, p := range best {
		rep.traj[name] = m.lbs[p.id]
	}
	rep.series = m.series
	return rep
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

var _ = math.Inf
