//go:build linux && !amd64 && !arm64

package process

// initBinary is not built for this architecture: New says so.
var initBinary []byte
