package testnet

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseCompose(t *testing.T) {
	for in, want := range map[string]string{
		"docker compose":    "docker compose",
		" docker  compose ": "docker compose",
		"v2":                "docker compose",
		"docker-compose":    "docker-compose",
		"v1":                "docker-compose",
	} {
		c, err := parseCompose(in)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if got := c.command(); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
	if _, err := parseCompose("podman-compose"); !errors.Is(err, ErrNoCompose) || !strings.Contains(err.Error(), ComposeEnv) {
		t.Fatalf("podman-compose: %v, want ErrNoCompose naming %s", err, ComposeEnv)
	}
}

func TestFindComposeRefusesUnknownChoice(t *testing.T) {
	t.Setenv(ComposeEnv, "compose v9")
	if _, err := FindCompose(t.Context()); !errors.Is(err, ErrNoCompose) {
		t.Fatalf("got %v, want ErrNoCompose", err)
	}
}

// TestComposeFileEveryCompose has every installed Compose read the golden
// compose file, which issue 9 says must work with docker-compose 1.29 and
// Compose v2 (and its successors): each must accept it without a warning
// and keep the fixed addresses, the memory limit and the network names.
// A Compose that is not installed is skipped: CI machines have one or the
// other.
func TestComposeFileEveryCompose(t *testing.T) {
	golden, err := filepath.Abs(filepath.Join("testdata", "ci.compose.golden"))
	if err != nil {
		t.Fatal(err)
	}
	for _, choice := range []string{"docker compose", "docker-compose"} {
		t.Run(strings.ReplaceAll(choice, " ", "_"), func(t *testing.T) {
			c, _ := parseCompose(choice)
			v, err := composeVersion(t.Context(), c)
			if err != nil {
				t.Skipf("%s is not usable here, so the compose file is not checked with it: %v", choice, err)
			}
			var out, stderr bytes.Buffer
			cmd := exec.CommandContext(t.Context(), c.Name, append(c.Args, "-p", "hayek-ci", "-f", golden, "config")...)
			cmd.Stdout, cmd.Stderr = &out, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("%s %s rejects %s: %v\n%s", choice, v, golden, err, stderr.String())
			}
			if s := strings.TrimSpace(stderr.String()); s != "" {
				t.Errorf("%s %s warns about %s:\n%s", choice, v, golden, s)
			}
			for _, want := range []string{"ipv4_address: 10.201.1.10", "ipv4_address: 10.201.2.14", "name: hayek-ci-a", "container_name: hayek-ci-p2", "subnet: 10.201.2.0/24", "hayek.testnet.node: p1"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("%s %s: its config lacks %q:\n%s", choice, v, want, out.String())
				}
			}
			if !strings.Contains(out.String(), "mem_limit: 536870912") && !strings.Contains(out.String(), `mem_limit: "536870912"`) {
				t.Errorf("%s %s: its config lost the memory limit:\n%s", choice, v, out.String())
			}
		})
	}
}
