package api_test

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/api/apitest"
)

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// agentSock is the agent socket beside an operator socket.
func agentSock(sock string) string { return filepath.Join(filepath.Dir(sock), api.DefaultAgentSocket) }

func TestTokensOnTheOperatorSocket(t *testing.T) {
	f := apitest.New()
	alice := f.AddAgent(api.AgentCreate{Name: "alice", Budget: 100})
	_, sock := apitest.Serve(t, f)

	// No token: the operator, and the backend is told so.
	a := do(t, sock, "GET", "/v1/agents/me", nil)
	var me api.Agent
	if a.status != 200 || json.Unmarshal(a.body, &me) != nil || me.Name != api.OperatorAgent {
		t.Fatalf("me without a token: %d %s", a.status, a.body)
	}
	if c := f.LastCaller(); !c.Operator || c.Agent != api.OperatorAgent {
		t.Errorf("backend saw %+v, want the operator", c)
	}

	// A token: that agent, on the operator socket too.
	a = do(t, sock, "GET", "/v1/agents/me", nil, bearer(alice)...)
	if a.status != 200 || json.Unmarshal(a.body, &me) != nil || me.Name != "alice" {
		t.Fatalf("me with alice's token: %d %s", a.status, a.body)
	}
	if c := f.LastCaller(); c.Operator || c.Agent != "alice" {
		t.Errorf("backend saw %+v, want alice", c)
	}

	for name, h := range map[string][]string{
		"unknown":                    bearer("tok-nobody"),
		"empty":                      {"Authorization", "Bearer "},
		"other scheme":               {"Authorization", "Basic YWxpY2U6cHc="},
		"scheme only":                {"Authorization", "Bearer"},
		"unknown, lower-case scheme": {"Authorization", "bearer tok-nobody"},
	} {
		a := do(t, sock, "GET", "/v1/status", nil, h...)
		a.apiError(t, 401, api.CodeUnauthorized)
		if !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: 401 without WWW-Authenticate: %v", name, a.header)
		}
	}
	// The scheme is case-insensitive (RFC 9110).
	do(t, sock, "GET", "/v1/status", nil, "Authorization", "bearer "+alice).want(t, 200)

	// Revoked: refused at once.
	do(t, sock, "POST", "/v1/agents/alice/revoke", nil).want(t, 200)
	do(t, sock, "GET", "/v1/status", nil, bearer(alice)...).apiError(t, 401, api.CodeUnauthorized)
}

func (a answer) want(t *testing.T, status int) answer {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.body)
	}
	return a
}

func TestAgentSocket(t *testing.T) {
	f := apitest.New()
	alice := f.AddAgent(api.AgentCreate{Name: "alice", Budget: 100})
	_, sock := apitest.Serve(t, f, api.WithAgentSocket("", ""))
	as := agentSock(sock)

	fi, err := os.Lstat(as)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&fs.ModeSocket == 0 || fi.Mode().Perm() != 0o660 {
		t.Errorf("agent socket mode %v, want a socket with 0660", fi.Mode())
	}
	if fi, err := os.Lstat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("operator socket: %v %v, want 0600", fi.Mode(), err)
	}

	// Without a token: refused, saying how to pass one.
	e := do(t, as, "GET", "/v1/status", nil).apiError(t, 401, api.CodeUnauthorized)
	for _, s := range []string{"--token", "HAYEK_TOKEN"} {
		if !strings.Contains(e.Message, s) {
			t.Errorf("401 message %q does not mention %s", e.Message, s)
		}
	}
	// Unknown routes too: nothing is answered without a token.
	do(t, as, "GET", "/nope", nil).apiError(t, 401, api.CodeUnauthorized)

	// With one: that agent.
	var me api.Agent
	a := do(t, as, "GET", "/v1/agents/me", nil, bearer(alice)...).want(t, 200)
	if json.Unmarshal(a.body, &me) != nil || me.Name != "alice" {
		t.Errorf("me on the agent socket: %s", a.body)
	}
	// The Go client with a token.
	cl := api.NewClient(as, api.WithToken(alice))
	defer cl.Close()
	if me, err := cl.Me(t.Context()); err != nil || me.Name != "alice" {
		t.Errorf("client Me: %+v %v", me, err)
	}
	if _, err := api.NewClient(as).Status(t.Context()); !api.IsCode(err, api.CodeUnauthorized) {
		t.Errorf("client without a token on the agent socket: %v, want unauthorized", err)
	}
	// An agent is an agent on either socket: the operator's business stays
	// forbidden.
	do(t, as, "GET", "/v1/ledger", nil, bearer(alice)...).apiError(t, 403, api.CodeForbidden)
}

