package market

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/internal/canon/canontest"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// testModule is a syntactically valid blob CID used by scripts.
var testModule = canon.BlobCID([]byte("module")).String()

// scriptRep is a Reputation whose standings scripts set with `rep`.
type scriptRep map[string]Standing

func (r scriptRep) Standing(peer string, _ Capability, _ float64) Standing {
	if s, ok := r[peer]; ok {
		return s
	}
	return Standing{Eligible: true, Score: 0.5}
}

type jobHarness struct {
	keys *canontest.Keyring
	now  time.Time
	job  *Job
	rep  scriptRep
}

func argInt(d *datadriven.TestData, key string, def int64) int64 {
	for _, a := range d.CmdArgs {
		if a.Key == key {
			v, err := strconv.ParseInt(a.Vals[0], 10, 64)
			if err != nil {
				d.Fatalf(nil, "%s: %v", key, err)
			}
			return v
		}
	}
	return def
}

func argStr(d *datadriven.TestData, key, def string) string {
	for _, a := range d.CmdArgs {
		if a.Key == key {
			return strings.Join(a.Vals, ",")
		}
	}
	return def
}

func argDur(d *datadriven.TestData, key string, def time.Duration) time.Duration {
	s := argStr(d, key, "")
	if s == "" {
		return def
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.Fatalf(nil, "%s: %v", key, err)
	}
	return v
}

func testOffer(peer string, base int64) Offer {
	return Offer{
		Provider: peer, Seq: 1, Capabilities: []Capability{RuntimeWasm},
		Pricing: Pricing{Base: base},
		Limits: Limits{MaxMemoryBytes: 1 << 30, MaxTimeoutMs: 60_000, MaxModuleBytes: 64 << 20,
			MaxInputBytes: 64 << 20, MaxOutputBytes: 64 << 20, Slots: 2},
		Version: "test", Created: t0.UnixMilli(), Expires: t0.Add(time.Hour).UnixMilli(),
	}
}

// resourcesOf is the offer's resources, or a small machine's when it
// states none yet.
func resourcesOf(o Offer) *Resources {
	if o.Resources != nil {
		return o.Resources
	}
	return &Resources{CPUs: 4, MemoryBytes: 16 << 30, Arch: "amd64"}
}

func TestJobScripts(t *testing.T) {
	datadriven.Walk(t, "testdata/job", func(t *testing.T, path string) {
		h := &jobHarness{keys: canontest.NewKeyring(), now: t0, rep: scriptRep{}}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return h.run(t, d)
		})
	})
}

