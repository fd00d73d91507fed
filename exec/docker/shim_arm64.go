//go:build linux

package docker

import _ "embed"

// shimBinary is internal/shim built for linux/arm64 by scripts/gen-samples.
//
//go:embed shim-linux-arm64
var shimBinary []byte
