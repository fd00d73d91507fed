package testnet

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

//go:embed scenarios/*.toml
var scenarioFiles embed.FS

// Scenario is load plus the faults injected while it runs, and changes to
// the manifest (cheaters, sybils, verification) it needs.
type Scenario struct {
	Name        string  `toml:"name"`
	Description string  `toml:"description"`
	Jobs        int     `toml:"jobs"`
	Rate        float64 `toml:"rate"`
	// Verify, when set, is the verification of every job of the mix.
	Verify string `toml:"verify"`
	// WarmUp is what the wait stage warms before load: "requesters"
	// (the default: one hello job per requester) or "providers" (that,
	// then every module of the mix once on every provider; see
	// WarmProviders).
	WarmUp    string               `toml:"warm_up"`
	Steps     []Step               `toml:"step"`
	Nodes     []NodeGroup          `toml:"nodes"`     // groups added to the manifest
	Networks  []Network            `toml:"network"`   // networks added to the manifest
	Misbehave map[string]Misbehave `toml:"misbehave"` // by group: cheaters
	// Expect is what the run must show beyond what every run proves;
	// Check enforces it (see Expect for the default).
	Expect *Expect `toml:"expect"`
}

// Step is one perturbation, taken once its condition holds.
type Step struct {
	// When: "start", "running" (a provider that is not a requester runs a
	// job), "ended:N" (N jobs of this load have ended) or "submitted:N".
	When   string `toml:"when"`
	Action string `toml:"action"`
	// Nodes: a selector, "busy" (the provider "running" found), or "$prev"
	// (the nodes the step before acted on).
	Nodes string `toml:"nodes"`
	A     string `toml:"a"` // partition sides
	B     string `toml:"b"`
}

// Scenarios names the scenarios built in (testnet/scenarios/*.toml).
func Scenarios() []string {
	ents, _ := fs.Glob(scenarioFiles, "scenarios/*.toml")
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(strings.TrimPrefix(e, "scenarios/"), ".toml"))
	}
	return out
}

// LoadScenario reads a built-in scenario by name, or a scenario file.
func LoadScenario(name string) (*Scenario, error) {
	b, err := scenarioFiles.ReadFile("scenarios/" + name + ".toml")
	if err != nil {
		if b, err = os.ReadFile(name); err != nil {
			return nil, fmt.Errorf("testnet: no scenario %q: want one of %s, or a scenario file", name, strings.Join(Scenarios(), ", "))
		}
	}
	var s Scenario
	if err := decodeStrict(bytes.NewReader(b), &s); err != nil {
		return nil, fmt.Errorf("testnet: scenario %s: %w", name, err)
	}
	return &s, s.validate()
}

func (s *Scenario) validate() error {
	if s.Jobs < 1 || s.Rate <= 0 {
		return fmt.Errorf("testnet: scenario %s: want jobs ≥ 1 and rate > 0", s.Name)
	}
	if s.WarmUp != "" && !slices.Contains(WarmUpModes, s.WarmUp) {
		return fmt.Errorf("testnet: scenario %s: warm_up = %q: want %q (the default) or %q", s.Name, s.WarmUp, WarmRequesters, WarmProviders)
	}
	if err := s.Expect.validate(); err != nil {
		return fmt.Errorf("testnet: scenario %s: %w", s.Name, err)
	}
	for i, st := range s.Steps {
		if _, _, err := parseWhen(st.When, s.Jobs); err != nil {
			return fmt.Errorf("testnet: scenario %s: step %d: %w", s.Name, i+1, err)
		}
		switch st.Action {
		case ActPartition:
			if st.A == "" || st.B == "" {
				return fmt.Errorf("testnet: scenario %s: step %d: partition needs a and b", s.Name, i+1)
			}
		case ActHeal:
		default:
			if !slices.Contains(PerturbActions, st.Action) {
				return fmt.Errorf("testnet: scenario %s: step %d: unknown action %q", s.Name, i+1, st.Action)
			}
			if st.Nodes == "" {
				return fmt.Errorf("testnet: scenario %s: step %d: %s needs nodes", s.Name, i+1, st.Action)
			}
		}
	}
	return nil
}

