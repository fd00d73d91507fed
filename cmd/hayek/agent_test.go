package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/api/apitest"
)

// hayekEnv runs the CLI in-process with an environment.
func hayekEnv(t *testing.T, sock string, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(t.Context(), append([]string{"--socket", sock}, args...), Streams{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] },
	})
	return result{code, out.String(), errb.String()}
}

func (r result) stdoutHas(t *testing.T, want ...string) {
	t.Helper()
	for _, s := range want {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
		}
	}
}

func TestAgentCreatePrintsTheTokenOnce(t *testing.T) {
	f, sock := startNode(t)
	r := hayek(t, sock, "", "agent", "create", "crawler", "--budget", "5000", "--max-job-price", "500", "--approve-above", "2000", "--rate", "60/hour")
	r.want(t, 0, "agent crawler created: budget 5000, max job price 500, approval above 2000, rate 60/hour", "shown only this once", "HAYEK_TOKEN")
	if r.stdout != "hk_crawler_secret\n" {
		t.Errorf("stdout %q, want the token alone, for $(...)", r.stdout)
	}
	if got := f.AgentRequest("crawler"); got != (api.AgentCreate{Name: "crawler", Budget: 5000, MaxJobPrice: 500, ApproveAbove: 2000, RatePerHour: 60}) {
		t.Errorf("the node got %+v", got)
	}

	r = hayek(t, sock, "", "agent", "create", "ci", "--budget", "0", "--rate", "7/h", "--json")
	r.want(t, 0)
	var tok api.AgentToken
	if err := json.Unmarshal([]byte(r.stdout), &tok); err != nil || tok.Name != "ci" || tok.Token != "hk_ci_secret" {
		t.Errorf("--json: %q %v", r.stdout, err)
	}
	if !strings.Contains(r.stdout, `"name"`) || !strings.Contains(r.stdout, `"token"`) {
		t.Errorf("--json keys: %s", r.stdout)
	}
	hayek(t, sock, "", "agent", "create", "bare", "--budget", "1", "--rate", "12").want(t, 0)
	if r := f.AgentRequest("bare").RatePerHour; r != 12 {
		t.Errorf("--rate 12: %d jobs/hour", r)
	}
	if r := f.AgentRequest("ci").RatePerHour; r != 7 {
		t.Errorf("--rate 7/h: %d jobs/hour", r)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"agent", "create", "x"}, "--budget N is required"},
		{[]string{"agent", "create", "x", "--budget", "5", "--rate", "5/day"}, "an hour"},
		{[]string{"agent", "create", "x", "--budget", "5", "--rate", "lots"}, "jobs per hour"},
		{[]string{"agent", "create", "x", "--budget", "-5"}, "≥ 0"},
		{[]string{"agent", "create", "--budget", "5"}, "one agent NAME"},
		{[]string{"agent", "create", "me", "--budget", "5"}, `"me"`},
		{[]string{"agent", "create", "Crawler", "--budget", "5"}, "lower-case"},
	} {
		hayek(t, sock, "", c.args...).want(t, ExitUsage, c.want)
	}
	hayek(t, sock, "", "agent", "create", "crawler", "--budget", "5").want(t, ExitFailed, "exists already", "hayek agent fund crawler")
}

