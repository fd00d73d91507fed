//go:build linux

package docker

import (
	"testing"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/exec/exectest"
)

func toolbox(id string, args ...string) exec.Job {
	return exec.Job{ID: id, ModuleCID: toolboxCID, Module: toolboxArchive, Args: args}
}

func TestHello(t *testing.T) {
	e := newExecutor(t, nil)
	closeAtEnd(t, e)
	job := toolbox("hello", "hello")
	job.Stdin = []byte("from stdin\n")
	res, err := e.Run(t.Context(), job)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	t.Logf("stdout %q stderr %q", res.Stdout, res.Stderr)
}

func TestConformance(t *testing.T) {
	exectest.Run(t, exectest.Target{
		New: func(t *testing.T) exec.Executor { return newExecutor(t, nil) },
		Program: func(b exectest.Behaviour) exectest.Program {
			return exectest.ToolboxPrograms(toolboxCID, toolboxArchive)(b)
		},
		Leaks:     func(e exec.Executor) []string { return e.(*Executor).Leaks() },
		Processes: true,
	})
}