func parseWhen(w string, jobs int) (string, int, error) {
	kind, arg, _ := strings.Cut(w, ":")
	switch kind {
	case "", "start", "running":
		return kind, 0, nil
	case "ended", "submitted":
		n, err := strconv.Atoi(arg)
		if err != nil || n < 1 || n > jobs {
			return "", 0, fmt.Errorf("when %q: want %s:N with 1 ≤ N ≤ %d jobs", w, kind, jobs)
		}
		return kind, n, nil
	}
	return "", 0, fmt.Errorf("when %q: want start, running, ended:N or submitted:N", w)
}

// Apply changes the manifest as the scenario needs.
func (s *Scenario) Apply(m *Manifest) error {
	m.Networks = append(m.Networks, s.Networks...)
	m.Nodes = append(m.Nodes, s.Nodes...)
	for group, mis := range s.Misbehave {
		i := slices.IndexFunc(m.Nodes, func(g NodeGroup) bool { return g.Name == group })
		if i < 0 {
			return fmt.Errorf("testnet: scenario %s: misbehave.%s: the manifest has no node group %q", s.Name, group, group)
		}
		m.Nodes[i].Misbehave = mis
	}
	if s.Verify != "" {
		for i := range m.Mix {
			m.Mix[i].Verify = s.Verify
		}
	}
	e, err := s.expectations(m.Nodes, m.Mix)
	if err != nil {
		return err
	}
	m.Expect = e
	return m.Validate()
}

// progress counts the load's jobs, for step conditions.
type progress struct{ submitted, ended atomic.Int64 }

// runSteps takes each step once its condition holds, in order.
func (r *Runner) runSteps(ctx context.Context, steps []Step, jobs int, p *progress) error {
	var prev string
	for i, st := range steps {
		kind, n, _ := parseWhen(st.When, jobs)
		var busy string
		err := poll(ctx, 100*time.Millisecond, func() (bool, error) {
			switch kind {
			case "ended":
				return p.ended.Load() >= int64(n), nil
			case "submitted":
				return p.submitted.Load() >= int64(n), nil
			case "running":
				busy = r.busyProvider(ctx)
				return busy != "", nil
			}
			return true, nil
		})
		if err != nil {
			return fmt.Errorf("testnet: step %d (%s when %s): condition never held: %w", i+1, st.Action, st.When, err)
		}
		nodes := st.Nodes
		switch nodes {
		case "busy":
			if busy == "" {
				busy = r.busyProvider(ctx)
			}
			if busy == "" {
				return fmt.Errorf("testnet: step %d: no provider is running a job", i+1)
			}
			nodes = busy
		case "$prev":
			nodes = prev
		}
		switch st.Action {
		case ActPartition:
			err = r.Partition(ctx, st.A, st.B)
		case ActHeal:
			err = r.Heal(ctx)
		default:
			err = r.Perturb(ctx, st.Action, nodes)
		}
		if err != nil {
			return err
		}
		prev = nodes
	}
	return nil
}

// busyProvider is a selling node that is no requester and runs a job now.
func (r *Runner) busyProvider(ctx context.Context) string {
	for _, n := range r.T.Nodes {
		if !n.Sell || n.Requester {
			continue
		}
		st, err := r.Client(n).Status(ctx)
		if err == nil && st.Running > 0 {
			return n.Name
		}
	}
	return ""
}

// Restore brings every node back: started if it exited, resumed if
// paused, and on all its networks.
func (r *Runner) Restore(ctx context.Context) error {
	for _, n := range r.T.Nodes {
		out, err := docker(ctx, "inspect", "--format", "{{.State.Status}}", n.Container)
		if err != nil {
			return err
		}
		switch strings.TrimSpace(out) {
		case "paused":
			if err := r.Perturb(ctx, ActResume, n.Name); err != nil {
				return err
			}
		case "exited", "created", "dead":
			if err := r.Perturb(ctx, ActRestart, n.Name); err != nil {
				return err
			}
		}
	}
	return r.Heal(ctx)
}
