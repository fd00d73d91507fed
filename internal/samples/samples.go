package samples

import _ "embed"

// Hello is hello.wasm: a hand-written WASI command that greets and echoes
// stdin.
//
//go:embed hello.wasm
var Hello []byte

// Toolbox is toolbox.wasm: the Go-built WASI command whose subcommands are
// listed in the package documentation.
//
//go:embed toolbox.wasm
var Toolbox []byte
