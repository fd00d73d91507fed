//go:build linux

package process

import _ "embed"

// initBinary is internal/initproc built for linux/arm64 by
// scripts/gen-samples.
//
//go:embed initproc-linux-arm64
var initBinary []byte
