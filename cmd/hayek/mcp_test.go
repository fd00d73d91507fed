package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/hayek-market/hayek/internal/samples"
	"github.com/hayek-market/hayek/node"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/api/apitest"
)

// mcpNet is a real in-process devnet with an agent for MCP tests.
type mcpNet struct {
	sock, token string
	op          *api.Client
}

func startMCPNet(t *testing.T) *mcpNet {
	t.Helper()
	dir := apitest.SocketDir(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	d, err := node.StartDevnet(ctx, node.DevnetOptions{Nodes: 3, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		d.Close(cctx)
	})
	if err := d.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	op := api.NewClient(d.Sockets[0])
	tok, err := op.CreateAgent(t.Context(), api.AgentCreate{Name: "claude", Budget: 1000, ApproveAbove: 400})
	if err != nil {
		t.Fatal(err)
	}
	return &mcpNet{sock: d.Sockets[0], token: tok.Token, op: op}
}

// connect serves newMCPServer over an in-memory transport and connects a
// client of the SDK to it, collecting its progress notifications.
func (m *mcpNet) connect(t *testing.T) (*mcp.ClientSession, func() []string) {
	t.Helper()
	ctx := t.Context()
	cl := api.NewClient(m.sock, api.WithToken(m.token))
	st, ct := mcp.NewInMemoryTransports()
	if _, err := newMCPServer(cl).Connect(ctx, st, nil); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var progress []string
	c := mcp.NewClient(&mcp.Implementation{Name: "test-agent", Version: "0"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
			mu.Lock()
			progress = append(progress, r.Params.Message)
			mu.Unlock()
		}})
	cs, err := c.Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs, func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(progress) }
}

// call calls a tool and decodes its structured output into out; it
// returns the result and the text of a tool error.
func call(t *testing.T, cs *mcp.ClientSession, name string, args, out any, progress bool) (*mcp.CallToolResult, string) {
	t.Helper()
	p := &mcp.CallToolParams{Name: name, Arguments: args}
	if progress {
		p.SetProgressToken("tok-" + name)
	}
	res, err := cs.CallTool(t.Context(), p)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if res.IsError {
		var msg []string
		for _, c := range res.Content {
			if tc, ok := c.(*mcp.TextContent); ok {
				msg = append(msg, tc.Text)
			}
		}
		return res, strings.Join(msg, "\n")
	}
	if out != nil {
		reflect.ValueOf(out).Elem().SetZero() // fields the answer omits must not keep an earlier call's values
		b, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: structured output %s: %v", name, b, err)
		}
	}
	return res, ""
}

