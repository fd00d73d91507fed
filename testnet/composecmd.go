package testnet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// ComposeEnv names the environment variable that picks the Compose
// command: "docker compose" (Compose v2 and later, the Docker CLI plugin)
// or "docker-compose" (the standalone command: v1, or v2 installed
// standalone). Unset, the plugin is used where it answers, else
// docker-compose.
const ComposeEnv = "HAYEK_COMPOSE"

// ErrNoCompose is returned when no Compose command answers.
var ErrNoCompose = errors.New("testnet: no Compose command found")

// ComposeCmd is the Compose command a testnet is driven with.
type ComposeCmd struct {
	Name    string   // the program: docker or docker-compose
	Args    []string // before the project flags: [compose] for the plugin
	Version string   // as the command reports it (version --short)
}

// String names the command and its version, as the run's log shows it.
func (c ComposeCmd) String() string { return c.command() + " " + c.Version }

// command is the command line without the version: "docker compose".
func (c ComposeCmd) command() string {
	return strings.Join(append([]string{c.Name}, c.Args...), " ")
}

// parseCompose maps a value of ComposeEnv to its command line.
func parseCompose(s string) (ComposeCmd, error) {
	switch strings.Join(strings.Fields(s), " ") {
	case "docker compose", "v2":
		return ComposeCmd{Name: "docker", Args: []string{"compose"}}, nil
	case "docker-compose", "v1":
		return ComposeCmd{Name: "docker-compose"}, nil
	}
	return ComposeCmd{}, fmt.Errorf("%w: %s=%q: want \"docker compose\" (the plugin, Compose v2 or later) or \"docker-compose\" (standalone, v1.29)", ErrNoCompose, ComposeEnv, s)
}

// FindCompose picks the Compose command: the one ComposeEnv names, else
// the docker compose plugin where it answers, else docker-compose. It
// asks the command its version, so a command that is named but broken
// fails here rather than half-way through up.
func FindCompose(ctx context.Context) (ComposeCmd, error) {
	if s, ok := os.LookupEnv(ComposeEnv); ok && strings.TrimSpace(s) != "" {
		c, err := parseCompose(s)
		if err != nil {
			return c, err
		}
		if c.Version, err = composeVersion(ctx, c); err != nil {
			return c, fmt.Errorf("%w: %s=%q, but: %v", ErrNoCompose, ComposeEnv, s, err)
		}
		return c, nil
	}
	var errs []string
	for _, s := range []string{"docker compose", "docker-compose"} {
		c, _ := parseCompose(s)
		v, err := composeVersion(ctx, c)
		if err == nil {
			c.Version = v
			return c, nil
		}
		errs = append(errs, err.Error())
	}
	return ComposeCmd{}, fmt.Errorf("%w (%s); install the docker compose plugin (Compose v2 or later) or docker-compose 1.29", ErrNoCompose, strings.Join(errs, "; "))
}

func composeVersion(ctx context.Context, c ComposeCmd) (string, error) {
	if _, err := exec.LookPath(c.Name); err != nil {
		return "", fmt.Errorf("%s is not installed", c.Name)
	}
	out, err := run(ctx, c.Name, append(c.Args, "version", "--short")...)
	if err != nil {
		// Without the plugin, docker prints its whole usage: keep the
		// line that says why.
		first, _, _ := strings.Cut(err.Error(), "\n")
		return "", fmt.Errorf("%s does not answer: %s", c.command(), strings.TrimSpace(first))
	}
	return strings.TrimSpace(out), nil
}
