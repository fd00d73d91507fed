package apitest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hayek-market/hayek/node/api"
)

// BadRequest is a request every node must refuse, and how: with Status
// and Code, naming Field in the error's fields when Field is set, with a
// message containing Says.
type BadRequest struct {
	Name         string
	Method, Path string
	Header       []string // name, value, name, value…
	Body         string
	Length       int64 // a Content-Length to declare instead of the body's own (the body is then not sent)
	Status       int
	Code         string
	Field        string
	Says         string
}

// TakenAgent is the agent CheckBadRequests creates first, so that creating
// it again is a conflict.
const TakenAgent = "taken"

// BadRequests are requests a node refuses whatever state it is in: bad
// JSON, wrong JSON types, numbers too large for their field, explicit
// zero limits, unknown fields, bodies over their limits, bad query
// parameters and headers. Each is refused with a 4xx that says what is
// wrong; none may be a 500.
func BadRequests() []BadRequest {
	// The smallest WebAssembly module, inline, so that a real node checks
	// the rest of the spec rather than stopping at the module.
	spec := func(extra string) string { return `{"module":{"base64":"AGFzbQEAAAA="},"max_price":5,` + extra + `}` }
	job := func(name, body string, status int, code, field, says string) BadRequest {
		return BadRequest{Name: "submit " + name, Method: "POST", Path: "/v1/jobs", Body: body, Status: status, Code: code, Field: field, Says: says}
	}
	bad := api.CodeBadRequest
	invalid := api.CodeInvalidSpec
	get := func(name, path string, field string) BadRequest {
		return BadRequest{Name: name, Method: "GET", Path: path, Status: 400, Code: bad, Field: field}
	}
	post := func(name, path, body string, status int, code, field, says string) BadRequest {
		return BadRequest{Name: name, Method: "POST", Path: path, Body: body, Status: status, Code: code, Field: field, Says: says}
	}
	events := func(name, id string) BadRequest {
		return BadRequest{Name: "events " + name, Method: "GET", Path: "/v1/jobs/nojob/events", Header: []string{"Last-Event-ID", id},
			Status: 400, Code: bad, Field: "Last-Event-ID", Says: "≥ 0"}
	}
	return []BadRequest{
		// Numbers that do not fit their field, and wrong JSON types.
		job("huge max_price", `{"module":{"cid":"m"},"max_price":1e30}`, 400, bad, "max_price", "want an integer"),
		job("max_price above int64", `{"module":{"cid":"m"},"max_price":99999999999999999999}`, 400, bad, "max_price", "want an integer"),
		job("fractional max_price", `{"module":{"cid":"m"},"max_price":1.5}`, 400, bad, "max_price", "want an integer"),
		job("max_price as a string", `{"module":{"cid":"m"},"max_price":"5"}`, 400, bad, "max_price", "got a JSON string"),
		job("max_price as a boolean", `{"module":{"cid":"m"},"max_price":true}`, 400, bad, "max_price", ""),
		job("max_price 0", spec(`"max_price":0`), 422, invalid, "max_price", ""),
		job("memory above int64", spec(`"memory":99999999999999999999`), 400, bad, "memory", "too large"),
		job("negative memory", spec(`"memory":-1`), 400, bad, "memory", "negative"),
		job("memory in no unit", spec(`"memory":"lots"`), 400, bad, "memory", "not a size"),
		job("memory above 4GiB", spec(`"memory":"5GiB"`), 422, invalid, "memory", ""),
		job("timeout that wraps", spec(`"timeout":18446744073710`), 400, bad, "timeout", "too large"),
		job("negative timeout", spec(`"timeout":"-3s"`), 400, bad, "timeout", "negative"),
		job("deadline past any duration", spec(`"deadline":"99999999h"`), 400, bad, "deadline", "not a duration"),
		job("min_reputation as a word", spec(`"min_reputation":"high"`), 400, bad, "min_reputation", "want a number"),
		job("min_reputation 1e400", spec(`"min_reputation":1e400`), 400, bad, "min_reputation", ""),
		job("min_reputation above 1", spec(`"min_reputation":2`), 422, invalid, "min_reputation", ""),
		job("negative value_of_time", spec(`"value_of_time":-1`), 422, invalid, "value_of_time", ""),
		job("args as a string", spec(`"args":"x"`), 400, bad, "args", "want an array"),
		job("env as an array", spec(`"env":[]`), 400, bad, "env", "want an object"),
		job("inputs as an object", spec(`"inputs":{}`), 400, bad, "inputs", "want an array"),
		job("module as a string", `{"module":"m","max_price":5}`, 400, bad, "module", "want an object"),
		// 0 is not a limit: omitted (or null) is the default.
		job("memory 0", spec(`"memory":0`), 422, invalid, "memory", "0 is not a limit"),
		job("timeout 0s", spec(`"timeout":"0s"`), 422, invalid, "timeout", "0 is not a limit"),
		job("max_output 0B", spec(`"max_output":"0B"`), 422, invalid, "max_output", "0 is not a limit"),
		job("deadline 0", spec(`"deadline":0`), 422, invalid, "deadline", "0 is not a limit"),
		// Malformed documents.
		job("unknown field", `{"modul":{"cid":"m"},"max_price":5}`, 400, bad, "modul", "unknown field"),
		job("unknown nested field", `{"module":{"cdi":"m"},"max_price":5}`, 400, bad, "module.cdi", "unknown field"),
		job("trailing data", spec(`"args":[]`)+` x`, 400, bad, "", "unexpected data after"),
		job("not JSON", `module=m`, 400, bad, "", "not valid JSON"),
		job("cut short", `{"module":`, 400, bad, "", "ends early"),
		job("empty", ``, 400, bad, "", "empty"),
		job("an array", `[1,2]`, 400, bad, "", "must be a JSON object"),
		job("null", `null`, 422, invalid, "", ""),
		job("nested too deep", strings.Repeat("[", 20000), 400, bad, "", "not valid JSON"),
		{Name: "submit above the spec limit", Method: "POST", Path: "/v1/jobs", Length: 9 << 20, Status: 413, Code: api.CodeTooLarge, Says: "larger than"},
		{Name: "submit with two idempotency keys", Method: "POST", Path: "/v1/jobs", Header: []string{"Idempotency-Key", "a"},
			Body: spec(`"idempotency_key":"b"`), Status: 400, Code: bad, Field: "idempotency_key"},
		{Name: "blob above any limit", Method: "POST", Path: "/v1/blobs", Length: 5 << 30, Status: 413, Code: api.CodeTooLarge, Says: "larger than"},
		// Query parameters and headers.
		get("negative wait", "/v1/jobs/nojob?wait=-1s", "wait"),
		get("wait in no unit", "/v1/jobs/nojob?wait=forever", "wait"),
		get("wait past any duration", "/v1/jobs/nojob?wait=99999999h", "wait"),
		post("submit with a bad wait", "/v1/jobs?wait=soon", spec(`"args":[]`), 400, bad, "wait", ""),
		get("unknown state", "/v1/jobs?state=sleeping", "state"),
		get("jobs limit 0", "/v1/jobs?limit=0", "limit"),
		get("jobs limit a word", "/v1/jobs?limit=all", "limit"),
		get("jobs limit negative", "/v1/jobs?limit=-5", "limit"),
		get("jobs limit above int64", "/v1/jobs?limit=99999999999999999999", "limit"),
		events("Last-Event-ID -1", "-1"),
		events("Last-Event-ID a word", "last"),
		events("Last-Event-ID with an exponent", "1e3"),
		get("unknown ledger kind", "/v1/ledger?kind=nope", "kind"),
		get("negative ledger after", "/v1/ledger?after=-1", "after"),
		get("ledger limit 0", "/v1/ledger?limit=0", "limit"),
		post("verify deep maybe", "/v1/ledger/verify?deep=maybe", "", 400, bad, "deep", ""),
		// Agents, funding, decisions, settlements.
		post("agent with a bad name", "/v1/agents", `{"name":"Bad Name","budget":1}`, 400, bad, "name", ""),
		post("agent named me", "/v1/agents", `{"name":"me","budget":1}`, 400, bad, "name", ""),
		post("agent with a negative budget", "/v1/agents", `{"name":"a1","budget":-1}`, 400, bad, "budget", ""),
		post("agent with a huge budget", "/v1/agents", `{"name":"a1","budget":1e30}`, 400, bad, "budget", "want an integer"),
		post("agent with a budget as a string", "/v1/agents", `{"name":"a1","budget":"5"}`, 400, bad, "budget", ""),
		post("agent with an unknown field", "/v1/agents", `{"name":"a1","budget":1,"limit":5}`, 400, bad, "limit", "unknown field"),
		{Name: "agent above the body limit", Method: "POST", Path: "/v1/agents", Length: 65 << 10, Status: 413, Code: api.CodeTooLarge},
		post("agent that exists", "/v1/agents", `{"name":"`+TakenAgent+`","budget":1}`, 409, api.CodeExists, "", TakenAgent),
		post("fund 0", "/v1/agents/"+TakenAgent+"/fund", `{"amount":0}`, 400, bad, "amount", ""),
		post("fund a negative amount", "/v1/agents/"+TakenAgent+"/fund", `{"amount":-5}`, 400, bad, "amount", ""),
		post("fund a huge amount", "/v1/agents/"+TakenAgent+"/fund", `{"amount":1e19}`, 400, bad, "amount", "want an integer"),
		post("fund an unknown agent", "/v1/agents/nobody/fund", `{"amount":5}`, 404, api.CodeNotFound, "", ""),
		post("settle without a peer", "/v1/ledger/settle", `{"amount":5}`, 400, bad, "peer", ""),
		post("settle a negative amount", "/v1/ledger/settle", `{"peer":"p","amount":-1}`, 400, bad, "amount", ""),
		post("reject with a reason as a number", "/v1/jobs/nojob/reject", `{"reason":5}`, 400, bad, "reason", "want a string"),
		// Routes, methods and tokens.
		{Name: "unknown route", Method: "GET", Path: "/v1/nope", Status: 404, Code: api.CodeNotFound},
		{Name: "wrong method", Method: "DELETE", Path: "/v1/jobs/nojob", Status: 405, Code: api.CodeMethod},
		{Name: "basic auth", Method: "GET", Path: "/v1/status", Header: []string{"Authorization", "Basic eDp5"}, Status: 401, Code: api.CodeUnauthorized},
		{Name: "unknown token", Method: "GET", Path: "/v1/status", Header: []string{"Authorization", "Bearer nobody"}, Status: 401, Code: api.CodeUnauthorized},
	}
}

