package api_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/api/apitest"
)

func TestAgentRoutes(t *testing.T) {
	_, sock := apitest.Serve(t, apitest.New(apitest.CannedAdmin()))
	ctx := t.Context()
	cl := api.NewClient(sock)
	defer cl.Close()

	// Created: 201 on the wire, the token once.
	a := do(t, sock, "POST", "/v1/agents", strings.NewReader(`{"name":"crawler","budget":500,"max_job_price":50,"approve_above":200,"rate_per_hour":10}`)).want(t, 201)
	var tok api.AgentToken
	if json.Unmarshal(a.body, &tok) != nil || tok.Name != "crawler" || tok.Token == "" {
		t.Fatalf("POST /v1/agents: %s", a.body)
	}
	tok, err := cl.CreateAgent(ctx, api.AgentCreate{Name: "indexer", Budget: 7})
	if err != nil || tok.Token != "tok-indexer" {
		t.Fatalf("CreateAgent: %+v %v", tok, err)
	}
	for body, field := range map[string]string{
		`{"name":"me","budget":1}`:                   "name",
		`{"name":"operator","budget":1}`:             "name",
		`{"name":"a/b","budget":1}`:                  "name",
		`{"name":"-x","budget":1}`:                   "name",
		`{"budget":1}`:                               "name",
		`{"name":"x","budget":-1}`:                   "budget",
		`{"name":"x","budget":1,"approve_above":-2}`: "approve_above",
		`{"name":"x","budget":1,"bogus":1}`:          "bogus",
	} {
		e := do(t, sock, "POST", "/v1/agents", strings.NewReader(body)).apiError(t, 400, api.CodeBadRequest)
		if len(e.Fields) != 1 || e.Fields[0].Field != field {
			t.Errorf("%s: fields %+v, want %s", body, e.Fields, field)
		}
	}
	do(t, sock, "POST", "/v1/agents", nil).apiError(t, 400, api.CodeBadRequest)

	// List: [] never null, even when the backend says nil.
	if a := do(t, sock, "GET", "/v1/agents", nil).want(t, 200); strings.TrimSpace(string(a.body)) != "[]" {
		t.Errorf("GET /v1/agents: %s, want []", a.body)
	}
	if _, err := cl.Agents(ctx); err != nil {
		t.Error(err)
	}

	if ag, err := cl.Agent(ctx, "crawler"); err != nil || ag.MaxJobPrice != 50 || ag.ApproveAbove != 200 || ag.RatePerHour != 10 || ag.BudgetLeft != 500 {
		t.Errorf("Agent: %+v %v", ag, err)
	}
	if _, err := cl.Agent(ctx, "nobody"); !api.IsCode(err, api.CodeNotFound) {
		t.Errorf("unknown agent: %v", err)
	}
	if ag, err := cl.Me(ctx); err != nil || ag.Name != api.OperatorAgent {
		t.Errorf("the operator's Me: %+v %v", ag, err)
	}

	if ag, err := cl.FundAgent(ctx, "crawler", api.Fund{Amount: 25, Note: "top-up"}); err != nil || ag.BudgetLeft != 525 || ag.Funded != 525 {
		t.Errorf("FundAgent: %+v %v", ag, err)
	}
	if _, err := cl.FundAgent(ctx, "crawler", api.Fund{}); !api.IsCode(err, api.CodeBadRequest) {
		t.Errorf("funding 0: %v", err)
	}
	do(t, sock, "POST", "/v1/agents/crawler/fund", strings.NewReader(`{"amount":"lots"}`)).apiError(t, 400, api.CodeBadRequest)

	if ag, err := cl.RevokeAgent(ctx, "crawler"); err != nil || !ag.Revoked {
		t.Errorf("RevokeAgent: %+v %v", ag, err)
	}
	if _, err := api.NewClient(sock, api.WithToken(tok.Token)).Status(ctx); err != nil {
		t.Errorf("indexer's token after crawler's revocation: %v", err)
	}
	if _, err := api.NewClient(sock, api.WithToken("tok-crawler")).Status(ctx); !api.IsCode(err, api.CodeUnauthorized) {
		t.Errorf("a revoked token: %v, want unauthorized", err)
	}
	do(t, sock, "PUT", "/v1/agents/crawler", nil).apiError(t, 405, api.CodeMethod)
}

