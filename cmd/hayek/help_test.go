package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node/api"
)

// TestEveryCommandIsDescribed checks that every command has a one-line
// Short for the lists and a Long for its own --help.
func TestEveryCommandIsDescribed(t *testing.T) {
	root := newRoot(&globals{Streams: Streams{Getenv: func(string) string { return "" }}})
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := c.CommandPath()
		if strings.TrimSpace(c.Short) == "" {
			t.Errorf("%s has no Short description", path)
		}
		ours := !strings.HasPrefix(path, "hayek completion") && path != "hayek help"
		if ours && strings.TrimSpace(c.Long) == "" {
			t.Errorf("%s has no Long description for its --help", path)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// complete runs cobra's completion request in-process and returns its
// candidates, one per line, without the directive line.
func complete(t *testing.T, sock string, args ...string) []string {
	t.Helper()
	r := hayek(t, sock, "", append([]string{cobra.ShellCompRequestCmd}, args...)...)
	r.want(t, ExitOK)
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if l != "" && !strings.HasPrefix(l, ":") {
			out = append(out, l)
		}
	}
	return out
}

func TestShellCompletion(t *testing.T) {
	f, sock := startNode(t)
	wasm := files(t, "m.wasm", "\x00asm") + "/m.wasm"
	hayek(t, sock, "", "job", "submit", "--wasm", wasm, "--wait").want(t, ExitOK)
	hayek(t, sock, "", "job", "submit", "--wasm", wasm, "--env", "OUTCOME=hang").want(t, ExitOK)
	f.AddAgent(api.AgentCreate{Name: "crawler", Budget: 10})

	if got := strings.Join(complete(t, sock, "job", "status", ""), "|"); got != "j2\tpending|j1\tcompleted" {
		t.Errorf("job status completes %q", got)
	}
	if got := complete(t, sock, "job", "result", "j1", ""); len(got) != 0 {
		t.Errorf("a second job ID is completed: %q", got)
	}
	if got := strings.Join(complete(t, sock, "job", "approve", ""), "|"); got != "" {
		t.Errorf("approve completes jobs not waiting for approval: %q", got)
	}
	if got := strings.Join(complete(t, sock, "job", "list", "--state", ""), " "); got != "approval queued pending auction awarded running completed failed cancelled" {
		t.Errorf("--state completes %q", got)
	}
	if got := strings.Join(complete(t, sock, "ledger", "--kind", "re"), " "); !strings.Contains(got, "receipt") {
		t.Errorf("--kind completes %q", got)
	}
	if got := strings.Join(complete(t, sock, "agent", "fund", "c"), " "); got != "crawler" {
		t.Errorf("agent fund completes %q", got)
	}
	if got := strings.Join(complete(t, sock, "rep", "12D3KooWP"), "|"); got != fakeProviderOne+"\t12D3…111111" {
		t.Errorf("rep completes %q", got)
	}
	if got := complete(t, sock, "ledger", "settle", "12D3KooW"); len(got) != 2 {
		t.Errorf("ledger settle completes %q, want the two peers the node knows", got)
	}
}

// TestReadmeNamesEveryCommand checks that the README's package table names
// every top-level command, and that its examples run one command a line.
func TestReadmeNamesEveryCommand(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	var row string
	for _, l := range strings.Split(readme, "\n") {
		if strings.HasPrefix(l, "| `cmd/hayek` |") {
			row = l
		}
	}
	if row == "" {
		t.Fatal("README.md has no package table row for cmd/hayek")
	}
	for _, grp := range commands(&globals{}) {
		for _, c := range grp.commands {
			if !strings.Contains(row, "`"+c.Name()+"`") && !strings.Contains(row, "`"+c.Name()+" …`") {
				t.Errorf("README.md's package table does not name %s:\n%s", c.Name(), row)
			}
		}
	}
	for _, l := range strings.Split(readme, "\n") {
		if strings.HasPrefix(l, "./hayek ") && regexp.MustCompile(`\| (\./hayek|[a-z]+ [a-z]+)`).MatchString(strings.SplitN(l, "#", 2)[0]) &&
			!strings.Contains(l, "jq") {
			t.Errorf("README.md pastes as a pipeline of hayek commands:\n%s", l)
		}
	}
}
