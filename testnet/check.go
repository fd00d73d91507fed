package testnet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/hayek-market/hayek/node"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/settlement"
)

// CheckResult is what Check proved, or failed to.
type CheckResult struct {
	OK       bool          `json:"ok"`
	Failures []string      `json:"failures"`
	Ledgers  []LedgerCheck `json:"ledgers"`
	// The audit of all exports against each other.
	AuditFaults int `json:"audit_faults"`
	Pairs       int `json:"pairs"`
	PairsAgree  int `json:"pairs_agree"`
	Shared      int `json:"shared"` // receipts and settlements found in both ledgers of a pair
	// Money across the net.
	Paid   int64 `json:"paid"`   // by requesters, by receipts
	Earned int64 `json:"earned"` // by providers
	Held   int64 `json:"held"`   // still on holds
	// Jobs.
	Jobs       int            `json:"jobs"`
	Refused    int            `json:"refused"` // refused at submission, with the reason
	Completed  int            `json:"completed"`
	Failed     int            `json:"failed"`
	Cancelled  int            `json:"cancelled"`
	Lost       int            `json:"lost"`
	Reasons    map[string]int `json:"failure_reasons,omitempty"`
	Reauctions int            `json:"reauctions"` // auctions after a job's first
	Faults     map[string]int `json:"provider_faults,omitempty"`
	// Expectations: the scenario's [expect], each measured (Expect).
	Expectations []ExpectResult `json:"expectations,omitempty"`
}

// LedgerCheck is one node's ledger.
type LedgerCheck struct {
	Node     string `json:"node"`
	OK       bool   `json:"ok"`
	Entries  uint64 `json:"entries"`
	Receipts uint64 `json:"receipts"`
	Paid     int64  `json:"paid"`
	Earned   int64  `json:"earned"`
	Held     int64  `json:"held"`
	Error    string `json:"error,omitempty"`
}

// Check proves, from the files Collect wrote into out: every node's ledger
// verified deep on the node and its export verifies deep offline; the audit
// of all exports finds no fault and every pair's balances agree; what
// requesters paid equals what providers earned and no hold is left; every
// job completed, or failed with a reason; and the scenario's expectations
// (Testnet.Expect) hold.
func Check(ctx context.Context, out string) (*CheckResult, error) {
	dir := filepath.Join(out, collectedDir)
	var t Testnet
	if err := readJSON(filepath.Join(dir, StateFile), &t); err != nil {
		return nil, fmt.Errorf("%w (collect first: hayek testnet check --dir NET --out %s)", err, out)
	}
	var states []NodeState
	if err := readJSON(filepath.Join(dir, "nodes.json"), &states); err != nil {
		return nil, err
	}
	var jobs []JobTimeline
	if err := readJSON(filepath.Join(dir, "jobs.json"), &jobs); err != nil {
		return nil, err
	}
	res := &CheckResult{Reasons: map[string]int{}, Faults: map[string]int{}}
	fail := func(format string, args ...any) { res.Failures = append(res.Failures, fmt.Sprintf(format, args...)) }
	v := node.NewVerifier() // peer IDs embed their keys: exports verify with no node
	var ins []settlement.AuditInput
	for _, s := range states {
		lc := LedgerCheck{Node: s.Name}
		switch {
		case s.Error != "":
			lc.Error = s.Error
			fail("node %s could not be collected: %s", s.Name, s.Error)
		case s.Verify == nil || !s.Verify.OK:
			lc.Error = "deep verify on the node failed"
			if s.Verify != nil {
				lc.Error += ": " + s.Verify.Error
			}
			fail("node %s: %s", s.Name, lc.Error)
		}
		path := filepath.Join(dir, exportsDir, s.Name+".jsonl")
		f, err := os.Open(path)
		if err != nil {
			if s.Error == "" {
				fail("node %s: no export: %v", s.Name, err)
			}
			res.Ledgers = append(res.Ledgers, lc)
			continue
		}
		rep, err := settlement.VerifyExportWith(ctx, f, v, settlement.VerifyExportOptions{Deep: true})
		f.Close()
		if err != nil {
			lc.Error = err.Error()
			fail("node %s: export does not verify: %v", s.Name, err)
		} else {
			lc.OK = lc.Error == ""
			ins = append(ins, settlement.AuditInput{Name: path})
		}
		if rep.Node != "" && rep.Node != s.PeerID {
			fail("node %s: export is of %s", s.Name, rep.Node)
		}
		lc.Entries, lc.Receipts = rep.Entries, rep.Receipts
		lc.Paid, lc.Earned, lc.Held = rep.Totals.Paid, rep.Totals.Earned, rep.Totals.Held
		res.Paid += lc.Paid
		res.Earned += lc.Earned
		res.Held += lc.Held
		res.Ledgers = append(res.Ledgers, lc)
	}
	if len(ins) >= 2 {
		var files []*os.File
		for i := range ins {
			f, err := os.Open(ins[i].Name)
			if err != nil {
				return nil, fmt.Errorf("testnet: %w", err)
			}
			files = append(files, f)
			ins[i].R = f
		}
		rep, err := settlement.Audit(ctx, v, ins...)
		for _, f := range files {
			f.Close()
		}
		if err != nil {
			fail("audit: %v", err)
		}
		res.AuditFaults = rep.Faults()
		res.Pairs = len(rep.Pairs)
		names := t.PeerName()
		for _, p := range rep.Pairs {
			res.Shared += p.Shared
			if p.Agree() {
				res.PairsAgree++
			} else {
				fail("balances of %s and %s disagree: %+d / %+d", names[p.A], names[p.B], p.BalanceA, p.BalanceB)
			}
			for _, f := range p.Findings {
				if f.Kind != settlement.FindingNewer && f.Kind != settlement.FindingLost {
					fail("audit: %s: %s at fault: %s", f.Kind, names[f.Subject], f.Detail)
				}
			}
		}
	}
	if res.Paid != res.Earned {
		fail("money not conserved: requesters paid %d, providers earned %d", res.Paid, res.Earned)
	}
	if res.Held != 0 {
		fail("%d still held on budget holds after every job ended", res.Held)
	}
	checkJobs(res, jobs, t.PeerName(), fail)
	res.Expectations = t.Expect.Evaluate(&t, Build(&t, jobs, nil), res)
	for _, e := range res.Expectations {
		if !e.OK {
			fail("expect: %s", e.Text)
		}
	}
	res.OK = len(res.Failures) == 0
	return res, nil
}

