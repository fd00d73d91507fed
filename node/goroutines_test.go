package node

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// bareGo are the go statements the node's code may hold, each with the
// reason it is tracked without the task group or an errgroup. Anything
// else starts through wire.Group (Go, GoCtx, Run) or an errgroup its
// function waits on (docs/architecture.md).
var bareGo = map[string]string{
	"node/devnet.go StartDevnet":                      "each API server's Serve, waited on by Devnet.Close (serveWG)",
	"node/devnet.go Close":                            "the nodes close in parallel, waited on at once",
	"node/internal/discovery/metrics.go countQueries": "drains the DHT's query events; the stop it returns waits for it",
	"node/api/apitest/serve.go ServeAt":               "a test server, stopped and waited on by the test's cleanup",
}

// TestNoUntrackedGoroutines: a go statement under node/ that is not in
// bareGo fails, so that a goroutine nobody waits for cannot come back
// silently (goleak only sees those a test happens to leave running).
func TestNoUntrackedGoroutines(t *testing.T) {
	fset := token.NewFileSet()
	var found []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				if g, ok := n.(*ast.GoStmt); ok {
					where := filepath.ToSlash(filepath.Join("node", path)) + " " + fd.Name.Name
					if _, ok := bareGo[where]; !ok {
						t.Errorf("%s: a go statement in %s: start it through wire.Group or an errgroup the function waits on, or say in bareGo why it is tracked",
							fset.Position(g.Pos()), where)
					}
					found = append(found, where)
				}
				return true
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for where := range bareGo {
		if !slices.Contains(found, where) {
			t.Errorf("bareGo names %s, which has no go statement any more: remove it", where)
		}
	}
	t.Logf("%d go statements, all accounted for", len(found))
}
