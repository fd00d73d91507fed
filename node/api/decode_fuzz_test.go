package api

import (
	"errors"
	"testing"
)

// FuzzDecodeSubmit feeds arbitrary bodies to the strict decoder of
// POST /v1/jobs: it never panics, and every refusal is a bad_request that
// says what was wrong.
func FuzzDecodeSubmit(f *testing.F) {
	for _, s := range []string{
		`{"module":{"cid":"bafkreid"},"max_price":5}`,
		`{"module":{"text":"x"},"stdin":{"base64":"aGk="},"inputs":[{"name":"a","text":"b"}],"args":["x"],"env":{"K":"V"},"memory":"64MiB","timeout":"3s","max_price":1}`,
		`{"module":{"cid":"x"},"max_price":"five"}`,
		`{"modul":{}}`,
		`{"module":{"cid":"x"},"memory":-1}`,
		`{"module":{"cid":"x"}} trailing`,
		`[1,2,3]`,
		`{"memory":"1e400GiB","timeout":"-3s"}`,
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req SubmitRequest
		err := decodeStrict(body, &req, "the job spec")
		if err == nil {
			return
		}
		var ae *Error
		if !errors.As(err, &ae) || ae.Code != CodeBadRequest || ae.Message == "" {
			t.Fatalf("refusal %v is not a bad_request with a message", err)
		}
	})
}
