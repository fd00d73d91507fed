package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hayek-market/hayek/node/api"
)

// hayek job quote prints the funnel for people (the fake market: one
// provider bids 10, the other 40), exits 3 when nobody would bid, and
// prints the API's object with --json. It submits nothing.
func TestJobQuote(t *testing.T) {
	f, sock := startNode(t)
	wasm := filepath.Join(files(t, "m.wasm", "\x00asm"), "m.wasm")
	r := hayek(t, sock, "", "job", "quote", "--wasm", wasm, "--max-price", "20", "--memory", "128MiB")
	r.want(t, 0)
	for _, s := range []string{
		"quote for runtime/wasm, max price 20",
		"found 2 → fit 2 → eligible 2 → asked 2 → reachable 2 → would bid 1",
		"price 10, starting within 50ms (expected 50ms)",
		"would bid:\n  12D3…111111  10  start within 50ms",
		"would not:\n  price_floor  12D3…222222  price above the max price",
	} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
		}
	}
	hayek(t, sock, "", "job", "quote", "--wasm", wasm, "--max-price", "5").want(t, ExitNotRun, "no provider would bid")

	r = hayek(t, sock, "", "job", "quote", "--wasm", wasm, "--max-price", "50", "--json")
	r.want(t, 0)
	var q api.Quote
	if err := json.Unmarshal([]byte(r.stdout), &q); err != nil || q.WouldBid != 2 || q.Price == nil || q.Price.Max != 40 {
		t.Fatalf("--json: %v %+v\n%s", err, q, r.stdout)
	}
	if jobs, _ := f.Jobs(t.Context(), api.JobFilter{}); len(jobs) != 0 {
		t.Fatalf("a quote submitted %d jobs", len(jobs))
	}
	hayek(t, sock, "", "job", "quote", "--max-price", "5").want(t, ExitUsage, "what to run is required", "Try: hayek job quote")
}