func TestAgentListShowFundRevoke(t *testing.T) {
	f, sock := startNode(t)
	tok := f.AddAgent(api.AgentCreate{Name: "crawler", Budget: 5000, ApproveAbove: 100})

	r := hayek(t, sock, "", "agent", "list")
	r.want(t, 0)
	r.stdoutHas(t, "AGENT", "BUDGET LEFT", "crawler", "5000", "operator", "active")
	r = hayek(t, sock, "", "agent", "list", "--json")
	r.want(t, 0)
	var agents []api.Agent
	if err := json.Unmarshal([]byte(r.stdout), &agents); err != nil || len(agents) != 2 {
		t.Errorf("agent list --json: %v %s", err, r.stdout)
	}

	r = hayek(t, sock, "", "agent", "show", "crawler")
	r.want(t, 0)
	r.stdoutHas(t, "budget left", "5000", "approval above", "100", "max job price", "none", "active")

	r = hayek(t, sock, "", "agent", "fund", "crawler", "250", "--note", "march")
	r.want(t, 0)
	r.stdoutHas(t, "agent crawler funded with 250: budget left 5250")
	hayek(t, sock, "", "agent", "fund", "crawler", "0").want(t, ExitUsage, "AMOUNT")
	hayek(t, sock, "", "agent", "fund", "crawler", "ten").want(t, ExitUsage, "AMOUNT")
	hayek(t, sock, "", "agent", "fund", "nobody", "5").want(t, ExitNotFound, "Try: hayek agent list")
	hayek(t, sock, "", "agent", "show", "nobody").want(t, ExitNotFound, "Try: hayek agent list")

	// The agent reads its own account with its token, by flag or env.
	r = hayek(t, sock, "", "--token", tok, "agent", "show", "me")
	r.want(t, 0)
	r.stdoutHas(t, "crawler")
	r = hayekEnv(t, sock, map[string]string{"HAYEK_TOKEN": tok}, "agent", "show", "me", "--json")
	r.want(t, 0)
	var me api.Agent
	if err := json.Unmarshal([]byte(r.stdout), &me); err != nil || me.Name != "crawler" || me.BudgetLeft != 5250 {
		t.Errorf("show me --json as the agent: %v %s", err, r.stdout)
	}
	// ... and nothing of the operator's.
	for _, args := range [][]string{{"agent", "list"}, {"agent", "show", "operator"}, {"agent", "fund", "crawler", "9"},
		{"ledger"}, {"ledger", "balance"}, {"rep"}} {
		hayekEnv(t, sock, map[string]string{"HAYEK_TOKEN": tok}, args...).want(t, ExitDenied, "forbidden", "Try: run it as the node's operator")
	}

	r = hayek(t, sock, "", "agent", "revoke", "crawler")
	r.want(t, 0)
	r.stdoutHas(t, "agent crawler revoked")
	hayek(t, sock, "", "agent", "list").stdoutHas(t, "revoked")
	hayek(t, sock, "", "--token", tok, "agent", "show", "me").want(t, ExitDenied, "unauthorized", "--token or HAYEK_TOKEN")
	hayek(t, sock, "", "agent", "revoke").want(t, ExitUsage)
	hayek(t, sock, "", "agent", "bogus").want(t, ExitUsage)
}

func TestSubmitAsAgentWithinItsBudget(t *testing.T) {
	f, sock := startNode(t)
	tok := f.AddAgent(api.AgentCreate{Name: "crawler", Budget: 1500, MaxJobPrice: 1200})
	dir := files(t, "m.wasm", "\x00asm")
	mod := filepath.Join(dir, "m.wasm")
	env := map[string]string{"HAYEK_TOKEN": tok}

	r := hayekEnv(t, sock, env, "job", "submit", "--wasm", mod, "--max-price", "1000", "--wait")
	r.want(t, 0)
	if j, _ := f.Job(t.Context(), "j1"); j.Agent != "crawler" {
		t.Errorf("the job's agent is %q, want crawler", j.Agent)
	}
	// 500 left: a job that may cost 1000 is refused, and could not be run.
	r = hayekEnv(t, sock, env, "job", "submit", "--wasm", mod, "--max-price", "1000")
	r.want(t, ExitNotRun, "budget_exceeded", "agent crawler has 500 left", "Try: hayek agent show crawler")
	r = hayekEnv(t, sock, env, "job", "submit", "--wasm", mod, "--max-price", "1300")
	r.want(t, ExitNotRun, "over_limit", "Try: hayek agent show crawler")

	// An agent lists only its own jobs; the operator sees whose they are.
	hayek(t, sock, "", "job", "submit", "--wasm", mod).want(t, 0)
	r = hayekEnv(t, sock, env, "job", "list")
	r.want(t, 0)
	if strings.Contains(r.stdout, "j2") || !strings.Contains(r.stdout, "j1") {
		t.Errorf("the agent's job list:\n%s", r.stdout)
	}
	hayekEnv(t, sock, env, "job", "status", "j2").want(t, ExitNotFound, "not_found")
	r = hayek(t, sock, "", "job", "list", "--agent", "crawler")
	r.want(t, 0)
	r.stdoutHas(t, "AGENT", "crawler", "j1")
	if strings.Contains(r.stdout, "j2") {
		t.Errorf("--agent crawler lists the operator's job:\n%s", r.stdout)
	}
}