// CheckBadRequests sends each of BadRequests to the operator socket sock
// and checks the answer. It first creates TakenAgent (or finds it there).
func CheckBadRequests(t *testing.T, sock string) {
	t.Helper()
	a := send(t, sock, BadRequest{Method: "POST", Path: "/v1/agents", Body: `{"name":"` + TakenAgent + `","budget":100}`})
	if a.status != http.StatusCreated && a.status != http.StatusConflict {
		t.Fatalf("creating agent %s: %d %s", TakenAgent, a.status, a.body)
	}
	for _, br := range BadRequests() {
		t.Run(br.Name, func(t *testing.T) {
			a := send(t, sock, br)
			var eb api.ErrorBody
			if err := json.Unmarshal(a.body, &eb); err != nil {
				t.Fatalf("%s %s: %d, body %q is not an API error: %v", br.Method, br.Path, a.status, a.body, err)
			}
			e := eb.Error
			if a.status != br.Status || e.Code != br.Code {
				t.Fatalf("%s %s: got %d %s (%s), want %d %s", br.Method, br.Path, a.status, e.Code, e.Message, br.Status, br.Code)
			}
			if e.Message == "" || !strings.Contains(e.Message, br.Says) {
				t.Errorf("message %q does not say %q", e.Message, br.Says)
			}
			if br.Field != "" && !hasField(e.Fields, br.Field) {
				t.Errorf("fields %+v do not name %q (message %q)", e.Fields, br.Field, e.Message)
			}
		})
	}
}

func hasField(fs []api.FieldError, name string) bool {
	for _, f := range fs {
		if f.Field == name {
			return true
		}
	}
	return false
}

type answer struct {
	status int
	body   []byte
}

// send writes br on a fresh connection, byte for byte, and reads the
// answer. A declared Length larger than the body is not sent: the node
// must answer from the headers.
func send(t *testing.T, sock string, br BadRequest) answer {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second)) // a failsafe, not a wait
	var req strings.Builder
	fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: hayek\r\nConnection: close\r\n", br.Method, br.Path)
	for i := 0; i+1 < len(br.Header); i += 2 {
		fmt.Fprintf(&req, "%s: %s\r\n", br.Header[i], br.Header[i+1])
	}
	length := int64(len(br.Body))
	if br.Length > 0 {
		length = br.Length
	}
	fmt.Fprintf(&req, "Content-Length: %d\r\n\r\n", length)
	if br.Length == 0 {
		req.WriteString(br.Body)
	}
	if _, err := io.WriteString(c, req.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", br.Method, br.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer's body: %v", br.Method, br.Path, err)
	}
	return answer{resp.StatusCode, b}
}
