//go:build !unix

package homecheck

import (
	"fmt"
	"io/fs"
	"runtime"
)

// privateUmask fails: a node keeps its key and ledger private with Unix
// file modes and owners, which this OS does not have, so it does not
// start here (client commands, which only reach a node, still run).
func privateUmask() error {
	return fmt.Errorf("node: a node runs only on Linux and other Unix systems, not %s: its home is kept private with Unix file modes; run hayek serve there", runtime.GOOS)
}

// fileOwner is unknown without Unix file ownership.
func fileOwner(fs.FileInfo) (int, bool) { return 0, false }

// fileID is unknown without Unix inodes.
func fileID(string) ([2]uint64, bool) { return [2]uint64{}, false }