func TestApprovalGatedSubmit(t *testing.T) {
	f, sock := startNode(t)
	tok := f.AddAgent(api.AgentCreate{Name: "trader", Budget: 100000, ApproveAbove: 100})
	dir := files(t, "m.wasm", "\x00asm")
	env := map[string]string{"HAYEK_TOKEN": tok}

	// Waits, says how to approve, and finishes once approved.
	done := make(chan result, 1)
	go func() {
		done <- hayekEnv(t, sock, env, "job", "submit", "--wasm", filepath.Join(dir, "m.wasm"), "--max-price", "500", "--wait")
	}()
	waitState(t, f, "j1", api.StateApproval)
	r := hayek(t, sock, "", "job", "list", "--state", "approval")
	r.want(t, 0)
	r.stdoutHas(t, "j1", "approval", "trader")
	hayek(t, sock, "", "job", "status", "j1").stdoutHas(t, "waiting for the operator: hayek job approve j1")
	hayekEnv(t, sock, env, "job", "approve", "j1").want(t, ExitDenied, "forbidden")
	r = hayek(t, sock, "", "job", "approve", "j1")
	r.want(t, 0)
	if want := "job j1 approved: it goes to auction (hayek job watch j1 follows it)\n"; r.stdout != want {
		t.Errorf("approve said %q, want %q", r.stdout, want)
	}
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("submit --wait did not finish after the approval")
	}
	r.want(t, 0, "waiting for approval: hayek job approve j1", "it expires in")
	hayek(t, sock, "", "job", "approve", "j1").want(t, ExitFailed, "not_awaiting_approval", "Try: hayek job list --state approval")

	// Without --wait: the ID, and a note on stderr; rejected, it fails.
	r = hayekEnv(t, sock, env, "job", "submit", "--wasm", filepath.Join(dir, "m.wasm"), "--max-price", "500")
	r.want(t, 0, "waits for the operator's approval: hayek job approve j2")
	if r.stdout != "j2\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	r = hayek(t, sock, "", "job", "reject", "j2", "--reason", "too dear", "--json")
	r.want(t, 0)
	var job api.Job
	if err := json.Unmarshal([]byte(r.stdout), &job); err != nil || job.State != api.StateFailed || job.Error == nil || job.Error.Message != "too dear" {
		t.Errorf("reject --json: %v %s", err, r.stdout)
	}
	hayekEnv(t, sock, env, "job", "watch", "j2").want(t, ExitNotRun, "too dear")
	hayek(t, sock, "", "job", "reject").want(t, ExitUsage)
}

// waitState waits until the fake's job id is in state s.
func waitState(t *testing.T, f *apitest.Node, id string, s api.JobState) {
	t.Helper()
	apitest.WaitFor(t, 2*time.Second, fmt.Sprintf("job %s in state %s", id, s), func() bool {
		j, err := f.Job(t.Context(), id)
		return err == nil && j.State == s
	})
}