func TestApproveAndReject(t *testing.T) {
	f := apitest.New()
	_, sock := apitest.Serve(t, f)
	ctx := t.Context()
	cl := api.NewClient(sock)
	defer cl.Close()
	submit := func() string {
		j, err := cl.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{CID: "m"}, MaxPrice: 5})
		if err != nil {
			t.Fatal(err)
		}
		f.AwaitApproval(j.ID)
		return j.ID
	}

	j1 := submit()
	if js, err := cl.Jobs(ctx, api.JobFilter{State: api.StateApproval}); err != nil || len(js) != 1 || js[0].ID != j1 {
		t.Errorf("?state=approval: %+v %v", js, err)
	}
	job, err := cl.Approve(ctx, j1, api.Decision{})
	if err != nil || job.State != api.StatePending {
		t.Errorf("Approve: %+v %v", job, err)
	}
	if _, err := cl.Approve(ctx, j1, api.Decision{}); !api.IsCode(err, api.CodeNotApproval) {
		t.Errorf("approving twice: %v, want %s", err, api.CodeNotApproval)
	}
	var e *api.Error
	if _, err := cl.Reject(ctx, j1, api.Decision{}); !errors.As(err, &e) || e.Status != 409 {
		t.Errorf("rejecting an approved job: %v, want 409", err)
	}

	j2 := submit()
	job, err = cl.Reject(ctx, j2, api.Decision{Reason: "too dear"})
	if err != nil || job.State != api.StateFailed || job.Error == nil || job.Error.Message != "too dear" {
		t.Errorf("Reject: %+v %v", job, err)
	}

	// The body is optional, and strict when present.
	j3 := submit()
	do(t, sock, "POST", "/v1/jobs/"+j3+"/reject", strings.NewReader(`{"why":"x"}`)).apiError(t, 400, api.CodeBadRequest)
	do(t, sock, "POST", "/v1/jobs/"+j3+"/approve", nil).want(t, 200)
	do(t, sock, "POST", "/v1/jobs/nope/approve", nil).apiError(t, 404, api.CodeNotFound)
}

