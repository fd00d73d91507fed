package testnet

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hayek-market/hayek/node/api"
)

// Report is what report.json holds and report.md shows.
type Report struct {
	Testnet     string  `json:"testnet"`
	Nodes       int     `json:"nodes"`
	Jobs        int     `json:"jobs"`
	Completed   int     `json:"completed"`
	Failed      int     `json:"failed"`
	Refused     int     `json:"refused"`
	Lost        int     `json:"lost"`
	SuccessRate float64 `json:"success_rate"` // completed / submitted
	// WarmUp counts the jobs above that the wait stage ran before load
	// (JobRecord.WarmUp); the latencies, throughput and awards below
	// leave them out.
	WarmUp int `json:"warm_up_jobs"`
	// Latency, submit to result, of completed load jobs, in ms.
	Latency Percentiles `json:"latency_ms"`
	// AuctionLatency, submit to the first award, of load jobs, in ms.
	AuctionLatency Percentiles `json:"auction_latency_ms"`
	Throughput     float64     `json:"throughput_per_s"` // completed load jobs per second of the load
	DurationS      float64     `json:"duration_s"`
	Reauctions     int         `json:"reauctions"`
	// WrongAccepted counts completed jobs whose stdout differs from the
	// majority output of jobs of the same kind (all are deterministic).
	WrongAccepted int            `json:"wrong_results_accepted"`
	Awards        map[string]int `json:"awards"` // by provider node
	CheaterShare  float64        `json:"cheater_award_share"`
	SybilShare    float64        `json:"sybil_award_share"`
	// Memory of the nodes' containers at collection, in MiB.
	MemoryMeanMiB float64      `json:"memory_mean_mib"`
	MemoryMaxMiB  float64      `json:"memory_max_mib"`
	Money         *CheckResult `json:"check,omitempty"`
	// Traffic is messages and DHT lookups, from the nodes' counters.
	Traffic       *Traffic       `json:"traffic,omitempty"`
	Perturbations []Perturbation `json:"perturbations"`
	Heads         []LedgerHead   `json:"ledger_heads"`
	Timelines     []Timeline     `json:"timelines"`
	Plots         []string       `json:"plots"`
}

// LedgerHead is a node's ledger head at collection.
type LedgerHead struct {
	Node string `json:"node"`
	Seq  uint64 `json:"seq"`
	Head string `json:"head"`
}

// Percentiles of a sample.
type Percentiles struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Timeline is one job's life, in ms after its submission.
type Timeline struct {
	Job      string    `json:"job"`
	Mix      string    `json:"mix"`
	Node     string    `json:"node"`
	Provider string    `json:"provider,omitempty"`
	State    string    `json:"state"`
	Submit   time.Time `json:"submit"`
	Auction  float64   `json:"auction_ms,omitempty"` // first call for bids
	Award    float64   `json:"award_ms,omitempty"`   // first award (the auction closed)
	Start    float64   `json:"start_ms,omitempty"`   // running
	Result   float64   `json:"result_ms,omitempty"`
	Finished float64   `json:"finished_ms,omitempty"`
	Attempts int       `json:"attempts"`
	Reason   string    `json:"reason,omitempty"`
}

// WriteReport reads what Collect and Check wrote into out and writes
// report.json, report.md and the plots.
func WriteReport(out string) (*Report, error) {
	dir := filepath.Join(out, collectedDir)
	var t Testnet
	if err := readJSON(filepath.Join(dir, StateFile), &t); err != nil {
		return nil, fmt.Errorf("%w (collect first: hayek testnet check)", err)
	}
	var jobs []JobTimeline
	if err := readJSON(filepath.Join(dir, "jobs.json"), &jobs); err != nil {
		return nil, err
	}
	perts, err := readJSONL[Perturbation](filepath.Join(dir, perturbLog))
	if err != nil {
		return nil, err
	}
	reps, err := readJSONL[RepSample](filepath.Join(dir, repLog))
	if err != nil {
		return nil, err
	}
	rep := Build(&t, jobs, perts)
	var states []NodeState
	if err := readJSON(filepath.Join(dir, "nodes.json"), &states); err == nil {
		for _, st := range states {
			if st.Status != nil {
				rep.Heads = append(rep.Heads, LedgerHead{Node: st.Name, Seq: st.Status.LedgerSeq, Head: st.Status.LedgerHead})
			}
		}
		rep.Traffic = trafficOf(states, rep.Jobs-rep.Refused)
	}
	var mem map[string]int64
	if err := readJSON(filepath.Join(dir, "memory.json"), &mem); err == nil && len(mem) > 0 {
		var sum int64
		for _, b := range mem {
			sum += b
			rep.MemoryMaxMiB = max(rep.MemoryMaxMiB, float64(b)/(1<<20))
		}
		rep.MemoryMeanMiB = float64(sum) / float64(len(mem)) / (1 << 20)
	}
	var chk CheckResult
	if err := readJSON(filepath.Join(out, "check.json"), &chk); err == nil {
		rep.Money = &chk
	}
	plots, err := drawPlots(out, &t, rep, reps)
	if err != nil {
		return nil, err
	}
	rep.Plots = plots
	if err := writeJSON(filepath.Join(out, "report.json"), rep); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(out, "report.md"), []byte(rep.Markdown()), 0o644); err != nil {
		return nil, fmt.Errorf("testnet: %w", err)
	}
	return rep, nil
}

