//go:build linux

package process

import _ "embed"

// initBinary is internal/initproc built for linux/amd64 by
// scripts/gen-samples.
//
//go:embed initproc-linux-amd64
var initBinary []byte