func TestLedgerAndRepRoutes(t *testing.T) {
	f := apitest.New(apitest.CannedAdmin())
	_, sock := apitest.Serve(t, f)
	ctx := t.Context()
	cl := api.NewClient(sock)
	defer cl.Close()

	es, err := cl.Ledger(ctx, api.LedgerFilter{Kind: "fund", Job: "j1", Peer: "12D3KooWP", After: 41, Limit: 5})
	if err != nil || len(es) != 1 || es[0].Seq != 42 || string(es[0].Body) != `{"agent":"alice","amount":5}` {
		t.Fatalf("Ledger: %+v %v", es, err)
	}
	if got := f.LastLedgerFilter(); got != (api.LedgerFilter{Kind: "fund", Job: "j1", Peer: "12D3KooWP", After: 41, Limit: 5}) {
		t.Errorf("the backend got filter %+v", got)
	}
	cl.Ledger(ctx, api.LedgerFilter{Limit: 5000})
	if got := f.LastLedgerFilter().Limit; got != api.MaxLedgerLimit {
		t.Errorf("limit 5000 reached the backend as %d, want %d", got, api.MaxLedgerLimit)
	}
	cl.Ledger(ctx, api.LedgerFilter{})
	if got := f.LastLedgerFilter().Limit; got != api.DefaultLedgerLimit {
		t.Errorf("no limit reached the backend as %d, want %d", got, api.DefaultLedgerLimit)
	}
	if a := do(t, sock, "GET", "/v1/ledger?kind=checkpoint", nil).want(t, 200); strings.TrimSpace(string(a.body)) != "[]" {
		t.Errorf("an empty ledger page: %s, want []", a.body)
	}
	for q, field := range map[string]string{"kind=recipt": "kind", "limit=0": "limit", "limit=x": "limit", "after=-1": "after"} {
		e := do(t, sock, "GET", "/v1/ledger?"+q, nil).apiError(t, 400, api.CodeBadRequest)
		if len(e.Fields) != 1 || e.Fields[0].Field != field {
			t.Errorf("?%s: %+v", q, e)
		}
	}

	b, err := cl.LedgerBalance(ctx)
	if err != nil || b.Head != "bafyH" || b.Funded != 10 || b.Agents == nil || b.Holds == nil || b.Peers == nil {
		t.Errorf("LedgerBalance: %+v %v", b, err)
	}
	if a := do(t, sock, "GET", "/v1/ledger/balance", nil); !bytes.Contains(a.body, []byte(`"peers":[]`)) {
		t.Errorf("balance lists must be [], got %s", a.body)
	}

	for _, deep := range []bool{false, true} {
		rep, err := cl.VerifyLedger(ctx, deep)
		got := f.LastVerifyDeep()
		if err != nil || !rep.OK || rep.Deep != deep || got != deep {
			t.Errorf("VerifyLedger(deep=%v): %+v %v (backend got %v)", deep, rep, err, got)
		}
	}
	do(t, sock, "POST", "/v1/ledger/verify?deep=maybe", nil).apiError(t, 400, api.CodeBadRequest)
	do(t, sock, "GET", "/v1/ledger/verify", nil).apiError(t, 405, api.CodeMethod)

	e, err := cl.Settle(ctx, api.Settle{Peer: "12D3KooWDebtor", Amount: 30, Reference: "iban 42"})
	settled := f.Settled()
	if err != nil || e.Kind != "settle" || !slices.Equal(settled, []api.Settle{{Peer: "12D3KooWDebtor", Amount: 30, Reference: "iban 42"}}) {
		t.Errorf("Settle: %+v %v (backend got %+v)", e, err, settled)
	}
	do(t, sock, "POST", "/v1/ledger/settle", strings.NewReader(`{"peer":"p","amount":1}`)).want(t, 201)
	do(t, sock, "POST", "/v1/ledger/settle", strings.NewReader(`{"amount":1}`)).apiError(t, 400, api.CodeBadRequest)
	do(t, sock, "POST", "/v1/ledger/settle", strings.NewReader(`{"peer":"p","amount":0}`)).apiError(t, 400, api.CodeBadRequest)

	rows, err := cl.Reputation(ctx, "12D3KooW/odd peer")
	if err != nil || len(rows) != 1 || rows[0].Peer != "12D3KooW/odd peer" || rows[0].Mean != 0.75 {
		t.Errorf("Reputation(peer): %+v %v", rows, err)
	}
	if a := do(t, sock, "GET", "/v1/rep", nil).want(t, 200); strings.TrimSpace(string(a.body)) != "[]" {
		t.Errorf("GET /v1/rep with nothing known: %s, want []", a.body)
	}
}

func TestLedgerExportIsStreamed(t *testing.T) {
	f := apitest.New()
	big := `{"seq":1,"pad":"` + strings.Repeat("x", 64<<10) + `"}`
	f.SetExport(big, `{"seq":2}`, `{"seq":3}`)
	gate := make(chan struct{})
	f.GateExport(gate)
	_, sock := apitest.Serve(t, f)

	req, _ := http.NewRequestWithContext(t.Context(), "GET", "http://hayek/v1/ledger/export", nil)
	resp, err := raw(sock).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("Content-Type %q", ct)
	}
	// The first line arrives while the backend is still blocked before the
	// second: the export is not gathered whole before it is sent.
	br := bufio.NewReaderSize(resp.Body, 128<<10)
	line, err := br.ReadString('\n')
	if err != nil || line != big+"\n" {
		t.Fatalf("first line: %d bytes, %v", len(line), err)
	}
	close(gate)
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "{\"seq\":2}\n{\"seq\":3}\n" {
		t.Errorf("rest: %q %v", rest, err)
	}

	// The client writes the same bytes.
	cl := api.NewClient(sock)
	defer cl.Close()
	var buf bytes.Buffer
	if err := cl.ExportLedger(t.Context(), &buf); err != nil || buf.String() != big+"\n"+string(rest) {
		t.Errorf("ExportLedger: %d bytes, %v", buf.Len(), err)
	}
}