func TestSubmitVerifyAndReputationFlags(t *testing.T) {
	f, sock := startNode(t)
	dir := files(t, "m.wasm", "\x00asm")
	mod := filepath.Join(dir, "m.wasm")
	r := hayek(t, sock, "", "job", "submit", "--wasm", mod, "--verify", "replicate:3", "--min-reputation", "0.8", "--max-price", "50", "--wait")
	r.want(t, 0)
	req := f.LastSubmit()
	if req.Verify != "replicate:3" || req.MinReputation != 0.8 {
		t.Errorf("spec sent: verify %q, min reputation %v", req.Verify, req.MinReputation)
	}
	hayek(t, sock, "", "job", "submit", "--wasm", mod, "--wait").want(t, 0)
	if v := f.LastSubmit().Verify; v != "" {
		t.Errorf("--verify none is sent as %q, want it left out", v)
	}

	r = hayek(t, sock, "", "job", "status", "j1")
	r.want(t, 0)
	r.stdoutHas(t, "agent", "operator", "payment", "held 50, paid 40, released 10", "receipt", "bafyreceiptj1",
		"verify", "replicate: accepted, 2 runs compared")
	r = hayek(t, sock, "", "job", "list")
	r.want(t, 0)
	r.stdoutHas(t, "HELD", "PAID", "RELEASED", "VERIFIED", "replicate:accepted")

	for _, args := range [][]string{
		{"--verify", "replicate:1"}, {"--verify", "sample:2"}, {"--verify", "all"},
		{"--min-reputation", "1.5"}, {"--min-reputation", "-0.1"},
	} {
		hayek(t, sock, "", append([]string{"job", "submit", "--wasm", mod}, args...)...).want(t, ExitUsage, args[0])
	}
}

func TestAgentSocketFromTheCLI(t *testing.T) {
	f, sock := startNode(t, api.WithAgentSocket("", ""))
	tok := f.AddAgent(api.AgentCreate{Name: "crawler", Budget: 10})
	as := filepath.Join(filepath.Dir(sock), api.DefaultAgentSocket)
	hayek(t, as, "", "status").want(t, ExitDenied, "unauthorized", "--token or HAYEK_TOKEN")
	hayekEnv(t, as, map[string]string{"HAYEK_TOKEN": tok}, "agent", "show", "me").stdoutHas(t, "crawler")
}

func TestStatusShowsLedgerAndMisbehaviour(t *testing.T) {
	f, sock := startNode(t)
	r := hayek(t, sock, "", "status")
	r.want(t, 0)
	r.stdoutHas(t, "ledger", "seq 12, head bafyheadHHHH")
	if strings.Contains(r.stdout+r.stderr, "MISBEHAV") {
		t.Errorf("an honest node is reported misbehaving:\n%s%s", r.stdout, r.stderr)
	}
	f.SetMisbehaving("wrong_output_rate=0.2")
	r = hayek(t, sock, "", "status")
	r.want(t, 0, "WARNING: this node misbehaves on purpose", "wrong_output_rate=0.2")
	r.stdoutHas(t, "MISBEHAVING", "wrong_output_rate=0.2")
	hayek(t, sock, "", "status", "--json").want(t, 0, "WARNING")
}

func TestSubmitPlacementFlags(t *testing.T) {
	f, sock := startNode(t)
	dir := files(t, "m.wasm", "\x00asm")
	mod := filepath.Join(dir, "m.wasm")
	hayek(t, sock, "", "job", "submit", "--wasm", mod, "--deny", "12D3KooWA", "--deny", "12D3KooWB", "--allow", "12D3KooWC",
		"--min-rep", "0.5", "--max-price", "50", "--wait").want(t, 0)
	pl := f.LastSubmit().Placement
	if pl == nil || len(pl.Deny) != 2 || pl.Allow[0] != "12D3KooWC" || pl.MinReputation != 0.5 || pl.Local {
		t.Errorf("placement sent: %+v", pl)
	}
	hayek(t, sock, "", "job", "submit", "--wasm", mod, "--wait").want(t, 0)
	if pl := f.LastSubmit().Placement; pl != nil {
		t.Errorf("no placement flags sent placement %+v, want none", pl)
	}
	hayek(t, sock, "", "job", "submit", "--wasm", mod, "--placement", "elsewhere").want(t, ExitUsage, "--placement")
	hayek(t, sock, "", "job", "submit", "--wasm", mod, "--min-rep", "2").want(t, ExitUsage, "--min-rep")
}
