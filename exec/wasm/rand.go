package wasm

import (
	"crypto/sha256"
	"io"
	"math/rand/v2"
)

// randDomain separates this use of the job ID from any other hash of it.
const randDomain = "hayek/exec/wasm/random_get/v1\x00"

// newRandSource is what the guest reads through WASI random_get (Go's
// crypto/rand, its map and scheduler seeds, libc's getentropy): ChaCha8
// keyed by a hash of the job ID. Every replica of a job therefore draws the
// same bytes, and different jobs draw unrelated ones. It is not secret from
// the provider, who knows the job ID: a job needing real secrecy cannot get
// it from a machine it does not control anyway.
func newRandSource(jobID string) io.Reader {
	return rand.NewChaCha8(sha256.Sum256([]byte(randDomain + jobID)))
}
