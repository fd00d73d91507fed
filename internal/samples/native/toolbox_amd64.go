//go:build linux

package native

import _ "embed"

// Toolbox is internal/samples/toolbox built for linux/amd64.
//
//go:embed toolbox-linux-amd64
var Toolbox []byte
