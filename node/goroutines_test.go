package node

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
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
	"node/api/apitest/jobs.go Submit":                 "the fake's jobs (sync.WaitGroup.Go), waited on by Node.Close",
}

// TestNoUntrackedGoroutines: a go statement under node/ that is not in
// bareGo fails, so that a goroutine nobody waits for cannot come back
// silently (goleak only sees those a test happens to leave running). A
// sync.WaitGroup's Go starts a goroutine too, and counts as one.
func TestNoUntrackedGoroutines(t *testing.T) {
	fset := token.NewFileSet()
	files := map[string]*ast.File{} // by path
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		files[path], err = parser.ParseFile(fset, path, nil, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// A WaitGroup is declared in one file of a package and used in another.
	waitGroups := map[string]map[string]bool{} // by directory
	for path, f := range files {
		dir := filepath.Dir(path)
		if waitGroups[dir] == nil {
			waitGroups[dir] = map[string]bool{}
		}
		maps.Copy(waitGroups[dir], waitGroupNames(f))
	}
	var found []string
	for path, f := range files {
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				if !startsGoroutine(n, waitGroups[filepath.Dir(path)]) {
					return true
				}
				where := filepath.ToSlash(filepath.Join("node", path)) + " " + fd.Name.Name
				if _, ok := bareGo[where]; !ok {
					t.Errorf("%s: a go statement in %s: start it through wire.Group or an errgroup the function waits on, or say in bareGo why it is tracked",
						fset.Position(n.Pos()), where)
				}
				found = append(found, where)
				return true
			})
		}
	}
	for where := range bareGo {
		if !slices.Contains(found, where) {
			t.Errorf("bareGo names %s, which has no go statement any more: remove it", where)
		}
	}
	if t.Failed() {
		t.Logf("%d go statements found; see the errors above for those not accounted for", len(found))
		return
	}
	t.Logf("%d go statements, all accounted for", len(found))
}

// startsGoroutine reports whether n is a go statement or a call of Go on
// one of the package's sync.WaitGroups (by name: the test reads syntax, not
// types).
func startsGoroutine(n ast.Node, waitGroups map[string]bool) bool {
	switch n := n.(type) {
	case *ast.GoStmt:
		return true
	case *ast.CallExpr:
		sel, ok := n.Fun.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "Go" {
			return false
		}
		switch x := sel.X.(type) {
		case *ast.Ident:
			return waitGroups[x.Name]
		case *ast.SelectorExpr:
			return waitGroups[x.Sel.Name]
		}
	}
	return false
}

// waitGroupNames are the names of the variables and fields a file
// declares as sync.WaitGroup (or a pointer to one).
func waitGroupNames(f *ast.File) map[string]bool {
	isWG := func(e ast.Expr) bool {
		if st, ok := e.(*ast.StarExpr); ok {
			e = st.X
		}
		sel, ok := e.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "WaitGroup" {
			return false
		}
		pkg, ok := sel.X.(*ast.Ident)
		return ok && pkg.Name == "sync"
	}
	names := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.ValueSpec:
			if n.Type != nil && isWG(n.Type) {
				for _, id := range n.Names {
					names[id.Name] = true
				}
			}
		case *ast.Field:
			if isWG(n.Type) {
				for _, id := range n.Names {
					names[id.Name] = true
				}
			}
		case *ast.AssignStmt:
			for i, rhs := range n.Rhs {
				if u, ok := rhs.(*ast.UnaryExpr); ok {
					rhs = u.X
				}
				lit, ok := rhs.(*ast.CompositeLit)
				if id, isID := n.Lhs[min(i, len(n.Lhs)-1)].(*ast.Ident); ok && isID && isWG(lit.Type) {
					names[id.Name] = true
				}
			}
		}
		return true
	})
	return names
}
