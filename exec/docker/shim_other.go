//go:build linux && !amd64 && !arm64

package docker

// shimBinary is not built for this architecture: New says so.
var shimBinary []byte
