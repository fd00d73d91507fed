package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hayek-market/hayek/node/api"
)

// TestExitCodesTellOutcomesApart checks that a script can tell "no such
// job", "not finished yet" and "not allowed" from "the job ran and failed".
func TestExitCodesTellOutcomesApart(t *testing.T) {
	f, sock := startNode(t)
	wasm := filepath.Join(files(t, "m.wasm", "\x00asm"), "m.wasm")
	hayek(t, sock, "", "job", "submit", "--wasm", wasm, "--env", "EXIT=3", "--wait").want(t, ExitFailed, "exited with code 3")
	hayek(t, sock, "", "job", "submit", "--wasm", wasm, "--env", "OUTCOME=hang").want(t, ExitOK)

	for _, args := range [][]string{
		{"job", "status", "nosuchjob"}, {"job", "result", "nosuchjob"}, {"job", "watch", "nosuchjob"},
		{"job", "cancel", "nosuchjob"}, {"job", "approve", "nosuchjob"}, {"agent", "show", "nobody"},
	} {
		hayek(t, sock, "", args...).want(t, ExitNotFound, "Try: hayek")
	}
	hayek(t, sock, "", "job", "result", "j2").want(t, ExitNotFinished, "has not finished: it is pending", "Try: hayek job watch j2")
	hayek(t, sock, "", "job", "result", "j2", "--json").want(t, ExitNotFinished)

	tok := f.AddAgent(api.AgentCreate{Name: "crawler", Budget: 100})
	hayekEnv(t, sock, map[string]string{"HAYEK_TOKEN": tok}, "agent", "list").want(t, ExitDenied, "forbidden", "Try:")
	hayek(t, sock, "", "--token", "hk_nobody_secret", "status").want(t, ExitDenied, "unauthorized", "Try:")
}

// TestExitCodesAreDocumented checks that hayek --help, the job commands'
// help and the README list every exit code the CLI uses, and no other.
func TestExitCodesAreDocumented(t *testing.T) {
	want := []int{ExitOK, ExitFailed, ExitUsage, ExitNotRun, ExitNotFound, ExitNotFinished, ExitDenied}
	codes := func(text string, line *regexp.Regexp) []int {
		var got []int
		for _, m := range line.FindAllStringSubmatch(text, -1) {
			n, _ := strconv.Atoi(m[1])
			got = append(got, n)
		}
		return got
	}
	helpLine := regexp.MustCompile(`(?m)^  (\d)  \S`)
	for _, args := range [][]string{{"--help"}, {"job", "--help"}, {"job", "submit", "--help"}} {
		r := runCLI(t, args...)
		r.want(t, ExitOK)
		if got := codes(r.stdout, helpLine); !slices.Equal(got, want) {
			t.Errorf("hayek %s lists exit codes %v, want %v:\n%s", strings.Join(args, " "), got, want, r.stdout)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if got := codes(string(readme), regexp.MustCompile(`(?m)^\| (\d) \| `)); !slices.Equal(got, want) {
		t.Errorf("README.md lists exit codes %v, want %v", got, want)
	}
}