func (h *jobHarness) run(t *testing.T, d *datadriven.TestData) string {
	var err error
	switch d.Cmd {
	case "spec":
		// spec max-price=N verify=V vot=N: validation and the hold, as the
		// node sees them before a job exists.
		spec := JobSpec{Module: Blob{CID: testModule, Size: 100}, MaxPrice: argInt(d, "max-price", 100),
			ValueOfTime: argInt(d, "vot", 0), Verify: argStr(d, "verify", "")}
		spec.Defaults()
		var b strings.Builder
		if err := spec.Validate(); err != nil {
			fmt.Fprintf(&b, "validate: %v\n", err)
		} else {
			b.WriteString("validate: ok\n")
		}
		if cost, err := spec.MaxCost(); err != nil {
			fmt.Fprintf(&b, "max cost: %v (overflow=%v)", err, errors.Is(err, ErrOverflow))
		} else {
			fmt.Fprintf(&b, "max cost: %d", cost)
		}
		return b.String()
	case "job":
		spec := JobSpec{Module: Blob{CID: testModule, Size: 100}, MaxPrice: argInt(d, "max-price", 100),
			TimeoutMs: argDur(d, "timeout", time.Second).Milliseconds(), ValueOfTime: argInt(d, "vot", 0),
			DeadlineMs: argDur(d, "deadline", time.Minute).Milliseconds(), Verify: argStr(d, "verify", ""),
			Runtime: Capability(argStr(d, "runtime", "")), MemoryBytes: argInt(d, "memory-mib", 0) << 20, CPUMilli: argInt(d, "cpus-milli", 0)}
		if n := argInt(d, "gpus", 0); n > 0 {
			spec.GPUs = &GPUs{Count: int(n), Model: argStr(d, "gpu-model", ""), MinVRAMMiB: argInt(d, "vram-mib", 0)}
		}
		spec.Defaults()
		if err := spec.Validate(); err != nil {
			d.Fatalf(t, "spec: %v", err)
		}
		cfg := DefaultJobConfig("req")
		cfg.MaxInvitees = int(argInt(d, "invitees", 16))
		cfg.MaxAttempts = int(argInt(d, "attempts", 3))
		cfg.BidWindow = argDur(d, "window", time.Second)
		cfg.DistinctSubnets = argStr(d, "distinct-subnets", "") == "true"
		if s := argStr(d, "ack-timeout", ""); s != "" {
			cfg.AckTimeout = argDur(d, "ack-timeout", cfg.AckTimeout)
		}
		h.job = NewJob(argStr(d, "id", "j1"), spec, cfg, h.keys.Signer("req"), h.rep, rand.New(rand.NewPCG(1, 2)), h.now)
	case "rep":
		// rep p1 ineligible=reason | newcomer | score=0.9
		peer := d.CmdArgs[0].Key
		st := Standing{Eligible: true, Score: 0.5}
		for _, a := range d.CmdArgs[1:] {
			switch a.Key {
			case "ineligible":
				st.Eligible, st.Reason = false, strings.Join(a.Vals, " ")
			case "newcomer":
				st.Newcomer = true
			case "score":
				st.Score, _ = strconv.ParseFloat(a.Vals[0], 64)
			}
		}
		h.rep[peer] = st
		return "ok"
	case "discover":
		var cands []Candidate
		for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			if line == "" {
				continue
			}
			f := strings.Fields(line)
			o := testOffer(f[0], 10)
			sub := ""
			for _, kv := range f[1:] {
				k, v, _ := strings.Cut(kv, "=")
				n, _ := strconv.ParseInt(v, 10, 64)
				switch k {
				case "base":
					o.Pricing.Base = n
				case "per-second":
					o.Pricing.PerSecond = n
				case "max-timeout":
					o.Limits.MaxTimeoutMs = n
				case "max-memory-mib":
					o.Limits.MaxMemoryBytes = n << 20
				case "withdrawn":
					o.Withdrawn = true
				case "no-wasm":
					o.Capabilities = []Capability{"gpu/nvidia/h100"}
				case "runtimes": // runtimes=process,docker: what it sells instead of wasm
					o.Capabilities = nil
					for _, r := range strings.Split(v, ",") {
						o.Capabilities = append(o.Capabilities, Capability("runtime/"+r))
					}
				case "cpus": // the machine, stated in the offer
					o.Resources = resourcesOf(o)
					o.Resources.CPUs = int(n)
				case "memory-mib":
					o.Resources = resourcesOf(o)
					o.Resources.MemoryBytes = n << 20
				case "gpu": // gpu=model:count:vram-mib
					o.Resources = resourcesOf(o)
					f := strings.Split(v, ":")
					count, _ := strconv.Atoi(f[1])
					vram, _ := strconv.ParseInt(f[2], 10, 64)
					g := GPUOffered{Model: f[0], Count: count, VRAMMiB: vram}
					o.Resources.GPUs = append(o.Resources.GPUs, g)
					o.Capabilities = append(o.Capabilities, g.Capability())
				case "subnet":
					sub = v
				default:
					d.Fatalf(t, "unknown offer field %q", k)
				}
			}
			cands = append(cands, Candidate{Peer: f[0], Offer: o, Subnet: sub})
		}
		h.job.Candidates(h.now, cands)
	case "bid":
		b := Bid{Job: h.job.ID(), Attempt: uint32(argInt(d, "attempt", int64(len(h.job.Attempts())))),
			Call: h.job.CallCID(), Provider: d.CmdArgs[0].Key, Requester: argStr(d, "to", "req"),
			Price: argInt(d, "price", 10), StartWithinMs: argInt(d, "start", 50), Created: h.now.UnixMilli()}
		if argStr(d, "call", "") == "stale" {
			b.Call = "bafystale"
		}
		env, serr := canon.Seal(h.keys.Signer(b.Provider), KindBid, b)
		if serr != nil {
			d.Fatalf(t, "%v", serr)
		}
		err = h.job.Bid(h.now, b, env.Encode())
	case "decline":
		err = h.job.Decline(h.now, Decline{Job: h.job.ID(), Attempt: uint32(len(h.job.Attempts())), Call: h.job.CallCID(),
			Provider: d.CmdArgs[0].Key, Requester: "req", Reason: DeclineReason(argStr(d, "reason", "busy")),
			Detail: argStr(d, "detail", ""), Created: h.now.UnixMilli()})
	case "tick":
		h.now = h.now.Add(argDur(d, "by", 0))
		h.job.Tick(h.now)
	case "ack":
		peer := d.CmdArgs[0].Key
		a := Ack{Job: h.job.ID(), Attempt: uint32(len(h.job.Attempts())), Award: h.job.AwardCID(peer), Provider: peer,
			Requester: "req", Accept: argStr(d, "refuse", "") == "", Reason: argStr(d, "refuse", ""),
			Code: DeclineReason(argStr(d, "code", "")), Created: h.now.UnixMilli()}
		err = h.job.Ack(h.now, a)
	case "result":
		peer := d.CmdArgs[0].Key
		r := Result{Job: h.job.ID(), Attempt: uint32(len(h.job.Attempts())), Award: h.job.AwardCID(peer), Provider: peer,
			Requester: "req", Status: Status(argStr(d, "status", "ok")), ExitCode: int32(argInt(d, "exit", 0)),
			Stdout: Stream{Blob: Blob{CID: canon.BlobCID([]byte(argStr(d, "out", "same"))).String()}}, Created: h.now.UnixMilli()}
		err = h.job.Result(h.now, r, nil)
	case "fault":
		h.job.Fault(h.now, d.CmdArgs[0].Key, FaultKind(argStr(d, "kind", string(FaultLost))), argStr(d, "reason", "connection lost"))
	case "cancel":
		h.job.Cancel(h.now, "by the agent")
	case "attempts":
		return formatAttempts(h.job.Attempts())
	default:
		d.Fatalf(t, "unknown command %q", d.Cmd)
	}
	var b strings.Builder
	if err != nil {
		fmt.Fprintf(&b, "error: %v\n", err)
	}
	b.WriteString(formatReady(h.job.Ready(), h.now, h.keys))
	fmt.Fprintf(&b, "state: %s", h.job.State())
	if nt := h.job.NextTimer(); !nt.IsZero() {
		fmt.Fprintf(&b, " (next timer +%v)", nt.Sub(h.now))
	}
	return b.String()
}

