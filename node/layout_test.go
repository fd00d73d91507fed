package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryServiceIsDocumented: each package under node/internal has a
// doc.go saying what it owns, and docs/architecture.md's table names it,
// so that a package added under node/internal cannot go unseen by the
// reader who opens the table to find who owns what. (Which imports it
// may have is TestImportBoundaries'.)
func TestEveryServiceIsDocumented(t *testing.T) {
	arch, err := os.ReadFile(filepath.Join("..", "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir("internal")
	if err != nil {
		t.Fatal(err)
	}
	services := 0
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		services++
		name := "node/internal/" + e.Name()
		if _, err := os.Stat(filepath.Join("internal", e.Name(), "doc.go")); err != nil {
			t.Errorf("%s has no doc.go saying what it owns and how it is driven (every package has one)", name)
		}
		if !strings.Contains(string(arch), "| `"+name+"` |") {
			t.Errorf("docs/architecture.md's table has no row for %s: say what it owns and when to open it", name)
		}
	}
	if services == 0 {
		t.Fatal("no package under node/internal")
	}
}
