package node

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The package boundaries of docs/architecture.md, checked on every
// package of the module and its tests, so that they cannot silently break.
func TestImportBoundaries(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list packages with")
	}
	const mod = "github.com/hayek-market/hayek/"
	cmd := exec.CommandContext(t.Context(), goBin, "list", "-deps", "-test", "-f",
		`{{.ImportPath}}|{{join .Imports ","}}`, "./...")
	cmd.Dir = filepath.Join("..")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	top := func(p string) string { return strings.SplitN(p, "/", 2)[0] }
	// May a package of the module (rel, relative to the module) import imp?
	allowed := func(rel, imp string) (bool, string) {
		switch {
		case strings.HasPrefix(imp, "github.com/libp2p/") && top(rel) != "node":
			return false, "only node/... imports libp2p"
		case strings.HasPrefix(imp, "github.com/cockroachdb/pebble") && top(rel) == "cmd":
			return false, "cmd reaches pebble only through node"
		case !strings.HasPrefix(imp, mod):
			return true, ""
		}
		if svc, ok := strings.CutPrefix(rel, "node/internal/"); ok {
			svc = top(svc)
			to := strings.TrimPrefix(imp, mod)
			other, inner := strings.CutPrefix(to, "node/internal/")
			if to == "node" || inner && top(other) != svc && top(other) != "wire" {
				return false, "a service imports neither node nor another service, only wire"
			}
			if to == "node/api" && svc != "requester" && svc != "quote" && svc != "audit" && svc != "agents" && svc != "evidence" && svc != "ledgerview" && svc != "jobspec" && svc != "receipts" && svc != "homecheck" {
				return false, "of the services only the requester, quote, audit, agents, evidence, ledgerview, jobspec, receipts and homecheck, which own what the API shows of jobs, of quotes, of audits, of agents, of reputation and of the ledger, what it takes of a job, its settlements and the modes of its sockets, import node/api"
			}
		}
		to := top(strings.TrimPrefix(imp, mod))
		switch from := top(rel); {
		case to == "cmd" && from != "cmd":
			return false, "nothing imports cmd"
		case (from == "settlement" || from == "reputation" || from == "exec") && to != from &&
			(to == "market" || to == "node" || to == "settlement" || to == "reputation" || to == "exec"):
			return false, "settlement, reputation and exec import none of the others"
		case from == "market" && (to == "node" || to == "settlement" || to == "exec"):
			return false, "market imports only reputation of the others"
		}
		return true, ""
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, imps, _ := strings.Cut(line, "|")
		path, _, _ = strings.Cut(path, " ") // "p [p.test]" is p's test variant
		if !strings.HasPrefix(path, mod) || strings.HasSuffix(path, ".test") {
			continue
		}
		rel := strings.TrimPrefix(path, mod)
		rel = strings.TrimSuffix(rel, "_test")
		checked++
		for _, imp := range strings.Split(imps, ",") {
			imp, _, _ = strings.Cut(imp, " ")
			if ok, why := allowed(rel, imp); !ok {
				t.Errorf("%s imports %s: %s (docs/architecture.md)", rel, imp, why)
			}
		}
	}
	if checked == 0 {
		t.Fatal("go list listed no package of the module")
	}
}
