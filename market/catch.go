package market

import (
	"errors"
	"fmt"

	"github.com/hayek-market/hayek/internal/canon"
)

// KindCatch is the envelope kind of a catch.
const KindCatch = "catch"

// MaxCatchCheckers is the most contradicting runs a catch carries: a
// check has at most MaxCheckRuns runs, one of them the accused's.
const MaxCatchCheckers = MaxCheckRuns

// ErrCatch is what an invalid catch wraps: its proof does not hold.
var ErrCatch = errors.New("market: invalid catch")

// Catch tells other requesters that this one caught a provider's wrong
// result under an adaptive check, with the proof: the accused's signed
// result, and the signed results of the checkers that contradict it, each
// with the reporter's signed award that fixes what was run. Nobody can
// accuse without the accused's own signature on an output that differs
// from what the checkers signed for the same spec, so a receiver weighs
// it by its own trust in those checkers, never by the reporter's word.
type Catch struct {
	Job      string      `cbor:"job"`      // the checked job
	Spec     string      `cbor:"spec"`     // SpecDigest of the runs' awards
	Reporter string      `cbor:"reporter"` // the requester that caught it
	Accused  CaughtRun   `cbor:"accused"`
	Checkers []CaughtRun `cbor:"checkers"`
	Created  int64       `cbor:"created"`
}

// CaughtRun is one run of a caught job: the award (signed by the
// requester) and the provider's signed result for it, both as encoded
// envelopes.
type CaughtRun struct {
	Award  []byte `cbor:"award"`
	Result []byte `cbor:"result"`
}

// Sender implements canon.Message.
func (c Catch) Sender() string { return c.Reporter }

// SpecDigest is what decides a run's output, whatever its attempt, job
// ID, price or limits: the runtime, the module, stdin, inputs, args and
// environment. Runs of one spec by honest providers agree.
func SpecDigest(r RunSpec) string {
	type spec struct {
		Runtime Capability        `cbor:"runtime"`
		Module  string            `cbor:"module"`
		Stdin   string            `cbor:"stdin"`
		Inputs  []Input           `cbor:"inputs"`
		Args    []string          `cbor:"args"`
		Env     map[string]string `cbor:"env"`
	}
	s := spec{Runtime: r.Runtime, Module: r.Module.CID, Inputs: r.Inputs, Args: r.Args, Env: r.Env}
	if s.Runtime == "" {
		s.Runtime = RuntimeWasm
	}
	if r.Stdin != nil {
		s.Stdin = r.Stdin.CID
	}
	return canon.DocCID(canon.MustMarshal(s)).String()
}

// CatchProof is what a verified catch proves.
type CatchProof struct {
	Accused    string     // the provider whose result was wrong
	Checkers   []string   // the providers whose agreeing results contradict it
	Capability Capability // the runs' runtime
	Wrong      string     // the accused's result digest
	Right      string     // the checkers' result digest
}

// OpenCatch checks a catch's proof: every award is the reporter's and
// every result its provider's, each result answers its award, every award
// runs the catch's spec, neither the accused nor the reporter is a
// checker, the checkers are distinct and agree among themselves, and the
// accused's result differs from theirs. The catch's own signature is the
// caller's to check (it arrives in an envelope).
func OpenCatch(v canon.Verifier, c Catch) (CatchProof, error) {
	bad := func(format string, a ...any) (CatchProof, error) {
		return CatchProof{}, fmt.Errorf("%w: %s", ErrCatch, fmt.Sprintf(format, a...))
	}
	if c.Job == "" || len(c.Job) > 64 || c.Reporter == "" || c.Spec == "" {
		return bad("job, spec and reporter must be set")
	}
	if len(c.Checkers) == 0 || len(c.Checkers) > MaxCatchCheckers {
		return bad("%d checkers: want 1 to %d", len(c.Checkers), MaxCatchCheckers)
	}
	open := func(run CaughtRun) (Award, Result, error) {
		var a Award
		var r Result
		env, err := canon.DecodeEnvelope(run.Award)
		if err == nil {
			err = env.Open(v, KindAward, &a)
		}
		if err != nil {
			return a, r, fmt.Errorf("award: %w", err)
		}
		if a.Requester != c.Reporter {
			return a, r, fmt.Errorf("award of %s, not the reporter's", a.Requester)
		}
		if got := SpecDigest(a.Run); got != c.Spec {
			return a, r, fmt.Errorf("award of job %s runs another spec", a.Job)
		}
		renv, err := canon.DecodeEnvelope(run.Result)
		if err == nil {
			err = renv.Open(v, KindResult, &r)
		}
		if err != nil {
			return a, r, fmt.Errorf("result: %w", err)
		}
		if r.Award != env.CID() || r.Provider != a.Provider || r.Requester != a.Requester || r.Job != a.Job || r.Attempt != a.Attempt {
			return a, r, fmt.Errorf("result of %s does not answer its award", r.Provider)
		}
		return a, r, nil
	}
	aw, res, err := open(c.Accused)
	if err != nil {
		return CatchProof{}, fmt.Errorf("%w: accused: %w", ErrCatch, err)
	}
	if aw.Job != c.Job {
		return bad("the accused's award is for job %s, not %s", aw.Job, c.Job)
	}
	p := CatchProof{Accused: res.Provider, Capability: aw.Run.Runtime, Wrong: res.Digest()}
	if p.Capability == "" {
		p.Capability = RuntimeWasm
	}
	if p.Accused == c.Reporter {
		return bad("the reporter accuses itself")
	}
	// A requester never checks its own jobs: its own word is no checker's.
	seen := map[string]bool{p.Accused: true, c.Reporter: true}
	for i, run := range c.Checkers {
		_, r, err := open(run)
		if err != nil {
			return CatchProof{}, fmt.Errorf("%w: checker %d: %w", ErrCatch, i, err)
		}
		if seen[r.Provider] {
			return bad("checker %d: %s is the accused, the reporter or another checker", i, r.Provider)
		}
		seen[r.Provider] = true
		d := r.Digest()
		if i == 0 {
			p.Right = d
		} else if d != p.Right {
			return bad("checker %d: the checkers disagree among themselves", i)
		}
		p.Checkers = append(p.Checkers, r.Provider)
	}
	if p.Right == p.Wrong {
		return bad("the accused's result agrees with the checkers'")
	}
	if res.Status.LimitHit() {
		// Where a limit bites depends on the machine: a run stopped by
		// one is not proof of a wrong output.
		return bad("the accused's run stopped at a limit")
	}
	return p, nil
}
