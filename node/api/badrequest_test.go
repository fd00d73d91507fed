package api_test

import (
	"strings"
	"testing"

	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/api/apitest"
)

// TestBadRequests: every malformed, mistyped, oversized or out-of-range
// request is a 4xx with a code and a message that says what is wrong,
// never a 500. The same table runs against the real node (node's tests
// call apitest.CheckBadRequests).
func TestBadRequests(t *testing.T) {
	_, sock := apitest.Serve(t, apitest.New())
	apitest.CheckBadRequests(t, sock)
}

// TestLimitsOmittedOrNull: a limit left out or given as null takes its
// default; only an explicit 0 is refused (names match case-insensitively,
// as they do when decoding).
func TestLimitsOmittedOrNull(t *testing.T) {
	_, sock := apitest.Serve(t, apitest.New())
	for _, body := range []string{
		`{"module":{"cid":"m"},"max_price":5}`,
		`{"module":{"cid":"m"},"max_price":5,"memory":null,"timeout":null,"max_output":null,"deadline":null}`,
		`{"module":{"cid":"m"},"max_price":5,"memory":"64MiB","timeout":"1ms","max_output":1,"deadline":"1s"}`,
	} {
		if a := do(t, sock, "POST", "/v1/jobs", strings.NewReader(body)); a.status != 201 {
			t.Errorf("%s: %d %s", body, a.status, a.body)
		}
	}
	e := do(t, sock, "POST", "/v1/jobs", strings.NewReader(`{"module":{"cid":"m"},"max_price":5,"MAX_OUTPUT":0,"Timeout":"0ms"}`)).
		apiError(t, 422, api.CodeInvalidSpec)
	if len(e.Fields) != 2 || e.Fields[0].Field != "timeout" || e.Fields[1].Field != "max_output" {
		t.Errorf("fields %+v, want timeout and max_output", e.Fields)
	}
}