// Build computes the report's figures from the jobs' timelines.
func Build(t *Testnet, jobs []JobTimeline, perts []Perturbation) *Report {
	names := t.PeerName()
	cheaters, sybils := map[string]bool{}, map[string]bool{}
	for _, n := range t.Nodes {
		for _, m := range n.Misbehave {
			if strings.HasPrefix(m, "wrong_output_rate") {
				cheaters[n.Name] = true
			}
		}
		if n.Sybil {
			sybils[n.Name] = true
		}
	}
	rep := &Report{Testnet: t.Name, Nodes: len(t.Nodes), Awards: map[string]int{}, Perturbations: perts}
	var lat, auc []float64
	var first, last time.Time
	warmDone := 0                          // completed warm-up jobs
	outputs := map[string]map[string]int{} // mix → stdout CID → count
	for _, tl := range jobs {
		rep.Jobs++
		warm := tl.Record.isWarmUp()
		if warm {
			rep.WarmUp++
		}
		if tl.Record.ID == "" {
			rep.Refused++
			continue
		}
		j := tl.Job
		if j == nil || !j.State.Terminal() || tl.Lost != "" {
			rep.Lost++
			continue
		}
		line := Timeline{Job: j.ID, Mix: tl.Record.Mix, Node: tl.Record.Node, State: string(j.State),
			Submit: j.CreatedAt, Attempts: len(j.Attempts)}
		if j.Provider != "" {
			line.Provider = nameOf(names, j.Provider)
		}
		if j.Error != nil {
			line.Reason = j.Error.Code
		}
		ms := func(at time.Time) float64 { return float64(at.Sub(j.CreatedAt).Microseconds()) / 1000 }
		for _, e := range tl.Events {
			switch {
			case e.Type == "auction" && line.Auction == 0:
				line.Auction = ms(e.Time)
			case e.Type == "award" && line.Award == 0:
				line.Award = ms(e.Time)
				if warm {
					break
				}
				for _, p := range awardees(e, j) {
					rep.Awards[nameOf(names, p)]++
				}
			case e.Type == "state" && e.State == api.StateRunning && line.Start == 0:
				line.Start = ms(e.Time)
			case e.Type == "result":
				line.Result = ms(e.Time)
			}
		}
		if j.FinishedAt != nil {
			line.Finished = ms(*j.FinishedAt)
			if !warm && last.Before(*j.FinishedAt) {
				last = *j.FinishedAt
			}
		}
		if !warm && (first.IsZero() || j.CreatedAt.Before(first)) {
			first = j.CreatedAt
		}
		if len(j.Attempts) > 1 {
			rep.Reauctions += len(j.Attempts) - 1
		}
		switch j.State {
		case api.StateCompleted:
			rep.Completed++
			if warm {
				warmDone++
			}
			end := line.Result
			if end == 0 {
				end = line.Finished
			}
			if !warm {
				lat = append(lat, end)
			}
			if tl.Stdout != "" {
				if outputs[line.Mix] == nil {
					outputs[line.Mix] = map[string]int{}
				}
				outputs[line.Mix][tl.Stdout]++
			}
		case api.StateFailed:
			rep.Failed++
		}
		if line.Award > 0 && !warm {
			auc = append(auc, line.Award)
		}
		rep.Timelines = append(rep.Timelines, line)
	}
	for _, tl := range jobs {
		if tl.Stdout == "" {
			continue
		}
		if c := outputs[tl.Record.Mix]; c[tl.Stdout] < majority(c) {
			rep.WrongAccepted++
		}
	}
	if rep.Jobs > 0 {
		rep.SuccessRate = float64(rep.Completed) / float64(rep.Jobs)
	}
	rep.Latency, rep.AuctionLatency = percentiles(lat), percentiles(auc)
	if !first.IsZero() && last.After(first) {
		rep.DurationS = last.Sub(first).Seconds()
		rep.Throughput = float64(rep.Completed-warmDone) / rep.DurationS
	}
	total, ch, sy := 0, 0, 0
	for who, n := range rep.Awards {
		total += n
		if cheaters[who] {
			ch += n
		}
		if sybils[who] {
			sy += n
		}
	}
	if total > 0 {
		rep.CheaterShare, rep.SybilShare = float64(ch)/float64(total), float64(sy)/float64(total)
	}
	return rep
}

// awardees are the providers an award event names (every winner of a
// replicated job's auction is in its attempt).
func awardees(e api.Event, j *api.Job) []string {
	for _, a := range j.Attempts {
		if a.Number == e.Attempt && len(a.Winners) > 0 {
			if e.Provider == "" || e.Provider == a.Winners[0] {
				return a.Winners
			}
			return nil // the other winners have their own events
		}
	}
	if e.Provider != "" {
		return []string{e.Provider}
	}
	return nil
}

func majority(c map[string]int) int {
	m := 0
	for _, n := range c {
		m = max(m, n)
	}
	return m
}