func TestAgentSocketRemovedOnClose(t *testing.T) {
	f := apitest.New()
	srv, sock := apitest.Serve(t, f, api.WithAgentSocket("", ""))
	srv.Close()
	if _, err := os.Lstat(agentSock(sock)); !os.IsNotExist(err) {
		t.Errorf("agent socket still there after Close: %v", err)
	}
}

func TestAgentSocketGroup(t *testing.T) {
	gid := os.Getgid()
	g, err := user.LookupGroupId(strconv.Itoa(gid))
	if err != nil {
		t.Skipf("the test's own group %d has no name: %v", gid, err)
	}
	for _, group := range []string{g.Name, strconv.Itoa(gid)} {
		t.Run(group, func(t *testing.T) {
			dir := apitest.SocketDir(t)
			as := filepath.Join(dir, "a.sock")
			_, sock := apitest.ServeAt(t, apitest.New(), filepath.Join(dir, "hayek.sock"), api.WithAgentSocket(as, group))
			_ = sock
			fi, err := os.Lstat(as)
			if err != nil {
				t.Fatal(err)
			}
			if st := fi.Sys().(*syscall.Stat_t); int(st.Gid) != gid || fi.Mode().Perm() != 0o660 {
				t.Errorf("agent socket gid %d mode %v, want %d 0660", st.Gid, fi.Mode().Perm(), gid)
			}
		})
	}
}

func TestAgentSocketRefusals(t *testing.T) {
	sock := filepath.Join(apitest.SocketDir(t), "hayek.sock")
	err := api.NewServer(apitest.New(), api.WithAgentSocket("", "no-such-group-hayek")).Serve(t.Context(), sock)
	if err == nil || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "groupadd") {
		t.Errorf("a group that does not exist: %v", err)
	}
	err = api.NewServer(backendOnly{apitest.New()}, api.WithAgentSocket("", "")).Serve(t.Context(), sock)
	if err == nil || !strings.Contains(err.Error(), "Admin") {
		t.Errorf("agent socket without Admin: %v", err)
	}
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("a refused Serve left the operator socket: %v", err)
	}
}

func TestBackendWithoutAdmin(t *testing.T) {
	_, sock := apitest.Serve(t, backendOnly{apitest.New()})
	// No token: the operator, as before agents existed.
	do(t, sock, "GET", "/v1/status", nil).want(t, 200)
	// A token is refused, not ignored: its sender expects an agent's limits.
	do(t, sock, "GET", "/v1/status", nil, bearer("tok-x")...).apiError(t, 401, api.CodeUnauthorized)
	for _, p := range []string{"/v1/agents", "/v1/ledger", "/v1/rep", "/v1/agents/me", "/v1/metrics"} {
		do(t, sock, "GET", p, nil).apiError(t, 404, api.CodeNotFound)
	}
}

