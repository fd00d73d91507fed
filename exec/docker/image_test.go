//go:build linux

package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"

	"github.com/hayek-market/hayek/internal/samples/native"
)

// testLabel marks the images the tests build, so that
// `docker images --filter label=hayek.test=exec-docker` finds any a
// crashed test run left.
const testLabel = "hayek.test"

// The toolbox image the tests run, built once per test binary by
// setup from the committed native toolbox, FROM scratch, offline.
var (
	toolboxArchive []byte // `docker save` of it
	toolboxCID     string // the archive's digest, as a job names its module
	toolboxImageID string
	engineMissing  string // why no engine is usable, when none is
)

func TestMain(m *testing.M) {
	code := m.Run()
	if toolboxImageID != "" {
		removeImage(testClient, toolboxImageID)
		testClient.Close()
	}
	os.Exit(code)
}

var (
	setupOnce  sync.Once
	testClient *client.Client
)

// setup builds the toolbox image the first time a test needs it (fuzz
// workers and pure tests never do); TestMain removes it.
func setup(t testing.TB) {
	t.Helper()
	setupOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if native.Toolbox == nil {
			engineMissing = "no native toolbox for this platform: run scripts/gen-samples"
			return
		}
		cli, err := client.New(client.FromEnv)
		if err == nil {
			_, err = cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
		}
		if err != nil {
			engineMissing = fmt.Sprintf("no Docker engine reachable: %v", err)
			return
		}
		testClient = cli
		id, err := buildImage(ctx, cli, map[string][]byte{
			"Dockerfile": []byte("FROM scratch\nCOPY toolbox /toolbox\nENTRYPOINT [\"/toolbox\"]\n"),
			"toolbox":    native.Toolbox,
		})
		if err != nil {
			setupErr = fmt.Errorf("build the toolbox image: %w", err)
			return
		}
		toolboxImageID = id
		if toolboxArchive, err = saveImage(ctx, cli, id); err != nil {
			setupErr = fmt.Errorf("save the toolbox image: %w", err)
			return
		}
		sum := sha256.Sum256(toolboxArchive)
		toolboxCID = "sha256:" + hex.EncodeToString(sum[:])
	})
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	if engineMissing != "" {
		t.Skip(engineMissing)
	}
}

var setupErr error

// buildImage builds a labelled image from the files given, with the
// classic builder (no registry, no BuildKit), and returns its ID.
func buildImage(ctx context.Context, cli *client.Client, files map[string][]byte) (string, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(data))}); err != nil {
			return "", err
		}
		tw.Write(data)
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	res, err := cli.ImageBuild(ctx, &buf, client.ImageBuildOptions{
		Labels:      map[string]string{testLabel: "exec-docker"},
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
	})
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var id string
	dec := json.NewDecoder(res.Body)
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			return "", err
		}
		if m.Error != nil {
			return "", errors.New(m.Error.Message)
		}
		if m.Aux != nil {
			var aux struct{ ID string }
			if json.Unmarshal(*m.Aux, &aux) == nil && aux.ID != "" {
				id = aux.ID
			}
		}
	}
	if id == "" {
		return "", errors.New("the build named no image")
	}
	return id, nil
}

func saveImage(ctx context.Context, cli *client.Client, id string) ([]byte, error) {
	r, err := cli.ImageSave(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func removeImage(cli *client.Client, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := cli.ImageRemove(ctx, id, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil && !isNotFound(err) {
		fmt.Fprintf(os.Stderr, "exec/docker tests: remove image %s: %v\n", id, err)
	}
}

// newExecutor starts an executor with the test defaults, or skips the
// test saying why there is no engine.
func newExecutor(t testing.TB, change func(*Config)) *Executor {
	t.Helper()
	setup(t)
	cfg := DefaultConfig()
	cfg.DefaultLimits.Timeout = 2 * time.Minute // generous: 2 busy cores
	if change != nil {
		change(&cfg)
	}
	e, err := New(context.Background(), cfg)
	if errors.Is(err, ErrUnavailable) {
		t.Skipf("no engine for the docker executor: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func closeAtEnd(t *testing.T, e *Executor) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			t.Error(err)
		}
		if leaks := e.Leaks(); len(leaks) > 0 {
			t.Errorf("leaks after Close: %q", leaks)
		}
	})
}