func nameOf(names map[string]string, id string) string {
	if n, ok := names[id]; ok {
		return n
	}
	return shortID(id)
}

func percentiles(xs []float64) Percentiles {
	if len(xs) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	q := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return Percentiles{N: len(s), P50: q(0.5), P90: q(0.9), P99: q(0.99), Max: s[len(s)-1]}
}

// Markdown is report.md.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Testnet report: %s\n\n", r.Testnet)
	fmt.Fprintf(&b, "%d nodes, %d jobs over %.1fs.\n\n", r.Nodes, r.Jobs, r.DurationS)
	fmt.Fprintf(&b, "| figure | value |\n|---|---|\n")
	row := func(k, format string, args ...any) { fmt.Fprintf(&b, "| %s | %s |\n", k, fmt.Sprintf(format, args...)) }
	row("jobs submitted", "%d", r.Jobs)
	row("of them warm-up (left out of latencies, throughput, awards)", "%d", r.WarmUp)
	row("completed", "%d", r.Completed)
	row("failed (with a reason)", "%d", r.Failed)
	row("refused at submission", "%d", r.Refused)
	row("lost", "%d", r.Lost)
	row("success rate", "%.1f%%", 100*r.SuccessRate)
	row("latency submit→result p50 / p90 / p99 (load jobs)", "%.0f / %.0f / %.0f ms", r.Latency.P50, r.Latency.P90, r.Latency.P99)
	row("auction submit→award p50 / p90 / p99 (load jobs)", "%.0f / %.0f / %.0f ms", r.AuctionLatency.P50, r.AuctionLatency.P90, r.AuctionLatency.P99)
	row("throughput", "%.2f jobs/s", r.Throughput)
	row("re-auctions", "%d", r.Reauctions)
	row("wrong results accepted", "%d", r.WrongAccepted)
	row("cheater award share", "%.1f%%", 100*r.CheaterShare)
	row("sybil award share", "%.1f%%", 100*r.SybilShare)
	if t := r.Traffic; t != nil {
		row("gossip messages per job (reaching nodes)", "%.1f (%.1f)", t.PerJob.GossipMessages, t.PerJob.GossipDeliveries)
		row("direct streams per job", "%.1f", t.PerJob.Streams)
		row("DHT lookups per job", "%.2f", t.PerJob.DHTLookups)
	}
	if r.MemoryMaxMiB > 0 {
		row("memory per node, mean / max", "%.0f / %.0f MiB", r.MemoryMeanMiB, r.MemoryMaxMiB)
	}
	if c := r.Money; c != nil {
		row("money: paid = earned", "%d = %d (%s)", c.Paid, c.Earned, yes(c.Paid == c.Earned))
		row("money: left on holds", "%d", c.Held)
		row("ledgers verified (deep)", "%d of %d", countOK(c.Ledgers), len(c.Ledgers))
		row("audit faults / pairs agreeing", "%d / %d of %d", c.AuditFaults, c.PairsAgree, c.Pairs)
		row("check", "%s", passFail(c.OK))
	}
	if r.Traffic != nil {
		r.Traffic.markdown(&b)
	}
	b.WriteString("\n## Awards per provider\n\n| provider | awards |\n|---|---|\n")
	var provs []string
	for p := range r.Awards {
		provs = append(provs, p)
	}
	sort.Strings(provs)
	for _, p := range provs {
		fmt.Fprintf(&b, "| %s | %d |\n", p, r.Awards[p])
	}
	if len(r.Heads) > 0 {
		b.WriteString("\n## Ledger heads at collection\n\n| node | seq | head |\n|---|---|---|\n")
		for _, h := range r.Heads {
			fmt.Fprintf(&b, "| %s | %d | `%s` |\n", h.Node, h.Seq, h.Head)
		}
	}
	if len(r.Perturbations) > 0 {
		b.WriteString("\n## Faults injected\n\n")
		for _, p := range r.Perturbations {
			fmt.Fprintf(&b, "- %s %s %s", p.Time.Format("15:04:05.000"), p.Action, strings.Join(p.Nodes, ","))
			if len(p.Other) > 0 {
				fmt.Fprintf(&b, " | %s", strings.Join(p.Other, ","))
			}
			b.WriteString("\n")
		}
	}
	if c := r.Money; c != nil && len(c.Expectations) > 0 {
		b.WriteString("\n## Expectations\n\n| expectation | result | measured against the bound |\n|---|---|---|\n")
		for _, e := range c.Expectations {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", e.Name, passFail(e.OK), e.Text)
		}
	}
	if c := r.Money; c != nil && len(c.Failures) > 0 {
		b.WriteString("\n## Check failures\n\n")
		for _, f := range c.Failures {
			fmt.Fprintf(&b, "- %s\n", f)
		}
	}
	if len(r.Plots) > 0 {
		b.WriteString("\n## Plots\n\n")
		for _, p := range r.Plots {
			fmt.Fprintf(&b, "![%s](%s)\n\n", strings.TrimSuffix(p, ".png"), p)
		}
	}
	return b.String()
}

func passFail(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}