func TestAgentsSeeOnlyTheirOwnJobs(t *testing.T) {
	f := apitest.New(apitest.UnfilteredJobs())
	alice, bob := f.AddAgent(api.AgentCreate{Name: "alice", Budget: 100}), f.AddAgent(api.AgentCreate{Name: "bob", Budget: 100})
	_, sock := apitest.Serve(t, f)
	ctx := t.Context()
	ca := api.NewClient(sock, api.WithToken(alice))
	cb := api.NewClient(sock, api.WithToken(bob))
	op := api.NewClient(sock)
	for _, c := range []*api.Client{ca, cb, op} {
		defer c.Close()
	}
	ja, err := ca.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{CID: "m"}, MaxPrice: 5})
	if err != nil || ja.Agent != "alice" {
		t.Fatalf("alice's submit: %+v %v", ja, err)
	}
	if _, err := op.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{CID: "m"}, MaxPrice: 5}); err != nil {
		t.Fatal(err)
	}

	// Bob: alice's job is exactly as absent as a job that does not exist.
	ghost := do(t, sock, "GET", "/v1/jobs/nope", nil, bearer(bob)...).apiError(t, 404, api.CodeNotFound)
	for _, rt := range []struct{ method, path string }{
		{"GET", "/v1/jobs/" + ja.ID},
		{"GET", "/v1/jobs/" + ja.ID + "?wait=1m"},
		{"POST", "/v1/jobs/" + ja.ID + "/cancel"},
		{"GET", "/v1/jobs/" + ja.ID + "/result"},
		{"GET", "/v1/jobs/" + ja.ID + "/events"},
	} {
		e := do(t, sock, rt.method, rt.path, nil, bearer(bob)...).apiError(t, 404, api.CodeNotFound)
		if want := strings.ReplaceAll(ghost.Message, `"nope"`, strconv.Quote(ja.ID)); e.Message != want {
			t.Errorf("%s %s: message %q differs from a missing job's %q", rt.method, rt.path, e.Message, want)
		}
	}
	if j, err := f.Job(ctx, ja.ID); err != nil || j.State.Terminal() {
		t.Errorf("bob's cancel reached alice's job: %+v %v", j, err)
	}

	// Lists: the server filters even though the fake does not.
	list := func(c *api.Client, flt api.JobFilter) []string {
		t.Helper()
		jobs, err := c.Jobs(ctx, flt)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, j := range jobs {
			ids = append(ids, j.Agent+":"+j.ID)
		}
		return ids
	}
	if got := strings.Join(list(cb, api.JobFilter{}), ","); got != "" {
		t.Errorf("bob lists %s, want nothing", got)
	}
	if got := strings.Join(list(ca, api.JobFilter{}), ","); got != "alice:"+ja.ID {
		t.Errorf("alice lists %s", got)
	}
	if got := len(list(op, api.JobFilter{})); got != 2 {
		t.Errorf("the operator lists %d jobs, want 2", got)
	}
	if got := strings.Join(list(op, api.JobFilter{Agent: "alice"}), ","); got != "alice:"+ja.ID {
		t.Errorf("the operator's ?agent=alice lists %s", got)
	}
	do(t, sock, "GET", "/v1/jobs?agent=alice", nil, bearer(bob)...).apiError(t, 403, api.CodeForbidden)

	// Alice reaches her own job by every route.
	if _, err := ca.Job(ctx, ja.ID); err != nil {
		t.Errorf("alice's own job: %v", err)
	}
	if _, err := ca.Cancel(ctx, ja.ID); err != nil {
		t.Errorf("alice cancels her job: %v", err)
	}
	if err := ca.Events(ctx, ja.ID, func(api.Event) error { return nil }); err != nil {
		t.Errorf("alice follows her job: %v", err)
	}
}

func TestAgentsAreForbiddenTheOperatorsRoutes(t *testing.T) {
	f := apitest.New()
	alice := f.AddAgent(api.AgentCreate{Name: "alice", Budget: 100})
	f.AddAgent(api.AgentCreate{Name: "bob", Budget: 100})
	_, sock := apitest.Serve(t, f)
	for _, rt := range []struct{ method, path, body string }{
		{"POST", "/v1/agents", `{"name":"x","budget":1}`},
		{"GET", "/v1/agents", ""},
		{"GET", "/v1/agents/bob", ""},
		{"GET", "/v1/agents/operator", ""},
		{"POST", "/v1/agents/alice/fund", `{"amount":1000}`},
		{"POST", "/v1/agents/me/fund", `{"amount":1000}`},
		{"POST", "/v1/agents/bob/revoke", ""},
		{"POST", "/v1/jobs/j1/approve", ""},
		{"POST", "/v1/jobs/j1/reject", ""},
		{"GET", "/v1/ledger", ""},
		{"GET", "/v1/ledger/balance", ""},
		{"POST", "/v1/ledger/verify", ""},
		{"GET", "/v1/ledger/export", ""},
		{"POST", "/v1/ledger/settle", `{"peer":"p","amount":1}`},
		{"GET", "/v1/rep", ""},
		{"GET", "/v1/metrics", ""},
	} {
		e := do(t, sock, rt.method, rt.path, strings.NewReader(rt.body), bearer(alice)...).apiError(t, 403, api.CodeForbidden)
		if !strings.Contains(e.Message, "operator") {
			t.Errorf("%s %s: 403 message %q does not say whose business it is", rt.method, rt.path, e.Message)
		}
	}
	for _, c := range f.Callers() {
		t.Errorf("a forbidden request reached the backend as %+v", c)
	}

	// What agents may use.
	for _, p := range []string{"/v1/agents/me", "/v1/agents/alice", "/v1/offers", "/v1/peers", "/v1/status", "/v1/jobs"} {
		do(t, sock, "GET", p, nil, bearer(alice)...).want(t, http.StatusOK)
	}
	do(t, sock, "POST", "/v1/blobs", strings.NewReader("x"), bearer(alice)...).want(t, http.StatusOK)
}

// backendOnly hides the fake's Admin methods: a node without agents,
// ledger or reputation.
type backendOnly struct{ api.Backend }
