package api

import (
	"errors"
	"testing"
)

// FuzzDecodeSubmit feeds arbitrary bodies to the strict decoder of
// POST /v1/jobs and its check of zero limits: neither panics, and every
// refusal is a bad_request (or, for a limit given as 0, an invalid_spec)
// that says what was wrong.
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
		`{"module":{"cid":"x"},"max_price":1e30,"memory":99999999999999999999}`,
		`{"module":{"cid":"x"},"timeout":18446744073710,"deadline":9223372036855}`,
		`{"module":{"cid":"x"},"memory":0,"timeout":"0s","max_output":"0B","deadline":0}`,
		`{"module":{"cid":"x"},"memory":null,"timeout":null,"MAX_OUTPUT":0}`,
		`{"module":{"cid":"x"},"min_reputation":1e400,"value_of_time":-1}`,
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req SubmitRequest
		err := decodeStrict(body, &req, "the job spec")
		if err == nil {
			// What decodes may still give a limit as 0: that refusal is an
			// invalid_spec naming each such field.
			err = checkZeroLimits(body, &req)
			if err == nil {
				return
			}
			var ae *Error
			if !errors.As(err, &ae) || ae.Code != CodeInvalidSpec || len(ae.Fields) == 0 || ae.Message == "" {
				t.Fatalf("zero-limit refusal %v is not an invalid_spec with fields", err)
			}
			return
		}
		var ae *Error
		if !errors.As(err, &ae) || ae.Code != CodeBadRequest || ae.Message == "" {
			t.Fatalf("refusal %v is not a bad_request with a message", err)
		}
	})
}