func TestLedgerExportFailures(t *testing.T) {
	f := apitest.New()
	f.SetExport(`{"seq":1}`, `{"seq":2}`)
	_, sock := apitest.Serve(t, f)
	cl := api.NewClient(sock)
	defer cl.Close()

	var buf bytes.Buffer
	f.SetExport()
	if err := cl.ExportLedger(t.Context(), &buf); err != nil || buf.Len() != 0 {
		t.Errorf("an empty ledger: %q %v, want an empty export", buf.String(), err)
	}

	// Failing before the first line: a JSON error.
	f.SetExport(`{"seq":1}`, `{"seq":2}`)
	f.FailExportAfter(0)
	do(t, sock, "GET", "/v1/ledger/export", nil).apiError(t, 500, api.CodeInternal)

	// Failing midway: the stream is cut, and the client says so rather
	// than returning a shorter export that looks whole.
	f.FailExportAfter(1)
	buf.Reset()
	err := cl.ExportLedger(t.Context(), &buf)
	if err == nil || !strings.Contains(err.Error(), "cut short") {
		t.Errorf("an export failing midway: %v (got %q)", err, buf.String())
	}
}

func TestSubmitNeverHandsAnAgentAnothersJob(t *testing.T) {
	f := apitest.New()
	alice, bob := f.AddAgent(api.AgentCreate{Name: "alice", Budget: 100}), f.AddAgent(api.AgentCreate{Name: "bob", Budget: 100})
	_, sock := apitest.Serve(t, f)
	body := `{"module":{"cid":"m"},"max_price":5,"idempotency_key":"k"}`
	do(t, sock, "POST", "/v1/jobs", strings.NewReader(body), bearer(alice)...).want(t, 201)
	// The fake shares idempotency keys across agents; the server must not
	// let bob see alice's job through one.
	e := do(t, sock, "POST", "/v1/jobs", strings.NewReader(body), bearer(bob)...).apiError(t, 400, api.CodeBadRequest)
	if len(e.Fields) != 1 || e.Fields[0].Field != "idempotency_key" {
		t.Errorf("fields %+v", e.Fields)
	}
}

func TestJobSettlementListsAreNeverNull(t *testing.T) {
	f := apitest.New()
	_, sock := apitest.Serve(t, f)
	j, _, err := f.Submit(t.Context(), api.SubmitRequest{Module: api.BlobRef{CID: "m"}, MaxPrice: 5})
	if err != nil {
		t.Fatal(err)
	}
	st := &api.Settlement{Held: 5}
	f.UpdateJob(j.ID, func(j *api.Job) { j.Settlement = st })
	a := do(t, sock, "GET", "/v1/jobs/"+j.ID, nil).want(t, 200)
	if !bytes.Contains(a.body, []byte(`"receipts":[]`)) {
		t.Errorf("settlement without receipts: %s", a.body)
	}
	if st.Receipts != nil {
		t.Errorf("the server wrote into the backend's settlement")
	}
}

func TestAgentSocketWarnsWhenOthersCannotReachIt(t *testing.T) {
	var logs syncBuffer
	dir := apitest.SocketDir(t) // 0700: nobody else can enter it
	// Serve logs the warning before the sockets are ready.
	apitest.ServeAt(t, apitest.New(), dir+"/hayek.sock", api.WithAgentSocket("", ""), api.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if !strings.Contains(logs.String(), "cannot reach the agent socket") {
		t.Errorf("no warning about the 0700 directory in the log:\n%s", logs.String())
	}
}