// TestMCPAgentRunsJobs drives a real devnet through MCP with the SDK's own
// client: submit, wait with progress, read the result and an output as a
// resource; an over-budget job, a job waiting for approval and a job
// nobody can run each answer with what happened and why.
func TestMCPAgentRunsJobs(t *testing.T) {
	m := startMCPNet(t)
	cs, progress := m.connect(t)
	tools, err := cs.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range tools.Tools {
		names = append(names, tl.Name)
	}
	for _, want := range []string{"quote", "submit_job", "wait_job", "job_status", "get_result", "cancel_job", "list_offers", "my_limits", "audit_job"} {
		if !slices.Contains(names, want) {
			t.Errorf("tools %v lack %s", names, want)
		}
	}

	mod := filepath.Join(t.TempDir(), "toolbox.wasm")
	if err := os.WriteFile(mod, samples.Toolbox, 0o600); err != nil {
		t.Fatal(err)
	}
	var job JobInfo
	if _, e := call(t, cs, "submit_job", map[string]any{"module": map[string]any{"path": mod}, "args": []string{"write", "2", "100"},
		"inputs": []map[string]any{{"name": "a.txt", "text": "one two\n"}}, "max_price": 300, "timeout": "5s"}, &job, false); e != "" {
		t.Fatalf("submit_job: %s", e)
	}
	if _, e := call(t, cs, "wait_job", map[string]any{"id": job.ID}, &job, true); e != "" {
		t.Fatalf("wait_job: %s", e)
	}
	if job.State != "completed" || job.Status != "ok" {
		t.Fatalf("job ended %s/%s: %+v", job.State, job.Status, job.Error)
	}
	if p := progress(); len(p) < 3 || !slices.ContainsFunc(p, func(s string) bool { return strings.HasPrefix(s, "awarded to") }) {
		t.Errorf("progress notifications %q: want the auction's steps, the award among them", p)
	}
	var audit AuditInfo
	if _, e := call(t, cs, "audit_job", map[string]any{"id": job.ID}, &audit, false); e != "" {
		t.Fatalf("audit_job: %s", e)
	}
	if !audit.Verified || audit.Agent != "claude" || audit.Execution == nil || len(audit.Proven) == 0 || len(audit.Auctions) == 0 {
		t.Errorf("audit_job %+v: want claude's job, its run, verified", audit)
	}
	var res ResultInfo
	r, e := call(t, cs, "get_result", map[string]any{"id": job.ID}, &res, false)
	if e != "" {
		t.Fatalf("get_result: %s", e)
	}
	if len(res.Outputs) != 2 || res.Status != "ok" {
		t.Fatalf("result %+v: want 2 outputs, status ok", res)
	}
	links := 0
	for _, c := range r.Content {
		if _, ok := c.(*mcp.ResourceLink); ok {
			links++
		}
	}
	if links != 2 {
		t.Errorf("get_result content has %d resource links, want one per output", links)
	}
	rr, err := cs.ReadResource(t.Context(), &mcp.ReadResourceParams{URI: res.Outputs[0].URI})
	if err != nil || len(rr.Contents) != 1 || int64(len(rr.Contents[0].Text)+len(rr.Contents[0].Blob)) != res.Outputs[0].Size {
		t.Fatalf("reading %s: %+v %v", res.Outputs[0].URI, rr, err)
	}

	var lim LimitsInfo
	call(t, cs, "my_limits", map[string]any{}, &lim, false)
	if lim.Agent != "claude" || lim.ApproveAbove != 400 || lim.BudgetLeft+lim.Held+lim.Spent != 1000 {
		t.Errorf("my_limits %+v: want claude's account (funded 1000, approval above 400)", lim)
	}

	// A quote: who would bid and at what, or why not; nothing held.
	var q QuoteInfo
	hello := map[string]any{"base64": base64.StdEncoding.EncodeToString(samples.Hello)}
	if _, e := call(t, cs, "quote", map[string]any{"module": hello, "max_price": 300}, &q, false); e != "" {
		t.Fatalf("quote: %s", e)
	}
	if q.WouldBid < 2 || q.Price == nil || q.Price.Min <= 0 || !strings.Contains(q.Summary, "would bid, at") {
		t.Errorf("quote %+v: want the devnet's providers bidding", q)
	}
	if _, e := call(t, cs, "quote", map[string]any{"module": hello, "max_price": 1}, &q, false); e != "" {
		t.Fatalf("quote below every price: %s", e)
	}
	if q.WouldBid != 0 || q.Reasons["price_floor"] < 2 || !strings.Contains(q.Summary, "price_floor") {
		t.Errorf("quote below every price %+v: want price_floor for each provider", q)
	}
	if _, e := call(t, cs, "quote", map[string]any{"module": hello, "max_price": 300, "placement": map[string]any{"local": true}}, &q, false); e != "" {
		t.Fatalf("local quote: %s", e)
	}
	if q.Found != 1 || q.WouldBid != 1 {
		t.Errorf("local quote %+v: want this node's own provider alone", q)
	}
	var after LimitsInfo
	call(t, cs, "my_limits", map[string]any{}, &after, false)
	if after.BudgetLeft != lim.BudgetLeft || after.Held != lim.Held {
		t.Errorf("quotes changed the budget: %+v -> %+v", lim, after)
	}

	if _, e := call(t, cs, "submit_job", map[string]any{"module": map[string]any{"base64": base64.StdEncoding.EncodeToString(samples.Hello)}, "max_price": 5000}, nil, false); !strings.Contains(e, "budget_exceeded") {
		t.Errorf("over-budget job: %q, want budget_exceeded", e)
	}
	if _, e := call(t, cs, "submit_job", map[string]any{"module": map[string]any{"base64": base64.StdEncoding.EncodeToString(samples.Hello)}, "max_price": 500}, &job, false); e != "" {
		t.Fatalf("gated job: %s", e)
	}
	if job.State != "approval" || !strings.Contains(job.Next, "approval") {
		t.Errorf("job above the threshold: %+v, want state approval and what to do", job)
	}
	if _, e := call(t, cs, "cancel_job", map[string]any{"id": job.ID}, &job, false); e != "" || job.State != "cancelled" {
		t.Errorf("cancel the gated job: %q %+v", e, job)
	}
	if _, e := call(t, cs, "submit_job", map[string]any{"module": map[string]any{"base64": base64.StdEncoding.EncodeToString(samples.Hello)}, "max_price": 100,
		"memory": "2GiB", "wait": true}, &job, false); e != "" {
		t.Fatalf("too big: %s", e)
	}
	if job.State != "failed" || job.Error == nil || job.Error.Code != "no_providers" || !strings.Contains(job.Error.Message, "too_large") ||
		!strings.HasPrefix(job.Next, "quote") {
		t.Errorf("a job nobody can run: %+v, want failed no_providers naming too_large, and quote next", job)
	}
	if _, e := call(t, cs, "submit_job", map[string]any{"module": map[string]any{"base64": base64.StdEncoding.EncodeToString(samples.Hello)}, "max_price": 100,
		"timeout": "soon"}, nil, false); !strings.Contains(e, "timeout") {
		t.Errorf("a bad timeout: %q, want an error naming timeout", e)
	}
}

// TestMCPOverCommand runs hayek mcp as a process, as an MCP client would
// configure it, and talks to it with the SDK's command transport.
func TestMCPOverCommand(t *testing.T) {
	m := startMCPNet(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "HAYEK_CHILD_ARGS="+strings.Join([]string{"mcp", "--socket", m.sock}, "\x1f"), "HAYEK_TOKEN="+m.token)
	c := mcp.NewClient(&mcp.Implementation{Name: "test-agent", Version: "0"}, nil)
	cs, err := c.Connect(t.Context(), &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	var lim LimitsInfo
	if _, e := call(t, cs, "my_limits", map[string]any{}, &lim, false); e != "" || lim.Agent != "claude" {
		t.Fatalf("my_limits over a command: %q %+v", e, lim)
	}
	var offers OffersInfo
	if _, e := call(t, cs, "list_offers", map[string]any{}, &offers, false); e != "" || len(offers.Offers) < 2 {
		t.Fatalf("list_offers over a command: %q %+v", e, offers)
	}
}
