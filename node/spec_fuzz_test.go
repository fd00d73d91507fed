package node

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/samples"
	"github.com/hayek-market/hayek/node/api"
)

// FuzzSubmitSpec drives the job spec parser behind POST /v1/jobs — JSON
// into api.SubmitRequest, then the node's checks into a market.JobSpec —
// with arbitrary requests: it never panics, refusals are API errors with a
// code, and whatever it accepts is a valid spec naming blobs it holds.
func FuzzSubmitSpec(f *testing.F) {
	home := filepath.Join(f.TempDir(), "home") // f.TempDir itself is 0755, which New refuses as a home
	cfg := DevnetConfig()
	cfg.Provider.Sell = false
	n, err := New(f.Context(), Options{Home: home, Config: cfg})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.Close(ctx)
	})
	mod, err := n.blobs.PutBytes(samples.Hello)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		`{"module":{"cid":"` + mod.String() + `"},"max_price":5}`,
		`{"module":{"cid":"` + mod.String() + `"},"stdin":{"text":"hi"},"inputs":[{"name":"a.txt","base64":"aGk="}],"args":["x"],"env":{"K":"V"},"memory":"64MiB","timeout":"3s","max_price":10,"deadline":"1m","value_of_time":3,"min_reputation":0.5}`,
		`{"module":{"text":"not wasm"},"max_price":5}`,
		`{"module":{"cid":"` + mod.String() + `","text":"both"},"max_price":5}`,
		`{"module":{"cid":"bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"},"max_price":5}`,
		`{"runtime":"docker","module":{"cid":"` + mod.String() + `"},"max_price":5}`,
		`{"module":{"cid":"` + mod.String() + `"},"inputs":[{"name":"../x","text":"a"},{"name":"../x","text":"a"}],"max_price":5}`,
		`{"module":{"cid":"` + mod.String() + `"},"stdin":{"base64":"!!"},"max_price":5}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req api.SubmitRequest
		if json.Unmarshal(body, &req) != nil {
			return
		}
		spec, err := n.intake.Spec(req)
		if err != nil {
			var ae *api.Error
			if !errors.As(err, &ae) || ae.Code == "" || ae.Message == "" {
				t.Fatalf("refusal %v is not an API error with a code and message", err)
			}
			return
		}
		if err := spec.Validate(); err != nil {
			t.Fatalf("accepted an invalid spec: %v", err)
		}
		if !n.blobs.Has(spec.Module.CID) {
			t.Fatalf("accepted a module the node does not hold")
		}
		for _, in := range spec.Inputs {
			if !n.blobs.Has(in.CID) {
				t.Fatalf("accepted input %q the node does not hold", in.Name)
			}
		}
	})
}
