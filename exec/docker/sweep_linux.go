//go:build linux

package docker

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"golang.org/x/sys/unix"
)

var randRead = rand.Read

func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }

// Sweep removes what executors that are no longer running left on this
// host: every container labelled hayek.exec=docker whose executor's
// process is gone (a node that crashed mid-run), and their run
// directories under the work directory. New calls it; a provider may call
// it again at any time. Containers of live executors are left alone.
func (e *Executor) Sweep(ctx context.Context) error {
	list, err := e.cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", LabelManaged+"=docker"),
	})
	if err != nil {
		return fmt.Errorf("exec/docker: sweep: list containers: %w", err)
	}
	var errs []error
	for _, c := range list.Items {
		if owner := c.Labels[LabelExecutor]; owner != e.instance && !ownerAlive(owner) {
			if err := e.removeContainer(ctx, c.ID); err != nil {
				errs = append(errs, err)
			}
		}
	}
	work := filepath.Dir(e.dir)
	entries, _ := os.ReadDir(work)
	for _, d := range entries {
		if !d.IsDir() || d.Name() == e.instance || ownerAlive(d.Name()) {
			continue
		}
		dir := filepath.Join(work, d.Name())
		for _, m := range mountsUnder(dir) {
			unix.Unmount(m[len("mount "):], unix.MNT_DETACH)
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("exec/docker: sweep: %w", err))
		}
	}
	return errors.Join(errs...)
}
