//go:build !linux || !amd64

package native

// Toolbox is not built for this platform.
var Toolbox []byte
