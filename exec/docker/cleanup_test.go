//go:build linux

package docker

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/internal/samples/native"
)

// TestSweep: a new executor removes what one in a crashed process left
// (its containers, its run directories) and nothing of a live one's.
func TestSweep(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, nil)
	closeAtEnd(t, e)
	ctx := t.Context()
	const dead = "999999999-1-deadbeef0000" // no such process
	create := func(instance string) string {
		c, err := e.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
			Config: &container.Config{Image: toolboxImageID, Cmd: []string{"exit", "0"},
				Labels: map[string]string{LabelManaged: "docker", LabelExecutor: instance, LabelJob: "sweep-test"}},
			HostConfig: &container.HostConfig{NetworkMode: "none"},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.removeContainer(t.Context(), c.ID) })
		return c.ID
	}
	deadID, liveID := create(dead), create(e.instance)
	deadDir := filepath.Join(filepath.Dir(e.dir), dead)
	if err := os.MkdirAll(filepath.Join(deadDir, "run-0"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(deadDir) })

	e2 := newExecutor(t, nil) // sweeps
	closeAtEnd(t, e2)
	if _, err := e.cli.ContainerInspect(ctx, deadID, client.ContainerInspectOptions{}); !isNotFound(err) {
		t.Errorf("the crashed executor's container is still there (inspect: %v)", err)
	}
	if _, err := os.Stat(deadDir); !os.IsNotExist(err) {
		t.Errorf("the crashed executor's directory is still there (stat: %v)", err)
	}
	if _, err := e.cli.ContainerInspect(ctx, liveID, client.ContainerInspectOptions{}); err != nil {
		t.Errorf("a live executor's container was swept: %v", err)
	}
	e.removeContainer(ctx, liveID)
}

// TestArchiveCannotRetag: an archive that claims a name for its image is
// loaded without it, so a job cannot put its image behind a provider's
// tag.
func TestArchiveCannotRetag(t *testing.T) {
	t.Parallel()
	setup(t)
	ctx := t.Context()
	id, err := buildImage(ctx, testClient, map[string][]byte{
		"Dockerfile": []byte("FROM scratch\nCOPY toolbox /toolbox\nLABEL hayek.test.victim=1\nENTRYPOINT [\"/toolbox\"]\n"),
		"toolbox":    native.Toolbox,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeImage(testClient, id) }) // after the executor's Close
	e := newExecutor(t, nil)
	closeAtEnd(t, e)
	const tag = "hayek-test/victim:latest"
	if _, err := testClient.ImageTag(ctx, client.ImageTagOptions{Source: id, Target: tag}); err != nil {
		t.Fatal(err)
	}
	archive, err := saveImage(ctx, testClient, tag)
	if err != nil {
		t.Fatal(err)
	}
	removeImage(testClient, id) // the executor must load it
	if _, err := testClient.ImageInspect(ctx, id); !isNotFound(err) {
		t.Fatalf("the image is still there after removal: %v", err)
	}

	res := run(t, e, exec.Job{ID: "retag", ModuleCID: "retag", Module: archive, Args: []string{"exit", "0"}})
	if res.Status != exec.StatusOK {
		t.Fatalf("%s %s %s", res.Status, res.Error, res.Stderr)
	}
	if _, err := testClient.ImageInspect(ctx, id); err != nil {
		t.Errorf("the archive's image was not loaded: %v", err)
	}
	if _, err := testClient.ImageInspect(ctx, tag); !isNotFound(err) {
		t.Errorf("loading the archive tagged its image %s (inspect: %v)", tag, err)
	}
}