func checkJobs(res *CheckResult, jobs []JobTimeline, names map[string]string, fail func(string, ...any)) {
	for _, tl := range jobs {
		res.Jobs++
		if tl.Record.ID == "" {
			res.Refused++
			continue
		}
		j := tl.Job
		switch {
		case tl.Lost != "":
			res.Lost++
			fail("job %s (%s on %s) lost: %s", tl.Record.ID, tl.Record.Mix, tl.Record.Node, tl.Lost)
			continue
		case j == nil || !j.State.Terminal():
			res.Lost++
			state := "unknown"
			if j != nil {
				state = string(j.State)
			}
			fail("job %s on %s did not end: still %s", tl.Record.ID, tl.Record.Node, state)
			continue
		case j.State == api.StateCompleted:
			res.Completed++
		case j.State == api.StateFailed:
			res.Failed++
			if j.Error == nil || j.Error.Message == "" {
				res.Lost++
				fail("job %s on %s failed without a reason the agent can read", j.ID, tl.Record.Node)
			} else {
				res.Reasons[j.Error.Code]++
			}
		case j.State == api.StateCancelled:
			res.Cancelled++
		}
		if len(j.Attempts) > 1 {
			res.Reauctions += len(j.Attempts) - 1
		}
		for _, a := range j.Attempts {
			if a.Fault != "" {
				who := names[a.Winner]
				if who == "" {
					who = shortID(a.Winner)
				}
				res.Faults[who]++
			}
		}
	}
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[len(id)-6:]
	}
	return id
}

// Summary is the result in a few lines, for people.
func (c *CheckResult) Summary() string {
	verdict := "PASS"
	if !c.OK {
		verdict = "FAIL"
	}
	s := fmt.Sprintf("check %s: %d ledgers verify deep, audit: %d faults over %d pairs (%d agree, %d shared receipts)\n",
		verdict, countOK(c.Ledgers), c.AuditFaults, c.Pairs, c.PairsAgree, c.Shared)
	s += fmt.Sprintf("money: paid %d = earned %d, held %d\n", c.Paid, c.Earned, c.Held)
	s += fmt.Sprintf("jobs: %d (completed %d, failed %d, cancelled %d, refused %d, lost %d), re-auctions %d\n",
		c.Jobs, c.Completed, c.Failed, c.Cancelled, c.Refused, c.Lost, c.Reauctions)
	var reasons []string
	for k := range c.Reasons {
		reasons = append(reasons, k)
	}
	sort.Strings(reasons)
	for _, k := range reasons {
		s += fmt.Sprintf("  failed %s: %d\n", k, c.Reasons[k])
	}
	if n := len(c.Expectations); n > 0 {
		held := 0
		for _, e := range c.Expectations {
			if e.OK {
				held++
			}
		}
		s += fmt.Sprintf("expectations: %d of %d hold\n", held, n)
	}
	for _, f := range c.Failures {
		s += "  FAIL " + f + "\n"
	}
	return s
}

func countOK(ls []LedgerCheck) int {
	n := 0
	for _, l := range ls {
		if l.OK {
			n++
		}
	}
	return n
}