func formatReady(r Ready, now time.Time, v canon.Verifier) string {
	var b strings.Builder
	if r.Discover {
		b.WriteString("discover\n")
	}
	for _, env := range r.Calls {
		var c CallForBids
		if err := env.Open(v, KindCall, &c); err != nil {
			fmt.Fprintf(&b, "call: BAD %v\n", err)
			continue
		}
		fmt.Fprintf(&b, "publish call attempt=%d invitees=%s window=%dms max-price=%d\n",
			c.Attempt, strings.Join(c.Invitees, ","), c.WindowMs, c.Needs.MaxPrice)
	}
	for _, o := range r.Awards {
		var a Award
		if err := o.Env.Open(v, KindAward, &a); err != nil {
			fmt.Fprintf(&b, "award: BAD %v\n", err)
			continue
		}
		by := "own"
		if len(a.PriceBid) > 0 {
			env, _ := canon.DecodeEnvelope(a.PriceBid)
			var rb Bid
			if err := env.Open(v, KindBid, &rb); err != nil {
				by = "BAD " + err.Error()
			} else {
				by = fmt.Sprintf("%s@%d", rb.Provider, rb.Price)
			}
		}
		fmt.Fprintf(&b, "send award to=%s price=%d rule=%s by=%s scores=%d/%d result-by=+%v\n", o.To, a.Price, a.Ranking.Rule, by,
			a.Ranking.WinnerScore, a.Ranking.RunnerUpScore, time.UnixMilli(a.ResultBy).Sub(now))
	}
	for _, o := range r.Cancels {
		var c Cancel
		if err := o.Env.Open(v, KindCancel, &c); err != nil {
			fmt.Fprintf(&b, "cancel: BAD %v\n", err)
			continue
		}
		fmt.Fprintf(&b, "send cancel to=%s attempt=%d\n", o.To, c.Attempt)
	}
	for _, e := range r.Events {
		fmt.Fprintf(&b, "event %s", e.Type)
		if e.Provider != "" {
			fmt.Fprintf(&b, " %s", e.Provider)
		}
		if e.Price != 0 {
			fmt.Fprintf(&b, " price=%d", e.Price)
		}
		if e.Reason != "" {
			fmt.Fprintf(&b, " reason=%s", e.Reason)
		}
		if e.Message != "" {
			fmt.Fprintf(&b, ": %s", e.Message)
		}
		b.WriteString("\n")
	}
	if o := r.Done; o != nil {
		fmt.Fprintf(&b, "done %s", o.State)
		if o.Code != "" {
			fmt.Fprintf(&b, " code=%s", o.Code)
		}
		if o.Provider != "" {
			fmt.Fprintf(&b, " provider=%s price=%d (%s)", o.Provider, o.Price, o.Basis)
		}
		fmt.Fprintf(&b, ": %s\n", o.Message)
		if len(o.Reasons) > 0 {
			fmt.Fprintf(&b, "reasons: %s\n", reasonCounts(o.Reasons))
		}
		if len(o.Paid) > 1 || len(o.Losers) > 0 || len(o.Faults) > 0 {
			var paid, losers, faults []string
			for _, p := range o.Paid {
				paid = append(paid, fmt.Sprintf("%s@%d", p.Provider, p.Price))
			}
			for _, l := range o.Losers {
				losers = append(losers, l.Provider)
			}
			for _, f := range o.Faults {
				faults = append(faults, fmt.Sprintf("%s(%s)", f.Provider, f.Kind))
			}
			fmt.Fprintf(&b, "  paid=[%s] losers=[%s] faults=[%s]\n", strings.Join(paid, " "), strings.Join(losers, " "), strings.Join(faults, " "))
		}
	}
	return b.String()
}

