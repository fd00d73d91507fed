package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/api/apitest"
)

// POST /v1/quote takes a job spec as POST /v1/jobs does, for the operator
// and agents alike, answers with the backend's quote (empty lists as [] and
// {}), and creates no job; a spec the server refuses never reaches the
// backend.
func TestQuoteRoute(t *testing.T) {
	f := apitest.New()
	_, sock := apitest.Serve(t, f)
	c := api.NewClient(sock)
	q, err := c.Quote(t.Context(), api.SubmitRequest{Module: api.BlobRef{Text: "m"}, MaxPrice: 20, IdempotencyKey: "ignored"})
	if err != nil {
		t.Fatal(err)
	}
	if q.WouldBid != 1 || q.Reasons["price_floor"] != 1 || len(q.Providers) != 2 {
		t.Fatalf("quote %+v", q)
	}
	if jobs, _ := f.Jobs(t.Context(), api.JobFilter{}); len(jobs) != 0 {
		t.Fatalf("a quote created %d jobs", len(jobs))
	}
	if _, err := c.Quote(t.Context(), api.SubmitRequest{Module: api.BlobRef{Text: "m"}, MaxPrice: 20, Memory: 0, Timeout: -1}); err == nil {
		t.Fatal("a negative timeout was quoted")
	}

	tok := f.AddAgent(api.AgentCreate{Name: "bot", Budget: 100})
	if _, err := api.NewClient(sock, api.WithToken(tok)).Quote(t.Context(), api.SubmitRequest{Module: api.BlobRef{Text: "m"}, MaxPrice: 5}); err != nil {
		t.Fatalf("an agent's quote: %v", err)
	}
	if cs := f.Callers(); cs[len(cs)-1].Agent != "bot" {
		t.Fatalf("the quote was asked as %+v", cs[len(cs)-1])
	}

	do(t, sock, "POST", "/v1/quote", strings.NewReader(`{"module":{"text":"m"},"max_price":5,"bogus":1}`)).apiError(t, http.StatusBadRequest, api.CodeBadRequest)
	a := do(t, sock, "POST", "/v1/quote", strings.NewReader(`{"module":{"text":"m"},"max_price":5}`))
	if a.status != http.StatusOK || !strings.Contains(string(a.body), `"would_bid":0`) || !strings.Contains(string(a.body), `"providers":[`) {
		t.Fatalf("quote answer %d %s", a.status, a.body)
	}
	if api.StatusOf(api.CodeRateLimited) != http.StatusTooManyRequests {
		t.Fatal("rate_limited is not 429")
	}
}
