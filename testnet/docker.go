package testnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// ErrNoDocker is returned when no Docker engine answers.
var ErrNoDocker = errors.New("testnet: no Docker engine reachable")

// DockerAvailable reports whether a Docker engine answers, and why not.
func DockerAvailable(ctx context.Context) error {
	if _, err := exec.LookPath("docker"); err != nil {
		return fmt.Errorf("%w: the docker command is not installed", ErrNoDocker)
	}
	if _, err := docker(ctx, "info", "--format", "{{.ServerVersion}}"); err != nil {
		return fmt.Errorf("%w: %v (start the engine, or set DOCKER_HOST)", ErrNoDocker, err)
	}
	return nil
}

// docker runs the docker CLI and returns its standard output; a failure
// carries what it printed on standard error.
func docker(ctx context.Context, args ...string) (string, error) {
	return run(ctx, "docker", args...)
}

func run(ctx context.Context, name string, args ...string) (string, error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = strings.TrimSpace(out.String())
		}
		return out.String(), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, msg)
	}
	return out.String(), nil
}

// composeCommand finds the Compose command once per runner and names it
// in the log: which Compose drove a run is part of its record.
func (r *Runner) composeCommand(ctx context.Context) (ComposeCmd, error) {
	if r.composeCmd.Name != "" {
		return r.composeCmd, nil
	}
	c, err := FindCompose(ctx)
	if err != nil {
		return c, err
	}
	r.composeCmd = c
	r.logf("compose: %s (%s=\"docker compose\" or \"docker-compose\" picks one)", c, ComposeEnv)
	return c, nil
}

// compose runs Compose on the testnet's compose file and project.
func (r *Runner) compose(ctx context.Context, args ...string) (string, error) {
	c, err := r.composeCommand(ctx)
	if err != nil {
		return "", err
	}
	base := append(append([]string{}, c.Args...), "-p", r.T.Project, "-f", r.T.Dir+"/"+ComposeFile)
	return run(ctx, c.Name, append(base, args...)...)
}

// labelled lists the IDs of Docker objects of kind (container, network,
// volume) that carry the testnet's label.
func (t *Testnet) labelled(ctx context.Context, kind string) ([]string, error) {
	args := []string{kind, "ls", "-q", "--filter", "label=" + LabelKey + "=" + t.Name}
	if kind == "container" {
		args = []string{"ps", "-aq", "--filter", "label=" + LabelKey + "=" + t.Name}
	}
	out, err := docker(ctx, args...)
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}