func formatAttempts(as []*AttemptRecord) string {
	var b strings.Builder
	for _, a := range as {
		fmt.Fprintf(&b, "attempt %d: invitees=%s", a.Number, strings.Join(a.Invitees, ","))
		var bids []string
		for _, r := range a.Bids {
			bids = append(bids, fmt.Sprintf("%s@%d", r.Bid.Provider, r.Bid.Price))
		}
		sort.Strings(bids)
		fmt.Fprintf(&b, " bids=[%s]", strings.Join(bids, " "))
		var decl []string
		for _, d := range a.Declines {
			decl = append(decl, fmt.Sprintf("%s:%s", d.Provider, d.Reason))
		}
		fmt.Fprintf(&b, " declines=[%s] silent=[%s]", strings.Join(decl, " "), strings.Join(a.Silent(), " "))
		if len(a.Winners) > 1 {
			var ws []string
			for _, w := range a.Winners {
				ws = append(ws, fmt.Sprintf("%s@%d", w, a.Prices[w]))
			}
			fmt.Fprintf(&b, " winners=%s", strings.Join(ws, ","))
		} else if a.Winner != "" {
			fmt.Fprintf(&b, " winner=%s price=%d", a.Winner, a.Price)
		}
		if a.Fault != "" {
			fmt.Fprintf(&b, " fault=%q", a.Fault)
		}
		for _, w := range a.Winners {
			fmt.Fprintf(&b, "\n  %s at %d: %s", w, a.Prices[w], a.Basis[w])
		}
		b.WriteString("\n")
	}
	return b.String()
}
