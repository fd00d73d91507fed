//go:build !unix

package api

import (
	"fmt"
	"os"
	"runtime"
)

// lockFile fails: the node's sockets rely on file locks and owner-only
// file modes that only Unix systems give, so a node cannot serve here
// (client commands still build and run).
func lockFile(*os.File) error {
	return fmt.Errorf("api: a node serves its API only on Linux and other Unix systems, not %s: run hayek serve there", runtime.GOOS)
}

// fileGID is unknown without Unix file ownership.
func fileGID(os.FileInfo) (int, bool) { return 0, false }
