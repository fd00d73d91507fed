package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hayek-market/hayek/internal/samples"
	"github.com/hayek-market/hayek/node/api"
)

// TestAuditBundleFromTheCLI: hayek job audit writes a bundle of a devnet
// job that hayek audit verify accepts offline; the same bundle with a
// changed price is refused, naming the price.
func TestAuditBundleFromTheCLI(t *testing.T) {
	m := startMCPNet(t)
	ctx := t.Context()
	job, err := m.op.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{Base64: base64.StdEncoding.EncodeToString(samples.Hello)}, MaxPrice: 300})
	if err != nil {
		t.Fatal(err)
	}
	if job, err = m.op.Wait(ctx, job.ID); err != nil || job.State != api.StateCompleted {
		t.Fatalf("job ended %s (%v)", job.State, err)
	}
	local, err := m.op.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{Base64: base64.StdEncoding.EncodeToString(samples.Hello)},
		MaxPrice: 300, Placement: &api.Placement{Local: true}})
	if err != nil {
		t.Fatal(err)
	}
	if local, err = m.op.Wait(ctx, local.ID); err != nil || local.State != api.StateCompleted {
		t.Fatalf("local job ended %s (%v)", local.State, err)
	}
	hayek(t, m.sock, "", "job", "status", local.ID).stdoutHas(t, "placement", "local only")
	hayek(t, m.sock, "", "job", "audit", job.ID).stdoutHas(t, "intent", "auction 1", "WON", "execution by "+job.Provider, "timeline")
	file := filepath.Join(t.TempDir(), "job.audit.json")
	hayek(t, m.sock, "", "job", "audit", job.ID, "--bundle", file).want(t, 0)
	r := hayek(t, "/nonexistent.sock", "", "audit", "verify", file) // offline: no node needed
	r.want(t, 0)
	r.stdoutHas(t, "verifies", "signed by "+job.Provider, "only node")

	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	price := `"price": ` + strconv.FormatInt(job.Price, 10)
	if !strings.Contains(string(b), price) {
		t.Fatalf("bundle has no %s", price)
	}
	bad := filepath.Join(t.TempDir(), "tampered.json")
	if err := os.WriteFile(bad, []byte(strings.Replace(string(b), price, `"price": `+strconv.FormatInt(job.Price+1, 10), 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	hayek(t, "/nonexistent.sock", "", "audit", "verify", bad).want(t, ExitFailed, "does not verify")
	hayek(t, m.sock, "", "job", "audit", job.ID, "--json", "--bundle", file).want(t, ExitUsage)
}

// TestAgentPolicyFromTheCLI: the operator sets a policy with hayek agent
// policy; the agent's job that breaks it is refused naming the rule.
func TestAgentPolicyFromTheCLI(t *testing.T) {
	m := startMCPNet(t)
	hayek(t, m.sock, "", "agent", "policy", "claude", "--cap", "gpu/nvidia/h100", "--max-input", "1KiB").
		stdoutHas(t, "policy set", "capabilities [gpu/nvidia/h100]", "max input 1KiB")
	hayek(t, m.sock, "", "agent", "show", "claude").stdoutHas(t, "policy", "gpu/nvidia/h100")
	mod := filepath.Join(t.TempDir(), "hello.wasm")
	if err := os.WriteFile(mod, samples.Hello, 0o600); err != nil {
		t.Fatal(err)
	}
	hayekEnv(t, m.sock, map[string]string{"HAYEK_TOKEN": m.token}, "job", "submit", "--wasm", mod, "--max-price", "100").
		want(t, ExitNotRun, "policy.capabilities", "runtime/wasm")
	hayek(t, m.sock, "", "agent", "policy", "claude", "--min-rep", "1.5").want(t, ExitUsage, "--min-rep")
	hayek(t, m.sock, "", "agent", "policy", "claude").stdoutHas(t, "policy cleared")
}
