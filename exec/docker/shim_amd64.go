//go:build linux

package docker

import _ "embed"

// shimBinary is internal/shim built for linux/amd64 by scripts/gen-samples.
//
//go:embed shim-linux-amd64
var shimBinary []byte
